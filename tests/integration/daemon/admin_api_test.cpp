// The admin API v1 against the real payhookd, redis-server and an app (Sink) in this process: the bearer
// token is required (401 otherwise, 404 for all of /v1 when none is configured), and an operator can find a
// dead event, see why it died, retry it, replay it and purge dead ones through the API alone.
#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/webhook_signature.h"
#include "support/config_toml.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/signed_requests.h"
#include "support/sink.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

using nlohmann::json;

constexpr const char* kToken = "admin-token-5cZ1u9qWm3";

class AdminApiTest : public DaemonFixture {
 protected:
  void start(const std::string& sink_url, bool with_token) {
    DaemonOptions o;
    if (with_token) o.extra_admin = "token_file = \"secrets/admin.token\"\n";
    o.targets = targetToml("orders", sink_url, "", "5s");
    createDaemon(o);
    writeSecret("admin.token", std::string(kToken) + "\n");
    startDaemon();
  }

  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->logs().find(kToken), std::string::npos) << "the admin token reached the log";
    }
    DaemonFixture::TearDown();
  }

  HttpResponse api(const std::string& method, const std::string& target, const std::string& body = {},
                   const std::string& auth = std::string("Bearer ") + kToken) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!auth.empty()) headers.emplace_back("authorization", auth);
    if (!body.empty()) headers.emplace_back("content-type", "application/json");
    return httpRequest(daemon_->adminAddress(), method, target, headers, body);
  }

  json apiJson(const std::string& method, const std::string& target, int want_status,
               const std::string& body = {}) {
    HttpResponse r = api(method, target, body);
    EXPECT_EQ(r.status, want_status) << method << " " << target << ": " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    json j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }

  std::string postCallback(const std::string& msg_id) {
    auto resp = postStandardWebhook(daemon_->address(), msg_id);
    EXPECT_EQ(resp.status, 204) << resp.body;
    return storedEvent(redis_, "demo", msg_id)["id"];
  }

  // Polls the event through the API until its state is `state`.
  bool waitState(const std::string& id, const std::string& state) {
    return waitFor(
        [&] {
          return api("GET", "/v1/events/" + id).body.find("\"state\":\"" + state + "\"") != std::string::npos;
        },
        10'000);
  }
};

TEST_F(AdminApiTest, NeedsTheBearerToken) {
  Sink sink({200});
  start(sink.url(), true);
  for (const std::string& auth :
       {std::string(), std::string("Bearer wrong"), std::string("Bearer ") + kToken + "x",
        std::string("Basic ") + kToken, std::string(kToken)}) {
    HttpResponse r = api("GET", "/v1/stats", {}, auth);
    EXPECT_EQ(r.status, 401) << auth;
    EXPECT_EQ(r.header("www-authenticate").rfind("Bearer", 0), 0u) << auth;
    EXPECT_EQ(r.body.find("events"), std::string::npos);
  }
  EXPECT_EQ(api("POST", "/v1/dead/retry", {}, "Bearer nope").status, 401);
  EXPECT_EQ(api("GET", "/v1/stats", {}, std::string("bearer ") + kToken).status, 200);
  json stats = apiJson("GET", "/v1/stats", 200);
  EXPECT_EQ(stats["events"], 0);
  // The probes stay open.
  EXPECT_EQ(api("GET", "/healthz", {}, "").status, 200);
}

TEST_F(AdminApiTest, OffWithoutAToken) {
  Sink sink({200});
  start(sink.url(), false);
  EXPECT_EQ(api("GET", "/v1/stats").status, 404);
  EXPECT_EQ(api("GET", "/v1/events", {}, "").status, 404);
  EXPECT_EQ(api("GET", "/readyz", {}, "").status, 200);
}

// The operator knows the webhook-id (or an order number), never payhook's id.
TEST_F(AdminApiTest, FindsAnEventByTheKeyTheProviderSent) {
  Sink sink({200});
  start(sink.url(), true);
  const std::string id = postCallback("msg_order_2003");
  json j = apiJson("GET", "/v1/events?key=msg_order_2003", 200);
  ASSERT_EQ(j["events"].size(), 1u) << j.dump();
  EXPECT_EQ(j["events"][0]["id"], id);
  EXPECT_EQ(j["events"][0]["key"], "msg_order_2003");
  EXPECT_EQ(j["events"][0]["route"], "demo");
  EXPECT_EQ(j["key"], "msg_order_2003");
  EXPECT_TRUE(j["next_cursor"].is_null());
  EXPECT_EQ(apiJson("GET", "/v1/events?key=" + id, 200)["events"][0]["key"], "msg_order_2003");
  EXPECT_EQ(apiJson("GET", "/v1/events?key=msg_order_2003&route=other", 200)["events"].size(), 0u);
  EXPECT_EQ(apiJson("GET", "/v1/events?key=nothing", 200)["events"].size(), 0u);
  EXPECT_EQ(api("GET", "/v1/events?key=").status, 400);
  EXPECT_EQ(api("GET", "/v1/events?key=a%0Ab").status, 400);
  EXPECT_EQ(api("GET", "/v1/events?key=x&limit=0").status, 400);
  EXPECT_EQ(api("GET", "/v1/events?key=msg_order_2003", {}, "").status, 401);
}

// What is stuck, why, and fix it: through the API alone.
TEST_F(AdminApiTest, FindWhyRetryReplayAndPurge) {
  // 410 buries the first delivery at once; the retry and the replay are delivered; the second event dies.
  Sink sink({410, 200, 200, 410});
  start(sink.url(), true);
  const std::string id = postCallback("msg-api-1");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(waitState(id, "dead")) << daemon_->logs();

  json stats = apiJson("GET", "/v1/stats", 200);
  EXPECT_EQ(stats["dead"], 1);
  EXPECT_EQ(stats["dead_by_route"]["demo"], 1);

  json dead = apiJson("GET", "/v1/events?state=dead&route=demo", 200);
  ASSERT_EQ(dead["events"].size(), 1u);
  EXPECT_EQ(dead["events"][0]["id"], id);
  EXPECT_EQ(dead["events"][0]["dead_target"], "orders");
  EXPECT_TRUE(dead["next_cursor"].is_null());

  json shown = apiJson("GET", "/v1/events/" + id, 200);
  EXPECT_EQ(shown["state"], "dead");
  EXPECT_EQ(shown.at("data").at("payload").at("data").at("amount"), "10.50");
  ASSERT_EQ(shown["attempts"].size(), 1u);
  EXPECT_EQ(shown["attempts"][0]["status"], 410);
  EXPECT_EQ(shown["attempts"][0]["result"], "dead");
  EXPECT_FALSE(shown["targets"][0]["reason"].get<std::string>().empty());

  // The same JSON shape as payhookctl show --json, which reads Redis directly.
  std::string ctl_out;
  ASSERT_EQ(runProgram({PAYHOOKCTL_PATH, "-c", daemon_->configPath(), "show", id, "--json"}, &ctl_out), 0)
      << ctl_out;
  EXPECT_EQ(json::parse(ctl_out), shown);

  json retried = apiJson("POST", "/v1/events/" + id + "/retry", 200);
  EXPECT_EQ(retried["results"][0]["revived"], json::array({"orders"}));
  ASSERT_TRUE(waitState(id, "delivered")) << daemon_->logs();
  EXPECT_EQ(sink.count(), 2u);
  apiJson("POST", "/v1/events/" + id + "/retry", 409);

  json replayed = apiJson("POST", "/v1/events/" + id + "/replay", 200);
  EXPECT_EQ(replayed["targets"], json::array({"orders"}));
  ASSERT_TRUE(waitFor([&] { return sink.count() == 3; }, 10'000));
  ASSERT_TRUE(waitState(id, "delivered"));
  json again = apiJson("GET", "/v1/events/" + id, 200);
  EXPECT_EQ(again["attempts"].size(), 3u);

  // A second event dies; retry all dead of another route does nothing, then purge takes it.
  const std::string id2 = postCallback("msg-api-2");
  ASSERT_TRUE(waitState(id2, "dead")) << daemon_->logs();
  EXPECT_EQ(apiJson("POST", "/v1/dead/retry", 200, R"({"route":"elsewhere"})")["retried"], 0);
  EXPECT_EQ(apiJson("POST", "/v1/dead/purge?older_than=1h", 200)["purged"], 0);
  EXPECT_EQ(apiJson("POST", "/v1/dead/purge", 200)["purged"], 1);
  apiJson("GET", "/v1/events/" + id2, 404);
  EXPECT_EQ(storedEvent(redis_, "demo", "msg-api-2").size(), 0u);
  EXPECT_EQ(redis_.command({"GET", "{payhook}:idem:demo:msg-api-2"}).str, id2) << "idempotency key kept";
  json all = apiJson("GET", "/v1/events?limit=10", 200);
  ASSERT_EQ(all["events"].size(), 1u);
  EXPECT_EQ(all["events"][0]["id"], id);

  // Bad requests.
  apiJson("GET", "/v1/events?state=lost", 400);
  apiJson("GET", "/v1/events?limit=0", 400);
  apiJson("GET", "/v1/events?cursor=x", 400);
  apiJson("POST", "/v1/dead/retry", 400, "[1]");
  apiJson("POST", "/v1/dead/purge?older_than=soon", 400);
  apiJson("POST", "/v1/events/nope/retry", 404);
  apiJson("POST", "/v1/events/nope/replay", 404);
  EXPECT_EQ(api("GET", "/v1/events/" + id + "/retry").status, 405);
  EXPECT_EQ(api("POST", "/v1/stats").status, 405);
  EXPECT_EQ(api("GET", "/v1/nothing").status, 404);
}

}  // namespace
}  // namespace payhook::testing
