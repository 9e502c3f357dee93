// RedisWatch: what the daemon keeps an eye on in Redis besides the queue. Every probe_interval it asks Redis
// whether it would take a write and what it holds (queue::Retention::probe()), for /readyz and the metrics;
// every sweep_interval it removes complete events past their retention (queue::Retention::sweep()), going
// on in short steps while a batch comes back full, so a backlog drains without one long script.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "queue/retention.h"
#include "redis/replication_info.h"
#include "uv/handle.h"

namespace payhook::daemon {

struct RedisWatchOptions {
  std::string prefix = "payhook";
  uint64_t retention_ms = 30ull * 24 * 3'600'000;
  uint64_t sweep_interval_ms = 5'000;
  // Readiness follows Redis within this; the probe is two tiny scripts.
  uint64_t probe_interval_ms = 1'000;
  // Events one sweep script removes at most: 100 cost Redis about 2 ms (bench/retention.sh), as long as
  // a burst of stores would wait behind it.
  size_t sweep_max = 100;
  // Pause between batches while a backlog drains: Redis serves everyone else in between.
  uint64_t drain_pause_ms = 10;
  // [redis] min_replicas: readiness needs this many online replicas.
  uint32_t min_replicas = 0;
};

class RedisWatch {
 public:
  // `store` and `clock` must outlive the watch. Nothing runs before start().
  RedisWatch(uv_loop_t* loop, queue::RedisStore& store, const Clock& clock, RedisWatchOptions options);
  ~RedisWatch();
  RedisWatch(const RedisWatch&) = delete;
  RedisWatch& operator=(const RedisWatch&) = delete;

  void start();
  // Closes the timers; answers still in flight are ignored. Idempotent.
  void stop();
  // A reload's retention (validated against the routes' idempotency_ttl by the config loader).
  void setRetention(uint64_t retention_ms) { options_.retention_ms = retention_ms; }

  // Empty while Redis takes writes, or before the first probe answered; otherwise why not.
  const std::string& writesRefused() const { return health_.writes_refused; }
  // The last probe's answer; `known` false before the first.
  const queue::RedisHealth& health() const { return health_; }
  bool known() const { return known_; }
  // INFO replication as of the last probe (role, replicas connected and online).
  const redis::ReplicationInfo& replication() const { return replication_; }
  // appendonly and appendfsync as read after the last connect; empty when unknown (CONFIG refused).
  const std::string& appendonly() const { return appendonly_; }
  const std::string& appendfsync() const { return appendfsync_; }
  // Why a callback cannot be acknowledged now for want of replicas (fewer online than min_replicas), or
  // empty.
  std::string replicasShort() const;
  // Events removed by this process's sweeps.
  uint64_t removed() const { return removed_; }

 private:
  void probe();
  void onProbe(Result<queue::RedisHealth> result);
  void probeReplication();
  void readPersistence();
  void sweep();
  void onSwept(Result<queue::RetentionReport> result);

  queue::RedisStore& store_;
  const Clock& clock_;
  RedisWatchOptions options_;
  queue::Retention retention_;
  queue::RedisHealth health_;
  bool known_ = false;
  bool probing_ = false;
  bool sweeping_ = false;
  bool swept_ = false;  // a sweep has started since start()
  bool started_ = false;
  bool stopped_ = false;
  bool scan_logged_ = false;
  uint64_t removed_ = 0;
  redis::ReplicationInfo replication_;
  bool replication_probing_ = false;
  bool info_refused_ = false;
  std::string appendonly_;
  std::string appendfsync_;
  uint64_t persistence_gen_ = 0;  // the connection generation appendonly was read in
  bool loss_warned_ = false;
  int64_t indexed_ = 0;  // older events the index walk found, logged once it finishes
  uv_loop_t* loop_;
  uv::Timer probe_timer_;
  uv::Timer sweep_timer_;
  uv::Timer drain_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace payhook::daemon
