// The Redis topologies of the failover tests, proved on their own: real redis-server processes, no payhookd.
// A Sentinel set and a cluster come up replicated, fail over on request and after a SIGKILL, and a killed
// cluster master rejoins as a replica. The measured times are printed, for the failover tests' bounds.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/redis_server.h"
#include "support/redis_topology.h"

namespace payhook::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

double secondsBetween(SteadyTime a, SteadyTime b) {
  return std::chrono::duration<double>(b - a).count();
}

void report(const char* what, double s) {
  std::printf("[ measured ] %s: %.2f s\n", what, s);
  std::fflush(stdout);
}

long long infoNumber(const RedisReply& info, const std::string& key) {
  auto at = info.str.find("\n" + key + ":");
  if (at == std::string::npos) return -1;
  return std::atoll(info.str.c_str() + at + key.size() + 2);
}

// Until each of `replicas` has applied the master's replication stream up to where it is now. (WAIT on the
// one-command connections of command() would prove nothing: it counts up to its own connection's writes.)
template <class Set>
void waitReplicated(const Set& set, int master, const std::vector<int>& replicas) {
  const long long offset = infoNumber(set.command(master, {"INFO", "replication"}), "master_repl_offset");
  ASSERT_GT(offset, 0);
  const auto until = Clock::now() + seconds(5);
  for (int r : replicas) {
    while (infoNumber(set.command(r, {"INFO", "replication"}), "slave_repl_offset") < offset) {
      ASSERT_LT(Clock::now(), until) << "replica " << r << " did not catch up with the master";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

std::string masterPortOf(const RedisServer& replica) {
  RedisReply info = replica.command({"INFO", "replication"});
  const std::string key = "master_port:";
  auto at = info.str.find(key);
  if (at == std::string::npos) return "";
  return info.str.substr(at + key.size(), info.str.find('\r', at) - at - key.size());
}

TEST(SentinelSetTest, StartsReplicatedAndReplicates) {
  const auto start = Clock::now();
  SentinelSet set;
  report("sentinel set start", secondsBetween(start, Clock::now()));

  const int master = set.masterPort();
  EXPECT_EQ(set.role(master), "master");
  EXPECT_EQ(master, set.dataPorts().front());
  const std::vector<int> replicas = set.replicaPorts();
  ASSERT_EQ(replicas.size(), 2u);
  const auto sentinels = set.sentinelPorts();
  ASSERT_EQ(sentinels.size(), 3u);
  EXPECT_EQ(set.url(), "redis+sentinel://127.0.0.1:" + std::to_string(sentinels[0]) +
                           ",127.0.0.1:" + std::to_string(sentinels[1]) +
                           ",127.0.0.1:" + std::to_string(sentinels[2]) + "/payhook-ha");

  ASSERT_EQ(set.command(master, {"SET", "ha:probe", "v1"}).str, "OK");
  waitReplicated(set, master, replicas);
  for (int r : replicas) {
    EXPECT_EQ(set.role(r), "slave") << r;
    EXPECT_EQ(set.command(r, {"GET", "ha:probe"}).str, "v1") << r;
  }
  // A wait that cannot succeed ends at its bound, with the logs in the message.
  try {
    set.waitForReplicas(3, std::chrono::milliseconds(300));
    ADD_FAILURE() << "waitForReplicas(3) returned with 2 replicas";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("has 2 of 3 replicas in sync"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--- Sentinel 127.0.0.1:"), std::string::npos) << e.what();
  }
}

TEST(SentinelSetTest, FailoverPromotesAReplica) {
  SentinelSet::Options o;
  o.password = "p@ss word";
  o.sentinel_password = "sentinel-pw";
  SentinelSet set(o);
  EXPECT_EQ(set.url().rfind("redis+sentinel://:p%40ss%20word@127.0.0.1:", 0), 0u) << set.url();

  const int old = set.masterPort();
  const std::vector<int> replicas = set.replicaPorts();
  const auto start = Clock::now();
  const SteadyTime seen = set.failover();
  report("sentinel failover, command to promotion seen", secondsBetween(start, seen));

  const int now = set.masterPort();
  EXPECT_NE(now, old);
  EXPECT_TRUE(now == replicas[0] || now == replicas[1]) << now;
  EXPECT_EQ(set.role(now), "master");
  // Every Sentinel follows and the other replica is moved over at once. The old master is a replica in the
  // Sentinels' view only; it follows many seconds later (KilledMasterIsReplacedAndRejoinsAsReplica waits
  // for that), so it is not waited for here.
  const auto converge = Clock::now();
  set.waitUntilSentinelsAgree();
  EXPECT_EQ(set.masterPort(), now);
  set.waitForReplicas(1);
  report("sentinel failover, promotion to Sentinels agreeing and 1 replica in sync",
         secondsBetween(converge, Clock::now()));
  for (int r : replicas) {
    if (r == now) continue;
    EXPECT_EQ(set.role(r), "slave");
    EXPECT_EQ(masterPortOf(set.node(r)), std::to_string(now));
  }
  std::printf("[ measured ] old master's role right after: %s\n", set.role(old).c_str());
}

TEST(SentinelSetTest, KilledMasterIsReplacedAndRejoinsAsReplica) {
  SentinelSet::Options o;
  o.appendonly = false;
  SentinelSet set(o);
  const int old = set.masterPort();
  ASSERT_EQ(set.command(old, {"SET", "ha:before-kill", "kept"}).str, "OK");
  waitReplicated(set, old, set.replicaPorts());

  const SteadyTime killed = set.killMaster();
  EXPECT_FALSE(set.node(old).running());
  const Promotion p = set.waitForNewMaster(old, seconds(20));
  const double took = secondsBetween(killed, p.seen);
  report("sentinel kill to promotion seen", took);
  EXPECT_NE(p.port, old);
  EXPECT_EQ(set.role(p.port), "master");
  // down-after 1 s, the vote and the promotion: a few seconds; 15 s means something is wrong.
  EXPECT_LT(took, 15.0);
  EXPECT_EQ(set.command(p.port, {"GET", "ha:before-kill"}).str, "kept");

  const auto restarted = Clock::now();
  set.restart(old);
  set.waitForReplicas(2, seconds(40));
  report("sentinel restart of the old master to replica in sync", secondsBetween(restarted, Clock::now()));
  EXPECT_EQ(set.role(old), "slave");
  EXPECT_EQ(masterPortOf(set.node(old)), std::to_string(p.port));
  // Without persistence the old master came back empty and took the new master's data by full sync.
  EXPECT_EQ(set.command(old, {"GET", "ha:before-kill"}).str, "kept");
}

TEST(ClusterSetTest, CreatesThreeShardsWithAReplicaEach) {
  const auto start = Clock::now();
  ClusterSet cluster;
  report("cluster create", secondsBetween(start, Clock::now()));

  const auto ports = cluster.ports();
  ASSERT_EQ(ports.size(), 6u);
  EXPECT_EQ(cluster.url(), "redis+cluster://127.0.0.1:" + std::to_string(ports[0]) + ",127.0.0.1:" +
                               std::to_string(ports[1]) + ",127.0.0.1:" + std::to_string(ports[2]));
  int masters = 0;
  for (int p : ports) masters += cluster.role(p) == "master";
  EXPECT_EQ(masters, 3);

  const int slot = cluster.slotOf("{payhook}");
  EXPECT_EQ(slot, cluster.slotOf("{payhook}:events"));  // the hash tag decides
  const int master = cluster.masterPortForSlot(slot);
  ASSERT_NE(master, 0);
  const int replica = cluster.replicaPortOf(master);
  ASSERT_NE(replica, 0);
  EXPECT_EQ(cluster.role(master), "master");
  EXPECT_EQ(cluster.role(replica), "slave");
  EXPECT_EQ(masterPortOf(cluster.node(replica)), std::to_string(master));

  ASSERT_EQ(cluster.command(master, {"SET", "{payhook}:probe", "v1"}).str, "OK");
  waitReplicated(cluster, master, {replica});
  // A replica redirects key reads (no READONLY on a one-command connection); its key count shows the copy.
  EXPECT_EQ(cluster.command(replica, {"DBSIZE"}).integer, 1);
  EXPECT_THROW(cluster.waitForReplicasOf(master, 2, std::chrono::milliseconds(300)), std::runtime_error);
  // Another master refuses the key: the slot map is real.
  for (int p : ports) {
    if (p == master || cluster.role(p) != "master") continue;
    RedisReply r = cluster.command(p, {"GET", "{payhook}:probe"});
    EXPECT_EQ(r.type, RedisReply::kError);
    EXPECT_EQ(r.str.rfind("MOVED " + std::to_string(slot) + " ", 0), 0u) << r.str;
  }
}

TEST(ClusterSetTest, FailoverPromotesTheReplica) {
  ClusterSet::Options o;
  o.password = "cluster pw";
  ClusterSet cluster(o);
  EXPECT_EQ(cluster.url().rfind("redis+cluster://:cluster%20pw@127.0.0.1:", 0), 0u) << cluster.url();

  const int slot = cluster.slotOf("{payhook}");
  const int old = cluster.masterPortForSlot(slot);
  const int replica = cluster.replicaPortOf(old);
  ASSERT_NE(replica, 0);
  const auto start = Clock::now();
  const SteadyTime seen = cluster.failover(slot);
  report("cluster failover, command to promotion seen", secondsBetween(start, seen));

  EXPECT_EQ(cluster.masterPortForSlot(slot), replica);
  EXPECT_EQ(cluster.role(replica), "master");
  // A manual failover demotes the old master at once; it resyncs from the new one.
  const auto converge = Clock::now();
  cluster.waitForReplicasOf(replica, 1, seconds(20));
  cluster.waitUntilConsistent();
  report("cluster failover, promotion to old master in sync and map agreed",
         secondsBetween(converge, Clock::now()));
  EXPECT_EQ(cluster.role(old), "slave");
  EXPECT_EQ(cluster.replicaPortOf(replica), old);
}

TEST(ClusterSetTest, KilledMasterIsReplacedAndRejoinsAsReplica) {
  ClusterSet cluster;
  const int slot = cluster.slotOf("{payhook}");
  const int old = cluster.masterPortForSlot(slot);
  const int replica = cluster.replicaPortOf(old);
  ASSERT_NE(replica, 0);
  ASSERT_EQ(cluster.command(old, {"SET", "{payhook}:before-kill", "kept"}).str, "OK");
  waitReplicated(cluster, old, {replica});

  const SteadyTime killed = cluster.killMasterOf(slot);
  const Promotion p = cluster.waitForNewMasterOfSlot(slot, old, seconds(20));
  const double took = secondsBetween(killed, p.seen);
  report("cluster kill to promotion seen", took);
  EXPECT_EQ(p.port, replica);
  EXPECT_EQ(cluster.role(replica), "master");
  // Node timeout 1 s, the failure report, the replica's election delay and the vote: a few seconds.
  EXPECT_LT(took, 15.0);
  {
    RedisReply got = cluster.command(replica, {"GET", "{payhook}:before-kill"});
    EXPECT_EQ(got.str, "kept") << "type " << got.type << "; "
                               << cluster.command(replica, {"INFO", "replication"}).str << "\n"
                               << cluster.command(replica, {"CLUSTER", "INFO"}).str << "\n"
                               << cluster.command(replica, {"DBSIZE"}).integer;
  }
  cluster.waitUntilConsistent();

  const auto restarted = Clock::now();
  cluster.restart(old);
  cluster.waitForReplicasOf(replica, 1, seconds(30));
  report("cluster restart of the old master to replica in sync", secondsBetween(restarted, Clock::now()));
  EXPECT_EQ(cluster.role(old), "slave");
  EXPECT_EQ(masterPortOf(cluster.node(old)), std::to_string(replica));
  EXPECT_EQ(cluster.masterPortForSlot(slot), replica);
  cluster.waitUntilConsistent();
}

}  // namespace
}  // namespace payhook::testing
