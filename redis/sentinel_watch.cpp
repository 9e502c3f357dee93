#include "redis/sentinel_watch.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <charconv>
#include <utility>

#include "common/log.h"
#include "redis/command.h"
#include "redis/resolver.h"
#include "redis/uv_adapter.h"
#include "uv/handle.h"

namespace payhook::redis {
namespace {

constexpr uint64_t kRetryMs = 1'000;

std::string_view nextWord(std::string_view* s) {
  while (!s->empty() && s->front() == ' ') s->remove_prefix(1);
  auto sp = s->find(' ');
  std::string_view w = s->substr(0, sp);
  s->remove_prefix(sp == std::string_view::npos ? s->size() : sp);
  return w;
}

// The master an event names: "master <name> <ip> <port>", or "<type> <name> <ip> <port> @ <master> ...".
std::string_view masterOf(std::string_view message) {
  if (auto at = message.find(" @ "); at != std::string_view::npos) {
    std::string_view rest = message.substr(at + 3);
    return nextWord(&rest);
  }
  std::string_view rest = message;
  if (nextWord(&rest) != "master") return {};
  return nextWord(&rest);
}

}  // namespace

std::optional<RedisEndpoint> switchedMaster(std::string_view message, std::string_view master_name) {
  std::string_view rest = message;
  if (nextWord(&rest) != master_name) return std::nullopt;
  nextWord(&rest);  // old ip
  nextWord(&rest);  // old port
  std::string_view ip = nextWord(&rest);
  std::string_view port_text = nextWord(&rest);
  int port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ip.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
      port > 65535)
    return std::nullopt;
  return RedisEndpoint{std::string(ip), port};
}

SentinelEvent sentinelEvent(std::string_view channel, std::string_view message,
                            std::string_view master_name) {
  SentinelEvent e;
  if (channel == "+switch-master") {
    if (auto m = switchedMaster(message, master_name)) {
      e.kind = SentinelEvent::Kind::kSwitched;
      e.master = std::move(*m);
    }
    return e;
  }
  // From the leader's election to the promotion: the steps after which the old master's writes may be
  // lost. +try-failover is left out: most elections it starts fail harmlessly (-failover-abort-not-elected
  // comes from the losers).
  static constexpr std::string_view kStarted[] = {"+elected-leader",
                                                  "+failover-state-select-slave",
                                                  "+selected-slave",
                                                  "+failover-state-send-slaveof-noone",
                                                  "+failover-state-wait-promotion",
                                                  "+promoted-slave",
                                                  "+failover-state-reconf-slaves"};
  bool started = false;
  for (std::string_view s : kStarted) started = started || channel == s;
  const bool ended = channel == "+failover-end" || channel == "+failover-end-for-timeout" ||
                     (channel.starts_with("-failover-abort-") && channel != "-failover-abort-not-elected");
  if ((!started && !ended) || masterOf(message) != master_name) return e;
  e.kind = started ? SentinelEvent::Kind::kFailoverStarted : SentinelEvent::Kind::kFailoverEnded;
  return e;
}

// One sentinel's subscription, reconnected after any loss.
struct SentinelWatch::Subscription {
  SentinelWatch* owner;
  RedisEndpoint sentinel;
  Resolver resolver;
  uv::Timer retry_timer;
  redisAsyncContext* ctx = nullptr;
  bool running = false;
  bool auth_logged = false;

  Subscription(SentinelWatch* o, RedisEndpoint s, uv_loop_t* loop)
      : owner(o), sentinel(std::move(s)), resolver(loop), retry_timer(loop) {}
  ~Subscription() {
    stop();
    retry_timer.close();
  }

  void start() {
    running = true;
    connect();
  }

  void stop() {
    running = false;
    retry_timer.stop();
    resolver.cancel();
    redisAsyncContext* c = std::exchange(ctx, nullptr);
    if (!c) return;
    c->data = nullptr;
    redisAsyncFree(c);
  }

  void connect() {
    if (!running) return;
    if (isNumericIp(sentinel.host)) {
      open(sentinel.host);
      return;
    }
    std::string error = resolver.resolve(sentinel.host, [this](std::vector<std::string> ips, std::string) {
      if (ips.empty())
        retryLater();
      else
        open(ips.front());
    });
    if (!error.empty()) retryLater();
  }

  void open(const std::string& ip) {
    redisAsyncContext* c = redisAsyncConnect(ip.c_str(), sentinel.port);
    if (!c || c->err || attachToLoop(c, owner->loop_) != REDIS_OK) {
      if (c) redisAsyncFree(c);
      retryLater();
      return;
    }
    c->data = this;
    redisAsyncSetConnectCallback(c, &Subscription::onConnectCb);
    redisAsyncSetDisconnectCallback(c, &Subscription::onDisconnectCb);
    ctx = c;
    if (!owner->password_.empty()) {
      const std::string auth = formatCommand({"AUTH", owner->password_.reveal()});
      redisAsyncFormattedCommand(c, &Subscription::onAuthCb, nullptr, auth.data(), auth.size());
    }
    // Sentinel's own pub/sub carries only its events, a few per failover.
    redisAsyncCommand(c, &Subscription::onMessageCb, nullptr, "PSUBSCRIBE *");
  }

  void retryLater() {
    if (running) retry_timer.start(kRetryMs, [this] { connect(); });
  }

  static void onConnectCb(const redisAsyncContext* ac, int status) noexcept {
    auto* self = static_cast<Subscription*>(ac->data);
    if (!self || status == REDIS_OK) return;
    self->ctx = nullptr;  // hiredis frees it
    self->retryLater();
  }

  static void onDisconnectCb(const redisAsyncContext* ac, int /*status*/) noexcept {
    auto* self = static_cast<Subscription*>(ac->data);
    if (!self) return;
    self->ctx = nullptr;
    self->retryLater();
  }

  // A refused AUTH leaves the watch deaf to failovers: said once per sentinel, as it retries.
  static void onAuthCb(redisAsyncContext* ac, void* r, void* /*privdata*/) noexcept {
    auto* self = static_cast<Subscription*>(ac->data);
    auto* reply = static_cast<redisReply*>(r);
    if (!self || !reply || reply->type != REDIS_REPLY_ERROR || self->auth_logged) return;
    self->auth_logged = true;
    log::warn("redis: a sentinel refused sentinel_password; failovers are noticed late, from errors",
              {{"sentinel", self->sentinel.host + ":" + std::to_string(self->sentinel.port)},
               {"error", std::string(replyText(*reply))}});
  }

  static void onMessageCb(redisAsyncContext* ac, void* r, void* /*privdata*/) noexcept {
    auto* self = static_cast<Subscription*>(ac->data);
    auto* reply = static_cast<redisReply*>(r);
    // ["pmessage", pattern, channel, message]
    if (!self || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) return;
    const redisReply* kind = reply->element[0];
    const redisReply* channel = reply->element[2];
    const redisReply* body = reply->element[3];
    if (kind->type != REDIS_REPLY_STRING || replyText(*kind) != "pmessage" ||
        channel->type != REDIS_REPLY_STRING || body->type != REDIS_REPLY_STRING)
      return;
    self->owner->onMessage(replyText(*channel), replyText(*body));
  }
};

SentinelWatch::SentinelWatch(uv_loop_t* loop, std::vector<RedisEndpoint> sentinels, std::string master_name,
                             Secret password, Notify notify)
    : loop_(loop),
      master_name_(std::move(master_name)),
      password_(std::move(password)),
      notify_(std::move(notify)) {
  for (auto& s : sentinels)
    subscriptions_.push_back(std::make_unique<Subscription>(this, std::move(s), loop));
}

SentinelWatch::~SentinelWatch() {
  stop();
}

void SentinelWatch::start() {
  for (auto& s : subscriptions_) s->start();
}

void SentinelWatch::stop() {
  for (auto& s : subscriptions_) s->stop();
}

void SentinelWatch::onMessage(std::string_view channel, std::string_view message) {
  SentinelEvent e = sentinelEvent(channel, message, master_name_);
  if (e.kind == SentinelEvent::Kind::kNone) return;
  log::debug("redis: sentinel event", {{"event", std::string(channel)}, {"detail", std::string(message)}});
  if (notify_) notify_(e);
}

}  // namespace payhook::redis
