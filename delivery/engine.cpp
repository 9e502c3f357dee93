#include "delivery/engine.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/log.h"
#include "config/config.h"
#include "delivery/engine_tables.h"
#include "delivery/envelope.h"
#include "handlers/provider.h"
#include "handlers/registry.h"
#include "http/client.h"

namespace payhook::delivery {

namespace {

// A provider's API gets few calls (one per payment); a handful at a time is plenty and spares its servers.
constexpr size_t kApiMaxInFlight = 8;
constexpr uint64_t kApiTimeoutMs = 10'000;
// A target or route that is not in the config any more but still has jobs waiting is logged this often.
constexpr int64_t kUnknownTargetLogMs = 60'000;

}  // namespace

// The queue's view of a route's config::RetryPolicy (queue/ may not include config/). max_interval_ms is
// raised to the largest schedule entry: the cap would otherwise silently shorten an explicit schedule.
RetryPolicy retryPolicyOf(const config::RetryPolicy& c) {
  RetryPolicy p;
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

namespace {

queue::JobQueueOptions queueOptionsOf(const config::Config& c) {
  queue::JobQueueOptions o;
  o.prefix = c.redis.prefix;
  return o;
}

}  // namespace

Engine::Engine(uv_loop_t* loop, queue::RedisStore& store, http::Client& client, const Clock& clock,
               const config::Config& config, EngineOptions options)
    : loop_(loop),
      store_(store),
      queue_(store, queueOptionsOf(config)),
      client_(client),
      clock_(clock),
      options_(options),
      lease_timeout_ms_(config.delivery.lease_timeout_ms),
      sweep_interval_ms_(std::max<uint64_t>(config.delivery.sweep_interval_ms, 1)) {
  if (options_.batch == 0) options_.batch = 1;
  setConfig(config);
}

Engine::~Engine() {
  poll_timer_.close();
  sweep_timer_.close();
}

void Engine::setConfig(const config::Config& config) {
  auto t = std::make_shared<Tables>();
  for (const auto& tc : config.targets) {
    Target target;
    target.url = tc.url;
    target.keys = decodeSigningKeys(tc.secrets, tc.signing_key);
    target.timeout_ms = tc.timeout_ms;
    target.max_in_flight = std::max<uint64_t>(tc.max_in_flight, 1);
    for (const auto& [name, value] : tc.headers) target.headers.push_back({name, value});
    target.breaker.failures = static_cast<uint32_t>(std::min<uint64_t>(tc.breaker_failures, UINT32_MAX));
    target.breaker.cooldown_ms = tc.breaker_cooldown_ms;
    t->targets[tc.name] = std::move(target);
  }
  for (const auto& rc : config.routes) {
    RouteInfo info;
    info.policy = retryPolicyOf(rc.retry);
    if (auto source = handlers::makeStatusSource(rc)) info.status_type = source->eventType();
    if (auto follow_up = handlers::makeFollowUp(rc)) {
      info.decision_target = rc.decision;
      info.api_target = "@" + rc.name;
      if (const auto* program = follow_up->program()) {
        info.program.argv = program->argv;
        info.program.env = uv::childEnvironment(program->env);
        info.program.timeout_ms = program->timeout_ms;
        info.program.max_output = program->max_output;
      }
      if (std::string caution = follow_up->caution(); !caution.empty())
        log::warn(caution, {{"route", rc.name}});
      info.follow_up = std::move(follow_up);
      Target api;
      // The lease must outlive the call, whatever lease_timeout the operator chose.
      api.timeout_ms = std::min<uint64_t>(kApiTimeoutMs, std::max<uint64_t>(lease_timeout_ms_ / 2, 1));
      api.max_in_flight = kApiMaxInFlight;
      api.api_route = rc.name;
      t->targets[info.api_target] = std::move(api);
    } else if (auto recheck = handlers::makeRecheck(rc)) {
      info.api_target = "@" + rc.name;
      info.recheck = std::move(recheck);
      info.forward = rc.forward;
      Target api;
      api.timeout_ms = std::min<uint64_t>(kApiTimeoutMs, std::max<uint64_t>(lease_timeout_ms_ / 2, 1));
      api.max_in_flight = kApiMaxInFlight;
      api.api_route = rc.name;
      t->targets[info.api_target] = std::move(api);
    }
    t->routes[rc.name] = std::move(info);
  }
  for (const auto& [name, target] : t->targets) states_[name].breaker.setOptions(target.breaker);
  tables_ = std::move(t);
}

void Engine::start() {
  if (started_ || stopping_) return;
  started_ = true;
  poll_timer_ = uv::Timer(loop_);
  sweep_timer_ = uv::Timer(loop_);
  schedulePoll(0);
  sweep_timer_.start(
      sweep_interval_ms_, [this] { sweep(); }, sweep_interval_ms_);
  // One sweep at once: expired leases of a previous run come back without waiting an interval, and the
  // queue's depth is known from the start.
  sweep();
}

void Engine::stop(std::function<void()> idle) {
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

void Engine::abandon(std::function<void()> done) {
  stop({});
  abandoned_ = true;
  // Programs still running are killed (their callbacks never run): their leases are given back with the
  // others below.
  for (auto& [id, program] : std::exchange(programs_, {})) {
    program.run.reset();
    --states_[program.target].in_flight;
    --attempts_in_flight_;
    opDone();
  }
  auto leases = std::exchange(leases_in_flight_, {});
  if (leases.empty() || !store_.ready()) {
    if (!leases.empty())
      log::warn("delivery: Redis unavailable, leases of attempts in flight expire after lease_timeout",
                {{"in_flight", static_cast<int64_t>(leases.size())}});
    if (done) done();
    return;
  }
  log::warn("delivery: giving the leases of attempts in flight back",
            {{"in_flight", static_cast<int64_t>(leases.size())}});
  auto remaining = std::make_shared<size_t>(leases.size());
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  for (const auto& [job_id, lease] : leases) {
    queue_.release(lease, clock_.nowMs(), [remaining, finished, job_id](Result<queue::LeaseOutcome> r) {
      if (!r)
        log::warn("delivery: release failed; the job is retried after its lease",
                  {{"job", job_id}, {"error", r.error().message}});
      if (--*remaining == 0 && *finished) std::exchange(*finished, nullptr)();
    });
  }
}

size_t Engine::inFlight() const {
  return attempts_in_flight_;
}

std::map<std::string, TargetStatus> Engine::targetStatus() const {
  std::map<std::string, TargetStatus> out;
  for (const auto& [name, st] : states_) {
    TargetStatus s;
    s.in_flight = st.in_flight;
    s.breaker = st.breaker.state();
    s.due = st.due;
    out[name] = s;
  }
  return out;
}

void Engine::schedulePoll(uint64_t delay_ms) {
  if (stopping_) return;
  poll_timer_.start(delay_ms, [this] { poll(); });
}

void Engine::opDone() {
  --ops_;
  if (stopping_ && ops_ == 0 && idle_) std::exchange(idle_, nullptr)();
}

void Engine::poll() {
  if (stopping_) return;
  if (claiming_) {
    repoll_ = true;
    return;
  }
  // While Redis is away every claim would fail; the store reconnects on its own, the timer just waits.
  if (!store_.ready()) {
    schedulePoll(options_.poll_interval_ms);
    return;
  }
  const int64_t now = clock_.nowMs();
  std::vector<queue::ClaimWant> wants;
  for (const auto& [name, target] : tables_->targets) {
    TargetState& st = states_[name];
    const auto before = st.breaker.state();
    const size_t room = target.max_in_flight > st.in_flight ? target.max_in_flight - st.in_flight : 0;
    const size_t n = std::min({room, options_.batch, st.breaker.allowance(now)});
    if (before == CircuitBreaker::State::kOpen && st.breaker.state() != before)
      log::info("delivery: circuit breaker half-open, probing the target with one job", {{"target", name}});
    if (n > 0) wants.push_back({name, n});
  }
  if (wants.empty()) {
    // Every target is full or open; a finished attempt or the timer asks again.
    schedulePoll(options_.poll_interval_ms);
    return;
  }
  claiming_ = true;
  ++ops_;
  std::weak_ptr<bool> alive = alive_;
  queue_.claim(wants, now, lease_timeout_ms_, [this, alive, wants](Result<queue::ClaimBatch> result) {
    if (alive.expired()) return;
    claiming_ = false;
    onClaimed(std::move(result), wants);
    opDone();
  });
}

void Engine::onClaimed(Result<queue::ClaimBatch> result, const std::vector<queue::ClaimWant>& wants) {
  const bool repoll = std::exchange(repoll_, false);
  if (!result) {
    log::warn("delivery: claim failed, retrying", {{"error", result.error().message}});
    schedulePoll(options_.poll_interval_ms);
    return;
  }
  auto& batch = result.value();
  for (const auto& id : batch.dropped)
    log::debug("delivery: job dropped (event gone or job already finished)", {{"job", id}});
  bool more = false;
  for (const auto& want : wants) {
    auto it = batch.taken.find(want.target);
    const bool full = it != batch.taken.end() && it->second >= want.max;
    states_[want.target].backlog = full;
    more = more || full;
  }
  for (auto& job : batch.jobs) {
    if (stopping_) {
      release(job, "stopping");
      continue;
    }
    const auto& tables = *tables_;
    if (tables.targets.find(job.target) == tables.targets.end()) {
      // Only configured targets are asked, so only a reload between the claim and its answer gets here.
      release(job, "target left the config");
      continue;
    }
    if (job.unreadable) {
      bury(job, "the stored event could not be read (its packed field \"e\" is damaged)");
      continue;
    }
    if (tables.routes.find(job.event.route) == tables.routes.end()) {
      waitForRoute(job);
      continue;
    }
    dispatch(std::move(job));
  }
  schedulePoll(more || repoll ? 0 : options_.poll_interval_ms);
}

void Engine::freeSlot(const std::string& target) {
  TargetState& st = states_[target];
  if (st.in_flight > 0) --st.in_flight;
  if (st.backlog) schedulePoll(0);
}

void Engine::finishJob(const queue::ClaimedJob& job, const queue::AttemptRecord& record, const NextStep& step,
                       bool attempted, const queue::FollowUp* next, const queue::RecheckOutcome* recheck) {
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
  auto done = [this, alive, event_id = job.event.id, target = job.target, kind = step.kind,
               attempted](Result<queue::LeaseOutcome> r) {
    if (alive.expired()) return;
    if (attempted) freeSlot(target);
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
    case NextStep::Kind::kDelivered:
      if (recheck)
        queue_.settle(job.lease, record, *recheck, std::move(done));
      else if (next)
        queue_.complete(job.lease, record, *next, std::move(done));
      else
        queue_.complete(job.lease, record, std::move(done));
      break;
    case NextStep::Kind::kRetry:
      queue_.reschedule(job.lease, record, step.due_ms, std::move(done));
      break;
    case NextStep::Kind::kDead:
      queue_.bury(job.lease, record, step.reason, std::move(done));
      break;
  }
}

void Engine::waitForRoute(const queue::ClaimedJob& job) {
  // As with a target the config no longer names, the job waits, unattempted, until its route comes back (a
  // typo in a reload must not bury it) or an operator retries or purges it. Its target's due set is shared
  // with other routes' jobs, so it cannot be left unclaimed: it is put back for a lease_timeout, which keeps
  // such jobs from being claimed over and over.
  const int64_t now = clock_.nowMs();
  RouteWait& wait = route_waits_[job.event.route];
  ++wait.jobs;
  if (wait.logged_ms == 0 || now - wait.logged_ms >= kUnknownTargetLogMs) {
    log::warn("delivery: jobs wait for a route that is not in the config",
              {{"route", job.event.route},
               {"jobs", static_cast<int64_t>(wait.jobs)},
               {"next_look_s", static_cast<int64_t>(lease_timeout_ms_ / 1000)}});
    wait.logged_ms = now;
    wait.jobs = 0;
  }
  release(job, "route left the config", lease_timeout_ms_);
}

void Engine::release(const queue::ClaimedJob& job, const char* why, uint64_t delay_ms) {
  ++ops_;
  std::weak_ptr<bool> alive = alive_;
  log::debug("delivery: job released", {{"event_id", job.event.id}, {"target", job.target}, {"why", why}});
  queue_.release(job.lease, clock_.nowMs() + static_cast<int64_t>(delay_ms),
                 [this, alive, event_id = job.event.id, target = job.target](Result<queue::LeaseOutcome> r) {
                   if (alive.expired()) return;
                   if (!r)
                     log::warn("delivery: release failed; the job is retried after its lease",
                               {{"event_id", event_id}, {"target", target}, {"error", r.error().message}});
                   opDone();
                 });
}

void Engine::bury(const queue::ClaimedJob& job, const std::string& reason) {
  queue::AttemptRecord record;
  record.at_ms = clock_.nowMs();
  record.error = reason;
  NextStep step;
  step.kind = NextStep::Kind::kDead;
  step.reason = reason;
  countAttempt(job.target, step.kind, -1.0);
  log::error(
      "delivery: job buried without an attempt",
      {{"event_id", job.event.id}, {"route", job.event.route}, {"target", job.target}, {"reason", reason}});
  finishJob(job, record, step, false);
}

void Engine::sweep() {
  if (stopping_ || sweeping_ || !store_.ready()) return;
  sweeping_ = true;
  ++ops_;
  std::weak_ptr<bool> alive = alive_;
  std::vector<std::string> targets;
  targets.reserve(states_.size());
  for (const auto& [name, state] : states_) targets.push_back(name);
  queue_.sweep(clock_.nowMs(), options_.sweep_max, targets, [this, alive](Result<queue::SweepReport> r) {
    if (alive.expired()) return;
    sweeping_ = false;
    if (!r) {
      log::warn("delivery: sweep failed", {{"error", r.error().message}});
    } else {
      if (r.value().expired > 0 || r.value().repaired > 0) {
        log::info("delivery: sweep repaired jobs",
                  {{"expired_leases", static_cast<int64_t>(r.value().expired)},
                   {"recreated", static_cast<int64_t>(r.value().repaired)}});
        schedulePoll(0);
      }
      reportDepth(r.value().depth);
    }
    opDone();
  });
}

void Engine::reportDepth(const queue::QueueDepth& depth) {
  depth_ = depth;
  const int64_t now = clock_.nowMs();
  for (auto& [name, st] : states_) st.due = 0;
  for (const auto& [name, due] : depth.due_by_target) {
    if (tables_->targets.count(name)) {
      states_[name].due = due;
      continue;
    }
    if (due == 0) continue;
    // Jobs of a target the config no longer names wait, untouched, until it comes back (a typo in a reload
    // must not bury them) or an operator retries or purges them.
    int64_t& last = unknown_warned_ms_[name];
    if (last != 0 && now - last < kUnknownTargetLogMs) continue;
    last = now;
    log::warn("delivery: jobs wait for a target that is not in the config", {{"target", name}, {"due", due}});
  }
}

}  // namespace payhook::delivery
