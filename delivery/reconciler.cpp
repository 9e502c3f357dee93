#include "delivery/reconciler.h"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/log.h"
#include "common/uuid.h"
#include "config/config.h"
#include "delivery/engine.h"
#include "handlers/registry.h"
#include "handlers/status_source.h"
#include "http/client.h"

namespace payhook::delivery {
namespace {

// How often the counts behind the metrics are read.
constexpr int64_t kCountEveryMs = 5'000;

std::string randomInstance() {
  unsigned char bytes[8];
  randombytes_buf(bytes, sizeof(bytes));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace

NextPoll nextPoll(const RetryPolicy& policy, int64_t polls, int64_t deadline_ms, int64_t now_ms,
                  int http_status, const std::string& retry_after, bool held, uint64_t hold_deadline_ms,
                  Random& rnd) {
  const uint32_t n = static_cast<uint32_t>(std::clamp<int64_t>(polls, 1, UINT32_MAX));
  NextPoll out;
  if (held) {
    // A held order waits for its capture or release, however long the policy would have tried.
    const int64_t until = deadline_ms + static_cast<int64_t>(hold_deadline_ms);
    out.due_ms = now_ms + static_cast<int64_t>(delayFor(policy, n, rnd));
    if (out.due_ms > until) out.reason = "still held at hold_deadline";
    return out;
  }
  AttemptResult r;
  r.status = http_status;
  r.retry_after = retry_after;
  if (r.status >= 200 && r.status <= 299) r.status = 0;  // an answer without a final state: not "delivered"
  // The policy's max_age counts from the deadline: that is when asking began.
  const NextStep step = nextStep(policy, n, deadline_ms, now_ms, r, rnd);
  if (step.kind == NextStep::Kind::kRetry)
    out.due_ms = step.due_ms;
  else
    out.reason = "no final state: " + step.reason;
  return out;
}

Reconciler::Reconciler(uv_loop_t* loop, queue::RedisStore& store, http::Client& client, const Clock& clock,
                       const config::Config& config, uint64_t tick_ms)
    : loop_(loop),
      store_(store),
      expectations_(store, config.redis.prefix),
      client_(client),
      clock_(clock),
      tick_ms_(std::max<uint64_t>(tick_ms, 1)),
      lease_ms_(config.delivery.lease_timeout_ms),
      instance_(randomInstance()) {
  setConfig(config);
}

Reconciler::~Reconciler() {
  timer_.close();
}

void Reconciler::setConfig(const config::Config& config) {
  auto routes = std::make_shared<Routes>();
  for (const auto& rc : config.routes) {
    auto source = handlers::makeStatusSource(rc);
    if (!source) continue;
    Route r;
    r.source = std::move(source);
    r.policy = retryPolicyOf(rc.retry);
    r.forward = rc.forward;
    r.idempotency_ttl_s = rc.idempotency_ttl_s;
    (*routes)[rc.name] = std::move(r);
  }
  lease_ms_ = config.delivery.lease_timeout_ms;
  routes_ = std::move(routes);
}

void Reconciler::start() {
  if (started_ || stopping_) return;
  started_ = true;
  timer_ = uv::Timer(loop_);
  timer_.start(
      tick_ms_, [this] { tick(); }, tick_ms_);
}

void Reconciler::stop() {
  stopping_ = true;
  timer_.close();
}

void Reconciler::tick() {
  if (stopping_ || !store_.ready()) return;
  const int64_t now = clock_.nowMs();
  if (now - counted_ms_ >= kCountEveryMs) count();
  if (claiming_) return;
  std::vector<std::pair<std::string, size_t>> wants;
  for (const auto& [name, route] : *routes_) {
    Bucket& b = buckets_[name];
    const double rate = static_cast<double>(std::max<uint64_t>(route.source->settings().rate, 1));
    if (b.refilled_ms == 0) b.tokens = rate;
    b.tokens = std::min(rate, b.tokens + rate * static_cast<double>(now - b.refilled_ms) / 1000.0);
    b.refilled_ms = now;
    const size_t cap = static_cast<size_t>(rate);
    const size_t room = b.in_flight >= cap ? 0 : cap - b.in_flight;
    const size_t want = std::min(room, static_cast<size_t>(std::floor(b.tokens)));
    if (want > 0) wants.emplace_back(name, want);
  }
  if (wants.empty()) return;
  claiming_ = true;
  const std::string token = instance_ + ":" + std::to_string(++next_token_);
  expectations_.claim(wants, now, now + static_cast<int64_t>(lease_ms_), token,
                      [this, alive = std::weak_ptr<bool>(alive_)](auto result) {
                        if (alive.expired()) return;
                        claiming_ = false;
                        if (!result) {
                          log::warn("claiming expected orders failed", {{"error", result.error().message}});
                          return;
                        }
                        onClaimed(std::move(*result));
                      });
}

void Reconciler::count() {
  if (counting_) return;
  counting_ = true;
  counted_ms_ = clock_.nowMs();
  expectations_.list("all", "", 0, [this, alive = std::weak_ptr<bool>(alive_)](auto result) {
    if (alive.expired()) return;
    counting_ = false;
    if (!result) return;
    open_ = result->open;
    dead_ = result->dead;
  });
}

void Reconciler::onClaimed(std::vector<queue::ClaimedExpectation> claimed) {
  auto routes = routes_;
  for (auto& c : claimed) {
    auto it = routes->find(c.route);
    if (it == routes->end()) {
      // Not a route with a status API any more (a reload): left leased; its lease brings it back, and a
      // config that names the route again polls it then.
      continue;
    }
    Bucket& b = buckets_[c.route];
    b.tokens = std::max(0.0, b.tokens - 1);
    ++b.in_flight;
    poll(routes, std::move(c));
  }
}

void Reconciler::poll(const std::shared_ptr<const Routes>& routes, queue::ClaimedExpectation c) {
  const Route& route = routes->at(c.route);
  handlers::StatusRequest sr = route.source->request(c.order);
  http::ClientRequest request;
  request.method = std::move(sr.method);
  request.url = std::move(sr.url);
  request.headers = std::move(sr.headers);
  request.body = std::move(sr.body);
  request.timeout_ms =
      std::min<uint64_t>(route.source->settings().timeout_ms, std::max<uint64_t>(lease_ms_ / 2, 1));
  client_.send(std::move(request),
               [this, alive = std::weak_ptr<bool>(alive_), routes, c](http::ClientResponse answer) {
                 if (alive.expired()) return;
                 onAnswer(routes, c, std::move(answer));
               });
}

void Reconciler::onAnswer(const std::shared_ptr<const Routes>& routes, const queue::ClaimedExpectation& c,
                          http::ClientResponse answer) {
  const Route& route = routes->at(c.route);
  handlers::StatusAnswer a = route.source->answer(c.route, c.order, answer.status, answer.body);
  if (a.kind == handlers::StatusAnswer::Kind::kFailed && answer.status == 0) a.error = answer.error;
  std::string retry_after;
  if (const std::string* h = answer.header("retry-after")) retry_after = *h;
  using Kind = handlers::StatusAnswer::Kind;
  if (a.kind == Kind::kPending || a.kind == Kind::kFailed) {
    log::debug("expected order not settled yet", {{"route", c.route},
                                                  {"order", c.order},
                                                  {"status", a.status},
                                                  {"error", a.error},
                                                  {"polls", c.polls}});
    // A pending answer is a good answer: the policy's status is only there to pick the next delay.
    retryOrBury(route, c, a.kind == Kind::kPending ? 0 : answer.status, retry_after, a.status, a.error,
                c.status == "held");
    return;
  }
  const bool held = a.kind == Kind::kHeld;
  auto event = std::make_shared<Event>(std::move(a.event));
  const int64_t now = clock_.nowMs();
  event->id = uuidV7(now);
  event->received_at_ms = now;
  queue::StoreSpec spec;
  spec.targets = route.forward;
  spec.idempotency_ttl_s = route.idempotency_ttl_s;
  store_.store(*event, spec,
               [this, alive = std::weak_ptr<bool>(alive_), routes, c, event, held, status = a.status,
                retry_after](queue::StoreResult result) {
                 if (alive.expired()) return;
                 const Route& route = routes->at(c.route);
                 if (!result.stored()) {
                   log::warn("storing a reconciled order status failed: asked again later",
                             {{"route", c.route}, {"order", c.order}, {"error", result.error}});
                   retryOrBury(route, c, 0, {}, status, "store: " + result.error, held);
                   return;
                 }
                 log::info(held ? "expected order held: reported, asked again until hold_deadline"
                                : "expected order settled by reconciliation",
                           {{"route", c.route},
                            {"order", c.order},
                            {"status", status},
                            {"event_id", result.event_id},
                            {"duplicate", result.outcome == queue::StoreOutcome::kDuplicate}});
                 if (held) {
                   queue::ClaimedExpectation again = c;
                   again.status = "held";
                   retryOrBury(route, again, 0, {}, status, {}, true);
                   return;
                 }
                 // The store script closed the expectation and took it off its due set.
                 done(c, "final");
               });
}

void Reconciler::retryOrBury(const Route& route, const queue::ClaimedExpectation& c, int http_status,
                             const std::string& retry_after, const std::string& last_status,
                             const std::string& error, bool held) {
  const int64_t now = clock_.nowMs();
  const NextPoll next = nextPoll(route.policy, c.polls, c.deadline_ms, now, http_status, retry_after, held,
                                 route.source->settings().hold_deadline_ms, random_);
  const int64_t due = next.due_ms;
  const std::string& reason = next.reason;
  auto finished = [this, alive = std::weak_ptr<bool>(alive_), c](const char* outcome) {
    return [this, alive, c, outcome](Result<std::string> r) {
      if (alive.expired()) return;
      if (!r)
        log::warn("finishing a poll failed",
                  {{"route", c.route}, {"order", c.order}, {"error", r.error().message}});
      done(c, outcome);
    };
  };
  if (reason.empty()) {
    expectations_.reschedule(c, due, last_status, error,
                             finished(held            ? "held"
                                      : error.empty() ? "pending"
                                                      : "failed"));
    return;
  }
  log::warn("expected order given up: no final state in time",
            {{"route", c.route}, {"order", c.order}, {"last_status", last_status}, {"reason", reason}});
  expectations_.bury(c, now, last_status.empty() ? error : last_status, reason, finished("dead"));
}

void Reconciler::done(const queue::ClaimedExpectation& c, const char* outcome) {
  auto it = buckets_.find(c.route);
  if (it != buckets_.end() && it->second.in_flight > 0) --it->second.in_flight;
  if (polls_metric_) polls_metric_->with({c.route, outcome}).inc();
}

}  // namespace payhook::delivery
