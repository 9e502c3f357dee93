// The failover ledgers. Two payhookd run against a Redis Sentinel set (a master, two replicas, three
// sentinels) or a Redis Cluster (three masters, three replicas) under the ledger load, and the master that
// holds payhook's data is failed over (SENTINEL FAILOVER, CLUSTER FAILOVER) or killed with SIGKILL. The
// ledger (ledger.h) then reconciles every acknowledged callback with what the app received and what the
// new master holds.
//
//   min_replicas = 1: a 2xx only once a replica holds the event, so a promotion can lose nothing that was
//                     acknowledged. Asserted: 0 lost, 0 false acks, nothing stuck or dead, duplicates only
//                     from expired leases, payhookd taking callbacks again within ready_ms of the promotion.
//   min_replicas = 0: the loss window of an asynchronous replica, measured and printed, not asserted.
//
// Durations come from the environment, as in reliability_test.cpp:
//   PAYHOOK_HA=short (default; `make test`, label integration): a few seconds of load around one failover.
//   PAYHOOK_HA=full  (`make test-ha`, label ha): longer load at a higher rate.
// and PAYHOOK_HA_RATE, PAYHOOK_HA_READY_MS override the rate and the bound on taking callbacks again.
// PAYHOOK_LEDGER_OUT gets one Markdown row per scenario, as for the other ledgers.
#include <signal.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/daemon_process.h"
#include "support/redis_topology.h"
#include "tests/reliability/ledger.h"
#include "tests/reliability/ledger_check.h"
#include "tests/reliability/ledger_sink.h"
#include "tests/reliability/load_generator.h"

namespace payhook::reliability {
namespace {

using std::chrono::milliseconds;
using testing::ClusterSet;
using testing::DaemonOptions;
using testing::DaemonProcess;
using testing::Promotion;
using testing::RedisReply;
using testing::SentinelSet;

constexpr int kMaxInFlight = 64;
constexpr int kInstances = 2;
constexpr uint64_t kAppLatencyMs = 20;
constexpr const char* kSlotKey = "{payhook}";

struct Params {
  bool full = false;
  double rate = 300;
  int threads = 4;
  int warmup_ms = 1'500;
  int after_ms = 3'000;
  int settle_ms = 30'000;
  int ready_ms = 2'000;
};

Params params() {
  Params p;
  const char* mode = std::getenv("PAYHOOK_HA");
  p.full = mode && std::string(mode) == "full";
  if (p.full) {
    p.rate = 1'000;
    p.warmup_ms = 5'000;
    p.after_ms = 10'000;
    p.settle_ms = 60'000;
  }
  p.rate = envInt("PAYHOOK_HA_RATE", static_cast<int>(p.rate));
  p.ready_ms = envInt("PAYHOOK_HA_READY_MS", p.ready_ms);
  return p;
}

class HaLedger : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }

  HaLedger() : p_(params()) {}

  std::string name() const { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

  // The deployment docs/operations.md describes: two payhookd sharing the Redis, the load split between
  // them (a retry may reach the other one).
  void startDaemons(const std::string& url, int min_replicas) {
    for (int i = 0; i < kInstances; ++i) {
      DaemonOptions o = ledgerDaemonOptions(url, sink_, kMaxInFlight);
      o.extra_redis = "min_replicas = " + std::to_string(min_replicas) + "\nreplica_timeout = \"500ms\"\n";
      daemons_.push_back(std::make_unique<DaemonProcess>(o));
      DaemonProcess& d = *daemons_.back();
      EXPECT_TRUE(d.start()) << d.logs();
      EXPECT_TRUE(d.waitReady(200, 15'000)) << d.logs();
    }
  }

  std::string logs() const {
    std::string out;
    for (const auto& d : daemons_) out += d->logs();
    return out;
  }

  LoadGenerator load() {
    LoadOptions o;
    for (const auto& d : daemons_) o.addresses.push_back(d->address());
    o.secret = DaemonProcess::kDemoSecret;
    o.id_prefix = name();
    o.threads = p_.threads;
    o.rate = p_.rate;
    return LoadGenerator(o);
  }

  LedgerCheck check(RedisCommand master) {
    LedgerCheck c;
    c.name = name();
    c.redis = std::move(master);
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

  // A failover run: load, `fault` (returns when and where the new master was first seen), load after
  // it, settle, reconcile. Returns the ledger and the ms from the promotion to the first 2xx of a request
  // sent after it.
  struct Outcome {
    LedgerReport report;
    int64_t first_2xx_ms = -1;
    int64_t longest_gap_ms = 0;  // the longest time without a 2xx answer, around the fault
    size_t answered_503 = 0;
    std::string stats;  // `payhookctl stats` after the run
  };
  Outcome run(const std::string& url, int min_replicas, const std::function<Promotion()>& fault,
              const RedisCommand& master, std::vector<std::string> facts, bool strict) {
    startDaemons(url, min_replicas);
    LoadGenerator gen = load();
    gen.start();
    sleepMs(p_.warmup_ms);
    const TimePoint fault_at = SteadyClock::now();
    const Promotion promoted = fault();
    sleepMs(p_.after_ms);
    gen.stop();
    const auto sends = gen.sends();
    LedgerCheck c = check(master);
    const int64_t settled = c.settle(sends);

    Outcome out;
    TimePoint first = TimePoint::max();
    std::vector<TimePoint> oks;
    for (const Send& s : sends) {
      if (s.status == 503) ++out.answered_503;
      if (!is2xx(s.status)) continue;
      oks.push_back(s.answered);
      if (s.sent >= promoted.seen) first = std::min(first, s.answered);
    }
    std::sort(oks.begin(), oks.end());
    for (size_t i = 1; i < oks.size(); ++i)
      if (oks[i] >= fault_at - milliseconds(1'000))
        out.longest_gap_ms = std::max<int64_t>(out.longest_gap_ms, since(oks[i - 1], oks[i]).count());
    if (first != TimePoint::max()) out.first_2xx_ms = since(promoted.seen, first).count();
    facts.insert(facts.begin(), "min_replicas " + std::to_string(min_replicas));
    facts.push_back("promotion seen " + seconds(since(fault_at, promoted.seen)) + " after the fault");
    facts.push_back("first 2xx " +
                    (out.first_2xx_ms < 0 ? std::string("never") : std::to_string(out.first_2xx_ms) + " ms") +
                    " after the promotion; longest gap without a 2xx " + std::to_string(out.longest_gap_ms) +
                    " ms; " + std::to_string(out.answered_503) + " answered 503");
    // Each abandoned attempt (its completion lost with the old master's connection) may go out again.
    out.report = c.finish(sends, {}, settled, 2 * kInstances * kMaxInFlight, std::move(facts), strict);
    if (strict) {
      EXPECT_GE(out.first_2xx_ms, 0) << logs();
      EXPECT_LE(out.first_2xx_ms, p_.ready_ms)
          << "payhookd took callbacks again " << out.first_2xx_ms << " ms after the promotion";
    }
    // An operator asks where the store is now: the new master, and its replicas.
    std::string stats;
    EXPECT_EQ(testing::runProgram({PAYHOOKCTL_PATH, "-c", daemons_[0]->configPath(), "stats"}, &stats), 0)
        << stats;
    out.stats = stats;
    for (const auto& d : daemons_) EXPECT_EQ(d->stop(), 0) << d->logs();
    return out;
  }

  Params p_;
  LedgerSink sink_{kAppLatencyMs};
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
  TimePoint t0_ = SteadyClock::now();
};

RedisCommand sentinelMaster(SentinelSet& set) {
  return [&set](const std::vector<std::string>& argv) { return set.command(set.masterPort(), argv); };
}

RedisCommand clusterMaster(ClusterSet& cluster) {
  const int slot = cluster.slotOf(kSlotKey);
  return [&cluster, slot](const std::vector<std::string>& argv) {
    return cluster.command(cluster.masterPortForSlot(slot), argv);
  };
}

TEST_F(HaLedger, SentinelFailover) {
  SentinelSet set;
  const int old = set.masterPort();
  const Outcome o = run(
      set.url(), 1,
      [&] {
        set.failover();
        return set.waitForNewMaster(old, std::chrono::seconds(10));
      },
      sentinelMaster(set), {"SENTINEL FAILOVER"}, true);
  EXPECT_NE(o.stats.find("role     master at 127.0.0.1:" + std::to_string(set.masterPort()) + ", "),
            std::string::npos)
      << o.stats;
  EXPECT_NE(o.stats.find("min_replicas 1"), std::string::npos) << o.stats;
}

TEST_F(HaLedger, SentinelMasterKilled) {
  SentinelSet set;
  const int old = set.masterPort();
  run(
      set.url(), 1,
      [&] {
        set.killMaster();
        Promotion p = set.waitForNewMaster(old, std::chrono::seconds(15));
        set.restart(old);  // as systemd would; the sentinels make it a replica
        return p;
      },
      sentinelMaster(set), {"kill -9 of the master"}, true);
}

TEST_F(HaLedger, SentinelMasterKilledWithoutReplicaWait) {
  SentinelSet set;
  const int old = set.masterPort();
  const Outcome o = run(
      set.url(), 0,
      [&] {
        set.killMaster();
        Promotion p = set.waitForNewMaster(old, std::chrono::seconds(15));
        set.restart(old);
        return p;
      },
      sentinelMaster(set), {"kill -9 of the master"}, false);
  std::cout << "[ha] " << name() << ": acknowledged and lost " << o.report.lost << " of " << o.report.acked
            << ", false acks " << o.report.false_acks << std::endl;
}

TEST_F(HaLedger, ClusterFailover) {
  ClusterSet cluster;
  const int slot = cluster.slotOf(kSlotKey);
  const int old = cluster.masterPortForSlot(slot);
  const Outcome o = run(
      cluster.url(), 1,
      [&] {
        cluster.failover(slot);
        return cluster.waitForNewMasterOfSlot(slot, old, std::chrono::seconds(10));
      },
      clusterMaster(cluster), {"CLUSTER FAILOVER"}, true);
  EXPECT_NE(o.stats.find("role     master at 127.0.0.1:" + std::to_string(cluster.masterPortForSlot(slot)) +
                         ", 1 replica(s) online"),
            std::string::npos)
      << o.stats;
}

// The slot payhook writes to moves to another master under load, key by key (CLUSTER SETSLOT ...
// MIGRATING / IMPORTING, MIGRATE, SETSLOT NODE), as a resharding does: ASK and TRYAGAIN are 503s while the
// keys move, MOVED afterwards sends payhookd to the new owner.
TEST_F(HaLedger, ClusterSlotMoved) {
  ClusterSet cluster;
  const int slot = cluster.slotOf(kSlotKey);
  const int old = cluster.masterPortForSlot(slot);
  int target = 0;
  for (int port : cluster.ports())
    if (port != old && cluster.role(port) == "master") target = port;
  ASSERT_NE(target, 0);
  const std::string s = std::to_string(slot);
  run(
      cluster.url(), 1,
      [&] {
        const std::string from = cluster.command(old, {"CLUSTER", "MYID"}).str;
        const std::string to = cluster.command(target, {"CLUSTER", "MYID"}).str;
        EXPECT_EQ(cluster.command(target, {"CLUSTER", "SETSLOT", s, "IMPORTING", from}).str, "OK");
        EXPECT_EQ(cluster.command(old, {"CLUSTER", "SETSLOT", s, "MIGRATING", to}).str, "OK");
        while (true) {
          RedisReply keys = cluster.command(old, {"CLUSTER", "GETKEYSINSLOT", s, "100"});
          if (keys.elements.empty()) break;
          std::vector<std::string> argv{"MIGRATE", "127.0.0.1", std::to_string(target), "", "0",
                                        "5000",    "KEYS"};
          for (const auto& k : keys.elements) argv.push_back(k.str);
          RedisReply r = cluster.command(old, argv);
          EXPECT_NE(r.type, RedisReply::kError) << r.str;
          if (r.type == RedisReply::kError) break;
        }
        for (int port : cluster.ports())
          if (cluster.role(port) == "master") cluster.command(port, {"CLUSTER", "SETSLOT", s, "NODE", to});
        return cluster.waitForNewMasterOfSlot(slot, old, std::chrono::seconds(10));
      },
      clusterMaster(cluster), {"the {payhook} slot migrated to another master"}, true);
}

TEST_F(HaLedger, ClusterMasterKilled) {
  ClusterSet cluster;
  const int slot = cluster.slotOf(kSlotKey);
  const int old = cluster.masterPortForSlot(slot);
  run(
      cluster.url(), 1,
      [&] {
        cluster.killMasterOf(slot);
        Promotion p = cluster.waitForNewMasterOfSlot(slot, old, std::chrono::seconds(15));
        // Back as a replica of the promoted node, which has no other: min_replicas is met again once it
        // has synchronised.
        cluster.restart(old);
        return p;
      },
      clusterMaster(cluster), {"kill -9 of the master of the {payhook} slot"}, true);
}

TEST_F(HaLedger, ClusterMasterKilledWithoutReplicaWait) {
  ClusterSet cluster;
  const int slot = cluster.slotOf(kSlotKey);
  const int old = cluster.masterPortForSlot(slot);
  const Outcome o = run(
      cluster.url(), 0,
      [&] {
        cluster.killMasterOf(slot);
        Promotion p = cluster.waitForNewMasterOfSlot(slot, old, std::chrono::seconds(15));
        cluster.restart(old);
        return p;
      },
      clusterMaster(cluster), {"kill -9 of the master of the {payhook} slot"}, false);
  std::cout << "[ha] " << name() << ": acknowledged and lost " << o.report.lost << " of " << o.report.acked
            << ", false acks " << o.report.false_acks << std::endl;
}

}  // namespace
}  // namespace payhook::reliability
