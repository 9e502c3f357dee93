#include "http/plain_transport.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/text.h"
#include "http/plain_url.h"
#include "http/response_decoder.h"
#include "uv/handle.h"

namespace payhook::http {
namespace {

// Per connection: answers payhook waits for are a status line and a few headers; a larger body just takes
// more reads, each of which libuv makes in the same loop turn.
constexpr size_t kReadBuffer = 8 * 1024;
constexpr uint64_t kMaxIdleMs = 118'000;  // curl's CURLOPT_MAXAGE_CONN default
constexpr uint64_t kDnsCacheMs = 60'000;  // curl's CURLOPT_DNS_CACHE_TIMEOUT default

// An IP literal's address, or nothing when `host` is a name.
std::optional<sockaddr_storage> literalAddress(const PlainUrl& t) {
  sockaddr_storage ss{};
  const std::string host(t.host);
  if (t.ipv6) {
    if (uv_ip6_addr(host.c_str(), t.port, reinterpret_cast<sockaddr_in6*>(&ss)) == 0) return ss;
    return std::nullopt;
  }
  in_addr a4{};
  if (uv_inet_pton(AF_INET, host.c_str(), &a4) != 0) return std::nullopt;
  if (uv_ip4_addr(host.c_str(), t.port, reinterpret_cast<sockaddr_in*>(&ss)) == 0) return ss;
  return std::nullopt;
}

bool isFramingHeader(std::string_view name) {
  return equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "transfer-encoding") ||
         equalsIgnoreCase(name, "expect") || equalsIgnoreCase(name, "connection");
}

double msSince(uint64_t start_ns) {
  return static_cast<double>(uv_hrtime() - start_ns) / 1e6;
}

}  // namespace

struct PlainTransport::Impl {
  struct Pool;
  struct Conn;

  struct Exchange {
    uint64_t id = 0;
    Client::Done done;
    uint64_t start_ns = 0;
    uint64_t timeout_ms = 0;
    uint64_t deadline_ms = 0;  // on uv_now()'s clock
    Pool* pool = nullptr;
    std::string head;  // request line and headers, built once
    std::string body;
    bool head_method = false;
    bool retried = false;
    bool fresh_only = false;  // a retry: it must not take an idle connection
    size_t next_address = 0;  // the address the next connect tries
    Conn* conn = nullptr;
    // The host's wait list (intrusive: queueing allocates nothing).
    Exchange* prev = nullptr;
    Exchange* next = nullptr;
    bool queued = false;
  };

  struct Pool {
    std::string host;
    uint16_t port = 80;
    std::string key;  // host:port, for error texts
    std::vector<sockaddr_storage> addresses;
    uint64_t addresses_until_ms = 0;  // uv_now(); UINT64_MAX for a literal
    bool resolving = false;
    std::vector<Conn*> idle;  // the back is the most recently used
    size_t conns = 0;         // connecting, busy or idle
    Exchange* wait_head = nullptr;
    Exchange* wait_tail = nullptr;
    bool dispatching = false;
  };

  // One TCP connection. It is freed in its close callback, not before: libuv may still call back with its
  // connect or write request (UV_ECANCELED) after uv_close(), so those requests live here too. `owner` is
  // null from close() on, which makes every late callback a no-op.
  struct Conn {
    enum class State { kConnecting, kBusy, kIdle, kClosed };
    uv_tcp_t tcp{};
    uv_connect_t connect_req{};
    uv_write_t write_req{};
    Impl* owner = nullptr;
    Pool* pool = nullptr;
    Exchange* ex = nullptr;
    State state = State::kConnecting;
    ResponseDecoder decoder;
    uv::Timer timer;
    uint64_t served = 0;
    uint64_t idle_since_ms = 0;
    bool writing = false;
    Conn* prev = nullptr;  // every open connection, for shutdown
    Conn* next = nullptr;
    char buf[kReadBuffer];

    Conn(Impl* o, Pool* p, size_t max_body) : owner(o), pool(p), decoder(max_body), timer(o->loop) {}
  };

  // A name lookup in the thread pool; freed in its callback, which libuv always makes.
  struct Lookup {
    uv_getaddrinfo_t req{};
    Impl* owner = nullptr;
    Pool* pool = nullptr;
    Lookup* prev = nullptr;
    Lookup* next = nullptr;
  };

  uv_loop_t* loop;
  ClientOptions options;
  Defer defer;
  std::unordered_map<uint64_t, Exchange> exchanges;  // node-based: an Exchange never moves
  std::unordered_map<std::string, std::unique_ptr<Pool>> pools;
  Conn* conns_head = nullptr;
  Lookup* lookups_head = nullptr;
  size_t idle_total = 0;
  // Wakes up for the earliest deadline of a waiting request (queued for a connection or a lookup); busy
  // connections have their own timer.
  uv::Timer wait_timer;
  uint64_t wait_timer_due_ms = 0;
  size_t waiting = 0;
  // Finished requests whose done has not run yet: they run once the state is consistent (see runReady).
  std::vector<std::pair<Client::Done, ClientResponse>> ready;
  bool shut = false;

  Impl(uv_loop_t* l, const ClientOptions& o, Defer d)
      : loop(l), options(o), defer(std::move(d)), wait_timer(l) {}

  ~Impl() { shutdown(); }

  // --- completion ----------------------------------------------------------------------------------

  // Takes the request out of every list and queues its done. The connection, if any, is already detached.
  void complete(Exchange* e, ClientResponse r) {
    if (e->queued) unqueue(e);
    r.latency_ms = msSince(e->start_ns);
    ready.emplace_back(std::move(e->done), std::move(r));
    exchanges.erase(e->id);
  }

  void fail(Exchange* e, std::string error) {
    ClientResponse r;
    r.error = std::move(error);
    complete(e, std::move(r));
  }

  std::string timeoutText(const Exchange* e) const {
    return "timed out after " + std::to_string(e->timeout_ms) + " ms";
  }

  // From libuv callbacks only, as their last step: the dones may send, cancel, shut down or destroy the
  // Client, so nothing of `this` is touched once the first has started.
  void runReady() {
    if (ready.empty()) return;
    auto run = std::move(ready);
    ready.clear();
    for (auto& [done, response] : run) done(std::move(response));
  }

  // From send(), cancel() and shutdown(): done must not run inside them.
  void postReady() {
    for (auto& [done, response] : ready) defer(std::move(done), std::move(response));
    ready.clear();
  }

  // --- waiting ---------------------------------------------------------------------------------------

  void enqueue(Exchange* e, bool front) {
    Pool* p = e->pool;
    e->queued = true;
    ++waiting;
    if (front) {
      e->prev = nullptr;
      e->next = p->wait_head;
      (p->wait_head ? p->wait_head->prev : p->wait_tail) = e;
      p->wait_head = e;
    } else {
      e->next = nullptr;
      e->prev = p->wait_tail;
      (p->wait_tail ? p->wait_tail->next : p->wait_head) = e;
      p->wait_tail = e;
    }
    if (!wait_timer.active() || e->deadline_ms < wait_timer_due_ms) armWaitTimer(e->deadline_ms);
  }

  void unqueue(Exchange* e) {
    Pool* p = e->pool;
    (e->prev ? e->prev->next : p->wait_head) = e->next;
    (e->next ? e->next->prev : p->wait_tail) = e->prev;
    e->prev = e->next = nullptr;
    e->queued = false;
    if (--waiting == 0) wait_timer.stop();
  }

  void armWaitTimer(uint64_t due_ms) {
    const uint64_t now = uv_now(loop);
    wait_timer_due_ms = due_ms;
    wait_timer.start(due_ms > now ? due_ms - now : 0, [this] { onWaitTimer(); });
  }

  void onWaitTimer() {
    const uint64_t now = uv_now(loop);
    uint64_t next_due = std::numeric_limits<uint64_t>::max();
    for (auto& [key, pool] : pools) {
      for (Exchange* e = pool->wait_head; e;) {
        Exchange* following = e->next;
        if (e->deadline_ms <= now) {
          fail(e, timeoutText(e));
        } else {
          next_due = std::min(next_due, e->deadline_ms);
        }
        e = following;
      }
    }
    if (waiting > 0) armWaitTimer(next_due);
    runReady();
  }

  // --- the pool --------------------------------------------------------------------------------------

  Pool* poolFor(const PlainUrl& t) {
    std::string key;
    if (t.ipv6) {
      key.append("[").append(t.host).append("]");
    } else {
      key.append(t.host);
    }
    key.append(":").append(std::to_string(t.port));
    auto it = pools.find(key);
    if (it != pools.end()) return it->second.get();
    auto p = std::make_unique<Pool>();
    p->host = std::string(t.host);
    p->port = t.port;
    p->key = key;
    if (auto addr = literalAddress(t)) {
      p->addresses.push_back(*addr);
      p->addresses_until_ms = std::numeric_limits<uint64_t>::max();
    }
    return pools.emplace(std::move(key), std::move(p)).first->second.get();
  }

  // Hands waiting requests to idle connections, opens connections while the host's limit allows, or starts
  // the lookup they wait for. Called whenever one of those may have changed.
  void dispatch(Pool* p) {
    if (p->dispatching || shut) return;  // the outer call's loop sees whatever a nested one would do
    p->dispatching = true;
    const auto max = static_cast<size_t>(std::max<long>(options.max_host_connections, 0));
    while (Exchange* e = p->wait_head) {
      if (!e->fresh_only) {
        if (Conn* c = takeIdle(p)) {
          unqueue(e);
          assign(c, e);
          continue;
        }
      }
      if (max > 0 && p->conns >= max) {
        if (!e->fresh_only || p->idle.empty()) break;
        closeConn(p->idle.front());  // the oldest idle one makes room for the retry
      }
      if (uv_now(loop) >= p->addresses_until_ms || p->addresses.empty()) {
        startLookup(p);
        break;
      }
      unqueue(e);
      e->next_address = 0;
      openConn(p, e);
    }
    p->dispatching = false;
  }

  Conn* takeIdle(Pool* p) {
    const uint64_t now = uv_now(loop);
    while (!p->idle.empty()) {
      Conn* c = p->idle.back();
      if (now - c->idle_since_ms <= kMaxIdleMs) {
        p->idle.pop_back();
        --idle_total;
        uv_ref(reinterpret_cast<uv_handle_t*>(&c->tcp));
        return c;
      }
      closeConn(c);
    }
    return nullptr;
  }

  void release(Conn* c) {
    c->timer.stop();
    // A request of this host waiting for a connection takes it at once (dispatch), whatever the idle cap.
    const bool wanted = c->pool->wait_head && !c->pool->wait_head->fresh_only;
    if (!wanted && options.max_idle_connections > 0 &&
        idle_total >= static_cast<size_t>(options.max_idle_connections)) {
      closeConn(c);
      return;
    }
    c->state = Conn::State::kIdle;
    c->idle_since_ms = uv_now(loop);
    // As with curl, whose idle connections are not watched: they alone do not keep the loop running.
    uv_unref(reinterpret_cast<uv_handle_t*>(&c->tcp));
    c->pool->idle.push_back(c);
    ++idle_total;
  }

  // --- lookups ---------------------------------------------------------------------------------------

  void startLookup(Pool* p) {
    if (p->resolving) return;
    auto owned = std::make_unique<Lookup>();
    Lookup* l = owned.get();
    l->owner = this;
    l->pool = p;
    l->req.data = l;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const std::string port = std::to_string(p->port);
    const int rc = uv_getaddrinfo(loop, &l->req, &Impl::onResolved, p->host.c_str(), port.c_str(), &hints);
    if (rc != 0) {
      failWaiting(p, "could not resolve host " + p->host + ": " + uv_strerror(rc));
      return;
    }
    owned.release();  // libuv holds it now; onResolved frees it
    p->resolving = true;
    l->next = lookups_head;
    if (lookups_head) lookups_head->prev = l;
    lookups_head = l;
  }

  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
    std::unique_ptr<Lookup> l(static_cast<Lookup*>(req->data));
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(res, &uv_freeaddrinfo);
    Impl* self = l->owner;
    if (!self) return;
    (l->prev ? l->prev->next : self->lookups_head) = l->next;
    if (l->next) l->next->prev = l->prev;
    Pool* p = l->pool;
    p->resolving = false;
    p->addresses.clear();
    for (addrinfo* a = res; status == 0 && a; a = a->ai_next) {
      if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
      sockaddr_storage ss{};
      std::memcpy(&ss, a->ai_addr, std::min<size_t>(a->ai_addrlen, sizeof(ss)));
      p->addresses.push_back(ss);
    }
    if (p->addresses.empty()) {
      self->failWaiting(
          p, "could not resolve host " + p->host + ": " + (status != 0 ? uv_strerror(status) : "no address"));
    } else {
      p->addresses_until_ms = uv_now(self->loop) + kDnsCacheMs;
      self->dispatch(p);
    }
    self->runReady();
  }

  void failWaiting(Pool* p, const std::string& error) {
    while (Exchange* e = p->wait_head) fail(e, error);
  }

  // --- connections -----------------------------------------------------------------------------------

  void openConn(Pool* p, Exchange* e) {
    auto owned = std::make_unique<Conn>(this, p, options.max_response_body);
    if (int rc = uv_tcp_init(loop, &owned->tcp); rc != 0) {
      fail(e, std::string("cannot create a socket: ") + uv_strerror(rc));
      return;
    }
    Conn* c = owned.release();  // the handle owns it now: freed in its close callback (closeConn)
    c->tcp.data = c;
    c->next = conns_head;
    if (conns_head) conns_head->prev = c;
    conns_head = c;
    ++p->conns;
    c->ex = e;
    e->conn = c;
    armConnTimer(c, e);
    connect(c);
  }

  void connect(Conn* c) {
    Exchange* e = c->ex;
    const auto& addr = c->pool->addresses[e->next_address];
    c->connect_req.data = c;
    const int rc =
        uv_tcp_connect(&c->connect_req, &c->tcp, reinterpret_cast<const sockaddr*>(&addr), &Impl::onConnect);
    if (rc != 0) connectFailed(c, rc);
  }

  static void onConnect(uv_connect_t* req, int status) noexcept {
    auto* c = static_cast<Conn*>(req->data);
    Impl* self = c->owner;
    if (!self || c->state != Conn::State::kConnecting) return;
    if (status != 0) {
      self->connectFailed(c, status);
      self->runReady();
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);  // a request goes out whole in one write: Nagle would only delay it
    if (int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), &Impl::onAlloc, &Impl::onRead);
        rc != 0) {
      self->connectFailed(c, rc);
      self->runReady();
      return;
    }
    Exchange* e = c->ex;
    self->assign(c, e);
    self->runReady();
  }

  // A socket is bound to one address, so the next address gets a new connection.
  void connectFailed(Conn* c, int status) {
    Exchange* e = c->ex;
    Pool* p = c->pool;
    closeConn(c);
    if (++e->next_address < p->addresses.size()) {
      openConn(p, e);
    } else {
      fail(e, "cannot connect to " + p->key + ": " + uv_strerror(status));
    }
    dispatch(p);
  }

  void armConnTimer(Conn* c, Exchange* e) {
    const uint64_t now = uv_now(loop);
    c->timer.start(e->deadline_ms > now ? e->deadline_ms - now : 0, [c] { onConnTimer(c); });
  }

  static void onConnTimer(Conn* c) {
    Impl* self = c->owner;
    if (!self || !c->ex) return;
    Exchange* e = c->ex;
    Pool* p = c->pool;
    self->closeConn(c);
    self->fail(e, self->timeoutText(e));
    self->dispatch(p);
    self->runReady();
  }

  // Sends the request on a connected socket: most requests fit the socket buffer and leave with one
  // system call and no write request; the rest goes through uv_write.
  void assign(Conn* c, Exchange* e) {
    c->ex = e;
    e->conn = c;
    c->state = Conn::State::kBusy;
    c->decoder.start(e->head_method);
    armConnTimer(c, e);
    uv_buf_t bufs[2] = {uv_buf_init(e->head.data(), static_cast<unsigned>(e->head.size())),
                        uv_buf_init(e->body.data(), static_cast<unsigned>(e->body.size()))};
    unsigned nbufs = e->body.empty() ? 1 : 2;
    auto* stream = reinterpret_cast<uv_stream_t*>(&c->tcp);
    const int n = uv_try_write(stream, bufs, nbufs);
    const size_t total = bufs[0].len + (nbufs == 2 ? bufs[1].len : 0);
    if (n >= 0 && static_cast<size_t>(n) == total) return;
    if (n > 0) {
      size_t sent = static_cast<size_t>(n);
      if (sent >= bufs[0].len) {
        sent -= bufs[0].len;
        bufs[0] = uv_buf_init(bufs[1].base + sent, static_cast<unsigned>(bufs[1].len - sent));
        nbufs = 1;
      } else {
        bufs[0] = uv_buf_init(bufs[0].base + sent, static_cast<unsigned>(bufs[0].len - sent));
      }
    } else if (n != UV_EAGAIN) {
      connFailed(c, std::string("cannot send to ") + c->pool->key + ": " + uv_strerror(n));
      return;
    }
    c->write_req.data = c;
    if (int rc = uv_write(&c->write_req, stream, bufs, nbufs, &Impl::onWritten); rc != 0) {
      connFailed(c, std::string("cannot send to ") + c->pool->key + ": " + uv_strerror(rc));
      return;
    }
    c->writing = true;
  }

  static void onWritten(uv_write_t* req, int status) noexcept {
    auto* c = static_cast<Conn*>(req->data);
    Impl* self = c->owner;
    c->writing = false;
    if (!self || status == 0 || c->state != Conn::State::kBusy) return;
    self->connFailed(c, std::string("cannot send to ") + c->pool->key + ": " + uv_strerror(status));
    self->runReady();
  }

  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
    auto* c = static_cast<Conn*>(h->data);
    *buf = uv_buf_init(c->buf, sizeof(c->buf));
  }

  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
    auto* c = static_cast<Conn*>(s->data);
    Impl* self = c->owner;
    if (!self || nread == 0) return;
    if (c->state != Conn::State::kBusy) {
      // Idle: the peer closed it (or sent bytes no request asked for); it cannot carry a request now.
      Pool* p = c->pool;
      self->closeConn(c);
      self->dispatch(p);
      self->runReady();
      return;
    }
    if (nread < 0) {
      if (nread == UV_EOF && c->decoder.finish() == ResponseDecoder::State::kComplete) {
        self->answered(c);
      } else if (nread == UV_EOF) {
        self->connFailed(c, c->decoder.error());
      } else {
        self->connFailed(
            c, "connection to " + c->pool->key + " failed: " + uv_strerror(static_cast<int>(nread)));
      }
      self->runReady();
      return;
    }
    const auto p = c->decoder.feed(buf->base, static_cast<size_t>(nread));
    switch (p.state) {
      case ResponseDecoder::State::kNeedMore:
        return;
      case ResponseDecoder::State::kComplete:
        self->answered(c);
        break;
      case ResponseDecoder::State::kError:
        self->connFailed(c, c->decoder.error());
        break;
    }
    self->runReady();
  }

  void answered(Conn* c) {
    Exchange* e = c->ex;
    Pool* p = c->pool;
    ClientResponse r = c->decoder.takeResponse();
    // A write still going means the server answered before reading the whole request: the connection's
    // state is unknown, and the request's buffers must outlive the write, which closing cancels.
    const bool reuse = c->decoder.reusable() && !c->writing;
    c->ex = nullptr;
    e->conn = nullptr;
    ++c->served;
    if (reuse) {
      release(c);
    } else {
      closeConn(c);
    }
    complete(e, std::move(r));
    dispatch(p);
  }

  // The exchange on `c` failed with the connection: retried once on a new connection when `c` was reused
  // and the server said nothing yet, which is how a keep-alive connection closed by the peer shows.
  void connFailed(Conn* c, std::string error) {
    Exchange* e = c->ex;
    Pool* p = c->pool;
    const bool retry = c->served > 0 && !c->decoder.begun() && !e->retried;
    closeConn(c);
    if (retry) {
      e->retried = true;
      e->fresh_only = true;
      enqueue(e, /*front=*/true);
    } else {
      fail(e, std::move(error));
    }
    dispatch(p);
  }

  // Detaches the connection from its pool and its exchange (which the caller finishes or moves on) and
  // closes the socket; the memory goes in the close callback.
  void closeConn(Conn* c) {
    if (c->state == Conn::State::kClosed) return;
    Pool* p = c->pool;
    if (c->state == Conn::State::kIdle) {
      p->idle.erase(std::find(p->idle.begin(), p->idle.end(), c));
      --idle_total;
    }
    --p->conns;
    (c->prev ? c->prev->next : conns_head) = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = nullptr;
    c->state = Conn::State::kClosed;
    c->owner = nullptr;
    c->timer.close();
    if (c->ex) c->ex->conn = nullptr;
    c->ex = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
             [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
  }

  // --- the public calls --------------------------------------------------------------------------------

  void send(uint64_t id, ClientRequest&& req, Client::Done done, uint64_t start_ns) {
    auto& e = exchanges[id];
    e.id = id;
    e.done = std::move(done);
    e.start_ns = start_ns;
    e.timeout_ms = std::max<uint64_t>(req.timeout_ms, 1);
    e.deadline_ms = uv_now(loop) + e.timeout_ms;
    const auto target = parsePlainUrl(req.url);
    if (shut || !target) {
      fail(&e, shut ? "client shut down" : "invalid url");
      postReady();
      return;
    }
    e.pool = poolFor(*target);
    buildHead(e, req, *target);
    e.head_method = req.method == "HEAD";
    if (req.method != "GET" && req.method != "HEAD") e.body = std::move(req.body);
    // The common case, a warm connection and nobody ahead, skips the wait list and its timer.
    if (!e.pool->wait_head) {
      if (Conn* c = takeIdle(e.pool)) {
        assign(c, &e);
        postReady();
        return;
      }
    }
    enqueue(&e, /*front=*/false);
    dispatch(e.pool);
    postReady();
  }

  void buildHead(Exchange& e, const ClientRequest& req, const PlainUrl& t) const {
    bool own_host = true, own_agent = true;
    size_t size = req.method.size() + t.path.size() + t.host.size() + options.user_agent.size() + 96;
    for (const auto& h : req.headers) {
      size += h.name.size() + h.value.size() + 4;
      if (equalsIgnoreCase(h.name, "host")) own_host = false;
      if (equalsIgnoreCase(h.name, "user-agent")) own_agent = false;
    }
    std::string& out = e.head;
    out.reserve(size);
    out.append(req.method).append(" ");
    if (t.path.empty() || t.path.front() == '?') out.append("/");
    out.append(t.path).append(" HTTP/1.1\r\n");
    if (own_host) {
      out.append("Host: ");
      if (t.ipv6) {
        out.append("[").append(t.host).append("]");
      } else {
        out.append(t.host);
      }
      if (t.port != 80) out.append(":").append(std::to_string(t.port));
      out.append("\r\n");
    }
    if (own_agent) out.append("User-Agent: ").append(options.user_agent).append("\r\n");
    if (req.method != "GET" && req.method != "HEAD")
      out.append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n");
    for (const auto& h : req.headers) {
      if (isFramingHeader(h.name)) continue;  // framing and persistence are the transport's
      out.append(h.name).append(": ").append(h.value).append("\r\n");
    }
    out.append("\r\n");
  }

  bool cancel(uint64_t id) {
    auto it = exchanges.find(id);
    if (it == exchanges.end()) return false;
    Exchange* e = &it->second;
    Pool* p = e->pool;
    // Half an exchange leaves the connection in an unknown state: it is closed, not reused.
    if (e->conn) closeConn(e->conn);
    fail(e, "cancelled");
    if (p) dispatch(p);
    postReady();
    return true;
  }

  void shutdown() {
    if (shut) return;
    shut = true;
    while (conns_head) closeConn(conns_head);
    for (Lookup* l = lookups_head; l; l = l->next) {
      l->owner = nullptr;
      uv_cancel(reinterpret_cast<uv_req_t*>(&l->req));  // else it ends in the thread pool, then is freed
    }
    lookups_head = nullptr;
    while (!exchanges.empty()) fail(&exchanges.begin()->second, "client shut down");
    wait_timer.close();
    postReady();
  }
};

PlainTransport::PlainTransport(uv_loop_t* loop, const ClientOptions& options, Defer defer)
    : impl_(std::make_unique<Impl>(loop, options, std::move(defer))) {}

PlainTransport::~PlainTransport() = default;

bool PlainTransport::accepts(std::string_view url) {
  return parsePlainUrl(url).has_value();
}

void PlainTransport::send(uint64_t id, ClientRequest&& request, Client::Done done, uint64_t start_ns) {
  impl_->send(id, std::move(request), std::move(done), start_ns);
}

bool PlainTransport::cancel(uint64_t id) {
  return impl_->cancel(id);
}

void PlainTransport::shutdown() {
  impl_->shutdown();
}

size_t PlainTransport::inFlight() const {
  return impl_->exchanges.size();
}

}  // namespace payhook::http
