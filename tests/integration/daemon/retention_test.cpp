// The real payhookd, a real redis-server and real apps: delivered events leave Redis once [redis] retention
// has passed, dead ones stay, and payhookctl stats and /metrics show what Redis holds; /readyz answers 503
// while Redis refuses writes (out of memory under noeviction, a read-only replica) and 200 again after.
#include <chrono>
#include <ctime>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/webhook_signature.h"
#include "support/config_toml.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/sink.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

int post(const DaemonProcess& d, const std::string& path, const std::string& msg_id) {
  const std::string body = R"({"type":"invoice.paid","data":{"order":")" + msg_id + R"("}})";
  const std::string ts = std::to_string(std::time(nullptr));
  auto key = swh::decodeSecret(DaemonProcess::kDemoSecret).value();
  return httpRequest(d.address(), "POST", path,
                     {{"webhook-id", msg_id},
                      {"webhook-timestamp", ts},
                      {"webhook-signature", swh::signV1(key, msg_id, ts, body)}},
                     body)
      .status;
}

// An RBS deposit from a route trusted by address (checksum = "none"): RBS has no replay window, so its
// idempotency_ttl may be as short as this test needs. Idempotency key "<md_order>:deposited:1".
int deposit(const DaemonProcess& d, const std::string& path, const std::string& md_order) {
  return httpRequest(d.address(), "GET",
                     path + "/callback?mdOrder=" + md_order + "&operation=deposited&status=1", {}, "")
      .status;
}

std::string scrape(const DaemonProcess& d) {
  return httpRequest(d.adminAddress(), "GET", "/metrics").body;
}

bool has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string ctl(const DaemonProcess& d, std::vector<std::string> args, int* code) {
  args.insert(args.begin(), {PAYHOOKCTL_PATH, "-c", d.configPath()});
  std::string out;
  *code = runProgram(args, &out);
  return out;
}

long long used_memory(RedisServer& redis) {
  const std::string info = redis.command({"INFO", "memory"}).str;
  const size_t at = info.find("used_memory:");
  return std::stoll(info.substr(at + 12));
}

TEST(RetentionTest, DeliveredEventsLeaveRedisAfterRetentionDeadOnesStay) {
  RedisServer redis;
  Sink app({200});
  Sink gone({410});
  DaemonOptions o;
  o.redis_url = redis.url();
  o.extra_redis = "retention = \"2s\"\n";
  o.delivery = "sweep_interval = \"100ms\"\n";
  o.targets = targetToml("orders", app.url()) + targetToml("gone", gone.url());
  o.routes = R"(
[[routes]]
name = "demo"
provider = "rbs"
path = "/rbs/demo"
checksum = "none"
allow_ips = ["127.0.0.1/32"]
forward = ["orders"]
idempotency_ttl = "1s"

[[routes]]
name = "doomed"
provider = "rbs"
path = "/rbs/doomed"
checksum = "none"
allow_ips = ["127.0.0.1/32"]
forward = ["orders", "gone"]
idempotency_ttl = "1s"
)";
  DaemonProcess d(o);
  ASSERT_TRUE(d.start()) << d.logs();
  ASSERT_TRUE(d.waitReady(200, 15'000)) << d.logs();

  ASSERT_EQ(deposit(d, "/rbs/demo", "msg_kept"), 200);
  const std::string a = storedEvent(redis, "demo", "msg_kept:deposited:1")["id"];
  ASSERT_EQ(deposit(d, "/rbs/demo", "msg_kept"), 200);  // within idempotency_ttl: a duplicate
  ASSERT_EQ(deposit(d, "/rbs/doomed", "msg_dead"), 200);
  const std::string b = storedEvent(redis, "doomed", "msg_dead:deposited:1")["id"];
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());

  ASSERT_TRUE(waitFor([&] { return hash(redis, "{payhook}:ev:" + a)["state"] == "delivered"; })) << d.logs();
  const auto delivered_at = SteadyClock::now();
  ASSERT_TRUE(waitFor([&] { return hash(redis, "{payhook}:ev:" + b)["state"] == "dead"; })) << d.logs();
  EXPECT_EQ(app.idCounts()[a], 1);  // the duplicate was not delivered again
  EXPECT_EQ(redis.command({"LLEN", "{payhook}:attempts:" + a}).integer, 1);

  ASSERT_TRUE(waitFor(
      [&] {
        return redis.command({"EXISTS", "{payhook}:ev:" + a}).integer == 0;
      },
      10'000))
      << d.logs();
  const auto kept_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - delivered_at).count();
  EXPECT_GE(kept_ms, 1'500);  // retention counts from the delivery
  // Nothing of it is left to dangle.
  EXPECT_EQ(redis.command({"EXISTS", "{payhook}:attempts:" + a}).integer, 0);
  EXPECT_EQ(redis.command({"ZSCORE", "{payhook}:events", a}).type, RedisReply::kNil);
  EXPECT_EQ(redis.command({"ZSCORE", "{payhook}:events:done", a}).type, RedisReply::kNil);
  EXPECT_EQ(redis.command({"ZSCORE", "{payhook}:due:orders", a + "|orders"}).type, RedisReply::kNil);
  EXPECT_EQ(redis.command({"ZSCORE", "{payhook}:leased", a + "|orders"}).type, RedisReply::kNil);
  EXPECT_EQ(countKeys(redis, "{payhook}:*" + a + "*"), 0u);

  // The dead event stays whole, however long after.
  EXPECT_EQ(hash(redis, "{payhook}:ev:" + b)["state"], "dead");
  EXPECT_EQ(redis.command({"LLEN", "{payhook}:attempts:" + b}).integer, 2);
  EXPECT_NE(redis.command({"ZSCORE", "{payhook}:dead", b + "|gone"}).type, RedisReply::kNil);
  EXPECT_NE(redis.command({"ZSCORE", "{payhook}:events", b}).type, RedisReply::kNil);

  int code = -1;
  std::string out = ctl(d, {"show", a}, &code);
  EXPECT_EQ(code, 1) << out;
  out = ctl(d, {"list", "--json"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out.find(a), std::string::npos) << out;
  EXPECT_NE(out.find(b), std::string::npos) << out;

  out = ctl(d, {"stats"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("events   1 (0 complete, removed once their retention has passed)"), std::string::npos)
      << out;
  EXPECT_NE(out.find("memory   "), std::string::npos) << out;
  EXPECT_NE(out.find(" bytes ("), std::string::npos) << out;
  EXPECT_NE(out.find("no maxmemory"), std::string::npos) << out;
  out = ctl(d, {"stats", "--json"}, &code);
  ASSERT_EQ(code, 0) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["events"], 1);
  EXPECT_EQ(j["events_complete"], 0);
  EXPECT_GT(j["redis_used_memory"].get<long long>(), 0);
  EXPECT_EQ(j["redis_maxmemory"], 0);

  std::string m;
  EXPECT_TRUE(waitFor([&] {
    m = scrape(d);
    return has(m, "payhook_retention_removed_total 1") && has(m, "payhook_events_stored 1") &&
           has(m, "payhook_events_complete 0");
  })) << m;
  EXPECT_TRUE(has(m, "payhook_redis_maxmemory_bytes 0")) << m;
  EXPECT_TRUE(has(m, "payhook_redis_writes_refused 0")) << m;
  EXPECT_NE(m.find("\npayhook_redis_used_memory_bytes "), std::string::npos) << m;

  // The idempotency key expired before the event went: the provider's repeat now is a new event.
  ASSERT_EQ(deposit(d, "/rbs/demo", "msg_kept"), 200);
  EXPECT_TRUE(waitFor([&] { return app.count() == 3; })) << d.logs();
  EXPECT_EQ(d.stop(), 0) << d.logs();
}

TEST(ReadinessTest, ReadyzAnswers503WhileRedisRefusesWritesAnd200After) {
  RedisServer redis;
  DaemonOptions o;
  o.redis_url = redis.url();
  DaemonProcess d(o);
  ASSERT_TRUE(d.start()) << d.logs();
  ASSERT_TRUE(d.waitReady(200, 15'000)) << d.logs();
  ASSERT_EQ(post(d, "/hooks/demo", "msg_before"), 204);

  // maxmemory just above what Redis uses, then writes until noeviction refuses one.
  const long long used = used_memory(redis);
  ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory", std::to_string(used + 64 * 1024)}).type,
            RedisReply::kStatus);
  int filled = 0;
  while (filled < 100 &&
         redis.command({"SET", "filler:" + std::to_string(filled), std::string(16 * 1024, 'x')}).type !=
             RedisReply::kError)
    ++filled;
  ASSERT_LT(filled, 100);
  ASSERT_TRUE(d.waitReady(503, 5'000)) << d.logs();
  auto r = httpRequest(d.adminAddress(), "GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body,
            "not ready: redis refuses writes: out of memory: used memory is above maxmemory and "
            "maxmemory-policy is noeviction\n");
  EXPECT_EQ(post(d, "/hooks/demo", "msg_oom"), 503);
  EXPECT_TRUE(has(scrape(d), "payhook_redis_writes_refused 1"));
  EXPECT_EQ(httpRequest(d.adminAddress(), "GET", "/healthz").status, 200);  // alive, only not ready

  // The operator frees memory: ready again, without a callback having to succeed first.
  for (int i = 0; i < filled; ++i) redis.command({"DEL", "filler:" + std::to_string(i)});
  redis.command({"CONFIG", "SET", "maxmemory", "0"});
  ASSERT_TRUE(d.waitReady(200, 5'000)) << d.logs();
  EXPECT_EQ(post(d, "/hooks/demo", "msg_after_oom"), 204);

  // A failover demoted this Redis to a replica (of a master that is not there).
  redis.command({"REPLICAOF", "127.0.0.1", std::to_string(freeTcpPort())});
  ASSERT_TRUE(d.waitReady(503, 5'000)) << d.logs();
  r = httpRequest(d.adminAddress(), "GET", "/readyz");
  EXPECT_EQ(r.body, "not ready: redis refuses writes: a read-only replica\n");
  EXPECT_EQ(post(d, "/hooks/demo", "msg_replica"), 503);
  redis.command({"REPLICAOF", "NO", "ONE"});
  ASSERT_TRUE(d.waitReady(200, 5'000)) << d.logs();
  EXPECT_EQ(post(d, "/hooks/demo", "msg_after_replica"), 204);
  EXPECT_TRUE(has(scrape(d), "payhook_redis_writes_refused 0"));

  // Logged once per change, not once per probe.
  const std::string logs = d.logs();
  EXPECT_EQ(occurrences(logs, "redis refuses writes"), 2u) << logs;
  EXPECT_EQ(occurrences(logs, "redis takes writes again"), 2u) << logs;
  EXPECT_EQ(d.stop(), 0) << logs;
}

}  // namespace
}  // namespace payhook::testing
