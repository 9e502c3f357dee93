// One attempt: the signed POST to an app, or a follow-up call through the route's program, and its answer.
#include <algorithm>
#include <optional>
#include <utility>

#include "common/log.h"
#include "delivery/engine.h"
#include "delivery/engine_tables.h"
#include "delivery/envelope.h"
#include "http/client.h"

namespace payhook::delivery {

void Engine::dispatch(queue::ClaimedJob job) {
  auto tables = tables_;
  const Target& target = tables->targets.at(job.target);
  const int64_t started = clock_.nowMs();

  if (target.api_route.empty()) {
    http::ClientRequest request;
    request.timeout_ms = target.timeout_ms;
    request.method = "POST";
    request.url = target.url;
    // Only a route's status source emits its event type (handlers/status_source.h).
    auto route_it = tables->routes.find(job.event.route);
    const bool reconciled = route_it != tables->routes.end() && !route_it->second.status_type.empty() &&
                            route_it->second.status_type == job.event.type;
    request.body = envelopeJson(job.event, job.attempt, reconciled ? "reconciliation" : "callback");
    request.headers = target.headers;
    // webhook-id is the event id, the same on every attempt, so the app can deduplicate; the timestamp is
    // this attempt's, so a retry hours later is not refused as a replay.
    for (auto& h : signedHeaders(job.event.id, started / 1000, request.body, target.keys))
      request.headers.push_back(std::move(h));
    beginAttempt(job);
    send(tables, std::move(job), started, std::move(request));
    return;
  }

  const RouteInfo& route = tables->routes.at(target.api_route);
  if (route.recheck) {
    auto call = route.recheck->request(job.event);
    if (!call) {
      bury(job, call.error().message);
      return;
    }
    http::ClientRequest request = apiRequestOf(target, call->url);
    request.headers = std::move(call->headers);
    beginAttempt(job);
    send(tables, std::move(job), started, std::move(request));
    return;
  }

  // A follow-up call: its payload through the route's program (or the provider's transform), then a GET.
  auto call = route.follow_up->prepare(job.decision, job.event.data_json);
  if (!call) {
    bury(job, call.error().message);
    return;
  }
  beginAttempt(job);
  if (route.program.argv.empty()) {
    const std::string url = (*call)->url(route.follow_up->transform((*call)->payload()));
    send(tables, std::move(job), started, apiRequestOf(target, url));
    return;
  }
  runProgram(tables, std::move(job), started, std::move(*call));
}

http::ClientRequest Engine::apiRequestOf(const Target& target, const std::string& url) {
  http::ClientRequest request;
  request.timeout_ms = target.timeout_ms;
  request.method = "GET";
  request.url = url;
  return request;
}

void Engine::runProgram(std::shared_ptr<const Tables> tables, queue::ClaimedJob job, int64_t started,
                        std::shared_ptr<const handlers::PendingCall> call) {
  const Target& target = tables->targets.at(job.target);
  const RouteInfo& route = tables->routes.at(target.api_route);
  const uint64_t id = ++program_ids_;
  // A failed program is a failed attempt, retried like an unanswered call. Its reason names what the
  // program did, never the payload, its output or a key.
  const std::string key = route.follow_up->program() ? route.follow_up->program()->key : "program";
  auto failed = [this, started, key](const std::string& reason) {
    http::ClientResponse answer;
    answer.error = key + ": " + reason;
    answer.latency_ms = static_cast<double>(clock_.nowMs() - started);
    return answer;
  };
  std::weak_ptr<bool> alive = alive_;
  auto run = uv::Subprocess::start(
      loop_, route.program, std::string(call->payload()),
      [this, alive, id, tables, job, started, call, failed](Result<std::string> out) mutable {
        if (alive.expired()) return;
        programs_.erase(id);  // the Subprocess, whose callback this is: it allows that
        if (!out) {
          endAttempt(tables, job, started, failed(out.error().message));
          return;
        }
        const Target& target = tables->targets.at(job.target);
        send(tables, std::move(job), started, apiRequestOf(target, call->url(*out)));
      });
  if (!run) {
    endAttempt(tables, job, started, failed(run.error().message));
    return;
  }
  programs_[id] = ProgramRun{std::move(*run), job.target};
}

void Engine::beginAttempt(const queue::ClaimedJob& job) {
  TargetState& st = states_[job.target];
  ++st.in_flight;
  st.breaker.onStart();
  ++attempts_in_flight_;
  ++ops_;
  leases_in_flight_[job.lease.job_id] = job.lease;
}

void Engine::send(std::shared_ptr<const Tables> tables, queue::ClaimedJob job, int64_t started,
                  http::ClientRequest request) {
  std::weak_ptr<bool> alive = alive_;
  client_.send(std::move(request),
               [this, alive, tables, job = std::move(job), started](http::ClientResponse answer) {
                 if (alive.expired()) return;
                 endAttempt(tables, job, started, std::move(answer));
               });
}

void Engine::endAttempt(const std::shared_ptr<const Tables>& tables, const queue::ClaimedJob& job,
                        int64_t started, http::ClientResponse answer) {
  --attempts_in_flight_;
  if (!abandoned_) {
    leases_in_flight_.erase(job.lease.job_id);
    onAnswer(tables, job, started, std::move(answer));  // frees the slot once the outcome is recorded
  } else {
    freeSlot(job.target);
  }
  opDone();
}

void Engine::onAnswer(const std::shared_ptr<const Tables>& tables, const queue::ClaimedJob& job,
                      int64_t started, http::ClientResponse answer) {
  const Target& target = tables->targets.at(job.target);
  const RouteInfo& route = tables->routes.at(job.event.route);
  const int64_t now = clock_.nowMs();

  TargetState& st = states_[job.target];
  if (st.breaker.onResult(CircuitBreaker::isFailure(answer.status), now)) {
    if (st.breaker.state() == CircuitBreaker::State::kOpen)
      log::warn("delivery: circuit breaker open, the target is probed one job at a time",
                {{"target", job.target},
                 {"consecutive_failures", static_cast<int64_t>(st.breaker.consecutiveFailures())},
                 {"cooldown_ms", static_cast<int64_t>(target.breaker.cooldown_ms)}});
    else
      log::info("delivery: circuit breaker closed, the target answers again", {{"target", job.target}});
  }

  queue::AttemptRecord record;
  record.at_ms = started;
  record.status = answer.status;
  record.error = answer.error;
  record.latency_ms = answer.latency_ms;
  record.answer_head = answer.body.substr(0, 1024);
  AttemptResult result;
  result.status = answer.status;
  if (const std::string* ra = answer.header("retry-after")) result.retry_after = *ra;

  // A provider's API may answer 200 and still refuse (in its body): a failure to retry like a 5xx.
  const RouteInfo& api_route = target.api_route.empty() ? route : tables->routes.at(target.api_route);
  if (!target.api_route.empty() && api_route.follow_up) {
    if (auto failure = api_route.follow_up->failure(answer.status, answer.body)) {
      if (answer.status >= 200 && answer.status <= 299) result.status = 0;
      if (record.error.empty()) record.error = *failure;
    }
  }
  // A re-check: only an answer that confirms or refutes the event settles it; any other is retried like
  // a 5xx, whatever its status, and a confirmation or refutation is final.
  std::optional<handlers::Recheck::Outcome> checked;
  if (!target.api_route.empty() && api_route.recheck) {
    checked = api_route.recheck->judge(job.event, answer.status, answer.body, now);
    if (checked->kind == handlers::Recheck::Outcome::Kind::kFailed) {
      if (answer.status >= 200 && answer.status <= 299) result.status = 0;
      if (record.error.empty()) record.error = checked->note;
      checked.reset();
    } else {
      result.status = 200;
    }
  }
  const auto step = nextStep(route.policy, static_cast<uint32_t>(std::max(job.attempt, 1)),
                             std::max(job.event.received_at_ms, job.since_ms), now, result, random_);
  countAttempt(job.target, step.kind, answer.latency_ms);

  if (checked && step.kind == NextStep::Kind::kDelivered) {
    queue::RecheckOutcome outcome;
    outcome.confirmed = checked->kind == handlers::Recheck::Outcome::Kind::kConfirmed;
    outcome.note = checked->note;
    outcome.event = std::move(checked->event);
    if (outcome.confirmed) {
      outcome.targets = api_route.forward;
      log::info("re-check: the provider's API confirms the event; forwarded",
                {{"route", job.event.route}, {"event_id", job.event.id}, {"type", job.event.type}});
    } else {
      log::warn("re-check: the provider's API contradicts the event; kept, not forwarded",
                {{"route", job.event.route}, {"event_id", job.event.id}, {"note", outcome.note}});
    }
    finishJob(job, record, step, true, nullptr, &outcome);
    return;
  }

  // The decision target of a follow-up: its 2xx answer is the decision, kept on the event with the job's
  // completion, and carried out by a follow-up job queued in the same script. The provider waits for a call
  // either way: a 2xx that is no clear decision is the route's default refusal.
  if (step.kind == NextStep::Kind::kDelivered && job.target == route.decision_target) {
    auto decided = route.follow_up->decide(answer.status, answer.body, now);
    queue::FollowUp next;
    next.target = route.api_target;
    next.decision = std::move(decided.decision_json);
    next.call = true;
    for (const std::string& warning : decided.warnings)
      log::warn(warning, {{"route", job.event.route}, {"event_id", job.event.id}, {"call", decided.call}});
    log::info("decision received, follow-up call queued (unless one was already made)",
              {{"route", job.event.route}, {"event_id", job.event.id}, {"call", decided.call}});
    finishJob(job, record, step, true, &next);
    return;
  }
  finishJob(job, record, step, true);
}

void Engine::countAttempt(const std::string& target, NextStep::Kind kind, double latency_ms) {
  if (!metrics_) return;
  TargetState& st = states_[target];
  const auto k = static_cast<size_t>(kind);
  if (!st.outcomes[k]) {
    st.outcomes[k] = &metrics_->deliveries->with({target, kindName(kind)});
    st.latency = &metrics_->latency->with({target});
  }
  st.outcomes[k]->inc();
  if (latency_ms >= 0) st.latency->observe(latency_ms / 1000.0);
}

}  // namespace payhook::delivery
