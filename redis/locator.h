// Locator: where the Redis that takes payhook's writes is now, for the redis+sentinel:// and
// redis+cluster:// addresses. Asked before every connection attempt, so a failover is followed by the
// reconnect that any connection error, READONLY or MOVED answer causes.
//
//   Sentinel  SENTINEL GET-MASTER-ADDR-BY-NAME on each sentinel in turn, until one names the master.
//   Cluster   CLUSTER KEYSLOT of the "{prefix}" key, then CLUSTER SLOTS, on each seed node in turn, until
//             one names the master that owns that slot. Every key payhook writes carries that hash tag,
//             so this one node serves all of them.
//
// The seeds are tried starting from the last one that answered. Host names are resolved off the loop.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/redis_url.h"
#include "common/secret.h"
#include "redis/one_shot.h"
#include "redis/resolver.h"
#include "redis/script.h"

namespace payhook::redis {

// The master's address from a sentinel's reply to GET-MASTER-ADDR-BY-NAME, or why there is none.
std::optional<RedisEndpoint> sentinelMaster(const ScriptValue& reply, std::string* error);
// The master serving `slot` in a CLUSTER SLOTS reply; an empty host in the reply means "the node you
// asked" (`asked`). Or why there is none.
std::optional<RedisEndpoint> clusterSlotOwner(const ScriptValue& slots, int64_t slot,
                                              const std::string& asked, std::string* error);

class Locator {
 public:
  // Empty error: `where` is the master; otherwise every seed failed, and why.
  using Done = std::function<void(RedisEndpoint where, std::string error)>;

  // `address` is a kSentinel or kCluster address. `slot_key` is a key under the "{prefix}" hash tag.
  Locator(uv_loop_t* loop, RedisAddress address, Secret sentinel_password, std::string slot_key,
          uint64_t timeout_ms);
  ~Locator();
  Locator(const Locator&) = delete;
  Locator& operator=(const Locator&) = delete;

  // One at a time; `done` runs once on the loop, never inside locate(), unless cancel() comes first.
  void locate(Done done);
  void cancel();
  // The seed that answered last gave an answer found wrong (a sentinel that has not heard of a failover
  // yet): the next locate() asks the one after it first.
  void distrustLast();

 private:
  void tryNext();
  void ask(const std::string& ip, int port);
  void onAnswer(const std::string& ip, std::vector<ScriptValue> replies, const std::string& error);
  void seedFailed(const std::string& error);
  std::vector<std::string> questions() const;

  RedisAddress address_;
  Secret sentinel_password_;
  std::string slot_key_;
  uint64_t timeout_ms_;
  Resolver resolver_;
  OneShot exchange_;
  uv::Timer defer_;
  size_t start_ = 0;  // the seed that answered last
  size_t tried_ = 0;
  std::string errors_;
  Done done_;
};

}  // namespace payhook::redis
