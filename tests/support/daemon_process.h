// Runs the real payhookd binary for a test: writes its config and secrets into a temp dir, starts it,
// waits until its admin probe answers, and stops it with a signal.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace payhook::testing {

struct DaemonOptions {
  std::string redis_url;
  std::string listen;        // e.g. "127.0.0.1:PORT" or "unix:/path"; empty: a free loopback port
  std::string extra_server;  // extra lines for [server]
  std::string shutdown_timeout = "5s";
  std::string extra_redis;  // extra lines for [redis]
  std::string extra_admin;  // extra lines for [admin] (e.g. token_file)
  std::string delivery;     // lines for [delivery] (e.g. lease_timeout); empty: no such section
  std::string routes;       // [[routes]] tables; empty: one standard-webhooks route "demo" at /hooks/demo
  std::string targets;      // [[targets]] tables; empty: one target "orders"
  std::vector<std::string> env;  // extra "NAME=value" entries for payhookd's environment
  // A listening socket handed over the way systemd does it (fd 3, LISTEN_FDS=1, LISTEN_PID): socket
  // activation. -1: none. `listen` should then name its address, so address() does.
  int listen_fd = -1;
  std::string log_level = "debug";
};

class DaemonProcess {
 public:
  // The demo route's secret (the Standard Webhooks published test secret).
  static constexpr const char* kDemoSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

  explicit DaemonProcess(DaemonOptions options);
  ~DaemonProcess();  // SIGKILL if still running

  // Starts payhookd and waits up to 10 s for /healthz; false when it exited or never answered.
  bool start();
  // Sends `signum` and waits up to `timeout_ms` for the exit; returns the exit status, or -1 (then killed).
  int stop(int signum = 15, int timeout_ms = 15'000);
  pid_t pid() const { return pid_; }

  const std::string& address() const { return address_; }     // main listener
  const std::string& adminAddress() const { return admin_; }  // admin listener
  const std::string& dir() const { return dir_; }
  std::string configPath() const { return dir_ + "/payhook.toml"; }
  std::string logs() const;  // everything payhookd wrote to stderr so far

  // Waits until /readyz answers `status` (200 or 503), up to `timeout_ms`.
  bool waitReady(int status, int timeout_ms);

 private:
  DaemonOptions options_;
  std::string dir_;
  std::string address_;
  std::string admin_;
  pid_t pid_ = -1;
};

// Runs a program to completion, returning its exit status; its stdout and stderr go to *output.
int runProgram(const std::vector<std::string>& argv, std::string* output);

std::string payhookdPath();
std::string writeFile(const std::string& path, const std::string& content);

}  // namespace payhook::testing
