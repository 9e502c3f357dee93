// Expected orders end to end: the real payhookd and redis-server, a fake RBS gateway API (status requests)
// and the shop's app (Sink). An order registered as expected is closed exactly once: by its callback (no
// status request at all), by reconciliation after its deadline (one event, "source": "reconciliation"), never
// twice when the callback comes late, through an API that is down for a while, and across a kill -9.
#include <gtest/gtest.h>
#include <signal.h>
#include <sodium.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/secret.h"
#include "handlers/digest.h"
#include "handlers/form.h"
#include "handlers/rbs/rbs.h"
#include "support/config_toml.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/fake_rbs_api.h"
#include "support/http_client.h"
#include "support/sink.h"
#include "support/store_inspect.h"
#include "support/wait.h"

namespace payhook::testing {
namespace {

using nlohmann::json;

constexpr const char* kToken = "ooc7slpvc61k7sf7ma7p4hrefr";
constexpr const char* kAdminToken = "admin-token-Exp3cted-0rders";
constexpr const char* kApiPassword = "api-secret-pw";

std::string signedPairs(const std::string& pairs) {
  auto form = handlers::Form::parse(pairs);
  return pairs + "&checksum=" +
         handlers::hmacSha256Hex(Secret(kToken), handlers::rbs::signedString(*form),
                                 handlers::HexCase::kUpper);
}

class ExpectedOrdersTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }

  void start(
      const std::string& retry =
          R"(retry = { schedule = ["300ms", "300ms", "300ms", "300ms", "300ms", "300ms"], jitter = 0.0, )"
          R"(max_age = "1m" })",
      int poll_rate = 20) {
    DaemonOptions o;
    o.extra_admin = "token_file = \"secrets/admin.token\"\n";
    o.targets = targetToml("orders", sink_.url());
    o.delivery = "lease_timeout = \"8s\"\nsweep_interval = \"1s\"\n";
    o.routes = R"(
[[routes]]
name = "bank"
provider = "rbs"
path = "/rbs"
checksum = "hmac-sha256"
secret_file = "secrets/rbs.token"
forward = ["orders"]
api_base = ")" +
               api_.base() + R"("
api_user = "shop-api"
api_password_file = "secrets/rbs-api.pass"
poll_rate = )" +
               std::to_string(poll_rate) + "\n" + retry + "\n" +
               R"(
[[routes]]
name = "plain"
provider = "rbs"
path = "/rbs-plain"
checksum = "hmac-sha256"
secret_file = "secrets/rbs.token"
forward = ["orders"]
)";
    createDaemon(o);
    writeSecret("rbs.token", std::string(kToken) + "\n");
    writeSecret("rbs-api.pass", std::string(kApiPassword) + "\n");
    writeSecret("admin.token", std::string(kAdminToken) + "\n");
    startDaemon();
  }

  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->logs().find(kApiPassword), std::string::npos) << "the API password reached the log";
    }
    DaemonFixture::TearDown();
  }

  HttpResponse admin(const std::string& method, const std::string& target, const std::string& body = {}) {
    std::vector<std::pair<std::string, std::string>> headers{
        {"authorization", std::string("Bearer ") + kAdminToken}};
    if (!body.empty()) headers.emplace_back("content-type", "application/json");
    return httpRequest(daemon_->adminAddress(), method, target, headers, body);
  }

  void expect(const std::string& order, const std::string& deadline = "1s") {
    auto r = admin(
        "POST", "/v1/expected",
        json{{"route", "bank"}, {"order", order}, {"amount", "1000.50"}, {"deadline", deadline}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }

  HttpResponse callback(const std::string& md_order, const std::string& order_number,
                        const std::string& operation = "deposited", const std::string& extra = "") {
    return httpRequest(
        daemon_->address(), "GET",
        "/rbs/callback?" + signedPairs("amount=100050&mdOrder=" + md_order + "&operation=" + operation +
                                       "&orderNumber=" + order_number + extra + "&status=1"));
  }

  // The envelopes the app received about `order` (by data.md_order or data.order_number).
  std::vector<json> eventsFor(const std::string& order) {
    std::vector<json> out;
    for (const auto& r : sink_.received()) {
      json e = json::parse(r.body, nullptr, false);
      if (e.is_discarded()) continue;
      const json& d = e["data"];
      if (d.value("md_order", "") == order || d.value("order_number", "") == order ||
          d.value("expected_order", "") == order)
        out.push_back(e);
    }
    return out;
  }

  std::map<std::string, std::string> expectation(const std::string& order,
                                                 const std::string& route = "bank") {
    return eventHash(redis_, "{payhook}:exp:" + route + ":" + order);
  }

  FakeRbsApi api_;
  Sink sink_{200};
};

constexpr const char* kMdA = "0a1b2c3d-0000-4000-8000-00000000000a";
constexpr const char* kMdB = "0a1b2c3d-0000-4000-8000-00000000000b";

// (a) The callback comes in time: it closes the expectation in the store script, and the API is never asked.
TEST_F(ExpectedOrdersTest, ACallbackInTimeClosesItWithoutAnyStatusRequest) {
  start();
  expect(kMdA, "1s");
  auto cb = callback(kMdA, "5001");
  ASSERT_EQ(cb.status, 200) << cb.body;
  ASSERT_TRUE(waitFor([&] { return eventsFor(kMdA).size() == 1; })) << daemon_->logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // past the deadline
  EXPECT_EQ(api_.requestsTotal(), 0);
  auto events = eventsFor(kMdA);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "rbs.deposited");
  EXPECT_EQ(events[0]["source"], "callback");
  auto exp = expectation(kMdA);
  EXPECT_EQ(exp["state"], "closed");
  EXPECT_EQ(exp["closed_by"], "callback");
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:expect:due:bank"}).integer, 0);
}

// Business dedupe is between sources only: two partial refunds of an expected order both reach the app.
TEST_F(ExpectedOrdersTest, CallbacksNeverHoldBackOtherCallbacks) {
  start();
  constexpr const char* kMd = "0a1b2c3d-0000-4000-8000-00000000000c";
  expect(kMd, "1h");
  ASSERT_EQ(callback(kMd, "5010").status, 200);
  ASSERT_EQ(callback(kMd, "5010", "refunded", "&refundedAmount=1000").status, 200);
  ASSERT_EQ(callback(kMd, "5010", "refunded", "&refundedAmount=3000").status, 200);
  ASSERT_TRUE(waitFor([&] { return eventsFor(kMd).size() == 3; })) << daemon_->logs();
  EXPECT_EQ(expectation(kMd)["closed_by"], "callback");
  EXPECT_EQ(api_.requestsTotal(), 0);
}

// (b) No callback: after the deadline the API is asked, and the final state goes out once, from
// reconciliation.
TEST_F(ExpectedOrdersTest, AWithheldCallbackIsReconciledOnceAfterTheDeadline) {
  start();
  api_.setStatus("5002", 2, kMdB);
  const auto registered = std::chrono::steady_clock::now();
  expect("5002", "1s");
  ASSERT_TRUE(waitFor([&] { return !eventsFor("5002").empty(); }, 15'000)) << daemon_->logs();
  EXPECT_GE(std::chrono::steady_clock::now() - registered, std::chrono::milliseconds(900));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto events = eventsFor("5002");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "rbs.order_status");
  EXPECT_EQ(events[0]["source"], "reconciliation");
  EXPECT_EQ(events[0]["data"]["order_status"], 2);
  EXPECT_EQ(events[0]["data"]["payment"]["outcome"], "succeeded");
  EXPECT_EQ(api_.requests("5002"), 1);
  // The request carried the merchant's credentials from their files.
  ASSERT_FALSE(api_.bodies().empty());
  EXPECT_EQ(api_.bodies()[0],
            "userName=shop-api&password=" + std::string(kApiPassword) + "&orderNumber=5002");
  auto exp = expectation("5002");
  EXPECT_EQ(exp["state"], "closed");
  EXPECT_EQ(exp["closed_by"], "reconciliation");

  // (c) The callback comes late: stored (and acknowledged), but no second business event.
  auto cb = callback(kMdB, "5002");
  ASSERT_EQ(cb.status, 200) << cb.body;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(eventsFor("5002").size(), 1u);
  auto id = redis_.command({"GET", std::string("{payhook}:idem:bank:") + kMdB + ":deposited:1"});
  ASSERT_EQ(id.type, RedisReply::kString);
  auto late = eventHash(redis_, "{payhook}:ev:" + id.str);
  EXPECT_EQ(late["state"], "stored");
  EXPECT_EQ(late["targets"], "");
  EXPECT_EQ(late["same_as"], events[0]["id"].get<std::string>());
  auto shown = admin("GET", "/v1/events/" + id.str);
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(json::parse(shown.body)["same_as"], events[0]["id"]);
}

// (d) The API is down for a while: asked again on the route's backoff until it answers; nothing is lost.
TEST_F(ExpectedOrdersTest, AnApiThatIsDownIsAskedAgainOnTheBackoff) {
  start();
  api_.setStatus("5003", 6);
  api_.failNext(3);
  expect("5003", "500ms");
  ASSERT_TRUE(waitFor([&] { return !eventsFor("5003").empty(); }, 20'000)) << daemon_->logs();
  EXPECT_EQ(api_.requests("5003"), 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  auto events = eventsFor("5003");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["source"], "reconciliation");
  EXPECT_EQ(events[0]["data"]["payment"]["outcome"], "failed");
  EXPECT_EQ(expectation("5003")["state"], "closed");
}

// (e) payhookd killed with expectations pending: after a restart every one is still closed.
TEST_F(ExpectedOrdersTest, ExpectationsPendingAtAKillAreClosedAfterRestart) {
  start();
  const std::vector<std::string> orders{"6001", "6002", "6003"};
  for (const auto& o : orders) {
    api_.setStatus(o, 2);
    expect(o, "2s");
  }
  ASSERT_EQ(daemon_->stop(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(daemon_->start()) << daemon_->logs();
  ASSERT_TRUE(daemon_->waitReady(200, 15'000));
  for (const auto& o : orders)
    ASSERT_TRUE(waitFor([&] { return eventsFor(o).size() == 1; }, 20'000)) << o << daemon_->logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  for (const auto& o : orders) {
    EXPECT_EQ(eventsFor(o).size(), 1u) << o;
    EXPECT_EQ(expectation(o)["state"], "closed") << o;
  }
}

// Held (two-stage): reported once, asked about again, and its capture is the final event.
TEST_F(ExpectedOrdersTest, AHeldOrderIsReportedOnceThenAskedAboutUntilItIsFinal) {
  start();
  api_.setStatus("5005", 1);
  expect("5005", "300ms");
  ASSERT_TRUE(waitFor([&] { return api_.requests("5005") >= 3; }, 15'000)) << daemon_->logs();
  auto held = eventsFor("5005");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0]["data"]["payment"]["outcome"], "held");
  EXPECT_EQ(held[0]["source"], "reconciliation");
  EXPECT_EQ(expectation("5005")["state"], "open");
  api_.setStatus("5005", 2);
  ASSERT_TRUE(waitFor([&] { return eventsFor("5005").size() == 2; }, 15'000)) << daemon_->logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  auto events = eventsFor("5005");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["data"]["payment"]["outcome"], "succeeded");
  EXPECT_EQ(expectation("5005")["state"], "closed");
}

// The route's poll_rate bounds the requests per second, even when many orders fall due at once.
TEST_F(ExpectedOrdersTest, ManyOrdersDueAtOnceAreAskedAboutAtThePollRate) {
  start(R"(retry = { schedule = ["300ms", "300ms"], jitter = 0.0, max_age = "1m" })", 2);
  std::vector<std::string> orders;
  for (int i = 0; i < 6; ++i) {
    orders.push_back("810" + std::to_string(i));
    api_.setStatus(orders.back(), 2);
    expect(orders.back(), "200ms");
  }
  for (const auto& o : orders)
    ASSERT_TRUE(waitFor([&] { return eventsFor(o).size() == 1; }, 20'000)) << o << daemon_->logs();
  const auto times = api_.times();
  ASSERT_EQ(times.size(), 6u);
  // A burst of poll_rate, then one every 1/poll_rate s: six requests span about two seconds.
  EXPECT_GE(msBetween(times.front(), times.back()), 1'500);
  for (size_t i = 3; i < times.size(); ++i)
    EXPECT_GE(msBetween(times[i - 3], times[i]), 900) << "more than 3 requests within a second at " << i;
}

// Still pending when the policy gives up: dead, with the last status seen, for operators to see.
TEST_F(ExpectedOrdersTest, AnOrderNeverFinalGoesToTheDeadSetWithItsLastStatus) {
  start(R"(retry = { schedule = ["200ms"], jitter = 0.0, max_age = "1m" })");
  api_.setStatus("5004", 0);
  expect("5004", "300ms");
  ASSERT_TRUE(waitFor([&] { return expectation("5004")["state"] == "dead"; }, 15'000)) << daemon_->logs();
  auto exp = expectation("5004");
  EXPECT_EQ(exp["last_status"], "orderStatus 0 (created)");
  EXPECT_EQ(api_.requests("5004"), 2);
  EXPECT_TRUE(eventsFor("5004").empty());
  EXPECT_EQ(redis_.command({"ZSCORE", "{payhook}:expect:dead", "bank\n5004"}).type, RedisReply::kString);

  // The metrics count it (the gauge every 5 s).
  std::string metrics;
  EXPECT_TRUE(waitFor(
      [&] {
        metrics = httpRequest(daemon_->adminAddress(), "GET", "/metrics").body;
        return metrics.find("payhook_expected_orders{state=\"dead\"} 1") != std::string::npos;
      },
      8'000))
      << metrics;
  EXPECT_NE(metrics.find("payhook_reconciliation_polls_total{route=\"bank\",outcome=\"dead\"} 1"),
            std::string::npos)
      << metrics;

  auto listed = admin("GET", "/v1/expected?state=dead");
  ASSERT_EQ(listed.status, 200) << listed.body;
  json j = json::parse(listed.body);
  EXPECT_EQ(j["dead"], 1);
  ASSERT_EQ(j["expected"].size(), 1u);
  EXPECT_EQ(j["expected"][0]["order"], "5004");
  EXPECT_EQ(j["expected"][0]["last_status"], "orderStatus 0 (created)");

  std::string out;
  EXPECT_EQ(runProgram({PAYHOOKCTL_PATH, "-c", daemon_->configPath(), "list", "--state", "dead"}, &out), 0)
      << out;
  EXPECT_NE(out.find("5004"), std::string::npos) << out;
  EXPECT_NE(out.find("orderStatus 0 (created)"), std::string::npos) << out;

  // A callback that comes after all is delivered, and settles the order: out of the dead set.
  ASSERT_EQ(callback("0a1b2c3d-0000-4000-8000-000000005004", "5004").status, 200);
  ASSERT_TRUE(waitFor([&] { return eventsFor("5004").size() == 1; })) << daemon_->logs();
  EXPECT_EQ(eventsFor("5004")[0]["source"], "callback");
  EXPECT_EQ(expectation("5004")["state"], "closed");
  EXPECT_EQ(redis_.command({"ZSCORE", "{payhook}:expect:dead", "bank\n5004"}).type, RedisReply::kNil);
}

TEST_F(ExpectedOrdersTest, RegistrationIsIdempotentAndBadInputIsRefusedWithItsReason) {
  start();
  expect("7001", "1h");
  auto again =
      admin("POST", "/v1/expected", R"({"route":"bank","order":"7001","amount":"1000.50","deadline":"2h"})");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body)["created"], false);
  auto other = admin("POST", "/v1/expected", R"({"route":"bank","order":"7001","amount":"5"})");
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_EQ(json::parse(other.body)["amount"], "1000.50");

  struct Bad {
    std::string body;
    std::string reason;
  };
  const std::vector<Bad> bad{
      {R"({"route":"nope","order":"1"})", "route: no route is named"},
      {R"({"route":"plain","order":"1"})", "has no status API to ask"},
      {R"({"route":"bank"})", "order: is required"},
      {R"({"route":"bank","order":""})", "order: is required"},
      {R"({"route":"bank","order":"1","deadline":"-5s"})", "deadline: must not be negative"},
      {R"({"route":"bank","order":"1","deadline":-5})", "deadline: must not be negative"},
      {R"({"route":"bank","order":"1","deadline":"soon"})", "deadline: must be a duration"},
      {R"({"route":"bank","order":"1","amount":"-3"})", "amount: must be a non-negative decimal"},
      {R"(["bank"])", "the body must be a JSON object"},
  };
  for (const auto& b : bad) {
    auto r = admin("POST", "/v1/expected", b.body);
    EXPECT_EQ(r.status, 400) << b.body << ": " << r.body;
    EXPECT_NE(r.body.find(b.reason), std::string::npos) << b.body << ": " << r.body;
  }
  // Only the one good registration is in Redis.
  auto keys = redis_.command({"KEYS", "{payhook}:exp:*"});
  ASSERT_EQ(keys.elements.size(), 1u);
  EXPECT_EQ(keys.elements[0].str, "{payhook}:exp:bank:7001");

  // payhookctl registers the same way, straight in Redis.
  std::string out;
  EXPECT_EQ(runProgram({PAYHOOKCTL_PATH, "-c", daemon_->configPath(), "expect", "--route", "bank", "--order",
                        "7002", "--deadline", "2h"},
                       &out),
            0)
      << out;
  EXPECT_EQ(expectation("7002")["state"], "open");
  EXPECT_EQ(
      runProgram({PAYHOOKCTL_PATH, "-c", daemon_->configPath(), "expect", "--route", "nope", "--order", "1"},
                 &out),
      2);
  EXPECT_NE(out.find("route: no route is named"), std::string::npos) << out;
  EXPECT_EQ(runProgram({PAYHOOKCTL_PATH, "-c", daemon_->configPath(), "expect", "--route", "bank", "--order",
                        "1", "--deadline", "-1h"},
                       &out),
            2);
  EXPECT_NE(out.find("deadline: must not be negative"), std::string::npos) << out;
}

}  // namespace
}  // namespace payhook::testing
