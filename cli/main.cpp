// payhookctl: Standard Webhooks helpers for integrators now; queue inspection joins it later.
#include <sodium.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/version.h"

namespace {

constexpr const char* kUsage =
    "usage: payhookctl COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  sign      sign a payload with a whsec_ secret and print the webhook-* headers (or a curl command)\n"
    "  verify    check a Standard Webhooks signature\n"
    "\n"
    "  payhookctl COMMAND --help    options of one command\n"
    "  payhookctl --version\n";

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::fputs("payhookctl: libsodium failed to initialise\n", stderr);
    return 2;
  }
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "-V" || cmd == "--version") {
    std::printf("payhookctl %s\n", PAYHOOK_VERSION);
    return 0;
  }
  if (cmd == "sign") return payhook::cli::signCommand(args);
  if (cmd == "verify") return payhook::cli::verifyCommand(args);
  std::fprintf(stderr, "payhookctl: unknown command %s\n%s", cmd.c_str(), kUsage);
  return 2;
}
