// The HTTP server in-process, shared by the HttpServerTest files: a Server on a uv loop in its own thread,
// driven by blocking sockets from the test thread. Every test ends by closing all handles and asserting
// uv_loop_close() == 0, so a leaked handle fails the test that leaked it.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http/server.h"
#include "uv/handle.h"

namespace payhook::http::server_test {

using namespace std::chrono_literals;

inline constexpr int kReadTimeoutMs = 5000;  // generous: only reached when a test is about to fail

// A uv loop on its own thread; closures posted to it run there, in order.
class LoopThread {
 public:
  LoopThread() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &async_, &LoopThread::onAsync);
    async_.data = this;
  }
  ~LoopThread() {
    if (thread_.joinable()) stop();
  }

  uv_loop_t* loop() { return &loop_; }
  void start() {
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }

  void post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(fn));
    }
    uv_async_send(&async_);
  }

  // Runs `fn` on the loop and waits for its result.
  template <class F>
  auto call(F fn) -> decltype(fn()) {
    using R = decltype(fn());
    std::promise<R> p;
    auto f = p.get_future();
    post([&] {
      if constexpr (std::is_void_v<R>) {
        fn();
        p.set_value();
      } else {
        p.set_value(fn());
      }
    });
    return f.get();
  }

  // Closes the async handle and waits for the loop to run out of handles.
  void stop() {
    post([this] { uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr); });
    thread_.join();
  }
  int close() { return uv_loop_close(&loop_); }

 private:
  static void onAsync(uv_async_t* a) noexcept {
    auto* self = static_cast<LoopThread*>(a->data);
    std::vector<std::function<void()>> run;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      run.swap(self->queue_);
    }
    for (auto& fn : run) fn();
  }

  uv_loop_t loop_{};
  uv_async_t async_{};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::function<void()>> queue_;
};

struct WireResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string head;  // status line and headers as received

  bool has(const std::string& name) const { return headers.count(name) != 0; }
  std::string get(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A blocking client socket with a small HTTP/1.1 response reader.
class Client {
 public:
  // `from`: the local address to connect from (any 127.x.y.z is loopback on Linux); `receive_buffer`: a
  // small SO_RCVBUF makes a client that does not read stall the server's writes soon.
  static Client tcp(int port, const char* from = nullptr, int receive_buffer = 0) {
    Client c;
    c.fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0)
      ::setsockopt(c.fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    if (from != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, from, &local.sin_addr);
      if (::bind(c.fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
        c.reset();
        return c;
      }
    }
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<uint16_t>(port));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.fd_, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) c.reset();
    return c;
  }
  static Client unixSocket(const std::string& path) {
    Client c;
    c.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path.c_str(), sizeof(sun.sun_path) - 1);
    if (::connect(c.fd_, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0) c.reset();
    return c;
  }

  Client() = default;
  Client(Client&& o) noexcept : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)) {}
  ~Client() { reset(); }

  bool connected() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Sends everything; false when the peer has gone (EPIPE, reset).
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response (an interim 1xx counts as one). Empty when the connection ends first.
  std::optional<WireResponse> read(bool head_request = false) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return std::nullopt;
    WireResponse r;
    r.head = buf_.substr(0, end + 2);
    std::string_view lines(r.head);
    auto eol = lines.find("\r\n");
    std::string_view status_line = lines.substr(0, eol);
    if (status_line.substr(0, 9) != "HTTP/1.1 ") return std::nullopt;
    r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    lines.remove_prefix(eol + 2);
    while (!lines.empty()) {
      eol = lines.find("\r\n");
      std::string_view line = lines.substr(0, eol);
      lines.remove_prefix(eol + 2);
      auto colon = line.find(':');
      std::string name(line.substr(0, colon));
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      r.headers[name] = std::string(value);
    }
    buf_.erase(0, end + 4);
    size_t length = 0;
    if (r.has("content-length") && !head_request) length = std::stoul(r.get("content-length"));
    while (buf_.size() < length)
      if (!fill()) return std::nullopt;
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // True when the server ends the connection (EOF or reset) within `timeout_ms`; bytes received on the
  // way are kept in `received`.
  bool waitClosed(int timeout_ms = kReadTimeoutMs, std::string* received = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0) {
        if (received) *received = buf_;
        return true;
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

  // Whether anything arrives within `timeout_ms` (without consuming it).
  bool readable(int timeout_ms) {
    if (!buf_.empty()) return true;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
  }

 private:
  bool fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, kReadTimeoutMs) <= 0) return false;
    char tmp[16 * 1024];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
};

// Polls `pred` (evaluated on the test thread) until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

class HttpServerTest : public ::testing::Test {
 protected:
  // Echoes what the server saw, so tests can check framing and order.
  static void echo(Request&& r, Responder responder) {
    responder.send(
        Response::text(200, r.method + " " + r.path + "?" + r.query + " peer=" + r.peer + " body=" + r.body));
  }

  void start(ServerLimits limits = {}, std::vector<std::string> addresses = {"127.0.0.1:0"}) {
    if (!handler_) handler_ = &HttpServerTest::echo;
    server_ = std::make_unique<Server>(loop_.loop(), limits, [this](Request&& r, Responder responder) {
      ++handled_;
      handler_(std::move(r), std::move(responder));
    });
    for (const auto& a : addresses) {
      auto st = server_->listen(a);
      ASSERT_TRUE(st.ok()) << st.error().message;
    }
    auto bound = server_->boundAddresses();
    ASSERT_EQ(bound.size(), addresses.size());
    if (bound[0].rfind("unix:", 0) != 0) {
      port_ = std::atoi(bound[0].substr(bound[0].rfind(':') + 1).c_str());
      ASSERT_GT(port_, 0);
    }
    loop_.start();
    started_ = true;
  }

  void TearDown() override {
    if (started_) {
      loop_.call([this] {
        timers_.clear();
        held_.clear();
        server_->closeAll();
        server_.reset();
      });
      loop_.stop();
    } else {
      server_.reset();
      uv_run(loop_.loop(), UV_RUN_NOWAIT);
      loop_.start();
      loop_.stop();
    }
    EXPECT_EQ(loop_.close(), 0) << "a handle was left open";
  }

  // Answers later, from a uv timer on the loop: the handler has already returned by then.
  void answerAfter(uint64_t ms, Responder responder, Response response) {
    auto t = std::make_unique<uv::Timer>(loop_.loop());
    t->start(ms, [responder, response]() mutable { responder.send(std::move(response)); });
    timers_.push_back(std::move(t));
  }

  size_t connectionCount() {
    return loop_.call([this] { return server_->connectionCount(); });
  }
  size_t inFlightCount() {
    return loop_.call([this] { return server_->inFlightCount(); });
  }

  LoopThread loop_;
  std::unique_ptr<Server> server_;
  RequestHandler handler_;
  std::atomic<int> handled_{0};
  int port_ = 0;
  bool started_ = false;
  // Loop-thread state of the handlers.
  std::vector<std::unique_ptr<uv::Timer>> timers_;
  std::vector<Responder> held_;
};

}  // namespace payhook::http::server_test
