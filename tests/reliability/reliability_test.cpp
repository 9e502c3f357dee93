// The ledger scenarios. Each runs the real payhookd against a real redis-server (AOF on)
// and an in-process app, under load from LoadGenerator, breaks something, lets the queue settle, and
// reconciles what was acknowledged with what the app received and what Redis holds (ledger.h has the
// definitions). Every scenario prints one ledger line and its timing facts, and asserts 0 lost, 0 false
// acks, nothing stuck or dead, and no duplicate that an expired lease or a lost answer does not explain.
//
// Durations come from the environment, so one binary serves both runs:
//   PAYHOOK_RELIABILITY=short  (default; inside `make test`, label integration): 3 kill rounds, Redis down
//                              3 s, the app down 5 s; about a minute in all.
//   PAYHOOK_RELIABILITY=full   (`make test-reliability`, label reliability): the full figures, 20 kill
//                              rounds, Redis down 30 s, the app down 60 s.
// and each figure can be overridden: PAYHOOK_REL_RATE (requests/s), PAYHOOK_REL_THREADS,
// PAYHOOK_REL_KILL_ROUNDS, PAYHOOK_REL_KILL_EVERY_MS, PAYHOOK_REL_REDIS_DOWN_MS, PAYHOOK_REL_SINK_DOWN_MS,
// PAYHOOK_REL_SETTLE_MS, PAYHOOK_REL_READY_MS (how soon payhookd must be ready after Redis returns).
// PAYHOOK_LEDGER_OUT names a file that gets one Markdown table row per scenario (docs/reliability.md is made
// from it).
#include <signal.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/sink.h"
#include "support/store_inspect.h"
#include "tests/reliability/ledger.h"
#include "tests/reliability/ledger_check.h"
#include "tests/reliability/ledger_sink.h"
#include "tests/reliability/load_generator.h"

namespace payhook::reliability {
namespace {

using std::chrono::milliseconds;
using testing::DaemonOptions;
using testing::DaemonProcess;
using testing::RedisReply;
using testing::RedisServer;
using testing::waitFor;

// The daemon's settings that bound how fast a scenario settles, and the duplicate bounds below.
constexpr int kMaxInFlight = 64;        // per target: at most this many attempts are abandoned at once
constexpr int kLeaseTimeoutMs = 6'500;  // target timeout 1 s + the 5 s margin config.cpp requires
constexpr uint64_t kAppLatencyMs = 20;  // the app's answer time: attempts are in flight when a kill comes

struct Params {
  bool full = false;
  double rate = 500;
  int threads = 4;
  int warmup_ms = 1'000;  // load before the trouble starts
  int after_ms = 2'000;   // load after it ended
  int kill_rounds = 3;
  int kill_every_ms = 1'500;
  int redis_down_ms = 3'000;
  int sink_down_ms = 5'000;
  int two_load_ms = 5'000;  // two instances: load in all; one is killed at half of it
  int settle_ms = 30'000;
  // The issue asks for ready within 1 s of Redis' return; RedisStore's reconnect backoff is capped at
  // 500 ms (queue/redis_event_store.h, reconnect_max_ms) so that it holds after any outage, short or long.
  int ready_ms = 1'000;
  unsigned seed = 0;  // of the kill intervals; PAYHOOK_REL_SEED repeats a run's
};

Params params() {
  Params p;
  const char* mode = std::getenv("PAYHOOK_RELIABILITY");
  p.full = mode && std::string(mode) == "full";
  if (p.full) {
    p.rate = 1'000;
    p.warmup_ms = 3'000;
    p.after_ms = 5'000;
    p.kill_rounds = 20;
    p.kill_every_ms = 3'000;
    p.redis_down_ms = 30'000;
    p.sink_down_ms = 60'000;
    p.two_load_ms = 20'000;
    p.settle_ms = 120'000;
    p.ready_ms = 1'000;
  }
  p.rate = envInt("PAYHOOK_REL_RATE", static_cast<int>(p.rate));
  p.threads = envInt("PAYHOOK_REL_THREADS", p.threads);
  p.kill_rounds = envInt("PAYHOOK_REL_KILL_ROUNDS", p.kill_rounds);
  p.kill_every_ms = envInt("PAYHOOK_REL_KILL_EVERY_MS", p.kill_every_ms);
  p.redis_down_ms = envInt("PAYHOOK_REL_REDIS_DOWN_MS", p.redis_down_ms);
  p.sink_down_ms = envInt("PAYHOOK_REL_SINK_DOWN_MS", p.sink_down_ms);
  p.settle_ms = envInt("PAYHOOK_REL_SETTLE_MS", p.settle_ms);
  p.ready_ms = envInt("PAYHOOK_REL_READY_MS", p.ready_ms);
  p.seed = static_cast<unsigned>(
      envInt("PAYHOOK_REL_SEED", static_cast<int>(std::random_device{}() & 0x7fffffff)));
  return p;
}

class Reliability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }

  Reliability() : p_(params()) {}

  std::string name() const { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

  // A new payhookd on the shared Redis, delivering to the ledger app; started and ready.
  DaemonProcess& startDaemon() {
    DaemonOptions o = ledgerDaemonOptions(redis_.url(), sink_, kMaxInFlight);
    daemons_.push_back(std::make_unique<DaemonProcess>(o));
    DaemonProcess& d = *daemons_.back();
    EXPECT_TRUE(d.start()) << d.logs();
    EXPECT_TRUE(d.waitReady(200, 10'000)) << d.logs();
    return d;
  }

  // Starts a killed instance again (same ports and config); the ms until it is ready.
  int64_t restart(DaemonProcess& d) {
    const auto t = SteadyClock::now();
    EXPECT_TRUE(d.start()) << d.logs();
    EXPECT_TRUE(d.waitReady(200, 10'000)) << d.logs();
    return since(t, SteadyClock::now()).count();
  }

  LoadGenerator load(std::vector<std::string> addresses) {
    LoadOptions o;
    o.addresses = std::move(addresses);
    o.secret = DaemonProcess::kDemoSecret;
    o.id_prefix = name();
    o.threads = p_.threads;
    o.rate = p_.rate;
    return LoadGenerator(o);
  }

  long long leased() { return redis_.command({"ZCARD", "{payhook}:leased"}).integer; }
  // The leases in Redis now, as "<job>@<expiry>": a job claimed again gets a new expiry, so the same string
  // seen after two kills is one lease, not two.
  std::set<std::string> leases() {
    std::set<std::string> out;
    auto r = redis_.command({"ZRANGE", "{payhook}:leased", "0", "-1", "WITHSCORES"});
    for (size_t i = 0; i + 1 < r.elements.size(); i += 2)
      out.insert(r.elements[i].str + "@" + r.elements[i + 1].str);
    return out;
  }
  long long dead() { return redis_.command({"ZCARD", "{payhook}:dead"}).integer; }

  // True when Redis holds a lease that is not in `abandoned` (the live processes hold it).
  bool liveLease(const std::set<std::string>& abandoned) {
    for (const auto& l : leases())
      if (!abandoned.count(l)) return true;
    return false;
  }

  LedgerCheck check() {
    LedgerCheck c;
    c.name = name();
    c.redis = [this](const std::vector<std::string>& argv) { return redis_.command(argv); };
    c.sink = &sink_;
    c.logs = [this] {
      std::vector<std::string> out;
      for (const auto& d : daemons_) out.push_back(d->logs());
      return out;
    };
    c.t0 = t0_;
    c.settle_ms = p_.settle_ms;
    return c;
  }
  int64_t settle(const std::vector<Send>& sends) { return check().settle(sends); }
  LedgerReport finish(const std::vector<Send>& sends, std::vector<Window> redis_down, int64_t settled_ms,
                      size_t dup_bound, std::vector<std::string> facts) {
    return check().finish(sends, std::move(redis_down), settled_ms, dup_bound, std::move(facts));
  }

  Params p_;
  RedisServer redis_;
  LedgerSink sink_{kAppLatencyMs};
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
  TimePoint t0_ = SteadyClock::now();
};

// kill -9 of payhookd every few seconds under load, restarted each time. What was acknowledged before a
// kill is in Redis (the 2xx follows the store), and the attempts the dead process had in flight go out
// again once their leases expire: duplicates, at most max_in_flight per kill.
TEST_F(Reliability, Kill9UnderLoad) {
  DaemonProcess& d = startDaemon();
  LoadGenerator gen = load({d.address()});
  gen.start();
  sleepMs(p_.warmup_ms);
  int64_t restart_max = 0, restart_sum = 0;
  std::set<std::string> abandoned;  // leases the killed processes held
  // Kills at a fixed period would fall at the same phase of the engine's 200 ms claim cycle every round
  // (the restart takes a constant 20 ms), always in its idle part or always in its busy one; a random
  // interval of 0.5 to 1.5 periods lands anywhere.
  std::mt19937 rng(p_.seed);
  std::uniform_int_distribution<int> interval(p_.kill_every_ms / 2, p_.kill_every_ms * 3 / 2);
  int targeted = 0;  // kills that waited for an attempt in flight and found one
  for (int round = 0; round < p_.kill_rounds; ++round) {
    // Every other kill waits (up to 1 s) until the live process holds a lease, so kills land in the middle
    // of attempts however the random ones fall.
    if (round % 2 == 1) targeted += waitFor([&] { return liveLease(abandoned); }, 1'000);
    d.stop(SIGKILL);
    // What the killed process held: every lease in Redis now that an earlier kill did not leave behind.
    size_t fresh = 0;
    for (const auto& l : leases()) fresh += abandoned.insert(l).second;
    EXPECT_LE(fresh, static_cast<size_t>(kMaxInFlight)) << "one process held more leases than max_in_flight";
    const int64_t ms = restart(d);
    restart_max = std::max(restart_max, ms);
    restart_sum += ms;
    sleepMs(interval(rng));
  }
  gen.stop();
  const auto sends = gen.sends();
  const int64_t settled = settle(sends);
  // Each duplicate is an attempt whose lease a kill abandoned, so there are at most as many as leases.
  finish(sends, {}, settled, abandoned.size(),
         {std::to_string(p_.kill_rounds) + " kills, one every " +
              seconds(milliseconds(p_.kill_every_ms / 2)) + " to " +
              seconds(milliseconds(p_.kill_every_ms * 3 / 2)) + " (seed " + std::to_string(p_.seed) + ")",
          "restart to ready: mean " + std::to_string(restart_sum / std::max(1, p_.kill_rounds)) +
              " ms, max " + std::to_string(restart_max) + " ms",
          std::to_string(targeted) + " of " + std::to_string(p_.kill_rounds / 2) +
              " kills timed to an attempt in flight found one",
          "leases abandoned by the kills: " + std::to_string(abandoned.size())});
}

// Redis stopped (SIGTERM) under load for redis_down_ms and started again. While it is down no request
// may get a 2xx; once it answers PING, payhookd must be ready within ready_ms.
TEST_F(Reliability, RedisDownUnderLoad) {
  DaemonProcess& d = startDaemon();
  LoadGenerator gen = load({d.address()});
  gen.start();
  sleepMs(p_.warmup_ms);

  redis_.stop();
  const auto down = SteadyClock::now();
  const bool saw_503 = d.waitReady(503, 5'000);
  const auto not_ready = SteadyClock::now();
  std::this_thread::sleep_until(down + milliseconds(p_.redis_down_ms));
  const auto restart = SteadyClock::now();
  redis_.start();
  const auto up = SteadyClock::now();  // answers PING
  const bool ready = d.waitReady(200, 30'000);
  const auto ready_at = SteadyClock::now();
  sleepMs(p_.after_ms);
  gen.stop();
  const auto sends = gen.sends();
  const int64_t settled = settle(sends);

  size_t during = 0, during_2xx = 0;
  TimePoint first_2xx = TimePoint::max();
  for (const Send& s : sends) {
    if (s.sent >= down && s.answered <= restart) {
      ++during;
      during_2xx += is2xx(s.status);
    }
    if (is2xx(s.status) && s.sent >= down && s.answered >= up) first_2xx = std::min(first_2xx, s.answered);
  }
  const int64_t ready_ms = since(up, ready_at).count();
  finish(sends, {{down, restart}}, settled, kMaxInFlight,
         {"Redis down " + seconds(since(down, restart)),
          "/readyz 503 " + std::to_string(since(down, not_ready).count()) + " ms after Redis stopped",
          std::to_string(during) + " requests wholly inside the outage, " + std::to_string(during_2xx) +
              " of them 2xx",
          "ready " + std::to_string(ready_ms) + " ms after Redis answered PING",
          "first 2xx " +
              (first_2xx == TimePoint::max() ? std::string("never")
                                             : std::to_string(since(up, first_2xx).count()) + " ms") +
              " after it"});
  EXPECT_TRUE(saw_503) << "/readyz never said 503 while Redis was down";
  EXPECT_TRUE(ready) << d.logs();
  if (ready_ms > p_.ready_ms) {
    std::string redis_lines;  // the store's own account of the outage, with timestamps
    std::istringstream logs(d.logs());
    for (std::string line; std::getline(logs, line);)
      if (line.find("redis:") != std::string::npos) redis_lines += "\n  " + line;
    ADD_FAILURE() << "payhookd was ready " << ready_ms << " ms after Redis answered PING (bound "
                  << p_.ready_ms << " ms); Redis stopped at +" << since(t0_, down).count()
                  << " ms, started at +" << since(t0_, restart).count() << " ms, answered PING at +"
                  << since(t0_, up).count() << " ms, ready at +" << since(t0_, ready_at).count() << " ms"
                  << redis_lines;
  }
}

// The app down (connection refused) under load for sink_down_ms, then up: every event goes out on the
// backoff once it is back, none is stuck or dead. Duplicates only for attempts whose answer the closing
// app never sent.
TEST_F(Reliability, SinkDownUnderLoad) {
  DaemonProcess& d = startDaemon();
  LoadGenerator gen = load({d.address()});
  gen.start();
  sleepMs(p_.warmup_ms);
  sink_.down();
  const auto down = SteadyClock::now();
  sleepMs(p_.sink_down_ms);
  const long long backlog = testing::queuedJobCount(redis_);
  sink_.up();
  const auto up = SteadyClock::now();
  sleepMs(p_.after_ms);
  gen.stop();
  const auto sends = gen.sends();
  const int64_t settled = settle(sends);

  TimePoint first = TimePoint::max();
  sink_.firstAfter(up, &first);
  // When the last event that was waiting at `up` arrived: the backlog drained.
  std::unordered_map<std::string, TimePoint> first_delivery;
  for (const Delivery& x : sink_.deliveries()) first_delivery.emplace(x.ledger_id, x.at);
  TimePoint drained = up;
  for (const Send& s : sends)
    if (is2xx(s.status) && s.answered < up && first_delivery.count(s.id))
      drained = std::max(drained, first_delivery[s.id]);
  finish(sends, {}, settled, kMaxInFlight,
         {"app down " + seconds(since(down, up)), std::to_string(backlog) + " jobs waiting when it came back",
          "first delivery " + (first == TimePoint::max() ? std::string("never") : seconds(since(up, first))) +
              " after it came back",
          "backlog delivered " + seconds(since(up, drained)) + " after it came back"});
}

// Two payhookd on one Redis sharing the load; one is killed (-9) halfway and stays dead. Its clients fail
// over to the other, and the other delivers the dead one's leased jobs once their leases expire.
TEST_F(Reliability, TwoInstancesOneKilled) {
  DaemonProcess& a = startDaemon();
  DaemonProcess& b = startDaemon();
  LoadGenerator gen = load({a.address(), b.address()});
  gen.start();
  // Somewhere in the middle, not at a fixed phase of the claim cycle (see Kill9UnderLoad).
  std::mt19937 rng(p_.seed);
  const int kill_at = std::uniform_int_distribution<int>(p_.two_load_ms / 4, p_.two_load_ms * 3 / 4)(rng);
  sleepMs(kill_at);
  const bool in_flight = waitFor([&] { return leased() > 0; }, 1'000);  // as in Kill9UnderLoad
  a.stop(SIGKILL);
  const auto killed = SteadyClock::now();
  const long long leased_at_kill = leased();
  sleepMs(p_.two_load_ms - kill_at);
  gen.stop();
  const auto sends = gen.sends();
  const int64_t settled = settle(sends);

  size_t to_a = 0, to_b = 0;
  for (const Send& s : sends) (s.instance == 0 ? to_a : to_b) += 1;
  // The killed instance's attempts come back as later attempts once the lease expires.
  TimePoint last_redelivery = killed;
  for (const Delivery& x : sink_.deliveries())
    if (x.attempt > 1 && x.at > killed) last_redelivery = std::max(last_redelivery, x.at);
  finish(sends, {}, settled, kMaxInFlight,
         {"requests to the killed/surviving instance: " + std::to_string(to_a) + "/" + std::to_string(to_b),
          "killed at " + seconds(milliseconds(kill_at)) + " (seed " + std::to_string(p_.seed) + ") with " +
              std::to_string(leased_at_kill) + " leases held by both" + (in_flight ? "" : " (none in 1 s)") +
              " (lease_timeout " + seconds(milliseconds(kLeaseTimeoutMs)) + ")",
          "last re-delivery " + seconds(since(killed, last_redelivery)) + " after the kill"});
}

}  // namespace
}  // namespace payhook::reliability
