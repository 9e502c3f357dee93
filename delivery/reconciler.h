// Reconciler: closes expected orders whose callback did not come (README "Expected payments"). On the
// App's loop it claims, per route, the expected orders whose deadline (or next poll) has passed, asks the
// route's StatusSource (the provider's order-status API) through the shared http::Client, and then:
//   - a final state: stores the source's event through the store script, which delivers it like a callback
//     (unless the callback came first: then it is stored without targets) and closes the expectation;
//   - held: stores the held event once the same way, and asks again until hold_deadline after the deadline;
//   - nothing final, or no usable answer: asks again by the route's retry policy, counted from the deadline;
//     once the policy gives up, the expectation goes to the dead set with the last status seen.
// Every step is state in Redis (queue/expectations.h), so a killed process loses nothing: its claims come
// back after lease_timeout, and the deadlines of orders it never claimed are still in their due sets.
//
// Rate: each route asks at most `poll_rate` requests per second (a token bucket per route and process), and
// has at most that many (at least one) in flight.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "delivery/retry_policy.h"
#include "queue/expectations.h"
#include "uv/handle.h"

namespace payhook::config {
struct Config;
}  // namespace payhook::config

namespace payhook::http {
class Client;
struct ClientResponse;
}  // namespace payhook::http

namespace payhook::handlers {
class StatusSource;
}  // namespace payhook::handlers

namespace payhook::delivery {

// What follows a status request that found nothing final: the next request at due_ms, or, when `reason` is
// set, giving up. `polls` counts the requests so far, this one included. Not held: the route's retry policy,
// counted from the deadline, with `http_status` the API's failing status (429 and 503 honour
// `retry_after`; 0 or a 2xx: no answer, or an answer without a final state). Held: the policy's delays,
// until deadline + hold_deadline whatever its attempts and max_age say.
struct NextPoll {
  int64_t due_ms = 0;
  std::string reason;
};
NextPoll nextPoll(const RetryPolicy& policy, int64_t polls, int64_t deadline_ms, int64_t now_ms,
                  int http_status, const std::string& retry_after, bool held, uint64_t hold_deadline_ms,
                  Random& rnd);

class Reconciler {
 public:
  // `store`, `client` and `clock` must outlive it. Nothing runs before start(). `tick_ms`: how often due
  // orders are claimed.
  Reconciler(uv_loop_t* loop, queue::RedisStore& store, http::Client& client, const Clock& clock,
             const config::Config& config, uint64_t tick_ms = 100);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Routes after a reload; polls in flight finish with the settings they started with.
  void setConfig(const config::Config& config);
  void start();
  // No new claims. Polls in flight still finish if the loop runs; those cut short are claimed again once
  // their lease has run out.
  void stop();

  // Polls by route and outcome (final, held, pending, failed, dead); null: not counted.
  void setMetrics(metrics::Family<metrics::Counter>* polls) { polls_metric_ = polls; }
  // Expected orders open and dead, as last counted (every few seconds); -1 before the first count.
  int64_t openCount() const { return open_; }
  int64_t deadCount() const { return dead_; }

 private:
  struct Route {
    std::shared_ptr<const handlers::StatusSource> source;
    RetryPolicy policy;
    std::vector<std::string> forward;
    uint64_t idempotency_ttl_s = 0;
  };
  struct Bucket {
    double tokens = 0;
    int64_t refilled_ms = 0;
    size_t in_flight = 0;
  };
  using Routes = std::map<std::string, Route>;

  void tick();
  void onClaimed(std::vector<queue::ClaimedExpectation> claimed);
  void poll(const std::shared_ptr<const Routes>& routes, queue::ClaimedExpectation c);
  void onAnswer(const std::shared_ptr<const Routes>& routes, const queue::ClaimedExpectation& c,
                http::ClientResponse answer);
  // Asks again later by the route's policy, or gives up.
  void retryOrBury(const Route& route, const queue::ClaimedExpectation& c, int http_status,
                   const std::string& retry_after, const std::string& last_status, const std::string& error,
                   bool held);
  void done(const queue::ClaimedExpectation& c, const char* outcome);
  void count();

  uv_loop_t* loop_;
  queue::RedisStore& store_;
  queue::Expectations expectations_;
  http::Client& client_;
  const Clock& clock_;
  uint64_t tick_ms_;
  uint64_t lease_ms_;
  std::shared_ptr<const Routes> routes_;
  std::map<std::string, Bucket> buckets_;
  metrics::Family<metrics::Counter>* polls_metric_ = nullptr;
  SodiumRandom random_;
  std::string instance_;  // makes claim tokens unique across processes
  uint64_t next_token_ = 0;
  int64_t open_ = -1;
  int64_t dead_ = -1;
  int64_t counted_ms_ = 0;
  bool claiming_ = false;
  bool counting_ = false;
  bool started_ = false;
  bool stopping_ = false;
  uv::Timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace payhook::delivery
