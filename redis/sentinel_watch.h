// SentinelWatch: subscribed to the events of every sentinel, so payhook learns of a failover of its master
// as it happens rather than from a failed command.
//
// A sentinel that leads a failover announces each step on its own pub/sub only, so each sentinel gets a
// subscription. Two kinds of event matter:
//   started  the leader was elected and picks (or promoted) a replica: from now on the old master may keep
//            taking writes that the promoted replica never sees (Sentinel does not demote it for seconds),
//            so nothing written there may be acknowledged any more.
//   ended    +switch-master (the new master), +failover-end, or an abort: writes are safe again, on the
//            master the sentinels name.
// The locator (locator.h) stays the authority on where the master is; this only says when to ask again.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/redis_url.h"
#include "common/secret.h"

namespace payhook::redis {

// A sentinel event about one master, from the channel and the message Sentinel publishes.
struct SentinelEvent {
  enum class Kind : uint8_t { kNone, kFailoverStarted, kFailoverEnded, kSwitched };
  Kind kind = Kind::kNone;
  RedisEndpoint master;  // kSwitched: the new master
};

// What `channel` with `message` means for `master_name`: kNone when it is about another master or does not
// matter here.
SentinelEvent sentinelEvent(std::string_view channel, std::string_view message, std::string_view master_name);

// The new master in a +switch-master message ("<name> <old-ip> <old-port> <new-ip> <new-port>") when it
// is about `master_name`.
std::optional<RedisEndpoint> switchedMaster(std::string_view message, std::string_view master_name);

class SentinelWatch {
 public:
  // Runs on the loop, possibly inside a hiredis callback: it may only take note.
  using Notify = std::function<void(const SentinelEvent& event)>;

  SentinelWatch(uv_loop_t* loop, std::vector<RedisEndpoint> sentinels, std::string master_name,
                Secret password, Notify notify);
  ~SentinelWatch();
  SentinelWatch(const SentinelWatch&) = delete;
  SentinelWatch& operator=(const SentinelWatch&) = delete;

  void start();
  void stop();

 private:
  struct Subscription;
  void onMessage(std::string_view channel, std::string_view message);

  uv_loop_t* loop_;
  std::string master_name_;
  Secret password_;
  Notify notify_;
  std::vector<std::unique_ptr<Subscription>> subscriptions_;
};

}  // namespace payhook::redis
