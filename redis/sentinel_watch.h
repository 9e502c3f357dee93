// SentinelWatch: a subscription to +switch-master on one sentinel at a time, so a failover is followed
// the moment the sentinels agree on it, even while the old master still holds the connection open (a
// network partition) and no command has failed yet. The locator (locator.h) stays the authority on where
// the master is; this only says when to ask again.
#pragma once

#include <uv.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/redis_url.h"
#include "common/secret.h"
#include "redis/resolver.h"
#include "uv/handle.h"

struct redisAsyncContext;

namespace payhook::redis {

// The new master in a +switch-master message ("<name> <old-ip> <old-port> <new-ip> <new-port>") when it
// is about `master_name`.
std::optional<RedisEndpoint> switchedMaster(std::string_view message, std::string_view master_name);

class SentinelWatch {
 public:
  using Switched = std::function<void(const RedisEndpoint& master)>;

  // `switched` runs on the loop, possibly inside a hiredis callback: it may only take note.
  SentinelWatch(uv_loop_t* loop, std::vector<RedisEndpoint> sentinels, std::string master_name,
                Secret password, Switched switched);
  ~SentinelWatch();
  SentinelWatch(const SentinelWatch&) = delete;
  SentinelWatch& operator=(const SentinelWatch&) = delete;

  void start();
  void stop();

 private:
  void connect();
  void open(const std::string& ip, int port);
  void retryLater();
  void release();
  static void onConnectCb(const redisAsyncContext* ac, int status) noexcept;
  static void onDisconnectCb(const redisAsyncContext* ac, int status) noexcept;
  static void onMessageCb(redisAsyncContext* ac, void* reply, void* privdata) noexcept;

  uv_loop_t* loop_;
  std::vector<RedisEndpoint> sentinels_;
  std::string master_name_;
  Secret password_;
  Switched switched_;
  Resolver resolver_;
  uv::Timer retry_timer_;
  redisAsyncContext* ctx_ = nullptr;
  size_t next_ = 0;
  bool running_ = false;
};

}  // namespace payhook::redis
