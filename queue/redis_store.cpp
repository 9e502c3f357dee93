#include "queue/redis_store.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <sodium.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/log.h"
#include "queue/event_record.h"
#include "queue/lua_scripts.h"
#include "uv/handle.h"

namespace payhook::queue {

int redisMajorVersion(std::string_view info) {
  constexpr std::string_view kKey = "\nredis_version:";
  size_t at = info.substr(0, kKey.size() - 1) == kKey.substr(1) ? 0 : info.find(kKey);
  if (at == std::string_view::npos) return -1;
  at += info[at] == '\n' ? kKey.size() : kKey.size() - 1;
  int major = -1;
  const char* begin = info.data() + at;
  auto [end, ec] = std::from_chars(begin, info.data() + info.size(), major);
  return ec == std::errc() && end != begin && end < info.data() + info.size() && *end == '.' ? major : -1;
}

const char* outcomeName(StoreOutcome o) {
  switch (o) {
    case StoreOutcome::kStored:
      return "stored";
    case StoreOutcome::kDuplicate:
      return "duplicate";
    case StoreOutcome::kUnavailable:
      return "unavailable";
    case StoreOutcome::kTimeout:
      return "timeout";
    case StoreOutcome::kError:
      return "error";
    case StoreOutcome::kHeld:
      return "held";
  }
  return "error";
}

Script::Script(std::string text) : state_(std::make_shared<State>()) {
  state_->text = std::move(text);
}

const std::string& Script::text() const {
  return state_->text;
}

// ---------------------------------------------------------------------------------------------------------
// The store

namespace {

// Pooled commands keep their buffer; one that held a huge body gives it back rather than pin it.
constexpr size_t kMaxPooledCommandBytes = 16 * 1024;
constexpr size_t kMaxPooledOps = 1024;

template <class T>
void appendNumber(std::string& out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;
  out.append(buf, end);
}

// Appends one RESP bulk string made of `parts` concatenated, so keys are built in place.
void appendBulkParts(std::string& out, std::initializer_list<std::string_view> parts) {
  size_t len = 0;
  for (auto p : parts) len += p.size();
  out += '$';
  appendNumber(out, len);
  out += "\r\n";
  for (auto p : parts) out.append(p);
  out += "\r\n";
}

void appendBulk(std::string& out, std::string_view s) {
  appendBulkParts(out, {s});
}

std::string_view replyText(const redisReply* r) {
  return std::string_view(r->str, r->len);
}

bool isNumericIp(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return uv_inet_pton(AF_INET, host.c_str(), buf) == 0 || uv_inet_pton(AF_INET6, host.c_str(), buf) == 0;
}

enum class HandshakeStep : uintptr_t { kAuth = 1, kSelect, kVersion, kScriptLoad, kMarkSet, kMarkGet };

// hiredis 0.14's libuv adapter returns early when uv_poll reports an error status, and libuv reports a
// socket error (a refused connect, a reset from a killed Redis) as just that, after stopping the handle.
// hiredis then never hears of it: a refused connect waits for connect_timeout and a reset connection
// looks alive until a command times out. hiredis 1.0 fixed the adapter by handling the events it was
// watching, so read(2) or the connect check report the error; these hooks do the same and replace the
// adapter's four interest hooks right after redisLibuvAttach(). The adapter still owns the handle memory.
void onRedisPoll(uv_poll_t* handle, int status, int events) noexcept {
  auto* p = static_cast<redisLibuvEvents*>(handle->data);
  // On an error libuv has stopped the handle: record that, so interest hiredis asks for again restarts it.
  int ev = status != 0 ? std::exchange(p->events, 0) : events;
  if (p->context && (ev & UV_READABLE)) redisAsyncHandleRead(p->context);
  if (p->context && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

void updateRedisPoll(redisLibuvEvents* p) {
  if (p->events)
    uv_poll_start(&p->handle, p->events, &onRedisPoll);
  else
    uv_poll_stop(&p->handle);
}

// hiredis asks for write interest on every command it queues. uv_poll_start() re-registers the socket with
// epoll even when nothing changed (two epoll_ctl calls, one failing): only a change is passed on.
void setRedisPollEvents(void* data, int events) {
  auto* p = static_cast<redisLibuvEvents*>(data);
  if (p->events == events) return;
  p->events = events;
  updateRedisPoll(p);
}

void redisPollAddRead(void* data) noexcept {
  setRedisPollEvents(data, static_cast<redisLibuvEvents*>(data)->events | UV_READABLE);
}

void redisPollDelRead(void* data) noexcept {
  setRedisPollEvents(data, static_cast<redisLibuvEvents*>(data)->events & ~UV_READABLE);
}

void redisPollAddWrite(void* data) noexcept {
  setRedisPollEvents(data, static_cast<redisLibuvEvents*>(data)->events | UV_WRITABLE);
}

void redisPollDelWrite(void* data) noexcept {
  setRedisPollEvents(data, static_cast<redisLibuvEvents*>(data)->events & ~UV_WRITABLE);
}

int attachToLoop(redisAsyncContext* c, uv_loop_t* loop) {
  if (redisLibuvAttach(c, loop) != REDIS_OK) return REDIS_ERR;
  c->ev.addRead = &redisPollAddRead;
  c->ev.delRead = &redisPollDelRead;
  c->ev.addWrite = &redisPollAddWrite;
  c->ev.delWrite = &redisPollDelWrite;
  return REDIS_OK;
}

}  // namespace

struct RedisStore::Impl {
  enum class OpKind : uint8_t { kStore, kScriptLoad, kPing, kScript };

  // One command awaiting its reply. hiredis holds it as privdata until it calls back exactly once (with the
  // reply, or NULL when the context goes away), so it is recycled only there, even after a timeout.
  struct Op {
    Op* prev = nullptr;  // deadline list, oldest first
    Op* next = nullptr;
    bool linked = false;
    bool finished = false;  // the answer is already queued; the reply only recycles the op
    bool retried = false;   // NOSCRIPT was already answered with EVAL once
    OpKind kind = OpKind::kStore;
    uint64_t deadline = 0;
    uint32_t argc = 0;
    size_t tail = 0;  // offset in cmd of the arguments after the script sha
    Done done;
    std::string cmd;  // RESP-formatted, kept for the NOSCRIPT fallback
    // runScript() ops and the SCRIPT LOAD of a runScript() script; null for the store's own script.
    std::shared_ptr<Script::State> script;
    ScriptDone script_done;
    // Targets this store asks the script to add to {p}:targets; they count as added once it stored.
    std::vector<std::string> registering;
  };

  // An answer or a readiness change, delivered from the drain timer so user code never runs inside
  // store() or inside a hiredis callback.
  struct Pending {
    Done done;
    StoreResult result;
    int ready = -1;                        // 0 or 1 for a readiness change
    std::function<void()> call = nullptr;  // a runScript() answer, bound to its reply
  };

  struct ResolveReq {
    uv_getaddrinfo_t req{};
    Impl* owner = nullptr;  // cleared when the answer is no longer wanted
  };

  uv_loop_t* loop_;
  RedisStoreOptions options_;
  std::string redacted_url_;
  Result<RedisAddress> address_;
  std::string key_prefix_;  // "{prefix}:"
  std::string due_key_;
  std::string events_key_;
  std::string targets_key_;
  std::string marker_key_;
  std::string marker_;  // the data marker last read; empty before the first handshake
  uint64_t data_losses_ = 0;
  std::string script_sha_;

  redisAsyncContext* ctx_ = nullptr;
  uint64_t conn_gen_ = 0;  // bumped per connection, so deferred work can tell connections apart
  // Target name -> the connection on which a store added it to {p}:targets.
  std::unordered_map<std::string, uint64_t> registered_;
  bool started_ = false;
  bool stopped_ = false;
  bool ready_ = false;
  bool outage_logged_ = false;
  bool ever_ready_ = false;
  bool reload_inflight_ = false;
  uint64_t backoff_ms_;
  std::vector<std::string> resolved_;
  size_t next_addr_ = 0;
  ResolveReq* resolve_req_ = nullptr;

  // Set while our own redisAsyncFree() runs, to say how the commands it fails should be answered.
  StoreOutcome drop_outcome_ = StoreOutcome::kUnavailable;
  const char* drop_reason_ = nullptr;
  uint64_t drop_gen_ = 0;  // a connection to drop from the drain timer, 0 for none
  std::string drop_error_;

  uv::Timer retry_timer_;
  uv::Timer connect_timer_;
  uv::Timer timeout_timer_;
  uv::Timer drain_timer_;
  uv::Timer heartbeat_timer_;
  bool drain_open_ = true;

  Op* head_ = nullptr;
  Op* tail_ = nullptr;
  std::vector<Op*> free_ops_;
  std::vector<Pending> pending_;
  std::vector<Pending> draining_;
  bool* destroyed_flag_ = nullptr;  // non-null while draining
  std::function<void(bool)> ready_cb_;

  Impl(uv_loop_t* loop, RedisStoreOptions options)
      : loop_(loop),
        options_(std::move(options)),
        redacted_url_(redactRedisUrl(options_.url)),
        address_(parseRedisUrl(options_.url)),
        key_prefix_("{" + options_.prefix + "}:"),
        due_key_(key_prefix_ + "due"),
        events_key_(key_prefix_ + "events"),
        targets_key_(key_prefix_ + "targets"),
        marker_key_(key_prefix_ + "marker"),
        backoff_ms_(std::max<uint64_t>(options_.reconnect_initial_ms, 1)),
        retry_timer_(loop),
        connect_timer_(loop),
        timeout_timer_(loop),
        drain_timer_(loop),
        heartbeat_timer_(loop) {
    if (address_ && !options_.password.empty()) address_->password = std::string(options_.password.reveal());
  }

  ~Impl() {
    if (destroyed_flag_) *destroyed_flag_ = true;
    shutdown();
    // The uv::Timer members close their handles; undelivered answers are destroyed uncalled.
    for (Op* op : free_ops_) delete op;
  }

  // ---- lifecycle ----

  void start() {
    if (started_ || stopped_) return;
    started_ = true;
    if (!address_) {
      log::error("redis: invalid url, not connecting",
                 {{"url", redacted_url_}, {"error", address_.error().message}});
      return;
    }
    connect();
  }

  void stop() {
    if (stopped_) return;
    shutdown();
    // Answers still owed are delivered by the drain timer, which then closes itself.
    if (pending_.empty() && !destroyed_flag_) closeDrain();
  }

  void shutdown() {
    if (stopped_) return;
    stopped_ = true;
    cancelResolve();
    retry_timer_.close();
    connect_timer_.close();
    timeout_timer_.close();
    heartbeat_timer_.close();
    dropConnection(StoreOutcome::kUnavailable, "the store was stopped before Redis answered");
    setReady(false);
  }

  // ---- connecting ----

  void connect() {
    if (stopped_) return;
    connect_timer_.start(std::max<uint64_t>(options_.connect_timeout_ms, 1), [this] { onConnectTimeout(); });
    const RedisAddress& a = address_.value();
    if (a.unix_socket || isNumericIp(a.host)) {
      openContext(a.host);
    } else if (next_addr_ < resolved_.size()) {
      openContext(resolved_[next_addr_++]);
    } else {
      resolve();
    }
  }

  // Name resolution can block for seconds, so it runs on libuv's thread pool, never on the loop.
  void resolve() {
    auto* r = new ResolveReq{};
    r->owner = this;
    r->req.data = r;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(loop_, &r->req, &Impl::onResolvedCb, address_->host.c_str(), nullptr, &hints);
    if (rc != 0) {
      delete r;
      connectFailed(std::string("resolving the host: ") + uv_strerror(rc));
      return;
    }
    resolve_req_ = r;
  }

  static void onResolvedCb(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
    auto* r = static_cast<ResolveReq*>(req->data);
    Impl* self = r->owner;
    delete r;
    if (!self) {
      uv_freeaddrinfo(res);
      return;
    }
    self->resolve_req_ = nullptr;
    self->resolved_.clear();
    self->next_addr_ = 0;
    for (addrinfo* ai = status == 0 ? res : nullptr; ai; ai = ai->ai_next) {
      char name[INET6_ADDRSTRLEN] = {};
      if (ai->ai_family == AF_INET)
        uv_ip4_name(reinterpret_cast<sockaddr_in*>(ai->ai_addr), name, sizeof(name));
      else if (ai->ai_family == AF_INET6)
        uv_ip6_name(reinterpret_cast<sockaddr_in6*>(ai->ai_addr), name, sizeof(name));
      else
        continue;
      if (std::find(self->resolved_.begin(), self->resolved_.end(), name) == self->resolved_.end())
        self->resolved_.emplace_back(name);
    }
    uv_freeaddrinfo(res);
    if (self->resolved_.empty()) {
      self->connectFailed(std::string("resolving the host: ") +
                          (status != 0 ? uv_strerror(status) : "no IPv4 or IPv6 address"));
      return;
    }
    self->openContext(self->resolved_[self->next_addr_++]);
  }

  void cancelResolve() {
    if (!resolve_req_) return;
    resolve_req_->owner = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_req_->req));
    resolve_req_ = nullptr;
  }

  void openContext(const std::string& host) {
    const RedisAddress& a = address_.value();
    redisAsyncContext* c =
        a.unix_socket ? redisAsyncConnectUnix(host.c_str()) : redisAsyncConnect(host.c_str(), a.port);
    if (!c) {
      connectFailed("out of memory");
      return;
    }
    if (c->err) {
      std::string error = c->errstr;
      redisAsyncFree(c);  // never attached, so no callback can run
      connectFailed(error);
      return;
    }
    c->data = this;
    if (attachToLoop(c, loop_) != REDIS_OK) {
      redisAsyncFree(c);
      connectFailed("cannot watch the socket on the loop");
      return;
    }
    // Attach first: setting the connect callback asks the adapter for the write event that reports it.
    redisAsyncSetConnectCallback(c, &Impl::onConnectCb);
    redisAsyncSetDisconnectCallback(c, &Impl::onDisconnectCb);
    ctx_ = c;
    ++conn_gen_;
    sendHandshake();
  }

  // hiredis queues these until the socket connects; their replies arrive in this order.
  void sendHandshake() {
    const RedisAddress& a = address_.value();
    if (!a.password.empty()) {
      if (a.username.empty())
        redisAsyncCommand(ctx_, &Impl::onHandshakeCb, stepData(HandshakeStep::kAuth), "AUTH %b",
                          a.password.data(), a.password.size());
      else
        redisAsyncCommand(ctx_, &Impl::onHandshakeCb, stepData(HandshakeStep::kAuth), "AUTH %b %b",
                          a.username.data(), a.username.size(), a.password.data(), a.password.size());
    }
    if (a.db != 0)
      redisAsyncCommand(ctx_, &Impl::onHandshakeCb, stepData(HandshakeStep::kSelect), "SELECT %d", a.db);
    redisAsyncCommand(ctx_, &Impl::onHandshakeCb, stepData(HandshakeStep::kVersion), "INFO server");
    redisAsyncCommand(ctx_, &Impl::onHandshakeCb, stepData(HandshakeStep::kScriptLoad), "SCRIPT LOAD %b",
                      scripts::kStore.data(), scripts::kStore.size());
    // The data marker: set when absent, then read. A value other than the one this process saw last means
    // Redis lost payhook's data in between (restarted without persistence, flushed, failed over to an empty
    // replica).
    sendMarker();
  }

  // SET NX of a fresh random marker, then GET of whichever marker Redis holds; the GET's reply goes to
  // checkMarker() through onHandshakeReply().
  void sendMarker() {
    unsigned char bytes[12];
    randombytes_buf(bytes, sizeof(bytes));
    char candidate[2 * sizeof(bytes) + 1];
    sodium_bin2hex(candidate, sizeof(candidate), bytes, sizeof(bytes));
    redisAsyncCommand(ctx_, &Impl::onHandshakeCb, stepData(HandshakeStep::kMarkSet), "SET %b %s NX",
                      marker_key_.data(), marker_key_.size(), candidate);
    redisAsyncCommand(ctx_, &Impl::onHandshakeCb, stepData(HandshakeStep::kMarkGet), "GET %b",
                      marker_key_.data(), marker_key_.size());
  }

  // The marker as the handshake or a heartbeat read it.
  void checkMarker(const redisReply* r, bool handshake) {
    if (r->type != REDIS_REPLY_STRING) {
      // Gone while connected (FLUSHALL, FLUSHDB, an operator's DEL): the handshake sets it again.
      if (!handshake) markerLost("the data marker disappeared while connected");
      return;
    }
    std::string value(r->str, r->len);
    if (!marker_.empty() && value != marker_) {
      marker_ = std::move(value);
      markerLost("Redis came back without payhook's data");
      return;
    }
    marker_ = std::move(value);
  }

  void markerLost(const char* what) {
    ++data_losses_;
    log::error(what, {{"url", redacted_url_},
                      {"detail",
                       "events stored before, and their delivery jobs, are gone from Redis; payhook "
                       "keeps working with what Redis holds now. Check Redis persistence "
                       "(appendonly yes)"},
                      {"data_losses", static_cast<int64_t>(data_losses_)}});
    registered_.clear();  // the set of target names went with the data
    if (!marker_.empty() && ctx_) {
      // Set it again so the loss is counted once, and other instances see the new marker.
      marker_.clear();
      sendMarker();
    }
  }

  static void* stepData(HandshakeStep s) { return reinterpret_cast<void*>(static_cast<uintptr_t>(s)); }

  static void onConnectCb(const redisAsyncContext* ac, int status) noexcept {
    auto* self = static_cast<Impl*>(ac->data);
    if (!self || ac != self->ctx_ || status == REDIS_OK) return;
    // hiredis frees the context as soon as we return.
    self->ctx_ = nullptr;
    self->connectFailed(ac->c.errstr[0] ? ac->c.errstr : "connect failed");
  }

  static void onDisconnectCb(const redisAsyncContext* ac, int /*status*/) noexcept {
    auto* self = static_cast<Impl*>(ac->data);
    if (!self || ac != self->ctx_) return;  // one we dropped ourselves
    self->ctx_ = nullptr;
    self->linkDown(ac->c.errstr[0] ? ac->c.errstr : "connection closed");
  }

  static void onHandshakeCb(redisAsyncContext* ac, void* r, void* privdata) noexcept {
    auto* self = static_cast<Impl*>(ac->data);
    // A NULL reply means the context is going away; its connect or disconnect callback does the rest.
    if (!self || ac != self->ctx_ || !r) return;
    self->onHandshakeReply(static_cast<HandshakeStep>(reinterpret_cast<uintptr_t>(privdata)),
                           static_cast<redisReply*>(r));
  }

  void onHandshakeReply(HandshakeStep step, const redisReply* r) {
    // After a failed AUTH or SELECT, a successful SCRIPT LOAD must not make this connection ready.
    if (drop_gen_ == conn_gen_) return;
    static constexpr const char* kNames[] = {"", "AUTH", "SELECT", "INFO", "SCRIPT LOAD", "SET", "GET"};
    const char* name = kNames[static_cast<int>(step)];
    if (step == HandshakeStep::kVersion) {
      // An ACL user without INFO gets an error here: the check is skipped, not the connection.
      const int major = r->type == REDIS_REPLY_STRING ? redisMajorVersion(replyText(r)) : -1;
      if (major >= 0 && major < 7)
        requestDrop("Redis " + std::to_string(major) + ".x is too old: payhook needs Redis 7.0 or newer");
      return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
      requestDrop(std::string(name) + ": " + std::string(replyText(r)));
      return;
    }
    if (step == HandshakeStep::kScriptLoad) {
      if (r->type != REDIS_REPLY_STRING || r->len != 40) {
        requestDrop("SCRIPT LOAD: unexpected reply");
        return;
      }
      script_sha_.assign(r->str, r->len);
      return;
    }
    if (step != HandshakeStep::kMarkGet) return;
    checkMarker(r, true);
    if (!ready_) becomeReady();
  }

  void becomeReady() {
    connect_timer_.stop();
    backoff_ms_ = std::max<uint64_t>(options_.reconnect_initial_ms, 1);
    resolved_.clear();
    next_addr_ = 0;
    if (outage_logged_)
      log::info("redis: connection recovered", {{"url", redacted_url_}});
    else if (!ever_ready_)
      log::info("redis: connected", {{"url", redacted_url_}});
    outage_logged_ = false;
    ever_ready_ = true;
    setReady(true);
    if (options_.heartbeat_ms > 0 && !heartbeat_timer_.active())
      heartbeat_timer_.start(
          options_.heartbeat_ms, [this] { onHeartbeat(); }, options_.heartbeat_ms);
  }

  // Only when nothing is in flight: a command already waiting proves or disproves the link by itself.
  void onHeartbeat() {
    if (!ready_ || !ctx_ || head_) return;
    // GET of the data marker rather than PING: it proves the link and notices a flushed Redis.
    Op* op = acquireOp(OpKind::kPing);
    op->cmd.assign("*2\r\n$3\r\nGET\r\n");
    appendBulk(op->cmd, marker_key_);
    send(op);
  }

  void onConnectTimeout() {
    cancelResolve();
    dropConnection(StoreOutcome::kUnavailable, "connect timeout");
    connectFailed("no answer within connect_timeout");
  }

  // An attempt that never became ready failed.
  void connectFailed(const std::string& error) {
    connect_timer_.stop();
    if (stopped_) return;
    if (!outage_logged_) {
      log::warn(
          ever_ready_ ? "redis: reconnect failed, retrying with backoff" : "redis: unavailable, retrying",
          {{"url", redacted_url_}, {"error", error}});
      outage_logged_ = true;
    } else {
      log::debug("redis: connect attempt failed", {{"url", redacted_url_}, {"error", error}});
    }
    if (next_addr_ < resolved_.size()) {
      retry_timer_.start(0, [this] { connect(); });  // the host has other addresses: try the next now
      return;
    }
    resolved_.clear();
    next_addr_ = 0;
    uint64_t delay = backoff_ms_;
    backoff_ms_ = std::min(backoff_ms_ * 2, std::max(options_.reconnect_max_ms, backoff_ms_));
    retry_timer_.start(delay, [this] { connect(); });
  }

  // The current connection is gone (closed by Redis or dropped by us).
  void linkDown(const std::string& error) {
    if (!ready_) {
      connectFailed(error);
      return;
    }
    log::warn("redis: connection lost, reconnecting", {{"url", redacted_url_}, {"error", error}});
    outage_logged_ = true;
    setReady(false);
    resolved_.clear();
    next_addr_ = 0;
    if (stopped_) return;
    backoff_ms_ = std::max<uint64_t>(options_.reconnect_initial_ms, 1);
    uint64_t delay = backoff_ms_;
    backoff_ms_ = std::min(backoff_ms_ * 2, std::max(options_.reconnect_max_ms, backoff_ms_));
    retry_timer_.start(delay, [this] { connect(); });
  }

  // Frees the context now: only from our own timers or API calls, never from inside a hiredis callback.
  // hiredis answers every command still waiting with a NULL reply before this returns.
  void dropConnection(StoreOutcome outcome, const char* reason) {
    redisAsyncContext* c = std::exchange(ctx_, nullptr);
    if (!c) return;
    reload_inflight_ = false;
    drop_outcome_ = outcome;
    drop_reason_ = reason;
    redisAsyncFree(c);
    drop_outcome_ = StoreOutcome::kUnavailable;
    drop_reason_ = nullptr;
  }

  // From a hiredis callback: the drop happens on the drain timer, after hiredis has unwound.
  void requestDrop(std::string error) {
    if (drop_gen_ == conn_gen_) return;  // the first error is the one worth logging
    drop_gen_ = conn_gen_;
    drop_error_ = std::move(error);
    armDrain();
  }

  void runRequestedDrop() {
    uint64_t gen = std::exchange(drop_gen_, 0);
    if (gen == 0 || gen != conn_gen_ || !ctx_) return;
    std::string error = std::move(drop_error_);
    dropConnection(StoreOutcome::kUnavailable, "connection dropped after a Redis error");
    linkDown(error);
  }

  // ---- storing ----

  void store(const Event& e, const StoreSpec& spec, std::string_view note_key, Done done) {
    if (!ready_ || !ctx_) {
      post(Pending{std::move(done), StoreResult{StoreOutcome::kUnavailable, {}, "Redis is not connected"}});
      return;
    }
    Op* op = acquireOp(OpKind::kStore);
    op->done = std::move(done);
    buildStoreCommand(op, e, spec, note_key);
    send(op);
  }

  void buildStoreCommand(Op* op, const Event& e, const StoreSpec& spec, std::string_view note_key) {
    std::string& c = op->cmd;
    c.clear();
    const bool noted = !note_key.empty();
    op->argc = 13 + static_cast<uint32_t>(spec.targets.size()) + (noted ? 1 : 0);
    c += '*';
    appendNumber(c, op->argc);
    c += "\r\n$7\r\nEVALSHA\r\n";
    appendBulk(c, script_sha_);
    op->tail = c.size();
    appendBulk(c, noted ? "6" : "5");
    const std::string_view idem = e.idempotency_key.empty() ? std::string_view(e.id) : e.idempotency_key;
    appendBulkParts(c, {key_prefix_, "idem:", e.route, ":", idem});
    appendBulkParts(c, {key_prefix_, "ev:", e.id});
    appendBulk(c, due_key_);
    appendBulk(c, events_key_);
    appendBulk(c, targets_key_);
    if (noted) appendBulkParts(c, {key_prefix_, "note:", e.route, ":", note_key});
    char num[24];
    auto ttl_end = std::to_chars(num, num + sizeof(num), std::max<uint64_t>(spec.idempotency_ttl_s, 1)).ptr;
    appendBulk(c, std::string_view(num, ttl_end - num));
    appendBulk(c, e.id);
    std::string received_at;  // a dozen digits: no allocation
    const record::Parts parts = record::partsOf(e, received_at);
    appendBulk(c, received_at);
    c += '$';
    appendNumber(c, record::packedSize(parts));
    c += "\r\n";
    record::appendPacked(c, parts);
    c += "\r\n";
    appendTargetRegistration(op, spec.targets);
    for (const auto& t : spec.targets) appendBulk(c, t);
  }

  // The store script's flags: '1' for a target not yet added to {p}:targets on this connection. The set
  // only grows (nothing removes a name), so one SADD per name and connection keeps it complete; a target
  // counts as added once a store that carried its flag stored (a duplicate returns before the SADD), and a
  // new connection, or a Redis found without our data, starts over. The delivery sweep adds every
  // configured target too, which repairs the set after a flush the heartbeat has not noticed yet.
  void appendTargetRegistration(Op* op, const std::vector<std::string>& targets) {
    std::string& c = op->cmd;
    c += '$';
    appendNumber(c, targets.size());
    c += "\r\n";
    for (const auto& t : targets) {
      auto it = registered_.find(t);
      const bool send = it == registered_.end() || it->second != conn_gen_;
      if (send) op->registering.push_back(t);
      c += send ? '1' : '0';
    }
    c += "\r\n";
  }

  // ---- scripts ----

  void runScript(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                 ScriptDone done) {
    if (!ready_ || !ctx_) {
      postScript(std::move(done), ScriptReply{ScriptOutcome::kUnavailable, {}, "Redis is not connected"});
      return;
    }
    Op* op = acquireOp(OpKind::kScript);
    op->script = script.state_;
    op->script_done = std::move(done);
    op->argc = static_cast<uint32_t>(3 + keys.size() + args.size());
    std::string tail;
    appendBulk(tail, std::to_string(keys.size()));
    for (const auto& k : keys) appendBulk(tail, k);
    for (const auto& a : args) appendBulk(tail, a);
    std::string& c = op->cmd;
    c.clear();
    c += '*';
    appendNumber(c, op->argc);
    if (op->script->sha.empty()) {
      // Unknown sha: run the text now and learn the sha on the side, so the first call costs no round trip.
      c += "\r\n$4\r\nEVAL\r\n";
      appendBulk(c, op->script->text);
      op->retried = true;
      loadScript(op->script);
    } else {
      c += "\r\n$7\r\nEVALSHA\r\n";
      appendBulk(c, op->script->sha);
    }
    op->tail = c.size();
    c += tail;
    send(op);
  }

  // SCRIPT LOAD of a runScript() script, at most one in flight per script.
  void loadScript(const std::shared_ptr<Script::State>& script) {
    if (script->loading || !ctx_) return;
    Op* op = acquireOp(OpKind::kScriptLoad);
    op->script = script;
    op->cmd.assign("*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n");
    appendBulk(op->cmd, script->text);
    script->loading = true;
    send(op);
  }

  static ScriptValue copyReply(const redisReply* r) {
    ScriptValue v;
    switch (r->type) {
      case REDIS_REPLY_INTEGER:
        v.type = ScriptValue::Type::kInteger;
        v.integer = r->integer;
        break;
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_STATUS:
      case REDIS_REPLY_ERROR:
        v.type = r->type == REDIS_REPLY_STRING   ? ScriptValue::Type::kString
                 : r->type == REDIS_REPLY_STATUS ? ScriptValue::Type::kStatus
                                                 : ScriptValue::Type::kError;
        v.str.assign(r->str, r->len);
        break;
      case REDIS_REPLY_ARRAY:
        v.type = ScriptValue::Type::kArray;
        v.elements.reserve(r->elements);
        for (size_t i = 0; i < r->elements; ++i) v.elements.push_back(copyReply(r->element[i]));
        break;
      default:
        break;  // nil
    }
    return v;
  }

  static ScriptOutcome scriptOutcome(StoreOutcome o) {
    switch (o) {
      case StoreOutcome::kStored:
      case StoreOutcome::kDuplicate:
      case StoreOutcome::kHeld:
        return ScriptOutcome::kOk;
      case StoreOutcome::kUnavailable:
        return ScriptOutcome::kUnavailable;
      case StoreOutcome::kTimeout:
        return ScriptOutcome::kTimeout;
      case StoreOutcome::kError:
        return ScriptOutcome::kError;
    }
    return ScriptOutcome::kError;
  }

  void postScript(ScriptDone done, ScriptReply reply) {
    Pending p;
    p.call = [done = std::move(done), reply = std::move(reply)]() mutable { done(std::move(reply)); };
    post(std::move(p));
  }

  void finishScriptOp(Op* op, ScriptReply reply) {
    unlink(op);
    op->finished = true;
    if (op->script_done) postScript(std::move(op->script_done), std::move(reply));
    op->script_done = nullptr;
  }

  void send(Op* op) {
    if (redisAsyncFormattedCommand(ctx_, &Impl::onOpReplyCb, op, op->cmd.data(), op->cmd.size()) !=
        REDIS_OK) {
      finishOp(op, StoreOutcome::kUnavailable, "Redis connection is closing");
      releaseOp(op);
      return;
    }
    op->deadline = uv_now(loop_) + options_.store_timeout_ms;
    link(op);
    // Deadlines are uniform, so the list is in deadline order and an idle timer means this op is the head.
    if (!timeout_timer_.active())
      timeout_timer_.start(options_.store_timeout_ms, [this] { onTimeoutSweep(); });
  }

  static void onOpReplyCb(redisAsyncContext* ac, void* r, void* privdata) noexcept {
    auto* self = static_cast<Impl*>(ac->data);
    self->onOpReply(ac, static_cast<redisReply*>(r), static_cast<Op*>(privdata));
  }

  void onOpReply(redisAsyncContext* ac, const redisReply* r, Op* op) {
    if (op->finished) {  // already answered (timed out); this is the late reply or its NULL
      releaseOp(op);
      return;
    }
    if (!r) {
      const char* reason = drop_reason_ ? drop_reason_ : "connection to Redis lost before the answer";
      finishOp(op, drop_reason_ ? drop_outcome_ : StoreOutcome::kUnavailable, reason);
      releaseOp(op);
      return;
    }
    if (op->kind == OpKind::kPing) {
      if (r->type != REDIS_REPLY_ERROR) checkMarker(r, false);
      releaseOp(op);
      return;
    }
    if (op->kind == OpKind::kScriptLoad) {
      std::string& sha = op->script ? op->script->sha : script_sha_;
      if (!op->script) reload_inflight_ = false;
      if (r->type == REDIS_REPLY_STRING && r->len == 40) sha.assign(r->str, r->len);
      finishOp(op, StoreOutcome::kStored, {});
      releaseOp(op);
      return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
      std::string_view text = replyText(r);
      // Redis restarted or SCRIPT FLUSH: run this one with the script itself, and load it again.
      if (text.starts_with("NOSCRIPT") && !op->retried && ac == ctx_) {
        op->retried = true;
        resendWithEval(op);
        if (op->script)
          loadScript(op->script);
        else
          reloadScript();
        return;
      }
      finishOp(op, StoreOutcome::kError, text);
      releaseOp(op);
      return;
    }
    if (op->kind == OpKind::kScript) {
      finishScriptOp(op, ScriptReply{ScriptOutcome::kOk, copyReply(r), {}});
      releaseOp(op);
      return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER &&
        r->element[1]->type == REDIS_REPLY_STRING) {
      const bool stored = r->element[0]->integer == 1;
      if (stored && ac == ctx_)
        for (auto& t : op->registering) registered_[std::move(t)] = conn_gen_;
      if (r->element[0]->integer == 2)
        finishHeld(op, replyText(r->element[1]));
      else
        finishOp(op, stored ? StoreOutcome::kStored : StoreOutcome::kDuplicate, {}, replyText(r->element[1]));
    } else {
      finishOp(op, StoreOutcome::kError, "unexpected reply from the store script");
    }
    releaseOp(op);
  }

  void resendWithEval(Op* op) {
    const std::string_view text = op->script ? std::string_view(op->script->text) : scripts::kStore;
    std::string c;
    c.reserve(op->cmd.size() + text.size() + 32);
    c += '*';
    appendNumber(c, op->argc);
    c += "\r\n$4\r\nEVAL\r\n";
    appendBulk(c, text);
    size_t tail = c.size();
    c.append(op->cmd, op->tail, std::string::npos);
    op->cmd.swap(c);
    op->tail = tail;
    // Stays linked with its original deadline; the reply comes back to onOpReply.
    if (redisAsyncFormattedCommand(ctx_, &Impl::onOpReplyCb, op, op->cmd.data(), op->cmd.size()) !=
        REDIS_OK) {
      finishOp(op, StoreOutcome::kUnavailable, "Redis connection is closing");
      releaseOp(op);
    }
  }

  void reloadScript() {
    if (reload_inflight_ || !ctx_) return;
    Op* op = acquireOp(OpKind::kScriptLoad);
    op->cmd.clear();
    op->cmd += "*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n";
    appendBulk(op->cmd, scripts::kStore);
    reload_inflight_ = true;
    send(op);
  }

  void onTimeoutSweep() {
    uint64_t now = uv_now(loop_);
    bool expired = false;
    while (head_ && head_->deadline <= now) {
      finishOp(head_, StoreOutcome::kTimeout, "no answer from Redis within store_timeout");
      expired = true;
    }
    if (expired) {
      // Replies pair with commands only by order: after a lost one, nothing on this connection is trusted.
      dropConnection(StoreOutcome::kTimeout, "connection dropped: an earlier command timed out");
      linkDown("a command got no answer within store_timeout");
      return;
    }
    if (head_) timeout_timer_.start(head_->deadline - now, [this] { onTimeoutSweep(); });
  }

  // ---- ops ----

  Op* acquireOp(OpKind kind) {
    Op* op;
    if (free_ops_.empty()) {
      op = new Op();
    } else {
      op = free_ops_.back();
      free_ops_.pop_back();
    }
    op->kind = kind;
    op->finished = false;
    op->retried = false;
    op->registering.clear();
    return op;
  }

  void releaseOp(Op* op) {
    unlink(op);
    op->done = nullptr;
    // hiredis calls back once per command, even after a timeout or a drop, so this is where a SCRIPT LOAD
    // stops being in flight.
    if (op->kind == OpKind::kScriptLoad && op->script) op->script->loading = false;
    op->script.reset();
    op->script_done = nullptr;
    if (free_ops_.size() >= kMaxPooledOps) {
      delete op;
      return;
    }
    if (op->cmd.capacity() > kMaxPooledCommandBytes) std::string().swap(op->cmd);
    free_ops_.push_back(op);
  }

  void finishOp(Op* op, StoreOutcome outcome, std::string_view error, std::string_view id = {}) {
    if (op->kind == OpKind::kScript) {
      finishScriptOp(op, ScriptReply{scriptOutcome(outcome), {}, std::string(error)});
      return;
    }
    unlink(op);
    op->finished = true;
    if (op->done)
      post(Pending{std::move(op->done), StoreResult{outcome, std::string(id), std::string(error)}});
    op->done = nullptr;
  }

  void finishHeld(Op* op, std::string_view note) {
    unlink(op);
    op->finished = true;
    StoreResult result{StoreOutcome::kHeld, {}, {}};
    result.note = note;
    if (op->done) post(Pending{std::move(op->done), std::move(result)});
    op->done = nullptr;
  }

  void link(Op* op) {
    op->prev = tail_;
    op->next = nullptr;
    (tail_ ? tail_->next : head_) = op;
    tail_ = op;
    op->linked = true;
  }

  void unlink(Op* op) {
    if (!op->linked) return;
    (op->prev ? op->prev->next : head_) = op->next;
    (op->next ? op->next->prev : tail_) = op->prev;
    op->prev = op->next = nullptr;
    op->linked = false;
  }

  // ---- delivery ----

  void setReady(bool r) {
    if (ready_ == r) return;
    ready_ = r;
    if (ready_cb_) post(Pending{{}, {}, r ? 1 : 0});
  }

  void post(Pending p) {
    pending_.push_back(std::move(p));
    armDrain();
  }

  void armDrain() {
    if (!drain_open_) {  // closed by stop(); a late store() still gets its answer on the loop
      drain_timer_ = uv::Timer(loop_);
      drain_open_ = true;
    }
    if (!drain_timer_.active()) drain_timer_.start(0, [this] { onDrain(); });
  }

  void closeDrain() {
    drain_timer_.close();
    drain_open_ = false;
  }

  void onDrain() {
    runRequestedDrop();
    bool destroyed = false;
    destroyed_flag_ = &destroyed;
    draining_.swap(pending_);
    for (auto& p : draining_) {
      if (p.ready >= 0) {
        auto cb = ready_cb_;  // the callback may replace itself
        if (cb) cb(p.ready == 1);
      } else if (p.call) {
        auto call = std::move(p.call);
        call();
      } else {
        Done done = std::move(p.done);
        done(std::move(p.result));
      }
      if (destroyed) return;  // the store is gone, with the rest of the batch
    }
    destroyed_flag_ = nullptr;
    draining_.clear();
    if (stopped_ && pending_.empty()) closeDrain();
  }
};

RedisStore::RedisStore(uv_loop_t* loop, RedisStoreOptions options)
    : impl_(std::make_unique<Impl>(loop, std::move(options))) {}

RedisStore::~RedisStore() = default;

void RedisStore::start() {
  impl_->start();
}

void RedisStore::stop() {
  impl_->stop();
}

void RedisStore::store(const Event& event, const StoreSpec& spec, Done done) {
  impl_->store(event, spec, {}, std::move(done));
}

void RedisStore::storeUnlessNoted(const Event& event, const StoreSpec& spec, const std::string& note_key,
                                  Done done) {
  impl_->store(event, spec, note_key, std::move(done));
}

void RedisStore::runScript(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                           ScriptDone done) {
  impl_->runScript(script, std::move(keys), std::move(args), std::move(done));
}

bool RedisStore::ready() const {
  return impl_->ready_;
}

namespace {

// A GET's, SET's or DEL's reply as a LookupResult.
RedisStore::ScriptDone asLookup(EventStore::LookupDone done) {
  return [done = std::move(done)](ScriptReply reply) {
    LookupResult result;
    result.ok = reply.ok();
    if (!result.ok)
      result.error = reply.error;
    else if (reply.value.type == ScriptValue::Type::kString || reply.value.type == ScriptValue::Type::kStatus)
      result.value = std::move(reply.value.str);
    done(std::move(result));
  };
}

}  // namespace

void RedisStore::findStored(const std::string& route, const std::string& key, LookupDone done) {
  runScript(get_script_, {impl_->key_prefix_ + "idem:" + route + ":" + key}, {}, asLookup(std::move(done)));
}

void RedisStore::putNote(const std::string& route, const std::string& key, const std::string& value,
                         uint64_t ttl_s, LookupDone done) {
  runScript(put_script_, {impl_->key_prefix_ + "note:" + route + ":" + key},
            {value, std::to_string(std::max<uint64_t>(ttl_s, 1))}, asLookup(std::move(done)));
}

void RedisStore::findStoredEvent(const std::string& route, const std::string& key, EventLookupDone done) {
  runScript(find_event_script_,
            {impl_->key_prefix_ + "idem:" + route + ":" + key, impl_->key_prefix_ + "ev:"}, {},
            [done = std::move(done)](ScriptReply reply) {
              EventLookup result;
              result.ok = reply.ok();
              if (!result.ok) {
                result.error = std::move(reply.error);
              } else if (reply.value.type == ScriptValue::Type::kArray && reply.value.elements.size() == 2) {
                // An event of the older layout, or one purged while its key lives, reads as absent.
                if (auto parts = record::unpack(reply.value.elements[1].str)) {
                  Event event;
                  record::fill(*parts, event);
                  event.id = std::move(reply.value.elements[0].str);
                  result.event = std::move(event);
                }
              }
              done(std::move(result));
            });
}

uint64_t RedisStore::dataLosses() const {
  return impl_->data_losses_;
}

void RedisStore::onReadyChange(std::function<void(bool ready)> cb) {
  impl_->ready_cb_ = std::move(cb);
}

}  // namespace payhook::queue
