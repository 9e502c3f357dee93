// payhookd: receives payment providers' callbacks, stores them in Redis, answers each provider in its
// own format. Runs in the foreground, systemd style.
#include <sodium.h>
#include <sys/resource.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/log.h"
#include "common/version.h"
#include "config/config.h"
#include "daemon/app.h"
#include "daemon/ingest.h"
#include "daemon/journal_log.h"
#include "handlers/registry.h"
#include "uv/loop.h"

namespace {

constexpr const char* kUsage =
    "usage: payhookd --config FILE [--check]\n"
    "       payhookd --version\n"
    "\n"
    "  -c, --config FILE  the TOML configuration (see config/payhook.example.toml)\n"
    "      --check        validate the configuration and its secrets, then exit 0 (valid) or 2\n"
    "  -V, --version      print the version\n"
    "  -h, --help         this text\n";

struct Args {
  std::string config;
  bool check = false;
};

int usageError(const char* msg) {
  std::fprintf(stderr, "payhookd: %s\n%s", msg, kUsage);
  return 2;
}

// Every connection, delivery and Redis link is a descriptor. Outside systemd (which sets LimitNOFILE=) the
// soft limit is often 1024, far below max_connections: raise it to the hard limit. When even that is short,
// the server fits max_connections to it and says so (http::Server, fd_reserve).
void raiseFileLimit() {
  struct rlimit rl {};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "-V" || a == "--version") {
      std::printf("payhookd %s\n", PAYHOOK_VERSION);
      return 0;
    } else if (a == "--check") {
      args.check = true;
    } else if (a == "-c" || a == "--config") {
      if (++i >= argc) return usageError("--config needs a file");
      args.config = argv[i];
    } else if (a.rfind("--config=", 0) == 0) {
      args.config = a.substr(9);
    } else {
      return usageError(("unknown argument: " + a).c_str());
    }
  }
  if (args.config.empty()) return usageError("--config FILE is required");
  if (sodium_init() < 0) {
    std::fputs("payhookd: libsodium failed to initialise\n", stderr);
    return 1;
  }

  payhook::config::Environment env;
  if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY")) env.credentials_directory = creds;
  auto loaded = payhook::config::loadConfigFile(args.config, env, payhook::handlers::providerCatalog());
  std::vector<std::string> errors = loaded.errors;
  if (loaded.config) {
    // Handler-level checks (secret formats, keys) belong to validation too.
    auto built = payhook::daemon::RouteTable::build(*loaded.config, &errors);
    (void)built;
  }
  // Under systemd (ExecStartPre=, ExecReload=, ExecStart=) stderr is a journal stream: a "<N>" prefix gives
  // each line its priority. These go through the stream, not native entries, because the stream carries the
  // unit's name even when a short --check has exited before journald looks at it.
  const bool journal = payhook::daemon::stderrIsJournal();
  auto say = [journal](payhook::log::Level level, const std::string& text) {
    if (journal)
      std::fprintf(stderr, "<%d>%s\n", payhook::daemon::journalPriority(level), text.c_str());
    else
      std::fprintf(level == payhook::log::Level::kInfo ? stdout : stderr, "%s%s\n",
                   level == payhook::log::Level::kWarn ? "warning: " : "", text.c_str());
  };
  // A running daemon logs the warnings itself, below.
  if (args.check || !errors.empty())
    for (const auto& w : loaded.warnings) say(payhook::log::Level::kWarn, w);
  if (!errors.empty()) {
    for (const auto& e : errors) say(payhook::log::Level::kError, e);
    say(payhook::log::Level::kError, "payhookd: " + std::to_string(errors.size()) +
                                         (errors.size() == 1 ? " problem in " : " problems in ") +
                                         args.config);
    return 2;
  }
  if (args.check) {
    say(payhook::log::Level::kInfo, args.config + ": ok");
    return 0;
  }

  if (journal) payhook::daemon::logToJournal();
  const auto& cfg = *loaded.config;
  payhook::log::Level level = payhook::log::Level::kInfo;
  payhook::log::parseLevel(cfg.log.level, &level);
  payhook::log::configure(
      level, cfg.log.format == "text" ? payhook::log::Format::kText : payhook::log::Format::kJson);
  for (const auto& w : loaded.warnings) payhook::log::warn("config warning", {{"detail", w}});

  // A peer that closes early must not kill the process on write.
  signal(SIGPIPE, SIG_IGN);
  raiseFileLimit();

  payhook::uv::Loop loop;
  int code = 0;
  {
    payhook::daemon::App app(loop.get(), cfg, env);
    if (auto st = app.start(); !st) {
      payhook::log::error("start-up failed", {{"problem", st.error().message}});
      code = 1;
    }
    loop.run();
    if (code == 0) code = app.exitCode();
  }
  loop.close();
  return code;
}
