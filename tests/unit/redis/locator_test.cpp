#include <gtest/gtest.h>

#include "redis/calls.h"
#include "redis/locator.h"
#include "redis/replication_info.h"
#include "redis/sentinel_watch.h"

namespace payhook::redis {
namespace {

ScriptValue str(std::string s) {
  ScriptValue v;
  v.type = ScriptValue::Type::kString;
  v.str = std::move(s);
  return v;
}

ScriptValue num(int64_t n) {
  ScriptValue v;
  v.type = ScriptValue::Type::kInteger;
  v.integer = n;
  return v;
}

ScriptValue arr(std::vector<ScriptValue> e) {
  ScriptValue v;
  v.type = ScriptValue::Type::kArray;
  v.elements = std::move(e);
  return v;
}

TEST(SentinelMaster, NamesTheMaster) {
  std::string why;
  auto m = sentinelMaster(arr({str("10.0.0.7"), str("6380")}), &why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->host, "10.0.0.7");
  EXPECT_EQ(m->port, 6380);
}

TEST(SentinelMaster, UnknownNameAndJunk) {
  std::string why;
  EXPECT_FALSE(sentinelMaster(ScriptValue{}, &why));
  EXPECT_NE(why.find("does not monitor"), std::string::npos);
  EXPECT_FALSE(sentinelMaster(arr({str("10.0.0.7"), str("0")}), &why));
  EXPECT_FALSE(sentinelMaster(arr({str("10.0.0.7"), str("6379x")}), &why));
  EXPECT_FALSE(sentinelMaster(arr({str("")}), &why));
  ScriptValue err;
  err.type = ScriptValue::Type::kError;
  err.str = "NOAUTH Authentication required.";
  EXPECT_FALSE(sentinelMaster(err, &why));
  EXPECT_EQ(why, "NOAUTH Authentication required.");
}

// CLUSTER SLOTS as Redis 7 answers it: start, end, master, replicas.
ScriptValue threeShards() {
  return arr({
      arr({num(0), num(5460), arr({str("127.0.0.1"), num(7000), str("id0")}),
           arr({str("127.0.0.1"), num(7003), str("id3")})}),
      arr({num(5461), num(10922), arr({str(""), num(7001), str("id1")})}),
      arr({num(10923), num(16383), arr({str("127.0.0.1"), num(7002), str("id2")})}),
  });
}

TEST(ClusterSlotOwner, FindsTheMasterOfTheSlot) {
  std::string why;
  auto m = clusterSlotOwner(threeShards(), 0, "10.9.9.9", &why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->port, 7000);
  m = clusterSlotOwner(threeShards(), 16383, "10.9.9.9", &why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->port, 7002);
  // An empty address means the node that answered.
  m = clusterSlotOwner(threeShards(), 8000, "10.9.9.9", &why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->host, "10.9.9.9");
  EXPECT_EQ(m->port, 7001);
}

TEST(ClusterSlotOwner, UncoveredSlotIsAnError) {
  std::string why;
  auto partial = arr({arr({num(0), num(100), arr({str("127.0.0.1"), num(7000)})})});
  EXPECT_FALSE(clusterSlotOwner(partial, 101, "h", &why));
  EXPECT_NE(why.find("101"), std::string::npos) << why;
  EXPECT_FALSE(clusterSlotOwner(str("x"), 1, "h", &why));
}

TEST(SwitchedMaster, OnlyOurMasterName) {
  auto m = switchedMaster("shop 127.0.0.1 7000 127.0.0.1 7001", "shop");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->host, "127.0.0.1");
  EXPECT_EQ(m->port, 7001);
  EXPECT_FALSE(switchedMaster("other 127.0.0.1 7000 127.0.0.1 7001", "shop"));
  EXPECT_FALSE(switchedMaster("shop 127.0.0.1 7000 127.0.0.1", "shop"));
  EXPECT_FALSE(switchedMaster("shop 127.0.0.1 7000 127.0.0.1 99999", "shop"));
  EXPECT_FALSE(switchedMaster("shopping 1 2 3 4", "shop"));
}

TEST(SentinelEvent, AFailoverOfOurMasterStartsAndEnds) {
  using Kind = SentinelEvent::Kind;
  EXPECT_EQ(sentinelEvent("+elected-leader", "master shop 127.0.0.1 7000", "shop").kind,
            Kind::kFailoverStarted);
  EXPECT_EQ(
      sentinelEvent("+selected-slave", "slave 127.0.0.1:7001 127.0.0.1 7001 @ shop 127.0.0.1 7000", "shop")
          .kind,
      Kind::kFailoverStarted);
  EXPECT_EQ(
      sentinelEvent("+promoted-slave", "slave 127.0.0.1:7001 127.0.0.1 7001 @ shop 127.0.0.1 7000", "shop")
          .kind,
      Kind::kFailoverStarted);
  EXPECT_EQ(sentinelEvent("+failover-end", "master shop 127.0.0.1 7000", "shop").kind, Kind::kFailoverEnded);
  EXPECT_EQ(sentinelEvent("-failover-abort-no-good-slave", "master shop 127.0.0.1 7000", "shop").kind,
            Kind::kFailoverEnded);
  auto sw = sentinelEvent("+switch-master", "shop 127.0.0.1 7000 127.0.0.1 7001", "shop");
  EXPECT_EQ(sw.kind, Kind::kSwitched);
  EXPECT_EQ(sw.master.port, 7001);
}

TEST(SentinelEvent, OtherMastersAndHarmlessEventsAreIgnored) {
  using Kind = SentinelEvent::Kind;
  EXPECT_EQ(sentinelEvent("+elected-leader", "master other 127.0.0.1 7000", "shop").kind, Kind::kNone);
  EXPECT_EQ(
      sentinelEvent("+selected-slave", "slave 127.0.0.1:7001 127.0.0.1 7001 @ other 127.0.0.1 7000", "shop")
          .kind,
      Kind::kNone);
  // Most elections fail without consequence; the losers say so.
  EXPECT_EQ(sentinelEvent("+try-failover", "master shop 127.0.0.1 7000", "shop").kind, Kind::kNone);
  EXPECT_EQ(sentinelEvent("-failover-abort-not-elected", "master shop 127.0.0.1 7000", "shop").kind,
            Kind::kNone);
  EXPECT_EQ(sentinelEvent("+sdown", "master shop 127.0.0.1 7000", "shop").kind, Kind::kNone);
  EXPECT_EQ(sentinelEvent("+switch-master", "other 127.0.0.1 7000 127.0.0.1 7001", "shop").kind, Kind::kNone);
}

TEST(ReplicationInfo, CountsOnlineReplicas) {
  const char* info =
      "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n"
      "slave0:ip=127.0.0.1,port=7001,state=online,offset=100,lag=0\r\n"
      "slave1:ip=127.0.0.1,port=7002,state=wait_bgsave,offset=0,lag=0\r\n"
      "master_failover_state:no-failover\r\n";
  auto r = parseReplicationInfo(info);
  EXPECT_EQ(r.role, "master");
  EXPECT_EQ(r.connected, 2);
  EXPECT_EQ(r.online, 1);
  auto none = parseReplicationInfo("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n");
  EXPECT_EQ(none.online, 0);
  auto replica = parseReplicationInfo("role:slave\r\nmaster_host:127.0.0.1\r\n");
  EXPECT_EQ(replica.role, "slave");
  EXPECT_EQ(replica.online, -1);
}

TEST(AckLossPossible, NoAofOrNoFsyncWithoutReplicaConfirmation) {
  EXPECT_TRUE(ackLossPossible("no", "everysec", 0));
  EXPECT_TRUE(ackLossPossible("no", "always", 2));  // restarted empty before a failover, replicas copy it
  EXPECT_TRUE(ackLossPossible("yes", "everysec", 0));
  EXPECT_TRUE(ackLossPossible("yes", "no", 0));
  EXPECT_FALSE(ackLossPossible("yes", "always", 0));
  EXPECT_FALSE(ackLossPossible("yes", "everysec", 1));
  EXPECT_NE(ackLossReason("yes", "everysec", 0).find("appendfsync is everysec"), std::string::npos);
}

TEST(IsRedirect, TheAnswersThatMeanTheMasterMoved) {
  EXPECT_TRUE(isRedirect("MOVED 3999 127.0.0.1:6381"));
  EXPECT_TRUE(isRedirect("ASK 3999 127.0.0.1:6381"));
  EXPECT_TRUE(isRedirect("READONLY You can't write against a read only replica."));
  EXPECT_TRUE(isRedirect("CLUSTERDOWN The cluster is down"));
  EXPECT_FALSE(isRedirect("ERR Error running script"));
  EXPECT_FALSE(isRedirect("NOSCRIPT No matching script"));
  EXPECT_FALSE(isRedirect("OOM command not allowed"));
}

}  // namespace
}  // namespace payhook::redis
