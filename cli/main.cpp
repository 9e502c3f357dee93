// payhookctl: the operator's tool (queue inspection and repair, straight on Redis, with or without a
// running payhookd) and the integrator's helpers (sign, verify, listen).
#include <signal.h>
#include <sodium.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/session.h"
#include "common/version.h"

namespace {

constexpr const char* kUsage =
    "usage: payhookctl [-c FILE] COMMAND [options]\n"
    "\n"
    "operators (read the config's [redis]; -c defaults to /etc/payhook/payhook.toml):\n"
    "  stats     what waits where: due, overdue, in flight and dead jobs per target and route\n"
    "  list      events by state, route and time, newest first, with each target's job\n"
    "  find      the events of a payment, by order number, provider payment id or webhook-id\n"
    "  show      one event: fields, normalised data, raw request, every attempt\n"
    "  retry     make dead (or waiting) jobs due now: by event id, or every dead job of a route\n"
    "  replay    deliver an already delivered event again\n"
    "  purge     delete dead events (--dead [--older-than 7d])\n"
    "  reindex   index events stored by an older payhookd, so that find covers them\n"
    "  expect    register an order as expected: its provider is asked if no callback comes by a deadline\n"
    "  expected  expected orders still open, and those given up (dead)\n"
    "\n"
    "integrators:\n"
    "  listen    a local receiver that verifies signatures and prints each event\n"
    "  sign      sign a payload with a whsec_ secret and print the webhook-* headers (or a curl command)\n"
    "  verify    check a Standard Webhooks signature\n"
    "\n"
    "  payhookctl COMMAND --help    options of one command\n"
    "  payhookctl --version\n"
    "\n"
    "Human output is an aligned table; --json prints one JSON document. Exit 0 ok, 1 not found or nothing\n"
    "to do, 2 usage, config or Redis connection error.\n";

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::fputs("payhookctl: libsodium failed to initialise\n", stderr);
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);  // hiredis and the listener write with write(2)
  std::vector<std::string> all(argv + 1, argv + argc);
  std::string config = payhook::cli::kDefaultConfig;
  size_t i = 0;
  // Options before the command: -c FILE, --config FILE, --config=FILE.
  while (i < all.size()) {
    const std::string& a = all[i];
    if ((a == "-c" || a == "--config") && i + 1 < all.size()) {
      config = all[i + 1];
      i += 2;
    } else if (a.rfind("--config=", 0) == 0) {
      config = a.substr(9);
      ++i;
    } else if (a == "-c" || a == "--config") {
      std::fprintf(stderr, "payhookctl: %s needs a file\n%s", a.c_str(), kUsage);
      return 2;
    } else {
      break;
    }
  }
  if (i >= all.size()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string cmd = all[i];
  std::vector<std::string> args(all.begin() + static_cast<std::ptrdiff_t>(i) + 1, all.end());
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "-V" || cmd == "--version") {
    std::printf("payhookctl %s\n", PAYHOOK_VERSION);
    return 0;
  }
  using namespace payhook::cli;
  if (cmd == "sign") return signCommand(args);
  if (cmd == "verify") return verifyCommand(args);
  if (cmd == "listen") return listenCommand(args);
  if (cmd == "stats") return statsCommand(args, config);
  if (cmd == "list") return listCommand(args, config);
  if (cmd == "show") return showCommand(args, config);
  if (cmd == "find") return findCommand(args, config);
  if (cmd == "reindex") return reindexCommand(args, config);
  if (cmd == "retry") return retryCommand(args, config);
  if (cmd == "replay") return replayCommand(args, config);
  if (cmd == "purge") return purgeCommand(args, config);
  if (cmd == "expect") return expectCommand(args, config);
  if (cmd == "expected") return expectedCommand(args, config);
  std::fprintf(stderr, "payhookctl: unknown command %s\n%s", cmd.c_str(), kUsage);
  return 2;
}
