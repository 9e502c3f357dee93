// [redis] min_replicas with the real payhookd and redis-server: without a replica every callback is answered
// 503 yet stored, /readyz says why, and once a replica has synchronised the provider's retry is acknowledged
// as the duplicate it is. And what payhookd says of a Redis whose crash can lose acknowledged callbacks.
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/signed_requests.h"
#include "support/store_inspect.h"
#include "support/wait.h"

namespace payhook::testing {
namespace {

int post(const DaemonProcess& d, const std::string& msg_id) {
  return postStandardWebhook(d.address(), msg_id).status;
}

std::string scrape(const DaemonProcess& d) {
  return httpRequest(d.adminAddress(), "GET", "/metrics").body;
}

bool has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

DaemonOptions withRedis(const RedisServer& redis, const std::string& extra_redis) {
  DaemonOptions o;
  o.redis_url = redis.url();
  o.extra_redis = extra_redis;
  o.log_level = "info";
  return o;
}

TEST(MinReplicasTest, WithoutAReplicaCallbacksAre503AndStoredThenTheRetryIsAcknowledged) {
  RedisServer master;
  DaemonProcess d(withRedis(master, "min_replicas = 1\nreplica_timeout = \"200ms\"\n"));
  ASSERT_TRUE(d.start()) << d.logs();
  // Not ready from the start; once INFO replication was read, the reason says how many are missing.
  const std::string why = "not ready: redis: too few replicas: 0 replica(s) online, min_replicas is 1\n";
  EXPECT_TRUE(waitFor([&] { return httpRequest(d.adminAddress(), "GET", "/readyz").body == why; }, 5'000))
      << httpRequest(d.adminAddress(), "GET", "/readyz").body;

  // Refused for want of a replica, but stored: the master ran the script before the WAIT came back short.
  EXPECT_EQ(post(d, "msg_unconfirmed"), 503);
  EXPECT_FALSE(storedEvent(master, "demo", "msg_unconfirmed").empty());

  RedisServer::Options replica_options;
  replica_options.extra_config = {"replicaof 127.0.0.1 " + std::to_string(master.port())};
  RedisServer replica(replica_options);
  ASSERT_TRUE(d.waitReady(200, 10'000)) << d.logs();

  // The provider's retry finds the event, and is acknowledged once the replica holds it: one event.
  EXPECT_EQ(post(d, "msg_unconfirmed"), 204) << d.logs();
  EXPECT_EQ(countKeys(master, "{payhook}:idem:demo:msg_unconfirmed"), 1u);
  EXPECT_EQ(post(d, "msg_confirmed"), 204) << d.logs();
  EXPECT_TRUE(waitFor([&] { return !storedEvent(replica, "demo", "msg_confirmed").empty(); }, 2'000))
      << "an acknowledged callback is not on the replica";

  const std::string m = scrape(d);
  EXPECT_TRUE(has(m, "payhook_redis_replicas 1")) << m;
  EXPECT_TRUE(has(m, "payhook_redis_min_replicas 1")) << m;
  EXPECT_TRUE(has(m, "payhook_redis_replica_waits_total{outcome=\"short\"} 1")) << m;
  EXPECT_TRUE(has(m, "payhook_redis_replica_waits_total{outcome=\"confirmed\"} 2")) << m;
  EXPECT_TRUE(has(m, "payhook_redis_ack_loss_possible 0")) << m;

  // The replica goes away: not ready again, and a callback is refused.
  replica.kill();
  ASSERT_TRUE(d.waitReady(503, 5'000)) << d.logs();
  EXPECT_EQ(post(d, "msg_replica_gone"), 503);
  const std::string logs = d.logs();
  EXPECT_EQ(occurrences(logs, "redis: too few replicas"), 2u) << logs;
  EXPECT_EQ(occurrences(logs, "redis: enough replicas online again"), 1u) << logs;
  EXPECT_EQ(d.stop(), 0) << logs;
}

TEST(MinReplicasTest, ARedisWhoseCrashCanLoseAcknowledgedCallbacksIsNamedOnce) {
  RedisServer::Options options;
  options.extra_config = {"appendonly no"};
  RedisServer redis(options);
  DaemonProcess d(withRedis(redis, ""));
  ASSERT_TRUE(d.start()) << d.logs();
  ASSERT_TRUE(d.waitReady(200, 5'000)) << d.logs();
  EXPECT_TRUE(waitFor([&] { return has(scrape(d), "payhook_redis_ack_loss_possible 1"); }, 3'000))
      << scrape(d);
  EXPECT_EQ(post(d, "msg_one"), 204);
  // A reconnect reads the settings again, and does not warn again.
  redis.stop();
  redis.start();
  ASSERT_TRUE(d.waitReady(200, 10'000)) << d.logs();
  EXPECT_TRUE(waitFor([&] { return has(scrape(d), "payhook_redis_ack_loss_possible 1"); }, 3'000));
  const std::string logs = d.logs();
  EXPECT_EQ(occurrences(logs, "a crash of the Redis host can lose acknowledged callbacks"), 1u) << logs;
  EXPECT_NE(logs.find("appendonly is off"), std::string::npos) << logs;
  EXPECT_EQ(d.stop(), 0) << logs;
}

TEST(MinReplicasTest, AnAofRedisThatFsyncsEveryWriteIsNotFlagged) {
  RedisServer::Options options;
  options.extra_config = {"appendfsync always"};
  RedisServer redis(options);
  DaemonProcess d(withRedis(redis, ""));
  ASSERT_TRUE(d.start()) << d.logs();
  ASSERT_TRUE(d.waitReady(200, 5'000)) << d.logs();
  EXPECT_TRUE(waitFor([&] { return has(scrape(d), "payhook_redis_ack_loss_possible 0"); }, 3'000))
      << scrape(d);
  EXPECT_EQ(d.logs().find("can lose acknowledged callbacks"), std::string::npos) << d.logs();
  EXPECT_EQ(d.stop(), 0) << d.logs();
}

}  // namespace
}  // namespace payhook::testing
