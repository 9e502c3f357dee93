#include "http/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "common/listen_address.h"
#include "common/log.h"
#include "http/connection.h"
#include "uv/handle.h"

namespace payhook::http {

void Responder::send(Response response) const {
  // Dropped silently when the connection is gone: the peer left or the server shut down.
  if (auto conn = conn_.lock()) conn->send(seq_, std::move(response));
}

uint64_t connectionBudget(uint64_t max_connections, uint64_t file_limit, uint64_t reserve) {
  // A reserve that leaves less than a quarter means the limit is too low for the configuration anyway;
  // connections keep that quarter, and EMFILE handling copes with the rest.
  const uint64_t room = std::max(file_limit > reserve ? file_limit - reserve : 0, file_limit / 4);
  return std::max<uint64_t>(1, std::min(max_connections, room));
}

namespace {

constexpr int kBacklog = 511;
// Descriptors kept free below the open-file limit: libuv, curl and Redis need a few at any moment.
constexpr uint64_t kDescriptorHeadroom = 16;
constexpr uint64_t kDescriptorCalmMs = 1000;

uint64_t openFileLimit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
  return static_cast<uint64_t>(rl.rlim_cur);
}

// 1, 2, 4, 8...: a flood shows in the log without a line per connection.
bool worthLogging(uint64_t count) {
  return (count & (count - 1)) == 0;
}

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
  uint64_t file_limit = UINT64_MAX;          // RLIMIT_NOFILE when the server was made
  uint64_t max_connections = 0;              // limits_.max_connections within file_limit
  uint64_t descriptor_cap = UINT64_MAX;      // lower while descriptors run short (watchDescriptors())
  uint64_t descriptors_short_at = 0;         // uv_now() when they last did
  // Open TCP connections by peer address; only kept when max_connections_per_address is set.
  std::unordered_map<std::string, uint64_t> per_address;
  std::vector<Cidr> uncapped;
  uint64_t shed_ = 0;                 // connections closed by shedOne()
  uint64_t refused_per_address_ = 0;  // newcomers over max_connections_per_address
  uint64_t out_of_descriptors_ = 0;   // accept() failures for want of a descriptor

  size_t open() const { return connections.size() - shedding.size(); }
  size_t in_flight = 0;
  bool shutting_down = false;
  std::vector<std::function<void()>> shutdown_done;
  uv::Timer done_timer;

  Impl(uv_loop_t* l, ServerLimits lim, RequestHandler h)
      : loop(l), limits_(lim), handler(std::move(h)), done_timer(l) {
    file_limit = openFileLimit();
    max_connections = connectionBudget(limits_.max_connections, file_limit, limits_.fd_reserve);
    if (max_connections < limits_.max_connections)
      log::warn("http: max_connections lowered to fit the open-file limit; raise LimitNOFILE= (ulimit -n)",
                {{"max_connections", static_cast<int64_t>(limits_.max_connections)},
                 {"open_file_limit", static_cast<int64_t>(file_limit)},
                 {"reserved", static_cast<int64_t>(limits_.fd_reserve)},
                 {"effective", static_cast<int64_t>(max_connections)}});
  }

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
    // A shed connection's address was counted out when it was shed.
    if (connections.erase(c) != 0 && shedding.erase(c) == 0) forgetPeer(c->peer());
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
    if (status == UV_EMFILE || status == UV_ENFILE) {
      // libuv has already dropped the connection it could not accept. Freeing a descriptor lets the next
      // one in; without it libuv would retry accept() at once and fail again.
      state->impl->outOfDescriptors();
      return;
    }
    if (status < 0) {
      log::warn("http accept failed", {{"error", uv_strerror(status)}});
      return;
    }
    state->impl->accept(server, state->kind);
  }

  void outOfDescriptors() {
    if (worthLogging(++out_of_descriptors_))
      log::warn("http: out of file descriptors, a new connection was dropped; raise LimitNOFILE= (ulimit -n)",
                {{"total", static_cast<int64_t>(out_of_descriptors_)}});
    descriptor_cap = std::max<uint64_t>(1, open() > 0 ? open() - 1 : 0);
    descriptors_short_at = uv_now(loop);
    shedOne("out of file descriptors");
  }

  void accept(uv_stream_t* server, Connection::Kind kind) {
    if (!shutting_down && open() >= connectionLimit()) shedOne("max_connections");
    if (shutting_down || open() >= connectionLimit()) {
      reject(server);
      return;
    }
    auto conn = std::make_shared<Connection>(this, kind);
    if (int rc = conn->init(loop); rc != 0) {
      log::warn("http connection init failed", {{"error", uv_strerror(rc)}});
      reject(server);
      return;
    }
    if (int rc = uv_accept(server, conn->stream()); rc != 0) {
      log::debug("http accept failed", {{"error", uv_strerror(rc)}});
      conn->detach();
      conn->close();
      return;
    }
    conn->readPeer();
    if (kind == Connection::Kind::kTcp && !admitPeer(conn->peer())) {
      conn->detach();
      conn->close();
      return;
    }
    connections.insert(conn.get());
    conn->start();
    watchDescriptors(conn->stream());
  }

  uint64_t connectionLimit() const { return std::min(max_connections, descriptor_cap); }

  // accept() returns the lowest free descriptor, so a high number means the process is close to its
  // open-file limit (deliveries and Redis use descriptors too). Past that point accept() fails and libuv
  // drops newcomers without a word, so the server holds itself to the connections it has and makes room
  // by shedding, as at max_connections. It takes the room back one connection at a time once no high
  // number has come for a while: a low number right after shedding only reuses the shed one's.
  void watchDescriptors(uv_stream_t* stream) {
    uv_os_fd_t fd = -1;
    if (file_limit == UINT64_MAX || uv_fileno(reinterpret_cast<uv_handle_t*>(stream), &fd) != 0 || fd < 0)
      return;
    const auto number = static_cast<uint64_t>(fd);
    if (number + kDescriptorHeadroom >= file_limit) {
      descriptor_cap = std::max<uint64_t>(1, open() - 1);
      descriptors_short_at = uv_now(loop);
      shedOne("few file descriptors left");
    } else if (descriptor_cap < max_connections && uv_now(loop) - descriptors_short_at >= kDescriptorCalmMs) {
      ++descriptor_cap;
    }
  }

  // Counts a TCP peer in; false (and nothing counted) when it is over max_connections_per_address.
  bool admitPeer(const std::string& peer) {
    const uint64_t cap = limits_.max_connections_per_address;
    if (cap == 0) return true;
    uint64_t& count = per_address[peer];  // never left at 0: a refusal means count >= cap >= 1
    if (count >= cap && !anyContains(uncapped, peer)) {
      if (worthLogging(++refused_per_address_))
        log::warn("http: connection refused, its address is at max_connections_per_address",
                  {{"peer", peer}, {"refused_total", static_cast<int64_t>(refused_per_address_)}});
      return false;
    }
    ++count;
    return true;
  }
  void forgetPeer(const std::string& peer) {
    auto it = per_address.find(peer);
    if (it == per_address.end()) return;
    if (--it->second == 0) per_address.erase(it);
  }

  // Makes room by closing one connection not held by the handler: an idle keep-alive one first (clients
  // expect those to close), else the one whose request or answer has been under way longest. Legitimate
  // peers send a request and read its answer in milliseconds, so the oldest is the likeliest slowloris,
  // slow body or non-reader. A connection whose request is with the handler is never shed: that work is
  // bounded by the application's own timeouts, and cutting it would only turn a stored callback into a
  // retry. O(connections), only when the limit is reached.
  // Connections open from `peer`'s address; 0 when addresses are not counted (no per-address cap).
  uint64_t addressLoad(const std::string& peer) const {
    auto it = per_address.find(peer);
    return it == per_address.end() ? 0 : it->second;
  }

  // Idle keep-alive connections go first. Among the others, the address holding the most connections gives
  // one up, its oldest: a flood that reconnects as fast as it is shed keeps its own connections young, and
  // shedding by age alone would then pick a provider's connection accepted a moment earlier.
  void shedOne(const char* why) {
    Connection* best = nullptr;
    Connection::Shed best_class = Connection::Shed::kNever;
    uint64_t best_since = 0;
    uint64_t best_load = 0;
    for (Connection* c : connections) {
      const Connection::Shed cls = c->shedClass();
      if (cls == Connection::Shed::kNever) continue;  // also those closing already
      const uint64_t since = c->shedSince();
      const uint64_t load = addressLoad(c->peer());
      const bool idle = cls == Connection::Shed::kIdle;
      const bool best_idle = best_class == Connection::Shed::kIdle;
      const bool better =
          !best || (idle && !best_idle) ||
          (idle == best_idle && (load > best_load || (load == best_load && since < best_since)));
      if (better) {
        best = c;
        best_class = cls;
        best_since = since;
        best_load = load;
      }
    }
    if (!best) return;
    // Counted out now, against max_connections and its address's cap: libuv may accept a burst of
    // connections before the handle's close callback comes on a later loop turn.
    shedding.insert(best);
    forgetPeer(best->peer());
    if (worthLogging(++shed_))
      log::warn("http: closed the oldest connection not held by the handler to make room",
                {{"reason", why},
                 {"idle", best_class == Connection::Shed::kIdle},
                 {"shed_total", static_cast<int64_t>(shed_)}});
    best->close();
  }

  // Over the limit: accept and close at once, so connections already open are untouched.
  void reject(uv_stream_t* server) {
    uv::acceptAndClose(server);
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

void Server::setUncappedPeers(std::vector<Cidr> ranges) {
  impl_->uncapped = std::move(ranges);
}

size_t Server::maxConnections() const {
  return impl_->max_connections;
}

size_t Server::connectionCount() const {
  return impl_->connections.size();
}

size_t Server::inFlightCount() const {
  return impl_->in_flight;
}

}  // namespace payhook::http
