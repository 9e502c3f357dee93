// Delivery: the engine that turns stored events into signed POSTs to the shop's apps (README "Delivery:
// what the shop's apps receive"). On the App's loop it claims due jobs from the JobQueue under a lease,
// sends each through the shared http::Client, and completes, reschedules or buries it by the route's retry
// policy. A sweep timer returns expired leases to due and re-creates jobs that were lost.
//
// Fan-out isolation: every target has its own due set, in-flight cap and circuit breaker, and each claim
// asks every target for exactly as many jobs as it can start now. A slow target fills its own cap and
// waits; a dead one is probed one job at a time; neither holds a job of another target back.
//
// A provider's follow-up (handlers::FollowUp): the route's decision target receives every event like any
// delivery; its 2xx answer is the shop's decision, kept on the event, and queues a job for the
// pseudo-target "@<route>", which calls the provider's API with the route's retry policy.
//
// A provider's re-check (handlers::Recheck): its route's events are stored with a job of "@<route>" alone,
// which fetches the object from the provider's API with the route's retry policy. Its confirmation
// rewrites the event as the API reports it and queues the route's `forward` targets in the same script;
// a contradiction is recorded on the event and queues nothing.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/metrics.h"
#include "delivery/circuit_breaker.h"
#include "delivery/retry_policy.h"
#include "queue/job_queue.h"
#include "uv/handle.h"
#include "uv/subprocess.h"

namespace payhook::config {
struct Config;
struct RetryPolicy;
}  // namespace payhook::config

namespace payhook::http {
class Client;
struct ClientRequest;
struct ClientResponse;
}  // namespace payhook::http

namespace payhook::handlers {
class PendingCall;
}  // namespace payhook::handlers

namespace payhook::delivery {

struct EngineOptions {
  // How long the engine waits between claims when nothing suggested more work. A claim that took all it
  // asked of a target is followed by another at once, and a finished attempt of such a target triggers one,
  // so a backlog drains at the speed of the targets, not of this timer.
  uint64_t poll_interval_ms = 200;
  size_t batch = 64;       // most jobs asked of one target per claim
  size_t sweep_max = 200;  // leases and events per sweep
};

// What the engine reports per target (for logs now, metrics later).
struct TargetStatus {
  size_t in_flight = 0;
  CircuitBreaker::State breaker = CircuitBreaker::State::kClosed;
  int64_t due = -1;  // jobs waiting, as the last sweep counted them; -1 before the first
};

// The delivery metrics families (names in docs/operations.md); they live in the App's registry.
struct DeliveryMetrics {
  metrics::Family<metrics::Counter>* deliveries = nullptr;  // target, outcome (delivered|retry|dead)
  metrics::Family<metrics::Histogram>* latency = nullptr;   // target: HTTP exchange, seconds
};

// The retry policy of a route's config (max_interval_ms raised to the largest schedule entry).
RetryPolicy retryPolicyOf(const config::RetryPolicy& c);

class Engine {
 public:
  // `store`, `client` and `clock` must outlive the Delivery. Nothing runs before start().
  Engine(uv_loop_t* loop, queue::RedisStore& store, http::Client& client, const Clock& clock,
         const config::Config& config, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Routes and targets after a reload. Attempts in flight finish with the config they started with; the
  // breaker state and in-flight counts of a target that keeps its name carry over. Jobs of a target or route
  // the config no longer names wait, unattempted, for it to come back.
  void setConfig(const config::Config& config);

  // Starts the poll and sweep timers.
  void start();

  // Graceful stop: no new claims, timers closed. `idle` runs once, when no attempt and no queue operation
  // is in flight any more (inside stop() when there is none). Jobs a claim returns after stop() are
  // released, so another instance (or this one after a restart) takes them at once. Idempotent; a later
  // call replaces `idle` (an empty one: nobody is told any more).
  void stop(std::function<void()> idle);

  // Past the shutdown deadline: gives the leases of every attempt still in flight back (due at once, the
  // attempt not counted), so another instance delivers them without waiting for lease_timeout. Their
  // answers, should they still come, are ignored. `done` runs when Redis has answered every release (or
  // failed it: then the lease simply expires).
  void abandon(std::function<void()> done);

  // Counts and times every attempt; null: no metrics.
  void setMetrics(const DeliveryMetrics* metrics) { metrics_ = metrics; }

  // HTTP attempts in flight, all targets together.
  size_t inFlight() const;
  // The queue as the last sweep counted it (every sweep_interval); all zero before the first.
  const queue::QueueDepth& lastDepth() const { return depth_; }
  // Per target, including the follow-up pseudo-targets ("@<route>").
  std::map<std::string, TargetStatus> targetStatus() const;

 private:
  struct Target;
  struct RouteInfo;
  struct Tables;
  struct TargetState {
    size_t in_flight = 0;
    bool backlog = false;  // the last claim took all it asked: more may be due
    CircuitBreaker breaker;
    int64_t due = -1;
    // Resolved on the first attempt (metrics::Family::with() looks up by strings).
    metrics::Counter* outcomes[3] = {nullptr, nullptr, nullptr};  // by NextStep::Kind
    metrics::Histogram* latency = nullptr;
  };

  void poll();
  void onClaimed(Result<queue::ClaimBatch> result, const std::vector<queue::ClaimWant>& wants);
  void dispatch(queue::ClaimedJob job);
  // An attempt runs from beginAttempt() to endAttempt(): for a follow-up call with a program, through the
  // program (runProgram()) first, then the HTTP exchange (send()).
  void beginAttempt(const queue::ClaimedJob& job);
  void runProgram(std::shared_ptr<const Tables> tables, queue::ClaimedJob job, int64_t started,
                  std::shared_ptr<const handlers::PendingCall> call);
  void send(std::shared_ptr<const Tables> tables, queue::ClaimedJob job, int64_t started,
            http::ClientRequest request);
  void endAttempt(const std::shared_ptr<const Tables>& tables, const queue::ClaimedJob& job, int64_t started,
                  http::ClientResponse answer);
  static http::ClientRequest apiRequestOf(const Target& target, const std::string& url);
  void onAnswer(const std::shared_ptr<const Tables>& tables, const queue::ClaimedJob& job, int64_t started,
                http::ClientResponse answer);
  // `attempted`: the job's attempt holds a slot of its target's max_in_flight, given back once its outcome is
  // recorded. Until then its lease is still held, so a process never holds more leases than max_in_flight:
  // a kill re-sends at most that many attempts.
  void finishJob(const queue::ClaimedJob& job, const queue::AttemptRecord& record,
                 const delivery::NextStep& step, bool attempted, const queue::FollowUp* next = nullptr,
                 const queue::RecheckOutcome* recheck = nullptr);
  void freeSlot(const std::string& target);
  // Gives the job back unattempted, due again after `delay_ms`.
  void release(const queue::ClaimedJob& job, const char* why, uint64_t delay_ms = 0);
  // A job of a route the config no longer names: released for later, and logged now and then.
  void waitForRoute(const queue::ClaimedJob& job);
  void bury(const queue::ClaimedJob& job, const std::string& reason);
  void sweep();
  void reportDepth(const queue::QueueDepth& depth);
  void countAttempt(const std::string& target, delivery::NextStep::Kind kind, double latency_ms);
  void opDone();
  void schedulePoll(uint64_t delay_ms);

  uv_loop_t* loop_;
  queue::RedisStore& store_;
  queue::JobQueue queue_;
  http::Client& client_;
  const Clock& clock_;
  EngineOptions options_;
  uint64_t lease_timeout_ms_;
  uint64_t sweep_interval_ms_;
  std::shared_ptr<const Tables> tables_;
  std::map<std::string, TargetState> states_;
  queue::QueueDepth depth_;
  const DeliveryMetrics* metrics_ = nullptr;
  // Leases of the attempts in flight, by job id, for abandon().
  std::map<std::string, queue::JobLease> leases_in_flight_;
  std::map<std::string, int64_t> unknown_warned_ms_;  // target name → when its waiting jobs were last logged
  struct RouteWait {
    int64_t logged_ms = 0;  // when jobs of this route were last logged as waiting
    uint64_t jobs = 0;      // put back since then
  };
  std::map<std::string, RouteWait> route_waits_;  // by the name of a route not in the config
  // Follow-up programs running, by a counter: destroying one kills its process.
  struct ProgramRun {
    std::unique_ptr<uv::Subprocess> run;
    std::string target;
  };
  std::map<uint64_t, ProgramRun> programs_;
  uint64_t program_ids_ = 0;
  size_t attempts_in_flight_ = 0;
  size_t ops_ = 0;  // claims, HTTP attempts and finishing scripts not yet answered
  bool claiming_ = false;
  bool repoll_ = false;  // a poll was asked for while a claim was in flight
  bool sweeping_ = false;
  bool started_ = false;
  bool stopping_ = false;
  bool abandoned_ = false;
  std::function<void()> idle_;
  delivery::SodiumRandom random_;
  uv::Timer poll_timer_;
  uv::Timer sweep_timer_;
  // Callbacks of the queue and the client hold a weak reference, so one answered after the Delivery is gone
  // does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace payhook::delivery
