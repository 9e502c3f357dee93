// The delivery engine under faults, end to end: the real payhookd (one or two of them)
// and redis-server, the shop's app played by the in-process Sink. Retry delays must follow the route's
// policy (schedule, exponential, jitter, Retry-After), an exhausted job must end dead, and no event may be
// lost or delivered twice inside a lease when payhookd is killed, runs twice on one Redis, or Redis comes
// back empty.
//
// Only the event hash, the attempts list, {payhook}:leased and {payhook}:dead are read here, never the due
// set, whose layout is about to change. Timing asserts are bounds and ordering, not performance: a gap
// between attempts is at least the policy's delay and at most that plus the engine's 200 ms poll and a
// generous slack.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/webhook_signature.h"
#include "support/config_toml.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/signed_requests.h"
#include "support/sink.h"

namespace payhook::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A gap between two attempts seen by the sink may exceed the policy's delay by the engine's poll interval
// (200 ms), the answer's round trip and scheduling noise on a machine running two test binaries at once.
constexpr int64_t kGapSlackMs = 700;
// ... and fall short of it by rounding alone: the daemon's due times are whole Unix milliseconds.
constexpr int64_t kRoundingMs = 5;
// An attempt record's next_due - at is the attempt's own latency plus the delay: a few ms on loopback.
constexpr int64_t kRecordSlackMs = 300;

class DeliveryFaultsTest : public ::testing::Test {
 protected:
  // One target "orders" at `url` (plus `target_extra` lines), the demo Standard Webhooks route forwarding
  // to it with `retry`, and `delivery` lines for [delivery]. The target's circuit breaker is off: these
  // tests watch the retry policy alone (delivery_engine_test.cpp covers the breaker).
  DaemonOptions options(const std::string& url, const std::string& retry,
                        const std::string& target_extra = "timeout = \"5s\"\n",
                        const std::string& delivery = "") {
    DaemonOptions o;
    o.redis_url = redis_.url();
    o.delivery = delivery;
    o.targets = "\n[[targets]]\nname = \"orders\"\nurl = \"" + url +
                "\"\nsecret_file = \"secrets/orders.whsec\"\nbreaker_failures = 0\n" + target_extra;
    o.routes = demoRouteToml(retry);
    return o;
  }

  // Starts one more payhookd and waits until it is ready; null (with a failure) when it did not come up.
  DaemonProcess* launch(const DaemonOptions& o) {
    daemons_.push_back(std::make_unique<DaemonProcess>(o));
    DaemonProcess* d = daemons_.back().get();
    if (!d->start() || !d->waitReady(200, 15'000)) {
      ADD_FAILURE() << "payhookd did not become ready:\n" << d->logs();
      return nullptr;
    }
    return d;
  }

  void TearDown() override {
    for (auto& d : daemons_) {
      if (d->pid() <= 0) continue;
      ::kill(d->pid(), SIGCONT);  // a test may have stopped it
      EXPECT_EQ(d->stop(), 0) << tail(d->logs());
    }
  }

  // The tail of every daemon's log, for failure messages.
  std::string logs() const {
    std::string out;
    for (size_t i = 0; i < daemons_.size(); ++i)
      out += "\n--- payhookd #" + std::to_string(i) + " ---\n" + tail(daemons_[i]->logs());
    return out;
  }
  static std::string tail(const std::string& s, size_t n = 6'000) {
    return s.size() > n ? "..." + s.substr(s.size() - n) : s;
  }

  // A Standard Webhooks callback signed with the demo route's secret.
  static HttpResponse postCallback(const DaemonProcess& d, const std::string& msg_id) {
    return postStandardWebhook(d.address(), msg_id);
  }

  // Posts a callback that must be stored; returns its event id (empty on failure).
  std::string postStored(const DaemonProcess& d, const std::string& msg_id) {
    auto resp = postCallback(d, msg_id);
    EXPECT_EQ(resp.status, 204) << msg_id << ": " << resp.body << logs();
    return redis_.command({"GET", "{payhook}:idem:demo:" + msg_id}).str;
  }

  std::string field(const std::string& id, const std::string& name) {
    return redis_.command({"HGET", "{payhook}:ev:" + id, name}).str;
  }
  std::string state(const std::string& id) { return field(id, "state"); }

  // The states of many events, read by one script.
  std::vector<std::string> states(const std::vector<std::string>& ids) {
    std::vector<std::string> argv{
        "EVAL",
        "local out = {} for i, k in ipairs(KEYS) do out[i] = redis.call('HGET', k, 'state') or '' end "
        "return out",
        std::to_string(ids.size())};
    for (const auto& id : ids) argv.push_back("{payhook}:ev:" + id);
    std::vector<std::string> out;
    for (const auto& e : redis_.command(argv).elements) out.push_back(e.str);
    return out;
  }
  bool allIn(const std::vector<std::string>& ids, const std::string& s) {
    auto st = states(ids);
    return st.size() == ids.size() &&
           std::all_of(st.begin(), st.end(), [&](const auto& x) { return x == s; });
  }

  // The event's attempt records, oldest first.
  std::vector<json> attempts(const std::string& id) {
    std::vector<json> out;
    for (const auto& e : redis_.command({"LRANGE", "{payhook}:attempts:" + id, "0", "-1"}).elements)
      out.push_back(json::parse(e.str, nullptr, false));
    return out;
  }

  // Members of a sorted set that name the event ("<id>|<target>").
  size_t membersFor(const std::string& key, const std::string& id) {
    size_t n = 0;
    for (const auto& e : redis_.command({"ZRANGE", key, "0", "-1"}).elements)
      n += e.str.rfind(id + "|", 0) == 0;
    return n;
  }

  RedisServer redis_;
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
};

// The sink's hits of one event, in arrival order.
std::vector<SinkHit> hitsOf(const std::vector<SinkHit>& hits, const std::string& id) {
  std::vector<SinkHit> out;
  for (const auto& h : hits)
    if (h.webhookId() == id) out.push_back(h);
  return out;
}

// Gaps between consecutive hits: each at least steps[i] and below steps[i] + kGapSlackMs.
void expectGaps(const std::vector<SinkHit>& hits, const std::vector<int64_t>& steps) {
  ASSERT_EQ(hits.size(), steps.size() + 1);
  std::string seen;
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t gap = msBetween(hits[i].at, hits[i + 1].at);
    seen += " " + std::to_string(gap);
    EXPECT_GE(gap, steps[i] - kRoundingMs) << "gap " << i << " after attempt " << i + 1;
    EXPECT_LT(gap, steps[i] + kGapSlackMs) << "gap " << i << " after attempt " << i + 1;
  }
  std::cout << "[ gaps ms ]" << seen << "\n";
}

// The attempt records of a job retried with delays in [lo[i], hi[i]] and finished by its last record:
// numbered from 1, each retry's next_due is at + latency + delay, and the next attempt starts no earlier.
// Returns the delays (next_due - at) of the retries.
std::vector<int64_t> expectRetryRecords(const std::vector<json>& recs, const std::vector<int64_t>& lo,
                                        const std::vector<int64_t>& hi, const std::string& last_result) {
  std::vector<int64_t> delays;
  EXPECT_EQ(recs.size(), lo.size() + 1);
  if (recs.size() != lo.size() + 1) return delays;
  for (size_t i = 0; i < recs.size(); ++i) {
    const json& r = recs[i];
    EXPECT_TRUE(r.is_object()) << r.dump();
    EXPECT_EQ(r.value("attempt", 0), static_cast<int>(i + 1)) << r.dump();
    EXPECT_EQ(r.value("target", ""), "orders") << r.dump();
    if (i + 1 == recs.size()) {
      EXPECT_EQ(r.value("result", ""), last_result) << r.dump();
      EXPECT_FALSE(r.contains("next_due")) << r.dump();
      continue;
    }
    EXPECT_EQ(r.value("result", ""), "retry") << r.dump();
    const int64_t at = r.value("at", int64_t{0});
    const int64_t due = r.value("next_due", int64_t{0});
    delays.push_back(due - at);
    EXPECT_GE(due - at, lo[i]) << r.dump();
    EXPECT_LE(due - at, hi[i] + kRecordSlackMs) << r.dump();
    EXPECT_GE(recs[i + 1].value("at", int64_t{0}), due)
        << "attempt " << i + 2 << " started before it was due";
  }
  return delays;
}

// An event whose stored parts do not decode (queue/event_record.h) is buried with that reason at its first
// claim: never sent with empty fields, never retried, and the events around it are delivered.
TEST_F(DeliveryFaultsTest, AnEventThatCannotBeReadIsBuriedWithTheReason) {
  const std::string now = std::to_string(std::time(nullptr) * 1000LL);
  redis_.command(
      {"HSET", "{payhook}:ev:damaged", "e", "12:cut short", "state", "pending", "targets", "orders"});
  redis_.command({"ZADD", "{payhook}:due:orders", now, "damaged|orders"});
  redis_.command({"ZADD", "{payhook}:events", now, "damaged"});
  Sink sink({200});
  auto* d = launch(options(sink.url(), R"(retry = { schedule = ["100ms"] })"));
  ASSERT_NE(d, nullptr);
  const std::string id = postStored(*d, "msg_faults_after_damaged");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(waitFor([&] { return state("damaged") == "dead" && state(id) == "delivered"; }, 10'000))
      << state("damaged") << " " << state(id) << logs();
  EXPECT_NE(field("damaged", "reason:orders").find("could not be read"), std::string::npos)
      << field("damaged", "reason:orders");
  EXPECT_EQ(field("damaged", "attempts:orders"), "1");
  ASSERT_EQ(sink.hits().size(), 1u);  // only the readable event reached the app
}

TEST_F(DeliveryFaultsTest, ScheduledDelaysGrowBetweenFailedAttempts) {
  Sink sink({500, 503, 502, 200});
  auto* d =
      launch(options(sink.url(), R"(retry = { schedule = ["300ms", "600ms", "1200ms"], jitter = 0.0 })"));
  ASSERT_NE(d, nullptr);
  const std::string id = postStored(*d, "msg_faults_schedule");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(waitFor([&] { return state(id) == "delivered"; }, 15'000)) << state(id) << logs();

  auto hits = sink.hits();
  ASSERT_EQ(hits.size(), 4u) << logs();
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_EQ(hits[i].webhookId(), id);
    EXPECT_EQ(json::parse(hits[i].request.body, nullptr, false).value("attempt", 0), static_cast<int>(i + 1));
  }
  expectGaps(hits, {300, 600, 1200});

  auto recs = attempts(id);
  expectRetryRecords(recs, {300, 600, 1200}, {300, 600, 1200}, "delivered");
  const int statuses[] = {500, 503, 502, 200};
  for (size_t i = 0; i < recs.size() && i < 4; ++i) EXPECT_EQ(recs[i].value("status", 0), statuses[i]);
  EXPECT_EQ(field(id, "attempts:orders"), "4");
  EXPECT_EQ(field(id, "status:orders"), "delivered");
}

TEST_F(DeliveryFaultsTest, ExponentialBackoffDoublesUpToMaxInterval) {
  Sink sink({500, 500, 500, 500, 200});
  auto* d =
      launch(options(sink.url(), R"(retry = { backoff = "exponential", initial = "200ms", multiplier = 2.0, )"
                                 R"(max_interval = "1s", max_attempts = 5, jitter = 0.0 })"));
  ASSERT_NE(d, nullptr);
  const std::string id = postStored(*d, "msg_faults_exponential");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(waitFor([&] { return state(id) == "delivered"; }, 15'000)) << state(id) << logs();

  // 200, 400, 800, then 1600 capped at 1000; the fifth and last allowed attempt succeeds.
  auto hits = sink.hits();
  ASSERT_EQ(hits.size(), 5u) << logs();
  expectGaps(hits, {200, 400, 800, 1000});
  expectRetryRecords(attempts(id), {200, 400, 800, 1000}, {200, 400, 800, 1000}, "delivered");
}

TEST_F(DeliveryFaultsTest, JitterSpreadsDelaysWithinItsBounds) {
  Sink sink({500, 500, 500, 500, 500, 200});
  auto* d = launch(options(
      sink.url(), R"(retry = { schedule = ["400ms", "400ms", "400ms", "400ms", "400ms"], jitter = 0.5 })"));
  ASSERT_NE(d, nullptr);
  const std::string id = postStored(*d, "msg_faults_jitter");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(waitFor([&] { return state(id) == "delivered"; }, 15'000)) << state(id) << logs();

  // Each delay is uniform in [200, 600] ms.
  auto hits = sink.hits();
  ASSERT_EQ(hits.size(), 6u) << logs();
  std::string seen;
  for (size_t i = 0; i + 1 < hits.size(); ++i) {
    const int64_t gap = msBetween(hits[i].at, hits[i + 1].at);
    seen += " " + std::to_string(gap);
    EXPECT_GE(gap, 200 - kRoundingMs) << "gap " << i;
    EXPECT_LT(gap, 600 + kGapSlackMs) << "gap " << i;
  }
  std::cout << "[ gaps ms ]" << seen << "\n";
  const std::vector<int64_t> lo(5, 200), hi(5, 600);
  auto delays = expectRetryRecords(attempts(id), lo, hi, "delivered");
  ASSERT_EQ(delays.size(), 5u);
  // Without jitter the five delays would be 400 ms plus a few ms of latency each; five uniform draws from a
  // 400 ms range all within 40 ms of each other happen about once in 10^4 runs.
  const auto [mn, mx] = std::minmax_element(delays.begin(), delays.end());
  EXPECT_GT(*mx - *mn, 40) << "the delays do not look jittered";
}

TEST_F(DeliveryFaultsTest, RetryAfterOf429And503IsHonouredAndCappedByMaxInterval) {
  Sink sink(std::vector<SinkReply>{{429, {{"retry-after", "1"}}}, {503, {{"retry-after", "30"}}}, {200, {}}});
  // The policy alone would retry after 100 ms; max_interval caps the 30 s asked for by the 503.
  auto* d =
      launch(options(sink.url(), R"(retry = { backoff = "exponential", initial = "100ms", multiplier = 1.0, )"
                                 R"(max_interval = "1500ms", max_attempts = 5, jitter = 0.0 })"));
  ASSERT_NE(d, nullptr);
  const std::string id = postStored(*d, "msg_faults_retry_after");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(waitFor([&] { return state(id) == "delivered"; }, 15'000)) << state(id) << logs();

  auto hits = sink.hits();
  ASSERT_EQ(hits.size(), 3u) << logs();
  expectGaps(hits, {1000, 1500});
  auto recs = attempts(id);
  expectRetryRecords(recs, {1000, 1500}, {1000, 1500}, "delivered");
  if (recs.size() == 3) {
    EXPECT_EQ(recs[0].value("status", 0), 429);
    EXPECT_EQ(recs[1].value("status", 0), 503);
  }
}

TEST_F(DeliveryFaultsTest, ATargetThatNeverAnswersTimesOutAndIsRetried) {
  Sink sink({200});
  sink.hold();
  auto* d =
      launch(options(sink.url(), R"(retry = { schedule = ["500ms"], jitter = 0.0 })", "timeout = \"1s\"\n"));
  ASSERT_NE(d, nullptr);
  const std::string id = postStored(*d, "msg_faults_timeout");
  ASSERT_FALSE(id.empty());
  // The first attempt hangs until the target's timeout; then the sink answers again, and the retry succeeds.
  ASSERT_TRUE(waitFor([&] { return attempts(id).size() == 1; }, 10'000)) << logs();
  sink.release();
  ASSERT_TRUE(waitFor([&] { return state(id) == "delivered"; }, 10'000)) << state(id) << logs();

  auto hits = sink.hits();
  ASSERT_EQ(hits.size(), 2u) << logs();
  // The retry comes after the timeout plus the schedule's delay.
  EXPECT_GE(msBetween(hits[0].at, hits[1].at), 1000 + 500 - kRoundingMs);
  EXPECT_LT(msBetween(hits[0].at, hits[1].at), 1000 + 500 + kGapSlackMs);
  auto recs = attempts(id);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].value("status", -1), 0) << recs[0].dump();
  EXPECT_NE(recs[0].value("error", ""), "") << recs[0].dump();
  EXPECT_GE(recs[0].value("latency_ms", 0.0), 950.0) << recs[0].dump();
  EXPECT_EQ(recs[0].value("result", ""), "retry") << recs[0].dump();
  EXPECT_EQ(recs[1].value("status", 0), 200) << recs[1].dump();
}

TEST_F(DeliveryFaultsTest, ExhaustedAttemptsBuryTheJob) {
  // Nothing listens on the target's port: every attempt is a connection error.
  const std::string url = "http://127.0.0.1:" + std::to_string(freeTcpPort()) + "/events";
  auto* d = launch(options(url,
                           R"(retry = { backoff = "exponential", initial = "100ms", multiplier = 2.0, )"
                           R"(max_interval = "1s", max_attempts = 3, jitter = 0.0 })",
                           "timeout = \"1s\"\n"));
  ASSERT_NE(d, nullptr);
  const std::string id = postStored(*d, "msg_faults_exhausted");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(waitFor([&] { return state(id) == "dead"; }, 10'000)) << state(id) << logs();

  EXPECT_EQ(field(id, "status:orders"), "dead");
  EXPECT_EQ(field(id, "attempts:orders"), "3");
  EXPECT_EQ(membersFor("{payhook}:dead", id), 1u);
  EXPECT_EQ(membersFor("{payhook}:leased", id), 0u);
  // No fourth attempt, however long one waits past the last delay.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto recs = attempts(id);
  expectRetryRecords(recs, {100, 200}, {100, 200}, "dead");
  for (const auto& r : recs) {
    EXPECT_EQ(r.value("status", -1), 0) << r.dump();
    EXPECT_NE(r.value("error", ""), "") << r.dump();
  }
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_NE(recs[2].value("reason", "").find("exhausted"), std::string::npos) << recs[2].dump();
  EXPECT_EQ(state(id), "dead");
}

TEST_F(DeliveryFaultsTest, KillDuringDeliveryLosesNothingAndRepeatsOnlyTheJobsInFlight) {
  constexpr int kEvents = 20;
  constexpr int64_t kLeaseMs = 7'200;  // the shortest the config allows with a 2 s target timeout
  Sink sink({200});
  sink.hold();
  // max_in_flight 8: some jobs are in flight at the kill, the others still due.
  const auto o = options(sink.url(), R"(retry = { schedule = ["300ms", "300ms", "300ms"], jitter = 0.0 })",
                         "timeout = \"2s\"\nmax_in_flight = 8\n",
                         "lease_timeout = \"7200ms\"\nsweep_interval = \"300ms\"\n");
  auto* d = launch(o);
  ASSERT_NE(d, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < kEvents; ++i) ids.push_back(postStored(*d, "msg_faults_kill_" + std::to_string(i)));
  ASSERT_EQ(std::count(ids.begin(), ids.end(), std::string()), 0);
  ASSERT_TRUE(waitFor([&] { return sink.count() >= 8; }, 5'000)) << sink.count() << logs();

  ASSERT_EQ(d->stop(SIGKILL), 128 + SIGKILL);
  const auto killed = Clock::now();
  const auto before = sink.hits();
  std::set<std::string> in_flight;
  for (const auto& h : before) in_flight.insert(h.webhookId());
  sink.release();  // the killed daemon's connections are gone; from now on the sink answers 200 at once

  // The same config again: the jobs that were due go out at once, the leased ones once their lease expired.
  ASSERT_TRUE(d->start()) << logs();
  ASSERT_TRUE(d->waitReady(200, 15'000)) << logs();
  ASSERT_TRUE(waitFor([&] { return allIn(ids, "delivered"); }, 25'000)) << logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // room for a wrong extra delivery

  const auto hits = sink.hits();
  size_t duplicates = 0;
  for (const auto& id : ids) {
    auto mine = hitsOf(hits, id);
    size_t after = 0;
    for (const auto& h : mine) after += h.at > killed;
    EXPECT_EQ(after, 1u) << id << ": exactly one delivery after the restart";
    if (in_flight.count(id)) {
      ++duplicates;
      ASSERT_EQ(mine.size(), 2u) << id << " was in flight at the kill";
      // Its lease was respected: the retry came no earlier than the lease's expiry (the claim happened
      // shortly before the first hit).
      EXPECT_GE(msBetween(mine[0].at, mine[1].at), kLeaseMs - 1'000) << id;
      EXPECT_EQ(field(id, "attempts:orders"), "2") << id;
    } else {
      EXPECT_EQ(mine.size(), 1u) << id << " was not in flight at the kill";
    }
  }
  std::cout << "[ kill -9 ] in flight at the kill (delivered twice): " << duplicates << " of " << kEvents
            << "; sink hits: " << hits.size() << "\n";
  EXPECT_GE(duplicates, 1u);
  EXPECT_EQ(hits.size(), static_cast<size_t>(kEvents) + duplicates);
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:leased"}).integer, 0);
}

TEST_F(DeliveryFaultsTest, TwoInstancesOnOneRedisDeliverEachEventExactlyOnce) {
  constexpr int kEvents = 200;
  // The app takes 100 ms per answer and each instance sends at most 16 at a time, so one instance alone
  // would need 1.25 s at least: the backlog outlives several polls of both, and both claim from it (and
  // give back what they cannot send at once) concurrently.
  Sink sink(std::vector<SinkReply>{{200, {}, 100}});
  const auto o = options(sink.url(), R"(retry = { schedule = ["300ms"], jitter = 0.0 })",
                         "timeout = \"5s\"\nmax_in_flight = 16\n");
  auto* a = launch(o);
  auto* b = launch(o);
  ASSERT_TRUE(a && b);
  std::vector<std::string> ids;
  for (int i = 0; i < kEvents; ++i)
    ids.push_back(postStored(i % 2 ? *b : *a, "msg_faults_two_" + std::to_string(i)));
  ASSERT_EQ(std::count(ids.begin(), ids.end(), std::string()), 0);
  ASSERT_TRUE(waitFor([&] { return allIn(ids, "delivered"); }, 30'000)) << logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // room for a late duplicate

  auto counts = sink.idCounts();
  EXPECT_EQ(sink.count(), static_cast<size_t>(kEvents));
  for (const auto& id : ids) EXPECT_EQ(counts[id], 1) << id;
  auto delivered_by = [](const DaemonProcess& d) {
    const std::string logs = d.logs();
    size_t n = 0;
    for (size_t p = logs.find("\"outcome\":\"delivered\""); p != std::string::npos;
         p = logs.find("\"outcome\":\"delivered\"", p + 1))
      ++n;
    return n;
  };
  const size_t by_a = delivered_by(*a), by_b = delivered_by(*b);
  std::cout << "[ two instances ] delivered by a: " << by_a << ", by b: " << by_b << "\n";
  EXPECT_EQ(by_a + by_b, static_cast<size_t>(kEvents));
  EXPECT_GT(by_a, 0u) << "both instances should take part";
  EXPECT_GT(by_b, 0u) << "both instances should take part";
}

TEST_F(DeliveryFaultsTest, RedisRestartedEmptyTheDaemonKeepsWorking) {
  Sink sink({200});
  auto* d = launch(options(sink.url(), R"(retry = { schedule = ["300ms"], jitter = 0.0 })"));
  ASSERT_NE(d, nullptr);
  const std::string first = postStored(*d, "msg_faults_before");
  ASSERT_TRUE(waitFor([&] { return state(first) == "delivered"; })) << logs();
  // One more delivery is in flight when Redis goes away.
  sink.hold();
  const std::string in_flight = postStored(*d, "msg_faults_in_flight");
  ASSERT_TRUE(waitFor([&] { return sink.count() == 2; })) << logs();

  redis_.stop();
  redis_.wipe();
  ASSERT_TRUE(d->waitReady(503, 10'000)) << logs();
  // Nothing may be acknowledged while it cannot be stored.
  const auto refused = postCallback(*d, "msg_faults_during");
  EXPECT_TRUE(refused.status < 200 || refused.status > 299) << refused.status << " " << refused.body;
  // The attempt in flight ends while Redis is away, so recording it fails.
  sink.release();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  redis_.start();
  EXPECT_EQ(redis_.command({"EXISTS", "{payhook}:ev:" + first}).integer, 0) << "Redis should be back empty";
  ASSERT_TRUE(d->waitReady(200, 15'000)) << logs();

  // A new callback, and the provider's retry of the refused one, are stored and delivered.
  const std::string after = postStored(*d, "msg_faults_after");
  const std::string retried = postStored(*d, "msg_faults_during");
  ASSERT_FALSE(after.empty());
  ASSERT_FALSE(retried.empty());
  ASSERT_TRUE(waitFor([&] { return allIn({after, retried}, "delivered"); })) << logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // room for a wrong extra delivery
  auto counts = sink.idCounts();
  EXPECT_EQ(counts[first], 1);
  EXPECT_EQ(counts[in_flight], 1) << "its event is gone with Redis' data";
  EXPECT_EQ(counts[after], 1);
  EXPECT_EQ(counts[retried], 1);
  EXPECT_EQ(sink.count(), 4u);
}

TEST_F(DeliveryFaultsTest, AKilledInstancesLeasedJobsAreDeliveredByTheOtherAfterTheLease) {
  constexpr int kEvents = 6;
  constexpr int64_t kLeaseMs = 7'200;  // the shortest the config allows with a 2 s target timeout
  Sink sink({200});
  sink.hold();
  const auto o = options(sink.url(), R"(retry = { schedule = ["300ms", "300ms"], jitter = 0.0 })",
                         "timeout = \"2s\"\n", "lease_timeout = \"7200ms\"\nsweep_interval = \"300ms\"\n");
  auto* a = launch(o);
  auto* b = launch(o);
  ASSERT_TRUE(a && b);
  // b is frozen while the events arrive, so a claims all of them; b runs again once a is dead.
  ASSERT_EQ(::kill(b->pid(), SIGSTOP), 0);
  std::vector<std::string> ids;
  for (int i = 0; i < kEvents; ++i) ids.push_back(postStored(*a, "msg_faults_takeover_" + std::to_string(i)));
  ASSERT_EQ(std::count(ids.begin(), ids.end(), std::string()), 0);
  ASSERT_TRUE(waitFor([&] { return sink.count() >= static_cast<size_t>(kEvents); }, 5'000)) << logs();
  ASSERT_EQ(a->stop(SIGKILL), 128 + SIGKILL);
  ASSERT_EQ(::kill(b->pid(), SIGCONT), 0);
  sink.release();
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:leased"}).integer, kEvents) << "a's leases outlive it";

  // b is alive and delivering meanwhile: a new event goes out at once, while a's jobs wait for their lease.
  const std::string fresh = postStored(*b, "msg_faults_takeover_fresh");
  ASSERT_TRUE(waitFor([&] { return state(fresh) == "delivered"; }, 5'000)) << logs();

  ASSERT_TRUE(waitFor([&] { return allIn(ids, "delivered"); }, 20'000)) << logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // room for a wrong extra delivery
  const auto hits = sink.hits();
  for (const auto& id : ids) {
    auto mine = hitsOf(hits, id);
    ASSERT_EQ(mine.size(), 2u) << id << ": once from a (unanswered), once from b";
    EXPECT_TRUE(mine[0].held);
    const int64_t gap = msBetween(mine[0].at, mine[1].at);
    EXPECT_GE(gap, kLeaseMs - 1'000) << id << ": b took the job before a's lease expired";
    EXPECT_LT(gap, kLeaseMs + 3'000) << id;
    EXPECT_EQ(field(id, "attempts:orders"), "2") << id;
    EXPECT_NE(b->logs().find(id), std::string::npos) << id << " not in b's log";
  }
  EXPECT_EQ(hits.size(), static_cast<size_t>(2 * kEvents + 1));
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:leased"}).integer, 0);
}

}  // namespace
}  // namespace payhook::testing
