#include "daemon/http/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <unordered_set>

#include "common/listen_address.h"
#include "common/log.h"
#include "daemon/http/connection.h"
#include "daemon/uv/handle.h"

namespace payhook::http {

void Responder::send(Response response) const {
  // Dropped silently when the connection is gone: the peer left or the server shut down.
  if (auto conn = conn_.lock()) conn->send(seq_, std::move(response));
}

namespace {

constexpr int kBacklog = 511;

union AnyStream {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
};

Error uvError(const std::string& what, int rc) {
  return Error{what + ": " + uv_strerror(rc)};
}

std::string formatAddress(const sockaddr_storage& ss) {
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    uv_ip4_name(sin, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(sin->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    uv_ip6_name(sin6, text, sizeof(text));
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(sin6->sin6_port));
  }
  return {};
}

// Binding needs no resolver: listen addresses are IP literals (common/listen_address.h).
Result<sockaddr_storage> socketAddressOf(const ListenAddress& a) {
  sockaddr_storage ss{};
  int rc = a.ipv6 ? uv_ip6_addr(a.host.c_str(), a.port, reinterpret_cast<sockaddr_in6*>(&ss))
                  : uv_ip4_addr(a.host.c_str(), a.port, reinterpret_cast<sockaddr_in*>(&ss));
  if (rc != 0) return Error{uv_strerror(rc)};
  return ss;
}

// A socket file left by a process that died is in the way of bind(); one that still answers belongs to a
// live process and must not be stolen.
Status removeStaleSocket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Ok{};
    return Error{"listen unix:" + path + ": " + std::strerror(errno)};
  }
  if (!S_ISSOCK(st.st_mode)) return Error{"listen unix:" + path + ": exists and is not a socket"};
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.data(), path.size());
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun));
    ::close(fd);
    if (rc == 0) return Error{"listen unix:" + path + ": in use by a running process"};
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Error{"listen unix:" + path + ": cannot remove stale socket: " + std::strerror(errno)};
  return Ok{};
}

}  // namespace

struct Server::Impl final : ConnectionHost {
  struct ListenerState {
    Impl* impl = nullptr;  // cleared when the listener closes, so late callbacks do nothing
    Connection::Kind kind = Connection::Kind::kTcp;
  };
  struct Listener {
    uv::Owned<uv_tcp_t, ListenerState> tcp;  // one of the two is open, as `kind` says
    uv::Owned<uv_pipe_t, ListenerState> pipe;
    Connection::Kind kind = Connection::Kind::kTcp;

    uv_stream_t* stream() const {
      return kind == Connection::Kind::kTcp ? reinterpret_cast<uv_stream_t*>(tcp.get())
                                            : reinterpret_cast<uv_stream_t*>(pipe.get());
    }
    ListenerState* state() const { return kind == Connection::Kind::kTcp ? tcp.state() : pipe.state(); }
    void close() {
      tcp.close();
      pipe.close();
    }
    std::string unix_path;  // removed on close if it is still our socket (same inode)
    dev_t dev = 0;
    ino_t ino = 0;
  };

  uv_loop_t* loop;
  ServerLimits limits_;
  RequestHandler handler;
  std::vector<Listener> listeners;
  std::unordered_set<Connection*> connections;
  std::unordered_set<Connection*> shedding;  // closed by shedOne(), their close callback still to come
  uint64_t shed_ = 0;                        // connections closed by shedOne()

  size_t open() const { return connections.size() - shedding.size(); }
  size_t in_flight = 0;
  bool shutting_down = false;
  std::vector<std::function<void()>> shutdown_done;
  uv::Timer done_timer;

  Impl(uv_loop_t* l, ServerLimits lim, RequestHandler h)
      : loop(l), limits_(lim), handler(std::move(h)), done_timer(l) {}

  // ConnectionHost
  const ServerLimits& limits() const override { return limits_; }
  void dispatch(Request&& request, Responder responder) override {
    if (handler) handler(std::move(request), std::move(responder));
  }
  void requestStarted() override { ++in_flight; }
  void requestFinished() override {
    if (in_flight > 0) --in_flight;
  }
  void connectionClosed(Connection* c) override {
    connections.erase(c);
    shedding.erase(c);
    if (shutting_down && connections.empty()) scheduleDone();
  }

  // `done` runs from its own loop callback, never from inside shutdown() or a connection's callback, so
  // it may destroy the server.
  void scheduleDone() {
    if (shutdown_done.empty()) return;
    auto done = std::move(shutdown_done);
    shutdown_done.clear();
    done_timer.start(0, [done = std::move(done)] {
      for (const auto& d : done)
        if (d) d();
    });
  }

  Status addListener(Listener listener, const std::string& what) {
    auto* state = listener.state();
    state->impl = this;
    state->kind = listener.kind;
    int rc = uv_listen(listener.stream(), kBacklog, &Impl::onConnection);
    if (rc != 0) return uvError("listen " + what, rc);  // Owned closes the handle
    listeners.push_back(std::move(listener));
    return Ok{};
  }

  static void onConnection(uv_stream_t* server, int status) noexcept {
    auto* state = server->type == UV_TCP
                      ? uv::Owned<uv_tcp_t, ListenerState>::stateOf(reinterpret_cast<uv_tcp_t*>(server))
                      : uv::Owned<uv_pipe_t, ListenerState>::stateOf(reinterpret_cast<uv_pipe_t*>(server));
    if (!state->impl) return;
    if (status < 0) {
      log::warn("http accept failed", {{"error", uv_strerror(status)}});
      return;
    }
    state->impl->accept(server, state->kind);
  }

  void accept(uv_stream_t* server, Connection::Kind kind) {
    if (!shutting_down && open() >= limits_.max_connections) shedOne();
    if (shutting_down || open() >= limits_.max_connections) {
      reject(server, kind);
      return;
    }
    auto conn = std::make_shared<Connection>(this, kind);
    if (int rc = conn->init(loop); rc != 0) {
      log::warn("http connection init failed", {{"error", uv_strerror(rc)}});
      reject(server, kind);
      return;
    }
    if (int rc = uv_accept(server, conn->stream()); rc != 0) {
      log::debug("http accept failed", {{"error", uv_strerror(rc)}});
      conn->detach();
      conn->close();
      return;
    }
    connections.insert(conn.get());
    conn->start();
  }

  // At max_connections, the connection that has waited longest for a request's headers (slow, stalled or
  // idle: nothing is owed to its peer) is closed to make room, so connections that send nothing cannot
  // shut providers out until header_timeout frees them. Connections with a request in flight or an answer
  // being written are never shed. O(connections), only when the limit is reached.
  void shedOne() {
    Connection* oldest = nullptr;
    for (Connection* c : connections)
      if (c->waitingForHeaders() && (!oldest || c->phaseSince() < oldest->phaseSince())) oldest = c;
    if (!oldest) return;
    shedding.insert(oldest);  // counted out now; its handle finishes closing on a later loop turn
    ++shed_;
    if ((shed_ & (shed_ - 1)) == 0)  // 1, 2, 4, 8...: a flood is visible without one line per connection
      log::warn("http: at max_connections, closed the connection waiting longest for its headers",
                {{"shed_total", static_cast<int64_t>(shed_)}});
    oldest->close();
  }

  // Over the limit: accept and close at once, so the peer gets a prompt end instead of a backlog wait,
  // and connections already open are untouched.
  void reject(uv_stream_t* server, Connection::Kind kind) {
    auto* h = new AnyStream{};
    int rc = kind == Connection::Kind::kTcp ? uv_tcp_init(loop, &h->tcp) : uv_pipe_init(loop, &h->pipe, 0);
    if (rc != 0) {
      delete h;
      return;
    }
    uv_accept(server, &h->stream);
    uv_close(&h->handle, [](uv_handle_t* handle) { delete reinterpret_cast<AnyStream*>(handle); });
    log::debug("http connection refused: max_connections reached");
  }

  void closeListeners() {
    for (auto& l : listeners) {
      l.close();
      if (!l.unix_path.empty()) {
        struct stat st {};
        if (::lstat(l.unix_path.c_str(), &st) == 0 && st.st_dev == l.dev && st.st_ino == l.ino)
          ::unlink(l.unix_path.c_str());
      }
    }
    listeners.clear();
  }

  std::vector<Connection*> snapshot() const { return {connections.begin(), connections.end()}; }
};

Server::Server(uv_loop_t* loop, ServerLimits limits, RequestHandler handler)
    : impl_(std::make_unique<Impl>(loop, limits, std::move(handler))) {}

Server::~Server() {
  impl_->closeListeners();
  for (auto* c : impl_->snapshot()) {
    c->detach();
    c->close();
  }
  impl_->connections.clear();
}

Status Server::listen(const std::string& address) {
  auto parsed = parseListenAddress(address);
  if (!parsed) return Error{"listen " + address + ": " + parsed.error().message};
  Impl::Listener l;
  if (parsed->kind == ListenAddress::Kind::kUnix) {
    const std::string& path = parsed->path;
    if (auto st = removeStaleSocket(path); !st) return st;
    l.kind = Connection::Kind::kPipe;
    int rc = l.pipe.open([&](uv_pipe_t* p) { return uv_pipe_init(impl_->loop, p, 0); });
    if (rc != 0) return uvError("listen " + address, rc);
    rc = uv_pipe_bind(l.pipe.get(), path.c_str());
    if (rc != 0) return uvError("listen " + address, rc);
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      l.unix_path = path;
      l.dev = st.st_dev;
      l.ino = st.st_ino;
    }
    return impl_->addListener(std::move(l), address);
  }
  auto addr = socketAddressOf(*parsed);
  if (!addr) return Error{"listen " + address + ": " + addr.error().message};
  l.kind = Connection::Kind::kTcp;
  int rc = l.tcp.open([&](uv_tcp_t* t) { return uv_tcp_init(impl_->loop, t); });
  if (rc != 0) return uvError("listen " + address, rc);
  rc = uv_tcp_bind(l.tcp.get(), reinterpret_cast<const sockaddr*>(&*addr), 0);
  if (rc != 0) return uvError("listen " + address, rc);
  return impl_->addListener(std::move(l), address);
}

Status Server::listenFd(int fd) {
  const std::string what = "listen fd " + std::to_string(fd);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return Error{what + ": not a socket: " + std::strerror(errno)};
  int type = 0;
  socklen_t type_len = sizeof(type);
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM)
    return Error{what + ": not a stream socket"};
  Impl::Listener l;
  int rc = 0;
  if (ss.ss_family == AF_UNIX) {
    l.kind = Connection::Kind::kPipe;
    rc = l.pipe.open([&](uv_pipe_t* p) { return uv_pipe_init(impl_->loop, p, 0); });
    if (rc == 0) rc = uv_pipe_open(l.pipe.get(), fd);
  } else if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
    l.kind = Connection::Kind::kTcp;
    rc = l.tcp.open([&](uv_tcp_t* t) { return uv_tcp_init(impl_->loop, t); });
    if (rc == 0) rc = uv_tcp_open(l.tcp.get(), fd);
  } else {
    return Error{what + ": unsupported address family"};
  }
  if (rc != 0) return uvError(what, rc);
  return impl_->addListener(std::move(l), what);
}

std::vector<std::string> Server::boundAddresses() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners) {
    if (l.kind == Connection::Kind::kTcp) {
      sockaddr_storage ss{};
      int len = sizeof(ss);
      if (uv_tcp_getsockname(l.tcp.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0)
        out.push_back(formatAddress(ss));
    } else {
      char path[sizeof(sockaddr_un{}.sun_path) + 1] = {};
      size_t size = sizeof(path);
      if (uv_pipe_getsockname(l.pipe.get(), path, &size) == 0)
        out.push_back("unix:" + std::string(path, size));
    }
  }
  return out;
}

void Server::shutdown(std::function<void()> done) {
  impl_->shutting_down = true;
  impl_->shutdown_done.push_back(std::move(done));
  impl_->closeListeners();
  for (auto* c : impl_->snapshot()) c->drain();
  if (impl_->connections.empty()) impl_->scheduleDone();
}

void Server::closeAll() {
  impl_->closeListeners();
  for (auto* c : impl_->snapshot()) c->close();
}

size_t Server::connectionCount() const {
  return impl_->connections.size();
}

size_t Server::inFlightCount() const {
  return impl_->in_flight;
}

}  // namespace payhook::http
