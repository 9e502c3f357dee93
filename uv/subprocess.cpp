#include "uv/subprocess.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>

namespace payhook::uv {

namespace {

// libuv's child keeps every descriptor not marked close-on-exec, and several are not: hiredis's socket to
// Redis, curl's sockets and its wake-up pair, whatever payhookd itself inherited. The command is a
// partner's program and gets its stdin and stdout only, so every descriptor is marked just before the
// spawn. /proc/self/fd is the kernel's own list (no disk), and a daemon holds a few dozen.
void closeOnExecEverything() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  const int own = dirfd(dir);
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd <= 2 || fd == own) continue;
    const int flags = fcntl(static_cast<int>(fd), F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(static_cast<int>(fd), F_SETFD, flags | FD_CLOEXEC);
  }
  closedir(dir);
}

}  // namespace

struct Subprocess::State {
  uv_process_t process{};
  uv_pipe_t in{};
  uv_pipe_t out{};
  uv_timer_t timer{};
  uv_write_t write{};
  Subprocess* owner = nullptr;
  int open = 0;           // handles initialised and not yet closed
  bool spawned = false;   // the child exists (uv_spawn succeeded)
  bool exited = false;    // and has been reaped
  bool eof = false;       // its stdout is closed
  bool finished = false;  // the result is known (or nobody wants it any more)
  int64_t exit_status = 0;
  int term_signal = 0;
  uint64_t timeout_ms = 0;
  size_t max_output = 0;
  std::string input;
  std::string output;
  char buffer[16 * 1024];
  Done done;

  // The close callback of every handle: the last one frees the state (and tells an owner still holding it).
  static void closed(uv_handle_t* handle) noexcept {
    auto* st = static_cast<State*>(handle->data);
    if (--st->open > 0) return;
    if (st->owner) st->owner->state_ = nullptr;
    delete st;
  }
};

namespace {

using State = Subprocess::State;

State* stateOf(const void* handle) {
  return static_cast<State*>(static_cast<const uv_handle_t*>(handle)->data);
}

void closeHandle(void* handle) {
  auto* h = static_cast<uv_handle_t*>(handle);
  if (!uv_is_closing(h)) uv_close(h, &State::closed);
}

// Kills the child's process group (the child and whatever it started), and the child itself should it
// have left the group. Only while the child is not reaped: its pid cannot have been reused before.
void killGroup(State* st) {
  if (!st->spawned || st->exited) return;
  uv_kill(-st->process.pid, SIGKILL);
  uv_process_kill(&st->process, SIGKILL);
}

std::string_view trimLineBreaks(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Settles the run: every handle is closed (the process handle once the child is reaped), then `done` runs
// with `result` (when there is one and somebody still wants it). `done` may destroy the owner.
void finish(State* st, std::optional<Result<std::string>> result) {
  if (st->finished) return;
  st->finished = true;
  uv_timer_stop(&st->timer);
  closeHandle(&st->timer);
  closeHandle(&st->in);
  closeHandle(&st->out);
  if (!st->exited) killGroup(st);
  // A child not yet reaped keeps its handle until onExit, so that libuv still reaps it.
  if (st->exited || !st->spawned) closeHandle(&st->process);
  Subprocess::Done done = std::exchange(st->done, nullptr);
  if (done && result && st->owner) done(std::move(*result));
}

void finishIfDone(State* st) {
  if (st->finished || !st->exited || !st->eof) return;
  if (st->term_signal != 0) {
    finish(st, Error{"killed by signal " + std::to_string(st->term_signal)});
  } else if (st->exit_status != 0) {
    finish(st, Error{"exited with status " + std::to_string(st->exit_status)});
  } else if (trimLineBreaks(st->output).empty()) {
    finish(st, Error{"printed nothing"});
  } else {
    finish(st, std::string(trimLineBreaks(st->output)));
  }
}

void onExit(uv_process_t* process, int64_t exit_status, int term_signal) noexcept {
  State* st = stateOf(process);
  st->exited = true;
  st->exit_status = exit_status;
  st->term_signal = term_signal;
  closeHandle(&st->process);
  finishIfDone(st);
}

void onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) noexcept {
  State* st = stateOf(handle);
  *buf = uv_buf_init(st->buffer, sizeof(st->buffer));
}

void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  State* st = stateOf(stream);
  if (st->finished) return;
  if (nread > 0) {
    if (st->output.size() + static_cast<size_t>(nread) > st->max_output) {
      finish(st, Error{"printed more than " + std::to_string(st->max_output) + " bytes"});
      return;
    }
    st->output.append(buf->base, static_cast<size_t>(nread));
    return;
  }
  if (nread == 0) return;  // EAGAIN
  // EOF, or a read error: either way nothing more comes; the exit status decides.
  st->eof = true;
  uv_read_stop(stream);
  finishIfDone(st);
}

void onWritten(uv_write_t* req, int /*status*/) noexcept {
  // A child that exits without reading its input fails the write (EPIPE); its exit status and output
  // still decide. Closing stdin is its end of input.
  State* st = stateOf(req->handle);
  closeHandle(&st->in);
}

void onTimeout(uv_timer_t* timer) noexcept {
  State* st = stateOf(timer);
  const uint64_t ms = st->timeout_ms;
  finish(st, Error{"timed out after " +
                   (ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms")});
}

}  // namespace

Result<std::unique_ptr<Subprocess>> Subprocess::start(uv_loop_t* loop, const SubprocessOptions& options,
                                                      std::string input, Done done) {
  if (options.argv.empty() || options.argv[0].empty()) return Error{"no program to run"};
  auto* st = new State();
  st->timeout_ms = options.timeout_ms;
  st->max_output = options.max_output;
  st->input = std::move(input);
  st->done = std::move(done);
  for (auto* h : {reinterpret_cast<uv_handle_t*>(&st->process), reinterpret_cast<uv_handle_t*>(&st->in),
                  reinterpret_cast<uv_handle_t*>(&st->out), reinterpret_cast<uv_handle_t*>(&st->timer)})
    h->data = st;
  uv_pipe_init(loop, &st->in, 0);
  uv_pipe_init(loop, &st->out, 0);
  uv_timer_init(loop, &st->timer);
  st->open = 3;

  std::vector<std::string> args = options.argv;
  std::vector<std::string> env = options.env;
  std::vector<char*> argv;
  std::vector<char*> envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  uv_stdio_container_t stdio[3];
  stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
  stdio[0].data.stream = reinterpret_cast<uv_stream_t*>(&st->in);
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&st->out);
  stdio[2].flags = UV_IGNORE;
  uv_process_options_t po{};
  po.exit_cb = onExit;
  po.file = argv[0];
  po.args = argv.data();
  po.env = envp.data();
  po.stdio_count = 3;
  po.stdio = stdio;
  // A session and process group of its own: a timeout kills everything the command started, and a signal
  // sent to payhookd's group (a terminal's Ctrl-C) does not reach it.
  po.flags = UV_PROCESS_DETACHED;
  closeOnExecEverything();
  const int rc = uv_spawn(loop, &st->process, &po);
  // The process handle is initialised even when the spawn fails, and must be closed like the others.
  st->process.data = st;
  ++st->open;
  if (rc != 0) {
    finish(st, std::nullopt);
    return Error{"cannot start " + options.argv[0] + ": " + uv_strerror(rc)};
  }
  st->spawned = true;

  uv_timer_start(&st->timer, onTimeout, options.timeout_ms, 0);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&st->out), onAlloc, onRead);
  uv_buf_t buf = uv_buf_init(st->input.data(), static_cast<unsigned int>(st->input.size()));
  if (st->input.empty() ||
      uv_write(&st->write, reinterpret_cast<uv_stream_t*>(&st->in), &buf, 1, onWritten) != 0)
    closeHandle(&st->in);

  auto run = std::unique_ptr<Subprocess>(new Subprocess(st));
  st->owner = run.get();
  return run;
}

Subprocess::~Subprocess() {
  if (!state_) return;
  State* st = std::exchange(state_, nullptr);
  st->owner = nullptr;
  st->done = nullptr;
  finish(st, std::nullopt);
}

std::vector<std::string> childEnvironment(const std::vector<std::string>& extra) {
  static constexpr std::string_view kDaemonOnly[] = {
      "NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=", "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES="};
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    bool skip = false;
    for (std::string_view prefix : kDaemonOnly) skip = skip || entry.starts_with(prefix);
    for (const auto& added : extra) {
      const size_t eq = added.find('=');
      if (eq != std::string::npos)
        skip = skip || entry.starts_with(std::string_view(added).substr(0, eq + 1));
    }
    if (!skip) env.emplace_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace payhook::uv
