// Integra against the real payhookd and a real redis-server: the exact answers, what is stored, repeats
// folded into one event, a wrong token answered like an unknown path, outages storing nothing.
#include <gtest/gtest.h>
#include <sodium.h>

#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

constexpr const char* kIntegraToken = "tok-3f9a1c77e2b54d08";
constexpr const char* kTxId = "0123456789abcdef0123456789abcdef";

// The stored data without its normalised payment, for comparing the provider's own fields as text.
std::string providerFields(const std::string& data_json) {
  auto data = nlohmann::json::parse(data_json, nullptr, false);
  if (data.is_object()) data.erase("payment");
  return data.dump();
}

constexpr const char* kRoutes = R"(
[[routes]]
name = "integra"
provider = "integra"
path = "/integra"
url_token_file = "secrets/integra.token"
decision = "orders"
api_base = "http://127.0.0.1:9/integra-api"
crypt = "base64"
forward = ["orders"]

[[routes]]
name = "integra-known"
provider = "integra"
path = "/integra-known"
url_token_file = "secrets/integra.token"
known_users = ["9f86d081884c7d65"]
id_param = "id"
decision = "orders"
api_base = "http://127.0.0.1:9/integra-api"
crypt = "base64"
forward = ["orders"]
)";

std::string notifyQuery(const std::string& token = kIntegraToken) {
  return "token=" + token + "&transaction_id=" + kTxId + "&amount=100.50&user=9f86d081884c7d65";
}

class IntegraTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
  void SetUp() override {
    DaemonOptions o;
    o.routes = kRoutes;
    createDaemon(o);
    writeSecret("integra.token", std::string(kIntegraToken) + "\n");
    startDaemon();
  }
  void TearDown() override {
    DaemonFixture::TearDown();
    if (daemon_) {
      // No secret ever reaches the log.
      const std::string logs = daemon_->logs();
      EXPECT_EQ(logs.find(kIntegraToken), std::string::npos);
    }
  }

  HttpResponse integra(const std::string& query, const std::string& path = "/integra/notify") {
    return httpRequest(daemon_->address(), "GET", path + "?" + query);
  }
};

TEST_F(IntegraTest, NotifyIsStoredThenAnsweredOk) {
  auto r = integra(notifyQuery() + "&lang=ru");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.body, "OK");

  auto ev = storedEvent(redis_, "integra", kTxId);
  ASSERT_FALSE(ev.empty()) << daemon_->logs();
  EXPECT_EQ(ev["type"], "integra.payment_notify");
  EXPECT_EQ(ev["route"], "integra");
  EXPECT_EQ(ev["provider"], "integra");
  EXPECT_EQ(ev["verified"], "1");
  EXPECT_EQ(ev["raw_method"], "GET");
  EXPECT_EQ(ev["raw_path"], "/integra/notify");
  EXPECT_EQ(ev["raw_body"], "");
  // What confirmPayment / declinePayment will need, and never the token.
  EXPECT_EQ(providerFields(ev["data"]), std::string(R"({"amount":"100.50","lang":"ru","transaction_id":")") +
                                            kTxId + R"(","user":"9f86d081884c7d65"})");
  const auto payment = nlohmann::json::parse(ev["data"])["payment"];
  EXPECT_EQ(payment["outcome"], "pending");
  EXPECT_EQ(payment["amount"], "100.50");
  EXPECT_TRUE(payment["currency"].is_null());
  EXPECT_EQ(payment["provider_payment_id"], kTxId);
  // The raw query is kept without the url token: the secret never reaches Redis or the shop's apps.
  EXPECT_EQ(ev["raw_query"],
            std::string("transaction_id=") + kTxId + "&amount=100.50&user=9f86d081884c7d65&lang=ru");
  for (const auto& [field, value] : ev) EXPECT_EQ(value.find(kIntegraToken), std::string::npos) << field;
  EXPECT_EQ(queuedJobCount(redis_), 1);
}

TEST_F(IntegraTest, RepeatsAreOneEvent) {
  for (int i = 0; i < 3; ++i) {
    auto r = integra(notifyQuery());
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "OK");
  }
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
  EXPECT_EQ(queuedJobCount(redis_), 1);
}

TEST_F(IntegraTest, WrongTokenIsIndistinguishableFromAnUnknownPath) {
  const auto unknown = httpRequest(daemon_->address(), "GET", "/nothing-here?" + notifyQuery());
  ASSERT_EQ(unknown.status, 404);
  std::string one_byte = kIntegraToken;
  one_byte.back() = '9';
  for (const std::string& query :
       {notifyQuery(one_byte), notifyQuery(""), std::string("transaction_id=") + kTxId + "&amount=1&user=u",
        notifyQuery() + "&token=" + kIntegraToken, std::string()}) {
    SCOPED_TRACE(query);
    auto r = integra(query);
    EXPECT_EQ(r.status, unknown.status);
    EXPECT_EQ(r.headers, unknown.headers);
    EXPECT_EQ(r.body, unknown.body);
  }
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  EXPECT_EQ(countKeys(redis_, "{payhook}:idem:*"), 0u);
}

TEST_F(IntegraTest, MalformedAndUnknownUsersStoreNothing) {
  auto bad_amount =
      integra(std::string("token=") + kIntegraToken + "&transaction_id=" + kTxId + "&amount=1e3&user=u");
  EXPECT_EQ(bad_amount.status, 400);
  EXPECT_EQ(bad_amount.header("content-type"), "text/plain; charset=utf-8");
  auto no_id = integra(std::string("token=") + kIntegraToken + "&amount=1&user=u");
  EXPECT_EQ(no_id.status, 400);
  // The route with known_users (and id_param = "id").
  auto unknown_user =
      integra(std::string("token=") + kIntegraToken + "&id=" + kTxId + "&amount=1&user=someone",
              "/integra-known/notify");
  EXPECT_EQ(unknown_user.status, 403);
  EXPECT_EQ(unknown_user.body, "forbidden\n");
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);

  auto known =
      integra(std::string("token=") + kIntegraToken + "&id=" + kTxId + "&amount=1&user=9f86d081884c7d65",
              "/integra-known/notify");
  EXPECT_EQ(known.status, 200);
  EXPECT_EQ(known.body, "OK");
  auto ev = storedEvent(redis_, "integra-known", kTxId);
  ASSERT_FALSE(ev.empty()) << daemon_->logs();
  EXPECT_EQ(providerFields(ev["data"]),
            std::string(R"({"amount":"1","transaction_id":")") + kTxId + R"(","user":"9f86d081884c7d65"})");
}

TEST_F(IntegraTest, RedisDownIs503ThenTheRetryIsStoredOnce) {
  redis_.kill();
  ASSERT_TRUE(daemon_->waitReady(503, 15'000));
  auto r = integra(notifyQuery());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "5");
  EXPECT_NE(r.body, "OK");

  redis_.start();
  ASSERT_TRUE(daemon_->waitReady(200, 20'000)) << daemon_->logs();
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  EXPECT_EQ(integra(notifyQuery()).status, 200);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

}  // namespace
}  // namespace payhook::testing
