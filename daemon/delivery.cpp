#include "daemon/delivery.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/log.h"
#include "config/config.h"
#include "daemon/http/client.h"
#include "queue/envelope.h"

namespace payhook::daemon {

struct Delivery::Target {
  std::string url;
  std::vector<Secret> secrets;
  Secret signing_key;
  uint64_t timeout_ms = 10'000;
  size_t max_in_flight = 64;
  std::vector<http::Header> headers;
};

// A snapshot of the config the engine needs; replaced whole on reload, so an attempt in flight keeps the
// one it started with.
struct Delivery::Tables {
  std::map<std::string, Target> targets;
  std::map<std::string, queue::RetryPolicy> policies;  // per route name
};

namespace {

// The queue's view of a route's config::RetryPolicy (queue/ may not include config/). max_interval_ms is
// raised to the largest schedule entry: the cap would otherwise silently shorten an explicit schedule.
queue::RetryPolicy retryPolicyOf(const config::RetryPolicy& c) {
  queue::RetryPolicy p;
  p.schedule_ms = c.schedule_ms;
  p.exponential = c.exponential;
  p.initial_ms = c.initial_ms;
  p.multiplier = c.multiplier;
  p.max_interval_ms = c.max_interval_ms;
  for (uint64_t d : c.schedule_ms) p.max_interval_ms = std::max(p.max_interval_ms, d);
  p.max_attempts = c.max_attempts;
  p.max_age_ms = c.max_age_ms;
  p.jitter = c.jitter;
  return p;
}

const char* kindName(queue::NextStep::Kind k) {
  switch (k) {
    case queue::NextStep::Kind::kDelivered:
      return "delivered";
    case queue::NextStep::Kind::kRetry:
      return "retry";
    case queue::NextStep::Kind::kDead:
      return "dead";
  }
  return "?";
}

queue::JobQueueOptions queueOptionsOf(const config::Config& c) {
  queue::JobQueueOptions o;
  o.prefix = c.redis.prefix;
  return o;
}

}  // namespace

Delivery::Delivery(uv_loop_t* loop, queue::RedisStore& store, http::Client& client, const Clock& clock,
                   const config::Config& config, DeliveryOptions options)
    : loop_(loop),
      store_(store),
      queue_(store, queueOptionsOf(config)),
      client_(client),
      clock_(clock),
      options_(options),
      lease_timeout_ms_(config.delivery.lease_timeout_ms),
      sweep_interval_ms_(std::max<uint64_t>(config.delivery.sweep_interval_ms, 1)) {
  setConfig(config);
}

Delivery::~Delivery() {
  poll_timer_.close();
  sweep_timer_.close();
}

void Delivery::setConfig(const config::Config& config) {
  auto t = std::make_shared<Tables>();
  for (const auto& tc : config.targets) {
    Target target;
    target.url = tc.url;
    target.secrets = tc.secrets;
    target.signing_key = tc.signing_key;
    target.timeout_ms = tc.timeout_ms;
    target.max_in_flight = std::max<uint64_t>(tc.max_in_flight, 1);
    for (const auto& [name, value] : tc.headers) target.headers.push_back({name, value});
    t->targets[tc.name] = std::move(target);
  }
  for (const auto& rc : config.routes) t->policies[rc.name] = retryPolicyOf(rc.retry);
  tables_ = std::move(t);
}

void Delivery::start() {
  if (started_ || stopping_) return;
  started_ = true;
  poll_timer_ = uv::Timer(loop_);
  sweep_timer_ = uv::Timer(loop_);
  schedulePoll(0);
  sweep_timer_.start(
      sweep_interval_ms_, [this] { sweep(); }, sweep_interval_ms_);
}

void Delivery::stop(std::function<void()> idle) {
  if (!stopping_) {
    stopping_ = true;
    poll_timer_.close();
    sweep_timer_.close();
    if (ops_ > 0)
      log::info("delivery stopping: waiting for attempts in flight",
                {{"in_flight", static_cast<int64_t>(attempts_in_flight_)}});
  }
  idle_ = std::move(idle);
  if (ops_ == 0 && idle_) std::exchange(idle_, nullptr)();
}

size_t Delivery::inFlight() const {
  return attempts_in_flight_;
}

void Delivery::schedulePoll(uint64_t delay_ms) {
  if (stopping_) return;
  poll_timer_.start(delay_ms, [this] { poll(); });
}

void Delivery::opDone() {
  --ops_;
  if (stopping_ && ops_ == 0 && idle_) std::exchange(idle_, nullptr)();
}

void Delivery::poll() {
  if (stopping_ || claiming_) return;
  // While Redis is away every claim would fail; the store reconnects on its own, the timer just waits.
  if (!store_.ready()) {
    schedulePoll(options_.poll_interval_ms);
    return;
  }
  claiming_ = true;
  ++ops_;
  std::weak_ptr<bool> alive = alive_;
  queue_.claim(options_.batch, clock_.nowMs(), lease_timeout_ms_,
               [this, alive](Result<queue::ClaimBatch> result) {
                 if (alive.expired()) return;
                 claiming_ = false;
                 onClaimed(std::move(result));
                 opDone();
               });
}

void Delivery::onClaimed(Result<queue::ClaimBatch> result) {
  if (!result) {
    log::warn("delivery: claim failed, retrying", {{"error", result.error().message}});
    schedulePoll(options_.poll_interval_ms);
    return;
  }
  auto& batch = result.value();
  for (const auto& id : batch.dropped)
    log::debug("delivery: job dropped (event gone or job already finished)", {{"job", id}});
  const bool full = batch.jobs.size() >= options_.batch;
  bool over_cap = false;
  for (auto& job : batch.jobs) {
    if (stopping_) {
      release(job, "stopping");
      continue;
    }
    const auto& tables = *tables_;
    auto t = tables.targets.find(job.target);
    if (t == tables.targets.end()) {
      bury(job, "no target named \"" + job.target + "\" in the config");
      continue;
    }
    if (tables.policies.find(job.event.route) == tables.policies.end()) {
      bury(job, "no route named \"" + job.event.route + "\" in the config");
      continue;
    }
    // Over the target's cap the job goes back to due at once, uncounted: simpler than a per-target
    // claim, and the next poll (not an immediate one, see below) tries again.
    if (in_flight_[job.target] >= t->second.max_in_flight) {
      over_cap = true;
      release(job, "target at max_in_flight");
      continue;
    }
    dispatch(std::move(job));
  }
  // Claim again at once only when the batch was full and all of it went out: after a release the next
  // claim would take the same jobs back and spin.
  schedulePoll(full && !over_cap ? 0 : options_.poll_interval_ms);
}

void Delivery::dispatch(queue::ClaimedJob job) {
  auto tables = tables_;
  const Target& target = tables->targets.at(job.target);
  queue::RetryPolicy policy = tables->policies.at(job.event.route);

  const int64_t started = clock_.nowMs();
  http::ClientRequest request;
  request.method = "POST";
  request.url = target.url;
  request.timeout_ms = target.timeout_ms;
  request.body = queue::envelopeJson(job.event, job.attempt);
  request.headers = target.headers;
  // webhook-id is the event id, the same on every attempt, so the app can deduplicate; the timestamp is
  // this attempt's, so a retry hours later is not refused as a replay.
  for (auto& h :
       queue::signedHeaders(job.event.id, started / 1000, request.body, target.secrets, target.signing_key))
    request.headers.push_back(std::move(h));

  ++in_flight_[job.target];
  ++attempts_in_flight_;
  ++ops_;
  std::weak_ptr<bool> alive = alive_;
  client_.send(std::move(request), [this, alive, job = std::move(job), policy = std::move(policy),
                                    started](http::ClientResponse answer) {
    if (alive.expired()) return;
    --in_flight_[job.target];
    --attempts_in_flight_;
    queue::AttemptRecord record;
    record.at_ms = started;
    record.status = answer.status;
    record.error = answer.error;
    record.latency_ms = answer.latency_ms;
    record.answer_head = answer.body.substr(0, 1024);
    queue::AttemptResult result;
    result.status = answer.status;
    if (const std::string* ra = answer.header("retry-after")) result.retry_after = *ra;
    const auto step = queue::nextStep(policy, static_cast<uint32_t>(std::max(job.attempt, 1)),
                                      job.event.received_at_ms, clock_.nowMs(), result, random_);
    finishJob(job, record, step);
    opDone();
  });
}

void Delivery::finishJob(const queue::ClaimedJob& job, const queue::AttemptRecord& record,
                         const queue::NextStep& step) {
  log::info("delivery attempt", {{"route", job.event.route},
                                 {"target", job.target},
                                 {"event_id", job.event.id},
                                 {"attempt", job.attempt},
                                 {"status", record.status},
                                 {"error", record.error},
                                 {"outcome", kindName(step.kind)},
                                 {"reason", step.reason},
                                 {"latency_ms", record.latency_ms},
                                 {"next_due_ms", step.due_ms}});
  ++ops_;
  std::weak_ptr<bool> alive = alive_;
  auto done = [this, alive, event_id = job.event.id, target = job.target,
               kind = step.kind](Result<queue::LeaseOutcome> r) {
    if (alive.expired()) return;
    if (!r) {
      // The lease expires and the sweep makes the job due again: one more delivery, nothing lost.
      log::warn("delivery: recording the attempt failed; the job is retried after its lease",
                {{"event_id", event_id}, {"target", target}, {"error", r.error().message}});
    } else if (r.value() != queue::LeaseOutcome::kApplied) {
      log::warn("delivery: attempt not recorded", {{"event_id", event_id},
                                                   {"target", target},
                                                   {"outcome", kindName(kind)},
                                                   {"lease", queue::leaseOutcomeName(r.value())}});
    }
    opDone();
  };
  switch (step.kind) {
    case queue::NextStep::Kind::kDelivered:
      queue_.complete(job.lease, record, std::move(done));
      break;
    case queue::NextStep::Kind::kRetry:
      queue_.reschedule(job.lease, record, step.due_ms, std::move(done));
      break;
    case queue::NextStep::Kind::kDead:
      queue_.bury(job.lease, record, step.reason, std::move(done));
      break;
  }
}

void Delivery::release(const queue::ClaimedJob& job, const char* why) {
  ++ops_;
  std::weak_ptr<bool> alive = alive_;
  log::debug("delivery: job released", {{"event_id", job.event.id}, {"target", job.target}, {"why", why}});
  queue_.release(job.lease, clock_.nowMs(),
                 [this, alive, event_id = job.event.id, target = job.target](Result<queue::LeaseOutcome> r) {
                   if (alive.expired()) return;
                   if (!r)
                     log::warn("delivery: release failed; the job is retried after its lease",
                               {{"event_id", event_id}, {"target", target}, {"error", r.error().message}});
                   opDone();
                 });
}

void Delivery::bury(const queue::ClaimedJob& job, const std::string& reason) {
  queue::AttemptRecord record;
  record.at_ms = clock_.nowMs();
  record.error = reason;
  queue::NextStep step;
  step.kind = queue::NextStep::Kind::kDead;
  step.reason = reason;
  log::error(
      "delivery: job buried, the config no longer knows it",
      {{"event_id", job.event.id}, {"route", job.event.route}, {"target", job.target}, {"reason", reason}});
  finishJob(job, record, step);
}

void Delivery::sweep() {
  if (stopping_ || sweeping_ || !store_.ready()) return;
  sweeping_ = true;
  ++ops_;
  std::weak_ptr<bool> alive = alive_;
  queue_.sweep(clock_.nowMs(), options_.sweep_max, [this, alive](Result<queue::SweepReport> r) {
    if (alive.expired()) return;
    sweeping_ = false;
    if (!r) {
      log::warn("delivery: sweep failed", {{"error", r.error().message}});
    } else if (r.value().expired > 0 || r.value().repaired > 0) {
      log::info("delivery: sweep repaired jobs", {{"expired_leases", static_cast<int64_t>(r.value().expired)},
                                                  {"recreated", static_cast<int64_t>(r.value().repaired)}});
    }
    opDone();
  });
}

}  // namespace payhook::daemon
