// A command run on the loop: its input written to its stdin, its stdout collected, a deadline after which it
// is killed. Nothing blocks: libuv spawns the process and reads its pipe, and the result comes back as a
// callback on the loop. Used for a provider's follow-up program (an encryptor).
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace payhook::uv {

struct SubprocessOptions {
  std::vector<std::string> argv;  // argv[0]: the program's path, run as is (no PATH search, no shell)
  std::vector<std::string> env;   // the whole environment, "NAME=value" each
  uint64_t timeout_ms = 5'000;    // then the process group is killed and the run fails
  size_t max_output = 64 * 1024;  // more on stdout fails the run (and kills the process group)
};

// One run. The child starts in a process group of its own, so a timeout kills whatever it started too. Its
// stderr is discarded. The process must ignore SIGPIPE (payhookd does): a child may exit without reading.
// Destroying the Subprocess kills a child still running, and `done` is not called then; the libuv handles are
// freed in their close callbacks, after the child has been reaped.
class Subprocess {
 public:
  // stdout with its trailing line breaks removed, or why the run failed: the program could not be started,
  // it exited with a non-zero status or was killed by a signal, it timed out, or it printed too much or
  // nothing. The reason never holds the input or the output.
  using Done = std::function<void(Result<std::string>)>;

  // Starts the child and writes `input` to it. An error when it cannot be started (the program is missing
  // or not executable, no process can be created); `done` is then never called. Otherwise `done` runs
  // exactly once on the loop, never inside start(), unless the Subprocess is destroyed first.
  static Result<std::unique_ptr<Subprocess>> start(uv_loop_t* loop, const SubprocessOptions& options,
                                                   std::string input, Done done);

  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  struct State;  // the libuv handles and the run's progress; lives until every handle is closed

 private:
  explicit Subprocess(State* state) : state_(state) {}
  State* state_;  // null once the state is gone
};

// The daemon's environment for a child: everything but systemd's per-service sockets and watchdog
// (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*), which are payhookd's alone, plus `extra` ("NAME=value").
std::vector<std::string> childEnvironment(const std::vector<std::string>& extra);

}  // namespace payhook::uv
