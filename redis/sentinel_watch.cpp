#include "redis/sentinel_watch.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>

#include <charconv>
#include <utility>

#include "common/log.h"
#include "redis/command.h"
#include "redis/uv_adapter.h"

namespace payhook::redis {
namespace {

constexpr uint64_t kRetryMs = 1'000;

bool isNumericIp(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return uv_inet_pton(AF_INET, host.c_str(), buf) == 0 || uv_inet_pton(AF_INET6, host.c_str(), buf) == 0;
}

std::string_view nextWord(std::string_view* s) {
  while (!s->empty() && s->front() == ' ') s->remove_prefix(1);
  auto sp = s->find(' ');
  std::string_view w = s->substr(0, sp);
  s->remove_prefix(sp == std::string_view::npos ? s->size() : sp);
  return w;
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

SentinelWatch::SentinelWatch(uv_loop_t* loop, std::vector<RedisEndpoint> sentinels, std::string master_name,
                             Secret password, Switched switched)
    : loop_(loop),
      sentinels_(std::move(sentinels)),
      master_name_(std::move(master_name)),
      password_(std::move(password)),
      switched_(std::move(switched)),
      resolver_(loop),
      retry_timer_(loop) {}

SentinelWatch::~SentinelWatch() {
  stop();
  retry_timer_.close();
}

void SentinelWatch::start() {
  if (running_ || sentinels_.empty()) return;
  running_ = true;
  connect();
}

void SentinelWatch::stop() {
  running_ = false;
  retry_timer_.stop();
  resolver_.cancel();
  release();
}

void SentinelWatch::release() {
  redisAsyncContext* c = std::exchange(ctx_, nullptr);
  if (!c) return;
  c->data = nullptr;
  redisAsyncFree(c);
}

void SentinelWatch::connect() {
  if (!running_) return;
  const RedisEndpoint& s = sentinels_[next_++ % sentinels_.size()];
  if (isNumericIp(s.host)) {
    open(s.host, s.port);
    return;
  }
  const int port = s.port;
  std::string error = resolver_.resolve(s.host, [this, port](std::vector<std::string> ips, std::string) {
    if (ips.empty())
      retryLater();
    else
      open(ips.front(), port);
  });
  if (!error.empty()) retryLater();
}

void SentinelWatch::open(const std::string& ip, int port) {
  redisAsyncContext* c = redisAsyncConnect(ip.c_str(), port);
  if (!c || c->err || attachToLoop(c, loop_) != REDIS_OK) {
    if (c) redisAsyncFree(c);
    retryLater();
    return;
  }
  c->data = this;
  redisAsyncSetConnectCallback(c, &SentinelWatch::onConnectCb);
  redisAsyncSetDisconnectCallback(c, &SentinelWatch::onDisconnectCb);
  ctx_ = c;
  if (!password_.empty()) {
    std::string auth;
    appendArrayHeader(auth, 2);
    appendBulk(auth, "AUTH");
    appendBulk(auth, password_.reveal());
    // A refused AUTH makes the SUBSCRIBE fail too; the sentinel then closes nothing, so the watch just
    // stays quiet and the locator's own AUTH error says why.
    redisAsyncFormattedCommand(c, nullptr, nullptr, auth.data(), auth.size());
  }
  redisAsyncCommand(c, &SentinelWatch::onMessageCb, nullptr, "SUBSCRIBE +switch-master");
}

void SentinelWatch::retryLater() {
  if (running_) retry_timer_.start(kRetryMs, [this] { connect(); });
}

void SentinelWatch::onConnectCb(const redisAsyncContext* ac, int status) noexcept {
  auto* self = static_cast<SentinelWatch*>(ac->data);
  if (!self || status == REDIS_OK) return;
  self->ctx_ = nullptr;  // hiredis frees it
  self->retryLater();
}

void SentinelWatch::onDisconnectCb(const redisAsyncContext* ac, int /*status*/) noexcept {
  auto* self = static_cast<SentinelWatch*>(ac->data);
  if (!self) return;
  self->ctx_ = nullptr;
  self->retryLater();
}

void SentinelWatch::onMessageCb(redisAsyncContext* ac, void* r, void* /*privdata*/) noexcept {
  auto* self = static_cast<SentinelWatch*>(ac->data);
  auto* reply = static_cast<redisReply*>(r);
  if (!self || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) return;
  const redisReply* kind = reply->element[0];
  const redisReply* body = reply->element[2];
  if (kind->type != REDIS_REPLY_STRING || replyText(*kind) != "message" || body->type != REDIS_REPLY_STRING)
    return;
  if (auto master = switchedMaster(replyText(*body), self->master_name_)) {
    log::info(
        "redis: the sentinels switched the master",
        {{"master_name", self->master_name_}, {"master", master->host + ":" + std::to_string(master->port)}});
    if (self->switched_) self->switched_(*master);
  }
}

}  // namespace payhook::redis
