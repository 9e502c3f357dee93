// The queue page's routes on the real payhookd: every /ui answer carries the strict Content-Security-Policy,
// the admin token signs a browser in once (an HttpOnly, SameSite=Strict cookie), that cookie authorizes /v1
// with a CSRF token on every change, the bearer token works as before, a new token ends the sessions, and
// without a token the page only says how to set one.
#include <signal.h>

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/config_toml.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/signed_requests.h"
#include "support/sink.h"
#include "support/store_inspect.h"
#include "support/wait.h"

namespace payhook::testing {
namespace {

using nlohmann::json;

constexpr const char* kToken = "ui-admin-token-Qw7eR9tY2u";
constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

class UiRoutesTest : public DaemonFixture {
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
      const std::string logs = daemon_->logs();
      EXPECT_EQ(logs.find(kToken), std::string::npos) << "the admin token reached the log";
      for (const auto& secret : secrets_)
        EXPECT_EQ(logs.find(secret), std::string::npos) << "a session secret was logged";
    }
    DaemonFixture::TearDown();
  }

  HttpResponse get(const std::string& path, Headers headers = {}) {
    return httpRequest(daemon_->adminAddress(), "GET", path, headers);
  }
  HttpResponse post(const std::string& path, Headers headers = {}, const std::string& body = {}) {
    return httpRequest(daemon_->adminAddress(), "POST", path, headers, body);
  }

  // Signs in with the token; {cookie header value, csrf token}.
  std::pair<std::string, std::string> signIn() {
    HttpResponse r =
        post("/ui/login", {{"content-type", "application/json"}}, json{{"token", kToken}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string set = r.header("set-cookie");
    const std::string cookie = set.substr(0, set.find(';'));
    const std::string csrf = json::parse(r.body, nullptr, false).value("csrf", "");
    secrets_.push_back(cookie.substr(cookie.find('=') + 1));
    secrets_.push_back(csrf);
    return {cookie, csrf};
  }

  static void expectPageHeaders(const HttpResponse& r, const std::string& what) {
    EXPECT_EQ(r.header("content-security-policy"), kCsp) << what;
    EXPECT_EQ(r.header("x-content-type-options"), "nosniff") << what;
    EXPECT_EQ(r.header("referrer-policy"), "no-referrer") << what;
  }

  std::vector<std::string> secrets_;
};

TEST_F(UiRoutesTest, ThePageAndItsFilesComeWithAStrictContentSecurityPolicy) {
  Sink sink({200});
  start(sink.url(), true);
  HttpResponse page = get("/ui/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  expectPageHeaders(page, "/ui/");
  EXPECT_EQ(page.header("cache-control"), "no-store");
  EXPECT_NE(page.body.find("<script src=\"app.js\""), std::string::npos);
  EXPECT_EQ(page.body.find("<script>"), std::string::npos) << "no inline script";
  EXPECT_EQ(page.body.find("style="), std::string::npos) << "no inline style";
  EXPECT_EQ(page.body.find("<style"), std::string::npos);
  EXPECT_EQ(page.body.find("http"), std::string::npos) << "no external asset";

  HttpResponse js = get("/ui/app.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.header("content-type"), "text/javascript; charset=utf-8");
  expectPageHeaders(js, "app.js");
  EXPECT_EQ(js.body.find("innerHTML"), std::string::npos) << "the page builds its DOM from text";
  HttpResponse css = get("/ui/app.css");
  ASSERT_EQ(css.status, 200);
  EXPECT_EQ(css.header("content-type"), "text/css; charset=utf-8");
  expectPageHeaders(css, "app.css");

  HttpResponse bare = get("/ui");
  EXPECT_EQ(bare.status, 308);
  EXPECT_EQ(bare.header("location"), "/ui/");
  HttpResponse missing = get("/ui/nothing.js");
  EXPECT_EQ(missing.status, 404);
  expectPageHeaders(missing, "404");
  EXPECT_EQ(get("/ui/setup.html").status, 404) << "the set-up page is for a daemon without a token";
  HttpResponse session = get("/ui/session");
  EXPECT_EQ(session.status, 200);
  EXPECT_EQ(json::parse(session.body)["signed_in"], false);
  expectPageHeaders(session, "/ui/session");
  EXPECT_EQ(session.header("cache-control"), "no-store");
}

TEST_F(UiRoutesTest, TheTokenSignsInOnceAndTheCookieNeedsTheCsrfTokenForChanges) {
  Sink sink({200});
  start(sink.url(), true);

  HttpResponse wrong =
      post("/ui/login", {{"content-type", "application/json"}}, R"({"token":"not-the-token"})");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.header("set-cookie"), "");
  expectPageHeaders(wrong, "a refused login");
  EXPECT_EQ(post("/ui/login", {{"content-type", "application/json"}}, "[1]").status, 400);
  EXPECT_EQ(get("/ui/login").status, 405);

  HttpResponse ok = post("/ui/login", {{"content-type", "application/json"}}, json{{"token", kToken}}.dump());
  ASSERT_EQ(ok.status, 200) << ok.body;
  const std::string set = ok.header("set-cookie");
  EXPECT_EQ(set.rfind("payhook_session=", 0), 0u) << set;
  EXPECT_NE(set.find("; HttpOnly"), std::string::npos) << set;
  EXPECT_NE(set.find("; SameSite=Strict"), std::string::npos) << set;
  EXPECT_NE(set.find("; Path=/"), std::string::npos) << set;
  EXPECT_NE(set.find("; Max-Age="), std::string::npos) << set;
  EXPECT_EQ(set.find("Secure"), std::string::npos)
      << "plain HTTP on loopback: a Secure cookie would never return";
  const std::string cookie = set.substr(0, set.find(';'));
  const std::string csrf = json::parse(ok.body)["csrf"];
  EXPECT_EQ(csrf.size(), 64u);
  secrets_ = {cookie.substr(cookie.find('=') + 1), csrf};

  HttpResponse session = get("/ui/session", {{"cookie", cookie}});
  EXPECT_EQ(json::parse(session.body), (json{{"signed_in", true}, {"csrf", csrf}}));

  // The cookie reads /v1.
  HttpResponse stats = get("/v1/stats", {{"cookie", cookie}});
  EXPECT_EQ(stats.status, 200) << stats.body;
  HttpResponse live = get("/v1/live", {{"cookie", cookie}});
  ASSERT_EQ(live.status, 200) << live.body;
  json l = json::parse(live.body);
  EXPECT_EQ(l["redis"]["ready"], true);
  ASSERT_EQ(l["targets"].size(), 1u);
  EXPECT_EQ(l["targets"][0]["name"], "orders");
  EXPECT_EQ(l["targets"][0]["breaker"], "closed");
  EXPECT_EQ(l["targets"][0]["in_flight"], 0);
  EXPECT_TRUE(l["per_minute"].contains("callbacks"));
  EXPECT_TRUE(l["per_minute"]["warming_up"].get<bool>());
  EXPECT_EQ(l["counted"]["callbacks"], 0);
  EXPECT_EQ(get("/v1/live", {{"cookie", "payhook_session=" + csrf}}).status, 401);

  // Changes: 403 without the CSRF token, with a wrong one, or from another origin.
  const std::string id = [&] {
    EXPECT_EQ(postStandardWebhook(daemon_->address(), "msg-ui-1").status, 204);
    return storedEvent(redis_, "demo", "msg-ui-1")["id"];
  }();
  ASSERT_TRUE(waitFor([&] { return state(id) == "delivered"; })) << daemon_->logs();
  EXPECT_EQ(post("/v1/dead/retry", {{"cookie", cookie}}).status, 403);
  EXPECT_EQ(post("/v1/dead/retry", {{"cookie", cookie}, {"x-csrf-token", csrf + "0"}}).status, 403);
  EXPECT_EQ(
      post("/v1/dead/retry", {{"cookie", cookie}, {"x-csrf-token", csrf}, {"origin", "http://evil.example"}})
          .status,
      403);
  EXPECT_EQ(post("/v1/events/" + id + "/retry", {{"cookie", cookie}}).status, 403);
  HttpResponse retried = post("/v1/dead/retry", {{"cookie", cookie}, {"x-csrf-token", csrf}});
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(post("/v1/events/" + id + "/retry", {{"cookie", cookie}, {"x-csrf-token", csrf}}).status, 409)
      << "a delivered event has nothing to retry";
  EXPECT_EQ(post("/v1/events/" + id + "/retry",
                 {{"cookie", cookie}, {"x-csrf-token", csrf}, {"origin", "http://test"}})
                .status,
            409)
      << "its own origin (the Host the request names)";

  // The bearer token needs no CSRF token, cookie or not.
  const Headers bearer = {{"authorization", std::string("Bearer ") + kToken}};
  EXPECT_EQ(post("/v1/dead/retry", bearer).status, 200);
  EXPECT_EQ(get("/v1/stats", bearer).status, 200);
  EXPECT_EQ(get("/v1/live", bearer).status, 200);
  EXPECT_EQ(get("/v1/stats", {{"authorization", "Bearer wrong"}}).status, 401);

  // Sign-out needs the CSRF token too, and ends the session.
  EXPECT_EQ(post("/ui/logout", {{"cookie", cookie}}).status, 403);
  HttpResponse out = post("/ui/logout", {{"cookie", cookie}, {"x-csrf-token", csrf}});
  EXPECT_EQ(out.status, 200);
  EXPECT_NE(out.header("set-cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(get("/v1/stats", {{"cookie", cookie}}).status, 401);
  EXPECT_EQ(json::parse(get("/ui/session", {{"cookie", cookie}}).body)["signed_in"], false);
}

TEST_F(UiRoutesTest, AFormSignsInTooAndFailuresAreThrottled) {
  Sink sink({200});
  start(sink.url(), true);
  HttpResponse form = post("/ui/login", {{"content-type", "application/x-www-form-urlencoded"}},
                           std::string("token=") + kToken);
  EXPECT_EQ(form.status, 303);
  EXPECT_EQ(form.header("location"), "/ui/");
  EXPECT_NE(form.header("set-cookie").find("HttpOnly"), std::string::npos);
  const std::string cookie = form.header("set-cookie").substr(0, form.header("set-cookie").find(';'));
  secrets_.push_back(cookie.substr(cookie.find('=') + 1));
  EXPECT_EQ(post("/ui/login", {{"content-type", "application/json"}, {"origin", "http://evil.example"}},
                 json{{"token", kToken}}.dump())
                .status,
            403)
      << "another site cannot sign a browser in";

  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(post("/ui/login", {{"content-type", "application/json"}}, R"({"token":"guess"})").status, 401)
        << i;
  HttpResponse throttled =
      post("/ui/login", {{"content-type", "application/json"}}, json{{"token", kToken}}.dump());
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.header("retry-after"), "60");
  EXPECT_EQ(get("/v1/stats", {{"cookie", cookie}}).status, 200) << "a session already started goes on";
}

TEST_F(UiRoutesTest, ANewTokenOnReloadEndsEverySession) {
  Sink sink({200});
  start(sink.url(), true);
  const auto [cookie, csrf] = signIn();
  ASSERT_EQ(get("/v1/stats", {{"cookie", cookie}}).status, 200);
  writeSecret("admin.token", "a-brand-new-admin-token-77\n");
  ASSERT_EQ(::kill(daemon_->pid(), SIGHUP), 0);
  ASSERT_TRUE(waitFor([&] { return daemon_->logs().find("admin token replaced") != std::string::npos; }))
      << daemon_->logs();
  EXPECT_EQ(get("/v1/stats", {{"cookie", cookie}}).status, 401);
  EXPECT_EQ(json::parse(get("/ui/session", {{"cookie", cookie}}).body)["signed_in"], false);
  EXPECT_EQ(get("/v1/stats", {{"authorization", "Bearer a-brand-new-admin-token-77"}}).status, 200);
}

TEST_F(UiRoutesTest, WithoutATokenThePageSaysHowToSetOne) {
  Sink sink({200});
  start(sink.url(), false);
  HttpResponse page = get("/ui/");
  ASSERT_EQ(page.status, 200);
  expectPageHeaders(page, "the set-up page");
  EXPECT_NE(page.body.find("token_file"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("[admin]"), std::string::npos);
  EXPECT_EQ(page.body.find("app.js"), std::string::npos) << "nothing else: no script";
  EXPECT_EQ(page.body.find("<form"), std::string::npos) << "no sign-in";
  EXPECT_EQ(post("/ui/login", {{"content-type", "application/json"}}, json{{"token", kToken}}.dump()).status,
            404);
  EXPECT_EQ(get("/ui/session").status, 404);
  EXPECT_EQ(post("/ui/logout").status, 404);
  EXPECT_EQ(get("/v1/live").status, 404);
}

}  // namespace
}  // namespace payhook::testing
