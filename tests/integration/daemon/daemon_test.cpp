// The real payhookd against a real redis-server: every 2xx is an event in Redis, nothing else is.
#include <gtest/gtest.h>
#include <signal.h>
#include <sodium.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>

#include "handlers/standard_webhooks/standard_webhooks.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/signed_requests.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

Headers signedHeaders(const std::string& id, const std::string& body, int64_t ts = std::time(nullptr),
                      const char* secret = DaemonProcess::kDemoSecret) {
  return standardWebhookHeaders(id, body, ts, secret);
}

HttpResponse post(const DaemonProcess& d, const std::string& id, const std::string& body,
                  const std::string& path = "/hooks/demo") {
  return httpRequest(d.address(), "POST", path, signedHeaders(id, body), body);
}

DaemonOptions withRedis(const std::string& url, const std::string& listen = "") {
  DaemonOptions o;
  o.redis_url = url;
  o.listen = listen;
  return o;
}

RedisServer::Options unixRedis() {
  RedisServer::Options o;
  o.unix_socket = true;
  return o;
}

RedisServer::Options passwordRedis(const std::string& password) {
  RedisServer::Options o;
  o.password = password;
  return o;
}

class DaemonTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
  void SetUp() override {
    createDaemon(withRedis(redis_.url()));
    startDaemon(10'000);
  }
};

TEST_F(DaemonTest, SignedCallbackIsStoredThenAnswered204) {
  std::string body = R"({"type":"invoice.paid","data":{"amount":"10.50"}})";
  auto resp = post(*daemon_, "msg_signed_1", body);
  ASSERT_EQ(resp.status, 204) << daemon_->logs();

  auto id = redis_.command({"GET", "{payhook}:idem:demo:msg_signed_1"});
  ASSERT_EQ(id.type, RedisReply::kString);
  auto ev = eventHash(redis_, "{payhook}:ev:" + id.str);
  EXPECT_EQ(ev["route"], "demo");
  EXPECT_EQ(ev["provider"], "standard-webhooks");
  EXPECT_EQ(ev["type"], "standard_webhooks.invoice.paid");
  EXPECT_EQ(ev["raw_body"], body);
  EXPECT_EQ(ev["raw_path"], "/hooks/demo");
  auto data = nlohmann::json::parse(ev["data"]);
  EXPECT_EQ(data["payload"]["data"]["amount"], "10.50");
  // One delivery job for the one target, due now.
  auto due = queuedJobs(redis_);
  ASSERT_EQ(due.elements.size(), 1u);
  EXPECT_EQ(due.elements[0].str, id.str + "|orders");
  EXPECT_NE(daemon_->logs().find("\"event_id\":\"" + id.str + "\""), std::string::npos);
}

TEST_F(DaemonTest, ForgedCallbackIs401AndNothingIsStored) {
  std::string body = R"({"type":"invoice.paid"})";
  auto headers = signedHeaders("msg_forged", body);
  auto resp = httpRequest(daemon_->address(), "POST", "/hooks/demo", headers, R"({"type":"invoice.PAID"})");
  EXPECT_EQ(resp.status, 401);
  auto wrong_key =
      signedHeaders("msg_forged2", body, std::time(nullptr), "whsec_d3Jvbmcta2V5LXdyb25nLWtleQ==");
  EXPECT_EQ(httpRequest(daemon_->address(), "POST", "/hooks/demo", wrong_key, body).status, 401);
  auto stale = signedHeaders("msg_stale", body, std::time(nullptr) - 600);
  EXPECT_EQ(httpRequest(daemon_->address(), "POST", "/hooks/demo", stale, body).status, 401);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  EXPECT_EQ(countKeys(redis_, "{payhook}:idem:*"), 0u);
  // The secret never reaches the log.
  EXPECT_EQ(daemon_->logs().find("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), std::string::npos);
}

TEST_F(DaemonTest, MissingHeaderIs400) {
  auto resp = httpRequest(daemon_->address(), "POST", "/hooks/demo", {{"webhook-id", "x"}}, "{}");
  EXPECT_EQ(resp.status, 400);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
}

TEST_F(DaemonTest, SameWebhookIdTwiceIsOneEvent) {
  std::string body = R"({"type":"x"})";
  EXPECT_EQ(post(*daemon_, "msg_twice", body).status, 204);
  EXPECT_EQ(post(*daemon_, "msg_twice", body).status, 204);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
  EXPECT_EQ(queuedJobCount(redis_), 1);
}

TEST_F(DaemonTest, UnknownPathIs404AndWrongMethodIs405) {
  EXPECT_EQ(httpRequest(daemon_->address(), "POST", "/hooks/nope", {}, "{}").status, 404);
  auto r = httpRequest(daemon_->address(), "GET", "/hooks/demo");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "POST");
}

TEST_F(DaemonTest, RedisDownMeans503AndNothingAckedThenRecoversWithoutRestart) {
  redis_.kill();
  ASSERT_TRUE(daemon_->waitReady(503, 10'000));
  std::string body = R"({"type":"during.outage"})";
  auto resp = post(*daemon_, "msg_outage", body);
  EXPECT_EQ(resp.status, 503);
  EXPECT_EQ(resp.header("retry-after"), "5");

  redis_.start();
  ASSERT_TRUE(daemon_->waitReady(200, 15'000)) << daemon_->logs();
  // Nothing from the outage was written, so the provider's retry is the first copy.
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  EXPECT_EQ(post(*daemon_, "msg_outage", body).status, 204);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

TEST_F(DaemonTest, StoreTimeoutMeans503NeverA2xx) {
  redis_.pause();
  auto resp = post(*daemon_, "msg_paused", R"({"type":"slow"})");
  EXPECT_EQ(resp.status, 503);
  redis_.resume();
  ASSERT_TRUE(daemon_->waitReady(200, 15'000)) << daemon_->logs();
  // A retry after the timeout is stored once, whether or not the first write landed late.
  EXPECT_EQ(post(*daemon_, "msg_paused", R"({"type":"slow"})").status, 204);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

TEST_F(DaemonTest, SigtermFinishesTheRequestInFlightThenExits0) {
  redis_.pause();
  std::string body = R"({"type":"in.flight"})";
  HttpResponse resp;
  std::thread client([&] { resp = post(*daemon_, "msg_inflight", body); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(daemon_->pid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  redis_.resume();
  client.join();
  // Either stored and acknowledged, or refused with 503 after the store timeout; never a 2xx unstored.
  ASSERT_TRUE(resp.status == 204 || resp.status == 503) << resp.status;
  if (resp.status == 204) {
    EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
  }
  // It is already stopping: wait for the exit without a second signal.
  EXPECT_EQ(daemon_->stop(0, 10'000), 0) << daemon_->logs();
  daemon_.reset();
}

TEST(DaemonCli, VersionAndCheck) {
  std::string out;
  EXPECT_EQ(runProgram({payhookdPath(), "--version"}, &out), 0);
  EXPECT_EQ(out.rfind("payhookd ", 0), 0u) << out;

  RedisServer redis;
  DaemonProcess good(withRedis(redis.url()));
  out.clear();
  EXPECT_EQ(runProgram({payhookdPath(), "--config", good.configPath(), "--check"}, &out), 0) << out;

  std::string bad_path = good.dir() + "/bad.toml";
  writeFile(bad_path,
            "[server]\nlisten = [\"127.0.0.1:8080\"]\nmax_body = \"lots\"\n\n[redis]\nurl = "
            "\"redis://127.0.0.1:1/0\"\n");
  out.clear();
  EXPECT_EQ(runProgram({payhookdPath(), "--config", bad_path, "--check"}, &out), 2);
  EXPECT_NE(out.find(bad_path + ":3:"), std::string::npos) << out;
  EXPECT_NE(out.find("server.max_body"), std::string::npos) << out;
  // The example config builds every provider's handler.
  out.clear();
  EXPECT_EQ(runProgram({payhookdPath(), "--config",
                        std::string(PAYHOOK_SOURCE_DIR) + "/config/payhook.example.toml", "--check"},
                       &out),
            0)
      << out;

  // The daemon itself refuses to start on the same file.
  out.clear();
  EXPECT_EQ(runProgram({payhookdPath(), "--config", bad_path}, &out), 2);
}

TEST(DaemonCli, BadSecretFormatIsAConfigError) {
  RedisServer redis;
  DaemonProcess d(withRedis(redis.url()));
  writeFile(d.dir() + "/secrets/demo.whsec", "whsec_not*base64\n");
  std::string out;
  EXPECT_EQ(runProgram({payhookdPath(), "--config", d.configPath(), "--check"}, &out), 2);
  EXPECT_NE(out.find("routes[0].secret_file"), std::string::npos) << out;
  EXPECT_EQ(out.find("not*base64"), std::string::npos) << "a secret leaked into an error: " << out;
}

TEST(DaemonUnix, UnixSocketsForTheListenerAndRedis) {
  RedisServer redis(unixRedis());
  TempDir dir;
  DaemonProcess d(withRedis(redis.url(), "unix:" + dir.path() + "/http.sock"));
  ASSERT_TRUE(d.start()) << d.logs();
  ASSERT_TRUE(d.waitReady(200, 10'000)) << d.logs();
  EXPECT_EQ(post(d, "msg_unix", R"({"type":"unix"})").status, 204) << d.logs();
  EXPECT_EQ(countKeys(redis, "{payhook}:ev:*"), 1u);
  EXPECT_EQ(d.stop(), 0);
}

TEST(DaemonRedis, PasswordProtectedRedis) {
  RedisServer redis(passwordRedis("s3cret-pass"));
  DaemonProcess d(withRedis(redis.url()));
  ASSERT_TRUE(d.start()) << d.logs();
  ASSERT_TRUE(d.waitReady(200, 10'000)) << d.logs();
  EXPECT_EQ(post(d, "msg_auth", R"({"type":"auth"})").status, 204);
  EXPECT_EQ(d.logs().find("s3cret-pass"), std::string::npos) << "the Redis password leaked into the log";
  EXPECT_EQ(d.stop(), 0);
}

TEST(DaemonRedis, PasswordFromAFile) {
  RedisServer redis(passwordRedis("from-a-file-pass"));
  std::string url = "redis://127.0.0.1:" + std::to_string(redis.port()) + "/0";
  DaemonOptions o = withRedis(url);
  o.extra_redis = "password_file = \"secrets/redis.pass\"\n";
  DaemonProcess d(o);
  writeFile(d.dir() + "/secrets/redis.pass", "from-a-file-pass\n");
  ASSERT_TRUE(d.start()) << d.logs();
  ASSERT_TRUE(d.waitReady(200, 10'000)) << d.logs();
  EXPECT_EQ(post(d, "msg_auth_file", R"({"type":"auth"})").status, 204);
  EXPECT_EQ(d.logs().find("from-a-file-pass"), std::string::npos);
  EXPECT_EQ(d.stop(), 0);
}

TEST(DaemonStart, StartsWhileRedisIsDownAndAnswers503UntilItComes) {
  RedisServer redis;
  redis.stop();
  DaemonProcess d(withRedis(redis.url()));
  ASSERT_TRUE(d.start()) << d.logs();
  EXPECT_EQ(httpRequest(d.adminAddress(), "GET", "/readyz").status, 503);
  EXPECT_EQ(post(d, "msg_early", R"({"type":"early"})").status, 503);
  redis.start();
  ASSERT_TRUE(d.waitReady(200, 15'000)) << d.logs();
  EXPECT_EQ(post(d, "msg_early", R"({"type":"early"})").status, 204);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace payhook::testing
