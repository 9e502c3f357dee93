#include "redis/connection.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>
#include <utility>

#include "common/log.h"
#include "common/redis_url.h"
#include "common/result.h"
#include "redis/backoff.h"
#include "redis/calls.h"
#include "redis/command.h"
#include "redis/data_marker.h"
#include "redis/deferred.h"
#include "redis/locator.h"
#include "redis/resolver.h"
#include "redis/sentinel_watch.h"
#include "redis/uv_adapter.h"
#include "uv/handle.h"

namespace payhook::redis {

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

namespace {

// The handshake's commands, told apart in their replies by privdata: the step, and for kScriptLoad the
// index of the preloaded script above it.
enum class HandshakeStep : uintptr_t { kAuth = 1, kSelect, kVersion, kRole, kScriptLoad, kMarkSet, kMarkGet };
constexpr unsigned kStepBits = 8;

void* stepData(HandshakeStep s, size_t index = 0) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(s) | (static_cast<uintptr_t>(index) << kStepBits));
}

}  // namespace

struct Connection::Impl {
  uv_loop_t* loop_;
  ConnectionOptions options_;
  std::string redacted_url_;
  Result<RedisAddress> address_;
  std::vector<Script> preloaded_;
  DataMarker marker_;
  std::string touch_key_ =
      options_.marker_key + ":touch";  // written before a WAIT that must cover others' writes
  uint64_t generation_ = 0;

  redisAsyncContext* ctx_ = nullptr;
  uint64_t conn_gen_ = 0;  // bumped per connection, so deferred work can tell connections apart
  bool started_ = false;
  bool stopped_ = false;
  bool ready_ = false;
  bool outage_logged_ = false;
  bool ever_ready_ = false;
  Backoff backoff_;
  Resolver resolver_;
  std::vector<std::string> resolved_;
  size_t next_addr_ = 0;

  uint64_t drop_gen_ = 0;  // a connection to drop before the next callbacks run, 0 for none
  std::string drop_error_;

  uv::Timer retry_timer_;
  uv::Timer connect_timer_;
  uv::Timer heartbeat_timer_;
  // Sentinel or Cluster: where the master is, asked before each connection attempt.
  std::optional<Locator> locator_;
  std::optional<SentinelWatch> sentinel_watch_;
  RedisEndpoint endpoint_;  // what the current or last connection went to
  // Between the start of a Sentinel failover and its end: no connection to fenced_master_.
  bool fenced_ = false;
  bool switched_ = false;     // +switch-master came during the fence
  bool fence_ended_ = false;  // +failover-end or an abort came during the fence
  RedisEndpoint fenced_master_;
  uv::Timer fence_timer_;
  // A failover that was never seen to end stops holding writes back after this: a little longer than
  // Sentinel's default failover-timeout (3 minutes), after which it gives up on its own.
  static constexpr uint64_t kFenceMaxMs = 200'000;

  // confirmReplicas(): the callers whose writes the WAIT out now covers, and those for the next one, each
  // with the connection its write went out on.
  struct Waiter {
    uint64_t conn_gen = 0;
    Connection::Confirmed done;
  };
  std::vector<Waiter> wait_batch_;
  std::vector<Waiter> wait_next_;
  bool wait_out_ = false;
  ReplicaWaits waits_;
  Calls calls_;
  std::function<void(bool)> ready_cb_;
  Deferred deferred_;

  Impl(uv_loop_t* loop, ConnectionOptions options)
      : loop_(loop),
        options_(std::move(options)),
        redacted_url_(redactRedisUrl(options_.url)),
        address_(parseRedisUrl(options_.url)),
        marker_(options_.marker_key),
        backoff_(options_.reconnect_initial_ms, options_.reconnect_max_ms),
        resolver_(loop),
        retry_timer_(loop),
        connect_timer_(loop),
        heartbeat_timer_(loop),
        fence_timer_(loop),
        calls_(loop, options_.command_timeout_ms, callHooks()),
        deferred_(loop, [this] { runRequestedDrop(); }) {
    if (address_ && !options_.password.empty()) address_->password = std::string(options_.password.reveal());
    if (address_ && address_->mode != RedisMode::kDirect) {
      // With one address there is nowhere else to go: a READONLY stays an error the probe reports.
      calls_.setRedirected([this](std::string_view error) {
        // A slot being migrated answers ASK or TRYAGAIN until the migration ends; the map still names this
        // node, so a new connection would land here again.
        if (error.starts_with("ASK ") || error.starts_with("TRYAGAIN ")) return;
        requestDrop("the master is elsewhere now (" + std::string(error.substr(0, 80)) + ")");
      });
      locator_.emplace(loop, *address_, options_.sentinel_password, options_.marker_key,
                       std::max<uint64_t>(options_.connect_timeout_ms, 1));
      if (address_->mode == RedisMode::kSentinel)
        sentinel_watch_.emplace(loop, address_->seeds, address_->master_name, options_.sentinel_password,
                                [this](const SentinelEvent& e) { onSentinelEvent(e); });
    }
  }

  ~Impl() { shutdown(); }

  Calls::Hooks callHooks() {
    Calls::Hooks h;
    h.heartbeat = [this](const redisReply& r) { checkMarker(r, false); };
    h.timed_out = [this] {
      // Replies pair with commands only by order: after a lost one, nothing on this connection is trusted.
      dropConnection(ScriptOutcome::kTimeout, "connection dropped: an earlier command timed out");
      linkDown("a command got no answer within store_timeout");
    };
    return h;
  }

  void setContext(redisAsyncContext* c) {
    ctx_ = c;
    calls_.attach(c);
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
    if (sentinel_watch_) sentinel_watch_->start();
    connect();
  }

  void stop() {
    if (stopped_) return;
    shutdown();
    // Callbacks still owed run from the deferred timer, which then closes itself.
    deferred_.closeWhenIdle();
  }

  void shutdown() {
    if (stopped_) return;
    stopped_ = true;
    resolver_.cancel();
    if (locator_) locator_->cancel();
    if (sentinel_watch_) sentinel_watch_->stop();
    retry_timer_.close();
    connect_timer_.close();
    calls_.closeTimer();
    heartbeat_timer_.close();
    fence_timer_.close();
    dropConnection(ScriptOutcome::kUnavailable, "the store was stopped before Redis answered");
    setReady(false);
  }

  // ---- connecting ----

  void connect() {
    if (stopped_) return;
    const RedisAddress& a = address_.value();
    if (locator_) {
      // The locator bounds each question itself; the connect timeout starts once the master is known.
      locator_->locate(
          [this](RedisEndpoint where, std::string error) { onLocated(std::move(where), error); });
      return;
    }
    connect_timer_.start(std::max<uint64_t>(options_.connect_timeout_ms, 1), [this] { onConnectTimeout(); });
    if (a.unix_socket || isNumericIp(a.host)) {
      openContext(a.host, a.port);
    } else if (next_addr_ < resolved_.size()) {
      openContext(resolved_[next_addr_++], a.port);
    } else {
      std::string error = resolver_.resolve(
          a.host,
          [this](std::vector<std::string> addresses, std::string e) { onResolved(std::move(addresses), e); });
      if (!error.empty()) connectFailed("resolving the host: " + error);
    }
  }

  void onLocated(RedisEndpoint where, const std::string& error) {
    if (stopped_) return;
    if (!error.empty()) {
      connectFailed(
          (address_->mode == RedisMode::kSentinel ? "asking the sentinels: " : "asking the cluster: ") +
          error);
      return;
    }
    if (fenced_ && isFenced(where)) {
      if (fence_ended_ && !switched_) {
        // The failover was aborted: the old master is the master still.
        unfence("the failover was aborted");
      } else {
        // This sentinel has not heard of the switch yet (they learn it from each other within seconds):
        // ask the next one first.
        locator_->distrustLast();
        connectFailed("a failover is under way: waiting for the sentinels to name the new master");
        return;
      }
    } else if (fenced_) {
      unfence("the sentinels name a new master");
    }
    if (where.host != endpoint_.host || where.port != endpoint_.port) {
      if (ever_ready_)
        log::info("redis: the master is at a new address",
                  {{"url", redacted_url_}, {"master", where.host + ":" + std::to_string(where.port)}});
      endpoint_ = where;
    }
    connect_timer_.start(std::max<uint64_t>(options_.connect_timeout_ms, 1), [this] { onConnectTimeout(); });
    if (isNumericIp(where.host)) {
      openContext(where.host, where.port);
      return;
    }
    std::string e = resolver_.resolve(
        where.host, [this, port = where.port](std::vector<std::string> ips, std::string why) {
          if (ips.empty())
            connectFailed("resolving the master's host: " + why);
          else if (fenced_ && isFenced(endpoint_))
            connectFailed("a failover began while the master's host was resolved");
          else
            openContext(ips.front(), port);
        });
    if (!e.empty()) connectFailed("resolving the master's host: " + e);
  }

  // A failover under way: the old master may keep taking writes that its promoted replica never gets (a
  // replica still attached to it confirms them all the same), so from the leader's election until the
  // sentinels name the new master, payhook neither writes there nor acknowledges anything.
  void onSentinelEvent(const SentinelEvent& e) {
    if (stopped_) return;
    switch (e.kind) {
      case SentinelEvent::Kind::kFailoverStarted:
        if (!fenced_) {
          fenced_ = true;
          fence_ended_ = false;
          switched_ = false;
          fenced_master_ = endpoint_;
          log::warn(
              "redis: the sentinels began a failover; callbacks are answered 503 until they name the new "
              "master",
              {{"master", endpoint_.host + ":" + std::to_string(endpoint_.port)}});
          fence_timer_.start(kFenceMaxMs,
                             [this] { unfence("the sentinels did not end the failover in time"); });
        }
        if (ctx_ && isFenced(endpoint_)) requestDrop("a failover of the master began");
        break;
      case SentinelEvent::Kind::kSwitched: {
        // The fence holds until a sentinel this connection asks names the new master: the others may
        // still name the old one, which stays writable for seconds.
        const RedisEndpoint& m = e.master;
        switched_ = true;
        if (ctx_ && !(m.host == endpoint_.host && m.port == endpoint_.port))
          requestDrop("the sentinels switched the master to " + m.host + ":" + std::to_string(m.port));
        break;
      }
      case SentinelEvent::Kind::kFailoverEnded:
        fence_ended_ = true;
        break;
      case SentinelEvent::Kind::kNone:
        break;
    }
  }

  bool isFenced(const RedisEndpoint& where) const {
    return where.host == fenced_master_.host && where.port == fenced_master_.port;
  }

  void unfence(const char* why) {
    if (!fenced_) return;
    fenced_ = false;
    fence_timer_.stop();
    log::info("redis: writes resume on the master the sentinels name", {{"reason", why}});
  }

  void onResolved(std::vector<std::string> addresses, const std::string& error) {
    resolved_ = std::move(addresses);
    next_addr_ = 0;
    if (resolved_.empty()) {
      connectFailed("resolving the host: " + error);
      return;
    }
    openContext(resolved_[next_addr_++], address_->port);
  }

  void openContext(const std::string& host, int port) {
    const RedisAddress& a = address_.value();
    if (!locator_) endpoint_ = RedisEndpoint{host, port};
    redisAsyncContext* c =
        a.unix_socket ? redisAsyncConnectUnix(host.c_str()) : redisAsyncConnect(host.c_str(), port);
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
    setContext(c);
    ++conn_gen_;
    ++generation_;
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
    // A sentinel's answer may be stale, and a promoted replica may not have taken the role yet.
    if (a.mode == RedisMode::kSentinel)
      redisAsyncCommand(ctx_, &Impl::onHandshakeCb, stepData(HandshakeStep::kRole), "ROLE");
    for (size_t i = 0; i < preloaded_.size(); ++i) {
      const std::string& text = preloaded_[i].text();
      redisAsyncCommand(ctx_, &Impl::onHandshakeCb, stepData(HandshakeStep::kScriptLoad, i), "SCRIPT LOAD %b",
                        text.data(), text.size());
    }
    sendMarker();
  }

  // SET NX of a fresh random marker, then GET of whichever marker Redis holds, whose reply completes the
  // handshake.
  void sendMarker() {
    const std::string candidate = DataMarker::candidate();
    const std::string& key = marker_.key();
    redisAsyncCommand(ctx_, &Impl::onHandshakeCb, stepData(HandshakeStep::kMarkSet), "SET %b %s NX",
                      key.data(), key.size(), candidate.c_str());
    redisAsyncCommand(ctx_, &Impl::onHandshakeCb, stepData(HandshakeStep::kMarkGet), "GET %b", key.data(),
                      key.size());
  }

  // The marker as the handshake (after_set) or a heartbeat read it.
  void checkMarker(const redisReply& r, bool after_set) {
    std::optional<std::string_view> value;
    if (r.type == REDIS_REPLY_STRING) value = replyText(r);
    const char* lost = marker_.check(value, after_set);
    if (!lost) return;
    log::error(lost, {{"url", redacted_url_},
                      {"detail",
                       "events stored before, and their delivery jobs, are gone from Redis; payhook "
                       "keeps working with what Redis holds now. Check Redis persistence "
                       "(appendonly yes)"},
                      {"data_losses", static_cast<int64_t>(marker_.losses())}});
    ++generation_;  // what callers wrote once per generation went with the data
    // Set it again so the loss is counted once, and other instances see the new marker.
    if (ctx_ && marker_.forget()) sendMarker();
  }

  static void onConnectCb(const redisAsyncContext* ac, int status) noexcept {
    auto* self = static_cast<Impl*>(ac->data);
    if (!self || ac != self->ctx_ || status == REDIS_OK) return;
    // hiredis frees the context as soon as we return.
    self->setContext(nullptr);
    self->connectFailed(ac->c.errstr[0] ? ac->c.errstr : "connect failed");
  }

  static void onDisconnectCb(const redisAsyncContext* ac, int /*status*/) noexcept {
    auto* self = static_cast<Impl*>(ac->data);
    if (!self || ac != self->ctx_) return;  // one we dropped ourselves
    self->setContext(nullptr);
    self->linkDown(ac->c.errstr[0] ? ac->c.errstr : "connection closed");
  }

  static void onHandshakeCb(redisAsyncContext* ac, void* r, void* privdata) noexcept {
    auto* self = static_cast<Impl*>(ac->data);
    // A NULL reply means the context is going away; its connect or disconnect callback does the rest.
    if (!self || ac != self->ctx_ || !r) return;
    const auto data = reinterpret_cast<uintptr_t>(privdata);
    self->onHandshakeReply(static_cast<HandshakeStep>(data & ((uintptr_t{1} << kStepBits) - 1)),
                           data >> kStepBits, *static_cast<redisReply*>(r));
  }

  void onHandshakeReply(HandshakeStep step, size_t index, const redisReply& r) {
    // After a failed AUTH or SELECT, a successful SCRIPT LOAD must not make this connection ready.
    if (drop_gen_ == conn_gen_) return;
    static constexpr const char* kNames[] = {"",     "AUTH",        "SELECT", "INFO",
                                             "ROLE", "SCRIPT LOAD", "SET",    "GET"};
    const char* name = kNames[static_cast<int>(step)];
    if (step == HandshakeStep::kVersion) {
      // An ACL user without INFO gets an error here: the check is skipped, not the connection.
      const int major = r.type == REDIS_REPLY_STRING ? redisMajorVersion(replyText(r)) : -1;
      if (major >= 0 && major < 7)
        requestDrop("Redis " + std::to_string(major) + ".x is too old: payhook needs Redis 7.0 or newer");
      return;
    }
    if (r.type == REDIS_REPLY_ERROR) {
      requestDrop(std::string(name) + ": " + std::string(replyText(r)));
      return;
    }
    if (step == HandshakeStep::kRole) {
      const bool master = r.type == REDIS_REPLY_ARRAY && r.elements > 0 &&
                          r.element[0]->type == REDIS_REPLY_STRING && replyText(*r.element[0]) == "master";
      if (!master)
        requestDrop("ROLE: " + endpoint_.host + ":" + std::to_string(endpoint_.port) +
                    " is not the master (yet); asking the sentinels again");
      return;
    }
    if (step == HandshakeStep::kScriptLoad) {
      if (r.type != REDIS_REPLY_STRING || r.len != 40 || index >= preloaded_.size()) {
        requestDrop("SCRIPT LOAD: unexpected reply");
        return;
      }
      preloaded_[index].state()->sha.assign(r.str, r.len);
      return;
    }
    if (step != HandshakeStep::kMarkGet) return;
    checkMarker(r, true);
    if (!ready_) becomeReady();
  }

  void becomeReady() {
    connect_timer_.stop();
    backoff_.reset();
    resolved_.clear();
    next_addr_ = 0;
    if (outage_logged_)
      log::info("redis: connection recovered", {{"url", redacted_url_}});
    else if (!ever_ready_)
      log::info("redis: connected",
                {{"url", redacted_url_}, {"at", endpoint_.host + ":" + std::to_string(endpoint_.port)}});
    outage_logged_ = false;
    ever_ready_ = true;
    setReady(true);
    if (options_.heartbeat_ms > 0 && !heartbeat_timer_.active())
      heartbeat_timer_.start(
          options_.heartbeat_ms, [this] { onHeartbeat(); }, options_.heartbeat_ms);
  }

  // Only when nothing is in flight: a command already waiting proves or disproves the link by itself.
  void onHeartbeat() {
    if (!ready_ || !ctx_ || !calls_.idle()) return;
    // GET of the data marker rather than PING: it proves the link and notices a flushed Redis.
    calls_.heartbeat(marker_.key());
  }

  void onConnectTimeout() {
    resolver_.cancel();
    dropConnection(ScriptOutcome::kUnavailable, "connect timeout");
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
    retry_timer_.start(backoff_.next(), [this] { connect(); });
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
    backoff_.reset();
    retry_timer_.start(backoff_.next(), [this] { connect(); });
  }

  // Frees the context now: only from our own timers or API calls, never from inside a hiredis callback.
  // The commands still waiting on it are answered `outcome` before this returns.
  void dropConnection(ScriptOutcome outcome, const char* reason) {
    redisAsyncContext* c = std::exchange(ctx_, nullptr);
    if (!c) return;
    calls_.freeContext(c, outcome, reason);
    // Their writes went out on the connection just dropped: no later WAIT can vouch for them.
    failWaiters(wait_next_, "the connection to Redis was lost before the replicas confirmed");
  }

  // A completion that copies the reply out of hiredis and posts it to `done`.
  // With `confirm_found`, a reply other than nil is posted only once the replicas confirmed it
  // (confirmReplicas() with a touch), and as kUnavailable when they did not.
  Completion replyTo(Connection::ScriptDone done, bool confirm_found = false) {
    return [this, confirm_found, done = std::move(done)](const CallEnd& end) mutable {
      auto answer = std::make_shared<std::pair<Connection::ScriptDone, ScriptReply>>(
          std::move(done), ScriptReply{end.outcome, {}, {}});
      ScriptReply& reply = answer->second;
      if (end.outcome == ScriptOutcome::kOk && end.reply)
        reply.value = copyReply(*end.reply);
      else
        reply.error = std::string(end.error);
      auto post = [this, answer] { deferred_.post([answer] { answer->first(std::move(answer->second)); }); };
      if (!confirm_found || !reply.ok() || reply.value.type == ScriptValue::Type::kNil ||
          options_.min_replicas == 0) {
        post();
        return;
      }
      confirmReplicas(
          [answer, post](bool confirmed, std::string_view why) {
            if (!confirmed)
              answer->second =
                  ScriptReply{ScriptOutcome::kUnavailable,
                              {},
                              "found on the master, not yet on enough replicas: " + std::string(why)};
            post();
          },
          /*touch=*/true);
    };
  }

  // ---- replica confirmation ----

  void confirmReplicas(Connection::Confirmed done, bool touch) {
    if (options_.min_replicas == 0) {
      done(true, {});
      return;
    }
    if (touch) {
      if (!ctx_) {
        done(false, "Redis is not connected");
        ++waits_.failed;
        return;
      }
      // WAIT counts up to this connection's own last write, and a read writes nothing: one write now moves
      // that point to the master's present, past what any connection or instance wrote before.
      sendFormatted(formatCommand({"SET", touch_key_, std::to_string(conn_gen_), "PX", "86400000"}),
                    [](const CallEnd&) {});
    }
    wait_next_.push_back(Waiter{conn_gen_, std::move(done)});
    if (!wait_out_) sendWait();
  }

  void failWaiters(std::vector<Waiter>& waiters, std::string_view why) {
    if (waiters.empty()) return;
    std::vector<Waiter> failing;
    failing.swap(waiters);
    for (Waiter& w : failing) w.done(false, why);
    waits_.failed += failing.size();
  }

  void sendWait() {
    if (!ctx_ || !ready_) {
      failWaiters(wait_next_, "Redis is not connected");
      return;
    }
    // Only writes made on this connection are covered by its WAIT.
    std::vector<Waiter> stale;
    for (auto it = wait_next_.begin(); it != wait_next_.end();) {
      if (it->conn_gen != conn_gen_) {
        stale.push_back(std::move(*it));
        it = wait_next_.erase(it);
      } else {
        ++it;
      }
    }
    failWaiters(stale, "the connection to Redis was replaced before the replicas confirmed");
    if (wait_next_.empty()) return;
    wait_batch_.swap(wait_next_);
    wait_out_ = true;
    sendFormatted(formatCommand({"WAIT", std::to_string(options_.min_replicas),
                                 std::to_string(options_.replica_timeout_ms)}),
                  [this](const CallEnd& end) { onWaitDone(end); });
  }

  // A command already in RESP (formatCommand), on the current connection.
  void sendFormatted(std::string command, Completion done) {
    calls_.command([](void* p, std::string& c) { c += *static_cast<std::string*>(p); }, &command,
                   std::move(done));
  }

  void onWaitDone(const CallEnd& end) {
    wait_out_ = false;
    std::vector<Waiter> batch;
    batch.swap(wait_batch_);
    if (end.outcome != ScriptOutcome::kOk || !end.reply || end.reply->type != REDIS_REPLY_INTEGER) {
      const std::string why = "WAIT got no answer: " + std::string(end.error);
      for (Waiter& w : batch) w.done(false, why);
      waits_.failed += batch.size();
    } else {
      const long long acked = end.reply->integer;
      waits_.last_acked = acked;
      const bool ok = acked >= static_cast<long long>(options_.min_replicas);
      const std::string why = ok ? std::string()
                                 : std::to_string(acked) + " of " + std::to_string(options_.min_replicas) +
                                       " replicas confirmed within replica_timeout";
      for (Waiter& w : batch) w.done(ok, why);
      (ok ? waits_.confirmed : waits_.short_of) += batch.size();
    }
    if (!wait_next_.empty() && !stopped_) sendWait();
  }

  // From a hiredis callback: the drop happens from the deferred timer, after hiredis has unwound.
  void requestDrop(std::string error) {
    if (drop_gen_ == conn_gen_) return;  // the first error is the one worth logging
    drop_gen_ = conn_gen_;
    drop_error_ = std::move(error);
    deferred_.wake();
  }

  void runRequestedDrop() {
    uint64_t gen = std::exchange(drop_gen_, 0);
    if (gen == 0 || gen != conn_gen_ || !ctx_) return;
    std::string error = std::move(drop_error_);
    dropConnection(ScriptOutcome::kUnavailable, "connection dropped after a Redis error");
    linkDown(error);
  }

  void setReady(bool r) {
    if (ready_ == r) return;
    ready_ = r;
    if (ready_cb_)
      deferred_.post([this, r] {
        auto cb = ready_cb_;  // the callback may replace itself
        if (cb) cb(r);
      });
  }
};

Connection::Connection(uv_loop_t* loop, ConnectionOptions options)
    : impl_(std::make_unique<Impl>(loop, std::move(options))) {}

// The calls still in flight fail here, while impl_ is whole: their completions post through it.
Connection::~Connection() {
  impl_->shutdown();
}

void Connection::preload(const Script& script) {
  impl_->preloaded_.push_back(script);
}

void Connection::start() {
  impl_->start();
}

void Connection::stop() {
  impl_->stop();
}

bool Connection::ready() const {
  return impl_->ready_;
}

void Connection::onReadyChange(std::function<void(bool ready)> cb) {
  impl_->ready_cb_ = std::move(cb);
}

uint64_t Connection::dataLosses() const {
  return impl_->marker_.losses();
}

uint64_t Connection::generation() const {
  return impl_->generation_;
}

void Connection::command(std::vector<std::string> argv, ScriptDone done) {
  Completion reply_to = impl_->replyTo(std::move(done));
  if (!impl_->ready_ || !impl_->ctx_) {
    reply_to(CallEnd{ScriptOutcome::kUnavailable, nullptr, "Redis is not connected"});
    return;
  }
  impl_->calls_.command(
      [](void* p, std::string& c) {
        const auto* args = static_cast<const std::vector<std::string>*>(p);
        appendArrayHeader(c, args->size());
        for (const auto& a : *args) appendBulk(c, a);
      },
      &argv, std::move(reply_to));
}

void Connection::confirmReplicas(Confirmed done, bool touch) {
  impl_->confirmReplicas(std::move(done), touch);
}

const ReplicaWaits& Connection::replicaWaits() const {
  return impl_->waits_;
}

uint32_t Connection::minReplicas() const {
  return impl_->options_.min_replicas;
}

std::string Connection::endpoint() const {
  if (!impl_->ready_) return {};
  const RedisEndpoint& e = impl_->endpoint_;
  if (impl_->address_ && impl_->address_->unix_socket) return e.host;
  return e.host + ":" + std::to_string(e.port);
}

void Connection::post(std::function<void()> cb) {
  impl_->deferred_.post(std::move(cb));
}

void Connection::callWith(const Script& script, uint32_t argc, void (*write)(void*, std::string&),
                          void* writer, Completion done) {
  if (!impl_->ready_ || !impl_->ctx_) {
    done(CallEnd{ScriptOutcome::kUnavailable, nullptr, "Redis is not connected"});
    return;
  }
  impl_->calls_.call(script, argc, write, writer, std::move(done));
}

void Connection::runScript(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                           ScriptDone done, bool confirm_found) {
  auto write = [&keys, &args](std::string& c) {
    appendBulk(c, std::to_string(keys.size()));
    for (const auto& k : keys) appendBulk(c, k);
    for (const auto& a : args) appendBulk(c, a);
  };
  call(script, static_cast<uint32_t>(1 + keys.size() + args.size()), write,
       impl_->replyTo(std::move(done), confirm_found));
}

}  // namespace payhook::redis
