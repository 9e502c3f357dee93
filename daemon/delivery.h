// Delivery: the engine that turns stored events into signed POSTs to the shop's apps (DESIGN.md "What
// internal apps receive", issue 4). On the App's loop it claims due jobs from the JobQueue under a lease,
// sends each through the shared http::Client, and completes, reschedules or buries it by the route's retry
// policy. A sweep timer returns expired leases to due and re-creates jobs that were lost.
//
// First slice: one poll timer, a per-target in-flight cap, no circuit breaker yet.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "daemon/uv/handle.h"
#include "queue/job_queue.h"
#include "queue/retry_policy.h"

namespace payhook::config {
struct Config;
}  // namespace payhook::config

namespace payhook::http {
class Client;
}  // namespace payhook::http

namespace payhook::daemon {

struct DeliveryOptions {
  // How long the engine waits between claims when the last one did not fill a batch. A full batch is
  // followed by another claim at once, so a backlog drains at the speed of the targets, not of this timer.
  uint64_t poll_interval_ms = 200;
  size_t batch = 32;       // jobs per claim
  size_t sweep_max = 200;  // leases and events per sweep
};

class Delivery {
 public:
  // `store`, `client` and `clock` must outlive the Delivery. Nothing runs before start().
  Delivery(uv_loop_t* loop, queue::RedisStore& store, http::Client& client, const Clock& clock,
           const config::Config& config, DeliveryOptions options = {});
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  // Routes and targets after a reload. Attempts in flight finish with the policy they started with.
  void setConfig(const config::Config& config);

  // Starts the poll and sweep timers.
  void start();

  // Graceful stop: no new claims, timers closed. `idle` runs once, when no attempt and no queue operation
  // is in flight any more (inside stop() when there is none). Jobs a claim returns after stop() are
  // released, so another instance (or this one after a restart) takes them at once. Idempotent; a later
  // call replaces `idle` (an empty one: nobody is told any more, as when the App gives up waiting).
  void stop(std::function<void()> idle);

  // HTTP attempts in flight, all targets together.
  size_t inFlight() const;

 private:
  struct Target;
  struct Tables;

  void poll();
  void onClaimed(Result<queue::ClaimBatch> result);
  void dispatch(queue::ClaimedJob job);
  void finishJob(const queue::ClaimedJob& job, const queue::AttemptRecord& record,
                 const queue::NextStep& step);
  void release(const queue::ClaimedJob& job, const char* why);
  void bury(const queue::ClaimedJob& job, const std::string& reason);
  void sweep();
  void opDone();
  void schedulePoll(uint64_t delay_ms);

  uv_loop_t* loop_;
  queue::RedisStore& store_;
  queue::JobQueue queue_;
  http::Client& client_;
  const Clock& clock_;
  DeliveryOptions options_;
  uint64_t lease_timeout_ms_;
  uint64_t sweep_interval_ms_;
  std::shared_ptr<const Tables> tables_;
  std::map<std::string, size_t> in_flight_;  // per target name
  size_t attempts_in_flight_ = 0;
  size_t ops_ = 0;  // claims, HTTP attempts and finishing scripts not yet answered
  bool claiming_ = false;
  bool sweeping_ = false;
  bool started_ = false;
  bool stopping_ = false;
  std::function<void()> idle_;
  queue::SodiumRandom random_;
  uv::Timer poll_timer_;
  uv::Timer sweep_timer_;
  // Callbacks of the queue and the client hold a weak reference, so one answered after the Delivery is gone
  // does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace payhook::daemon
