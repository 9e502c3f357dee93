#include "daemon/redis_watch.h"

#include <algorithm>
#include <utility>

#include "common/log.h"

namespace payhook::daemon {

RedisWatch::RedisWatch(uv_loop_t* loop, queue::RedisStore& store, const Clock& clock,
                       RedisWatchOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      retention_(store, options_.prefix),
      loop_(loop) {
  options_.probe_interval_ms = std::max<uint64_t>(options_.probe_interval_ms, 1);
  options_.sweep_interval_ms = std::max<uint64_t>(options_.sweep_interval_ms, 1);
}

RedisWatch::~RedisWatch() {
  stop();
}

void RedisWatch::start() {
  if (started_ || stopped_) return;
  started_ = true;
  probe_timer_ = uv::Timer(loop_);
  sweep_timer_ = uv::Timer(loop_);
  drain_timer_ = uv::Timer(loop_);
  probe_timer_.start(
      options_.probe_interval_ms, [this] { probe(); }, options_.probe_interval_ms);
  sweep_timer_.start(
      options_.sweep_interval_ms, [this] { sweep(); }, options_.sweep_interval_ms);
}

void RedisWatch::stop() {
  if (stopped_) return;
  stopped_ = true;
  probe_timer_.close();
  sweep_timer_.close();
  drain_timer_.close();
}

void RedisWatch::probe() {
  if (stopped_ || !store_.ready()) return;
  // The first sweep as soon as Redis answers: on a new database the walk over events stored before the
  // retention index existed ends at once, instead of a sweep_interval later over what arrived meanwhile.
  if (!swept_) sweep();
  probeReplication();
  if (persistence_gen_ != store_.connection().generation()) {
    // Another connection may be another master: what the last one said of its replicas is stale.
    replication_ = redis::ReplicationInfo{};
    readPersistence();
  }
  if (probing_) return;
  probing_ = true;
  std::weak_ptr<bool> alive = alive_;
  retention_.probe([this, alive](Result<queue::RedisHealth> r) {
    if (alive.expired()) return;
    probing_ = false;
    onProbe(std::move(r));
  });
}

void RedisWatch::onProbe(Result<queue::RedisHealth> result) {
  if (!result) {
    // Unknown is not refused: the store's own readiness covers a Redis that does not answer.
    log::debug("redis probe failed", {{"error", result.error().message}});
    return;
  }
  queue::RedisHealth h = std::move(result.value());
  const std::string before = std::move(health_.writes_refused);
  if (h.writes_refused != before) {
    if (!h.writes_refused.empty())
      log::error("redis refuses writes: callbacks are answered 503 and /readyz says not ready",
                 {{"reason", h.writes_refused},
                  {"used_memory", h.memory.used},
                  {"maxmemory", h.memory.maxmemory},
                  {"role", h.role}});
    else
      log::info("redis takes writes again",
                {{"used_memory", h.memory.used}, {"maxmemory", h.memory.maxmemory}});
  }
  health_ = std::move(h);
  known_ = true;
}

std::string RedisWatch::replicasShort() const {
  if (options_.min_replicas == 0 || info_refused_) return {};
  if (replication_.online < 0) return "replicas not counted yet";
  if (replication_.online >= static_cast<int64_t>(options_.min_replicas)) return {};
  return std::to_string(replication_.online) + " replica(s) online, min_replicas is " +
         std::to_string(options_.min_replicas);
}

void RedisWatch::probeReplication() {
  if (replication_probing_) return;
  replication_probing_ = true;
  std::weak_ptr<bool> alive = alive_;
  store_.connection().command({"INFO", "replication"}, [this, alive](redis::ScriptReply r) {
    if (alive.expired()) return;
    replication_probing_ = false;
    if (r.outcome == redis::ScriptOutcome::kError) {
      // An ACL user without INFO: the replicas cannot be counted, and readiness does not wait for them
      // (every store still waits for its WAIT).
      if (!info_refused_)
        log::warn("redis: INFO replication refused; /readyz does not count replicas", {{"error", r.error}});
      info_refused_ = true;
      return;
    }
    if (!r.ok() || r.value.type != redis::ScriptValue::Type::kString) {
      log::debug("redis: INFO replication failed", {{"error", r.error}});
      return;
    }
    info_refused_ = false;
    const bool first = replication_.online < 0;
    const std::string before = replicasShort();
    replication_ = redis::parseReplicationInfo(r.value.str);
    const std::string now = replicasShort();
    if (now != before && options_.min_replicas > 0 && !(first && now.empty())) {
      if (!now.empty())
        log::error("redis: too few replicas, callbacks are answered 503 and /readyz says not ready",
                   {{"reason", now}});
      else
        log::info(
            "redis: enough replicas online again",
            {{"online", replication_.online}, {"min_replicas", static_cast<int64_t>(options_.min_replicas)}});
    }
  });
}

// Once per connection: the new master may be set up differently.
void RedisWatch::readPersistence() {
  persistence_gen_ = store_.connection().generation();
  std::weak_ptr<bool> alive = alive_;
  store_.connection().command({"CONFIG", "GET", "appendonly", "appendfsync"}, [this,
                                                                               alive](redis::ScriptReply r) {
    if (alive.expired()) return;
    appendonly_.clear();
    appendfsync_.clear();
    if (r.ok() && r.value.type == redis::ScriptValue::Type::kArray) {
      const auto& e = r.value.elements;
      for (size_t i = 0; i + 1 < e.size(); i += 2) {
        if (e[i].str == "appendonly") appendonly_ = e[i + 1].str;
        if (e[i].str == "appendfsync") appendfsync_ = e[i + 1].str;
      }
    }
    if (appendonly_.empty()) {
      log::info("redis: cannot read appendonly (CONFIG GET refused); the loss window on a crash is unknown",
                {{"error", r.error}});
      return;
    }
    const std::string why = redis::ackLossReason(appendonly_, appendfsync_, options_.min_replicas);
    if (!why.empty() && !loss_warned_) {
      log::warn(
          "redis: a crash of the Redis host can lose acknowledged callbacks (docs/reliability.md, "
          "\"What Redis promises\")",
          {{"reason", why}, {"appendonly", appendonly_}, {"appendfsync", appendfsync_}});
      loss_warned_ = true;
    }
  });
}

void RedisWatch::sweep() {
  if (stopped_ || sweeping_ || !store_.ready()) return;
  sweeping_ = true;
  swept_ = true;
  std::weak_ptr<bool> alive = alive_;
  const int64_t cutoff = clock_.nowMs() - static_cast<int64_t>(options_.retention_ms);
  retention_.sweep(cutoff, options_.sweep_max, [this, alive](Result<queue::RetentionReport> r) {
    if (alive.expired()) return;
    sweeping_ = false;
    onSwept(std::move(r));
  });
}

void RedisWatch::onSwept(Result<queue::RetentionReport> result) {
  if (!result) {
    log::warn("retention: sweep failed", {{"error", result.error().message}});
    return;
  }
  const queue::RetentionReport& r = result.value();
  removed_ += static_cast<uint64_t>(r.removed);
  indexed_ += r.indexed;
  if (r.removed > 0)
    log::debug("retention: removed complete events", {{"removed", r.removed}, {"more", r.more}});
  if (r.scan_done && !scan_logged_) {
    scan_logged_ = true;
    if (indexed_ > 0)
      log::info("retention: indexed complete events stored by an earlier version", {{"events", indexed_}});
  }
  // A full batch, or the walk over older events still going: the next step follows shortly instead of a
  // whole sweep_interval later, so removals keep up with any rate of completions.
  if ((r.more || !r.scan_done) && !stopped_ && !drain_timer_.active())
    drain_timer_.start(options_.drain_pause_ms, [this] { sweep(); });
}

}  // namespace payhook::daemon
