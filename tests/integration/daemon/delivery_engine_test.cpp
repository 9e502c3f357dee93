// The delivery engine's behaviours beyond one target and one answer, end to end with the real payhookd and
// redis-server: Integra's decision turned into API calls, the per-target circuit breaker and its isolation
// of a dead target, Redis found without payhook's data, and leases handed back at a forced stop.
#include <sodium.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/percent.h"
#include "common/webhook_signature.h"
#include "http/server.h"
#include "support/config_toml.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/loop_thread.h"
#include "support/redis_server.h"
#include "support/signed_requests.h"
#include "support/sink.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

using nlohmann::json;

// An app whose answers a test scripts: `answer` sees each request (and how many came before) and returns
// the response. Requests are recorded with the time they arrived.
class ScriptedSink {
 public:
  using Answer = std::function<http::Response(const http::Request&, size_t n)>;
  struct Seen {
    http::Request request;
    std::chrono::steady_clock::time_point at;
  };

  explicit ScriptedSink(Answer answer) : answer_(std::move(answer)) {
    loop_.call([this] {
      server_ = std::make_unique<http::Server>(loop_.loop(), http::ServerLimits{},
                                               [this](http::Request&& r, http::Responder resp) {
                                                 size_t n;
                                                 {
                                                   std::lock_guard<std::mutex> lock(mu_);
                                                   n = seen_.size();
                                                   seen_.push_back({r, std::chrono::steady_clock::now()});
                                                 }
                                                 resp.send(answer_(r, n));
                                               });
      (void)server_->listen("127.0.0.1:0");
      address_ = server_->boundAddresses().at(0);
    });
  }
  ~ScriptedSink() {
    loop_.call([this] {
      server_->closeAll();
      server_.reset();
    });
  }
  std::string url(const std::string& path) const { return "http://" + address_ + path; }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.size();
  }

 private:
  LoopThread loop_;
  Answer answer_;
  std::unique_ptr<http::Server> server_;
  std::string address_;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

http::Response jsonAnswer(int status, const std::string& body) {
  return http::Response{status, "application/json", body, {}, false};
}

// The value of `k` in Integra's API call, decoded: "zaa" + user hash + base64(json), percent-decoded.
json integraPayload(const std::string& query, const std::string& user) {
  const std::string prefix = "k=zaa" + user;
  if (query.rfind(prefix, 0) != 0) return json();
  std::string b64;
  if (!percentDecode(query.substr(prefix.size()), &b64)) return json();
  std::string raw(b64.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), b64.data(), b64.size(),
                        nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return json();
  raw.resize(len);
  return json::parse(raw, nullptr, false);
}

class DeliveryEngineTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }

  // `crypt_key`: the content of secrets/integra.key, when the routes name it.
  void start(DaemonOptions o, const std::string& crypt_key = "") {
    o.redis_url = redis_.url();
    createDaemon(o);
    writeSecret("integra.token", "integra-url-token-0123456789\n");
    if (!crypt_key.empty()) writeSecret("integra.key", crypt_key + "\n");
    startDaemon();
  }

  std::string postSigned(const std::string& msg_id) {
    auto resp = payhook::testing::postStandardWebhook(daemon_->address(), msg_id);
    EXPECT_EQ(resp.status, 204) << resp.body;
    return redis_.command({"GET", "{payhook}:idem:demo:" + msg_id}).str;
  }
};

constexpr const char* kUser = "9f86d081884c7d65";

// `extra` may name the cipher; without one, the built-in base64.
std::string integraRoute(const std::string& api_base, const std::string& name = "integra",
                         const std::string& extra = "") {
  const std::string cipher = extra.find("crypt") == std::string::npos ? "crypt = \"base64\"\n" : "";
  return "\n[[routes]]\nname = \"" + name + "\"\nprovider = \"integra\"\npath = \"/" + name +
         "\"\nurl_token_file = \"secrets/integra.token\"\ndecision = \"shop\"\napi_base = \"" + api_base +
         "\"\nretry = { schedule = [\"200ms\", \"200ms\", \"200ms\"], jitter = 0.0 }\n" + cipher + extra +
         "\n";
}

std::string notify(const std::string& tx, const std::string& route = "integra",
                   const std::string& user_query = kUser, const std::string& amount = "100.50") {
  return "/" + route + "/notify?token=integra-url-token-0123456789&transaction_id=" + tx +
         "&amount=" + amount + "&user=" + user_query;
}

TEST_F(DeliveryEngineTest, IntegraAcceptBecomesAConfirmPaymentCallRetriedUntilIntegraSaysOk) {
  ScriptedSink shop([](const http::Request&, size_t) { return jsonAnswer(200, R"({"accept":true})"); });
  ScriptedSink integra([](const http::Request&, size_t n) {
    if (n == 0) return jsonAnswer(200, R"({"status":{"code":5,"message":"busy, try later"},"error":true})");
    return jsonAnswer(200, R"({"status":{"code":0,"message":"ok"},"error":false,"data":{}})");
  });
  DaemonOptions o;
  o.targets = targetToml("shop", shop.url("/decide"));
  o.routes = integraRoute(integra.url("/api/"));
  start(o);

  const std::string tx = "0123456789abcdef0123456789abcdef";
  auto r = httpRequest(daemon_->address(), "GET", notify(tx));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = redis_.command({"GET", "{payhook}:idem:integra:" + tx}).str;
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(waitFor([&] { return field(id, "state") == "delivered"; })) << daemon_->logs();

  // The shop got the notify event once, signed like any delivery.
  ASSERT_EQ(shop.count(), 1u);
  EXPECT_NE(shop.seen()[0].request.header("webhook-signature"), nullptr);
  // Integra's API got confirmPayment twice: refused ("error": true) once, then accepted.
  auto calls = integra.seen();
  ASSERT_EQ(calls.size(), 2u);
  for (const auto& c : calls) {
    EXPECT_EQ(c.request.method, "GET");
    EXPECT_EQ(c.request.path, "/api/confirmPayment");
    json payload = integraPayload(c.request.query, kUser);
    EXPECT_EQ(payload, json({{"amount", "100.50"}, {"transactionId", tx}})) << c.request.query;
  }
  // The 200 ms step, less the millisecond rounding of the daemon's wall clock against this steady one.
  EXPECT_GE(calls[1].at - calls[0].at, std::chrono::milliseconds(195));

  json decision = json::parse(field(id, "decision"), nullptr, false);
  EXPECT_EQ(decision["accept"], true);
  EXPECT_EQ(field(id, "targets"), "shop,@integra");
  EXPECT_EQ(field(id, "status:@integra"), "delivered");
  auto a = attempts(id);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0]["target"], "shop");
  EXPECT_EQ(a[1]["target"], "@integra");
  EXPECT_EQ(a[1]["result"], "retry");
  EXPECT_NE(a[1]["error"].get<std::string>().find("busy, try later"), std::string::npos) << a[1];
  EXPECT_EQ(a[2]["result"], "delivered");
}

TEST_F(DeliveryEngineTest, IntegraDeclineCallsDeclinePaymentAndNoDecisionIsTheDefaultRefusal) {
  const std::string declined = "0123456789abcdef0123456789abcde1";
  const std::string undecided = "0123456789abcdef0123456789abcde2";
  const std::string custom = "0123456789abcdef0123456789abcde3";
  ScriptedSink shop([&](const http::Request& r, size_t) {
    if (r.body.find(declined) != std::string::npos)
      return jsonAnswer(
          200,
          R"({"accept":false,"code":12,"message":"out of stock","params":{"lang":"ru","errorCode":1,"x":[]}})");
    return jsonAnswer(200, R"({})");
  });
  ScriptedSink integra(
      [](const http::Request&, size_t) { return jsonAnswer(200, R"({"status":{"code":0},"error":false})"); });
  DaemonOptions o;
  o.targets = targetToml("shop", shop.url("/decide"));
  o.routes = integraRoute(integra.url("/api")) +
             integraRoute(integra.url("/custom"), "integra-custom",
                          "decline_code = 42\ndecline_message = \"refused by payhook\"");
  start(o);

  // A base64 user hash ('+', '/' and '=' percent-encoded) and a decimal comma, as Integra may send them.
  const std::string b64_user = "ab+c/d==";
  ASSERT_EQ(httpRequest(daemon_->address(), "GET", notify(declined)).status, 200);
  ASSERT_EQ(httpRequest(daemon_->address(), "GET", notify(undecided, "integra", "ab%2Bc%2Fd%3D%3D", "100,50"))
                .status,
            200);
  ASSERT_EQ(httpRequest(daemon_->address(), "GET", notify(custom, "integra-custom")).status, 200);
  const std::string d_id = redis_.command({"GET", "{payhook}:idem:integra:" + declined}).str;
  const std::string u_id = redis_.command({"GET", "{payhook}:idem:integra:" + undecided}).str;
  const std::string c_id = redis_.command({"GET", "{payhook}:idem:integra-custom:" + custom}).str;
  ASSERT_TRUE(waitFor([&] {
    return field(d_id, "state") == "delivered" && field(u_id, "state") == "delivered" &&
           field(c_id, "state") == "delivered";
  })) << daemon_->logs();

  std::map<std::string, json> payloads;  // by transaction id
  auto calls = integra.seen();
  ASSERT_EQ(calls.size(), 3u);
  for (const auto& c : calls) {
    const std::string& q = c.request.query;
    json p = q.starts_with("k=zaaab%2Bc%2Fd%3D%3D") ? integraPayload(q, "ab%2Bc%2Fd%3D%3D")
                                                    : integraPayload(q, kUser);
    ASSERT_TRUE(p.is_object()) << q;
    payloads[p["transactionId"].get<std::string>()] = p;
    EXPECT_EQ(c.request.path,
              p["transactionId"] == custom ? "/custom/declinePayment" : "/api/declinePayment");
  }
  // The shop's code, message and scalar params; the params that would override the call or are not scalars
  // are left out, with a log line.
  EXPECT_EQ(payloads[declined], json({{"transactionId", declined},
                                      {"errorCode", 12},
                                      {"errorMessage", "out of stock"},
                                      {"lang", "ru"}}));
  EXPECT_NE(daemon_->logs().find("params ignored"), std::string::npos);
  // A 2xx without a decision is the safe refusal: the default code and message, and the event says why.
  EXPECT_EQ(payloads[undecided],
            json({{"transactionId", undecided}, {"errorCode", 1}, {"errorMessage", "declined by the shop"}}));
  EXPECT_EQ(payloads[custom],
            json({{"transactionId", custom}, {"errorCode", 42}, {"errorMessage", "refused by payhook"}}));

  json none = json::parse(field(u_id, "decision"), nullptr, false);
  EXPECT_EQ(none["accept"], false) << none;
  EXPECT_EQ(none["code"], 1);
  EXPECT_EQ(none["message"], "declined by the shop");
  EXPECT_EQ(none["defaulted"], true);
  EXPECT_EQ(none["reason"], "the answer has no boolean \"accept\"");
  EXPECT_EQ(field(u_id, "targets"), "shop,@integra");
  EXPECT_EQ(field(u_id, "status:@integra"), "delivered");
  json given = json::parse(field(d_id, "decision"), nullptr, false);
  EXPECT_FALSE(given.contains("defaulted")) << given;
  EXPECT_NE(daemon_->logs().find("no clear decision"), std::string::npos);
}

// Integra's real cipher is the partner's own program (crypt_command). The sample committed under tests/
// hex-encodes its input, so the call can be read back here.
const std::string kEncryptor = std::string(PAYHOOK_SOURCE_DIR) + "/tests/fixtures/integra/encrypt.sh";
constexpr const char* kCryptKey = "integra-crypt-key-4f1e9a";

// `k` as the sample encryptor writes it: "zaa" + user hash + hex(json).
json hexPayload(const std::string& query, const std::string& user) {
  const std::string prefix = "k=zaa" + user;
  if (query.rfind(prefix, 0) != 0) return json();
  const std::string hex = query.substr(prefix.size());
  if (hex.size() % 2 != 0) return json();
  std::string raw;
  for (size_t i = 0; i < hex.size(); i += 2)
    raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return json::parse(raw, nullptr, false);
}

std::string encryptorRoute(const std::string& api_base, const std::string& command,
                           const std::string& more = "") {
  return integraRoute(api_base, "integra",
                      "crypt_command = " + command + "\ncrypt_key_file = \"secrets/integra.key\"\n" + more);
}

bool processGone(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  return !std::getline(stat, line) || line.find(") Z ") != std::string::npos;
}

TEST_F(DeliveryEngineTest, IntegraCryptCommandEncryptsTheCallOffTheLoop) {
  ScriptedSink shop([](const http::Request&, size_t) { return jsonAnswer(200, R"({"accept":true})"); });
  ScriptedSink integra(
      [](const http::Request&, size_t) { return jsonAnswer(200, R"({"status":{"code":0},"error":false})"); });
  DaemonOptions o;
  o.targets = targetToml("shop", shop.url("/decide"));
  o.routes = encryptorRoute(integra.url("/api"), "[\"" + kEncryptor + "\", \"hex\"]");
  start(o, kCryptKey);

  const std::string tx = "0123456789abcdef0123456789abcde4";
  ASSERT_EQ(httpRequest(daemon_->address(), "GET", notify(tx)).status, 200);
  const std::string id = redis_.command({"GET", "{payhook}:idem:integra:" + tx}).str;
  ASSERT_TRUE(waitFor([&] { return field(id, "status:@integra") == "delivered"; })) << daemon_->logs();
  auto calls = integra.seen();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].request.path, "/api/confirmPayment");
  // The program's output, after "zaa" and the user hash: it got the JSON on stdin and its key file.
  EXPECT_EQ(hexPayload(calls[0].request.query, kUser), json({{"amount", "100.50"}, {"transactionId", tx}}))
      << calls[0].request.query;
  const std::string logs = daemon_->logs();
  EXPECT_EQ(logs.find(kCryptKey), std::string::npos);
  EXPECT_EQ(logs.find("public example"), std::string::npos);  // the base64 warning is for crypt = "base64"
}

// The encryptor is the partner's program: it gets its stdin, stdout and stderr, and none of the daemon's
// connections (Redis, the apps, the listeners).
TEST_F(DeliveryEngineTest, IntegraCryptCommandInheritsNoConnection) {
  ScriptedSink shop([](const http::Request&, size_t) { return jsonAnswer(200, R"({"accept":true})"); });
  ScriptedSink integra(
      [](const http::Request&, size_t) { return jsonAnswer(200, R"({"status":{"code":0},"error":false})"); });
  const std::string listing = ::testing::TempDir() + "/payhook-encryptor-fds-" + std::to_string(::getpid());
  std::remove(listing.c_str());
  DaemonOptions o;
  o.targets = targetToml("shop", shop.url("/decide"));
  o.routes = encryptorRoute(integra.url("/api"), "[\"" + kEncryptor + "\", \"fds\", \"" + listing + "\"]");
  start(o, kCryptKey);

  const std::string tx = "0123456789abcdef0123456789abcde9";
  ASSERT_EQ(httpRequest(daemon_->address(), "GET", notify(tx)).status, 200);
  const std::string id = redis_.command({"GET", "{payhook}:idem:integra:" + tx}).str;
  ASSERT_TRUE(waitFor([&] { return field(id, "status:@integra") == "delivered"; })) << daemon_->logs();
  std::ifstream in(listing);
  std::string line, all;
  std::set<std::string> sockets;  // their inodes: the shell may move its stdout to another descriptor
  while (std::getline(in, line)) {
    all += line + "\n";
    if (const size_t at = line.find("socket:["); at != std::string::npos) sockets.insert(line.substr(at));
  }
  std::remove(listing.c_str());
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(sockets.size(), 2u) << "only stdin and stdout, which are socket pairs:\n" << all;
}

// A program that never answers is killed at crypt_timeout, with whatever it started; the attempt fails and
// is retried on the route's policy like an unanswered call. Integra is never called.
TEST_F(DeliveryEngineTest, IntegraCryptCommandThatHangsIsKilledAndTheAttemptRetried) {
  ScriptedSink shop([](const http::Request&, size_t) { return jsonAnswer(200, R"({"accept":true})"); });
  ScriptedSink integra(
      [](const http::Request&, size_t) { return jsonAnswer(200, R"({"status":{"code":0},"error":false})"); });
  const std::string pids =
      ::testing::TempDir() + "/payhook-encryptor-" + std::to_string(::getpid()) + ".pids";
  std::remove(pids.c_str());
  DaemonOptions o;
  o.targets = targetToml("shop", shop.url("/decide"));
  o.routes = encryptorRoute(integra.url("/api"), "[\"" + kEncryptor + "\", \"hang\", \"" + pids + "\"]",
                            "crypt_timeout = \"300ms\"\n");
  start(o, kCryptKey);

  const std::string tx = "0123456789abcdef0123456789abcde5";
  ASSERT_EQ(httpRequest(daemon_->address(), "GET", notify(tx)).status, 200);
  const std::string id = redis_.command({"GET", "{payhook}:idem:integra:" + tx}).str;
  // Four attempts (the first and three retries 200 ms apart), each 300 ms: then the job is dead.
  ASSERT_TRUE(waitFor([&] { return field(id, "status:@integra") == "dead"; }, 15'000)) << daemon_->logs();
  std::vector<std::string> results;
  for (const auto& a : attempts(id)) {
    if (a["target"] != "@integra") continue;
    results.push_back(a["result"].get<std::string>());
    EXPECT_EQ(a["error"], "crypt_command: timed out after 300ms") << a;
    EXPECT_EQ(a["status"], 0) << a;
  }
  EXPECT_EQ(results, (std::vector<std::string>{"retry", "retry", "retry", "dead"}));
  EXPECT_EQ(integra.count(), 0u);
  // Every run was killed.
  std::ifstream in(pids);
  int pid = 0;
  size_t runs = 0;
  while (in >> pid) {
    ++runs;
    EXPECT_TRUE(waitFor([&] { return processGone(pid); }, 2'000)) << pid;
  }
  EXPECT_EQ(runs, 4u);
  std::remove(pids.c_str());
}

// A non-zero exit is a failed attempt with the reason kept; neither the JSON nor the key reach the record or
// the log.
TEST_F(DeliveryEngineTest, IntegraCryptCommandThatFailsIsAFailedAttempt) {
  ScriptedSink shop([](const http::Request&, size_t) { return jsonAnswer(200, R"({"accept":false})"); });
  ScriptedSink integra(
      [](const http::Request&, size_t) { return jsonAnswer(200, R"({"status":{"code":0},"error":false})"); });
  DaemonOptions o;
  o.targets = targetToml("shop", shop.url("/decide"));
  o.routes = encryptorRoute(integra.url("/api"), "[\"" + kEncryptor + "\", \"fail\"]");
  start(o, kCryptKey);

  const std::string tx = "0123456789abcdef0123456789abcde6";
  ASSERT_EQ(httpRequest(daemon_->address(), "GET", notify(tx)).status, 200);
  const std::string id = redis_.command({"GET", "{payhook}:idem:integra:" + tx}).str;
  ASSERT_TRUE(waitFor([&] { return field(id, "status:@integra") == "dead"; }, 15'000)) << daemon_->logs();
  size_t failed = 0;
  for (const auto& a : attempts(id)) {
    if (a["target"] != "@integra") continue;
    ++failed;
    EXPECT_EQ(a["error"], "crypt_command: exited with status 1") << a;
  }
  EXPECT_EQ(failed, 4u);
  EXPECT_EQ(integra.count(), 0u);
  const std::string logs = daemon_->logs();
  EXPECT_NE(logs.find("crypt_command: exited with status 1"), std::string::npos);
  EXPECT_EQ(logs.find("transactionId"), std::string::npos);
  EXPECT_EQ(logs.find(kCryptKey), std::string::npos);
}

TEST_F(DeliveryEngineTest, ADeadTargetOpensItsBreakerAndNeverHoldsAnotherTargetBack) {
  std::atomic<bool> down_is_up{false};
  ScriptedSink down([&](const http::Request&, size_t) {
    return http::Response{down_is_up ? 200 : 503, "text/plain", "", {}, false};
  });
  ScriptedSink up([](const http::Request&, size_t) {
    return http::Response{200, "text/plain", "", {}, false};
  });
  DaemonOptions o;
  o.targets = targetToml("down", down.url("/d"),
                         "max_in_flight = 2\nbreaker_failures = 2\nbreaker_cooldown = \"1s\"") +
              targetToml("up", up.url("/u"));
  o.routes = R"(
[[routes]]
name = "demo"
provider = "standard-webhooks"
path = "/hooks/demo"
secret_file = "secrets/demo.whsec"
forward = ["down", "up"]
retry = { schedule = ["100ms", "100ms", "100ms", "100ms", "100ms", "100ms", "100ms", "100ms", "100ms", "100ms"], jitter = 0.0 }
)";
  start(o);

  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(postSigned("msg_breaker_" + std::to_string(i)));
  // The healthy target gets every event, however many of the dead one's jobs wait.
  ASSERT_TRUE(waitFor([&] { return up.count() >= 10; }, 5'000)) << daemon_->logs();
  ASSERT_TRUE(waitFor([&] { return daemon_->logs().find("circuit breaker open") != std::string::npos; }))
      << daemon_->logs();
  // Open for 1 s at a time with one probe after each cooldown: over 2.5 s the dead target sees its first
  // two attempts and at most a few probes, where the 100 ms schedule alone would have sent ~10 per event.
  std::this_thread::sleep_for(std::chrono::milliseconds(2'500));
  const size_t while_down = down.count();
  EXPECT_LE(while_down, 2u + 4u) << daemon_->logs();
  EXPECT_NE(daemon_->logs().find("half-open"), std::string::npos);
  for (const auto& id : ids)
    EXPECT_TRUE(waitFor([&] { return field(id, "status:up") == "delivered"; }, 2'000)) << id;

  // Back up: a probe succeeds, the breaker closes, and every waiting job is delivered.
  down_is_up = true;
  ASSERT_TRUE(waitFor([&] {
    for (const auto& id : ids)
      if (field(id, "state") != "delivered") return false;
    return true;
  })) << daemon_->logs();
  EXPECT_NE(daemon_->logs().find("circuit breaker closed"), std::string::npos);
}

TEST_F(DeliveryEngineTest, ASlowTargetFillsOnlyItsOwnCap) {
  // One app holds every request; the other answers at once.
  Sink slow({200});
  slow.hold();
  Sink fast({200});
  DaemonOptions o;
  // The held attempts must not time out (and be retried) while the test looks, however slow the machine.
  o.targets = targetToml("slow", slow.url(), "max_in_flight = 2", "30s") + targetToml("fast", fast.url());
  o.routes = R"(
[[routes]]
name = "demo"
provider = "standard-webhooks"
path = "/hooks/demo"
secret_file = "secrets/demo.whsec"
forward = ["slow", "fast"]
retry = { schedule = ["1s"], jitter = 0.0 }
)";
  start(o);
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(postSigned("msg_slow_" + std::to_string(i)));
  ASSERT_TRUE(waitFor([&] { return fast.count() >= 20; }, 5'000)) << daemon_->logs();
  // The app has them all; the daemon records each completion a moment after the answer.
  ASSERT_TRUE(waitFor([&] {
    for (const auto& id : ids)
      if (field(id, "status:fast") != "delivered") return false;
    return true;
  })) << daemon_->logs();
  // The slow app has exactly its cap in flight; the other 18 jobs wait in its due set, unclaimed.
  EXPECT_EQ(slow.count(), 2u);
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:leased"}).integer, 2);
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:due:slow"}).integer, 18);
  // Once it answers, the backlog drains through the same two slots.
  slow.release();
  ASSERT_TRUE(waitFor([&] {
    for (const auto& id : ids)
      if (field(id, "state") != "delivered") return false;
    return true;
  })) << daemon_->logs();
  EXPECT_EQ(slow.count(), 20u);
}

TEST_F(DeliveryEngineTest, RedisFlushedUnderTheDaemonIsLoggedAndWorkGoesOn) {
  ScriptedSink app([](const http::Request&, size_t) {
    return http::Response{200, "text/plain", "", {}, false};
  });
  DaemonOptions o;
  o.targets = targetToml("orders", app.url("/events"));
  start(o);
  const std::string first = postSigned("msg_before_flush");
  ASSERT_TRUE(waitFor([&] { return field(first, "state") == "delivered"; })) << daemon_->logs();

  redis_.command({"FLUSHALL"});
  // The heartbeat (1 s) reads the data marker and finds it gone.
  ASSERT_TRUE(
      waitFor([&] { return daemon_->logs().find("data marker disappeared") != std::string::npos; }, 5'000))
      << daemon_->logs();
  EXPECT_EQ(redis_.command({"EXISTS", "{payhook}:marker"}).integer, 1);  // set again

  const std::string after = postSigned("msg_after_flush");
  ASSERT_FALSE(after.empty());
  ASSERT_TRUE(waitFor([&] { return field(after, "state") == "delivered"; })) << daemon_->logs();
  EXPECT_EQ(app.count(), 2u);
}

TEST_F(DeliveryEngineTest, RedisRestartedEmptyIsLoggedAsDataLoss) {
  ScriptedSink app([](const http::Request&, size_t) {
    return http::Response{200, "text/plain", "", {}, false};
  });
  DaemonOptions o;
  o.targets = targetToml("orders", app.url("/events"));
  start(o);
  ASSERT_FALSE(postSigned("msg_before_restart").empty());
  redis_.kill();
  redis_.wipe();
  redis_.start();
  ASSERT_TRUE(waitFor([&] {
    const std::string logs = daemon_->logs();
    return logs.find("without payhook's data") != std::string::npos ||
           logs.find("data marker disappeared") != std::string::npos;
  })) << daemon_->logs();
  ASSERT_TRUE(daemon_->waitReady(200, 10'000));
  const std::string after = postSigned("msg_after_restart");
  ASSERT_TRUE(waitFor([&] { return field(after, "state") == "delivered"; })) << daemon_->logs();
}

TEST_F(DeliveryEngineTest, AForcedStopHandsTheLeasesOfAttemptsInFlightBack) {
  // The app holds every request far longer than the daemon may wait at shutdown.
  Sink app({200});
  app.hold();
  DaemonOptions o;
  o.shutdown_timeout = "500ms";
  o.targets = targetToml("orders", app.url());
  start(o);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(postSigned("msg_hang_" + std::to_string(i)));
  ASSERT_TRUE(waitFor([&] { return app.count() == 3; })) << daemon_->logs();
  ASSERT_EQ(redis_.command({"ZCARD", "{payhook}:leased"}).integer, 3);

  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon_->stop(SIGTERM, 10'000), 0) << daemon_->logs();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_NE(daemon_->logs().find("giving the leases of attempts in flight back"), std::string::npos)
      << daemon_->logs();
  // Due again at once, the attempt not counted: the next instance need not wait for lease_timeout (60 s).
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:leased"}).integer, 0);
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:due:orders"}).integer, 3);
  for (const auto& id : ids) EXPECT_EQ(field(id, "attempts:orders"), "0");
  app.release();
  daemon_.reset();
}

}  // namespace
}  // namespace payhook::testing
