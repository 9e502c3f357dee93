// What the shop's apps receive must verify with code that is not payhook's: the real
// payhookd and redis-server deliver to tests/node/verify_sink.mjs, a Node process that checks `v1` with the
// official Standard Webhooks library (npm `standardwebhooks`, pinned in tests/node/package-lock.json) and
// `v1a` with Node's own crypto.verify (ed25519). Node and tests/node/node_modules are installed by
// scripts/install-deps.sh; when either is missing these tests fail, they are not skipped.
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/webhook_signature.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/signed_requests.h"

namespace payhook::testing {
namespace {

using nlohmann::json;

// Target "a" is in the middle of a rotation: payhookd signs with both, the app checks each one alone.
constexpr const char* kSecretA1 = "whsec_bm9kZS12ZXJpZnkgdGFyZ2V0IGEsIHNlY3JldCBvbmU=";
constexpr const char* kSecretA2 = "whsec_bm9kZS12ZXJpZnkgdGFyZ2V0IGEsIHNlY3JldCB0d28=";
// Targets "b" and "wrong-key" (also signing with kSigningSeed), and "wrong-secret".
constexpr const char* kSecretB = "whsec_bm9kZS12ZXJpZnkgdGFyZ2V0IGIgc2VjcmV0Li4uLi4=";
constexpr const char* kSecretC = "whsec_bm9kZS12ZXJpZnkgdGFyZ2V0IGMgc2VjcmV0Li4uLi4=";
// What the sink behind "wrong-secret" believes its secret is.
constexpr const char* kWrongSecret = "whsec_d2hhdCB0aGUgd3Jvbmcgc2luayBiZWxpZXZlcy4uLi4=";

const std::string kNodeDir = std::string(PAYHOOK_SOURCE_DIR) + "/tests/node";

std::string base64(const unsigned char* data, size_t n) {
  std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, n, sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

// A test ed25519 key pair from a fixed seed: {"whsk_<seed>", "whpk_<public key>"}, made with libsodium
// directly rather than with payhook's helpers.
std::pair<std::string, std::string> ed25519Keys(unsigned char first) {
  unsigned char seed[crypto_sign_SEEDBYTES];
  for (size_t i = 0; i < sizeof seed; ++i) seed[i] = static_cast<unsigned char>(first + i * 11);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, seed);
  return {"whsk_" + base64(seed, sizeof seed), "whpk_" + base64(pk, sizeof pk)};
}

// `node` on $PATH (then in the usual places, for a test runner with a bare PATH), or empty.
std::string findNode() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(std::string(path ? path : "") + ":/usr/local/bin:/usr/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/node";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

std::string readAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool waitFor(const std::function<bool()>& cond, int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return cond();
}

// tests/node/verify_sink.mjs as a child process. Its stdin is a pipe this process holds, so the sink exits
// with the test even when the test dies without running destructors.
class NodeSink {
 public:
  NodeSink() = default;
  NodeSink(const NodeSink&) = delete;
  NodeSink& operator=(const NodeSink&) = delete;
  ~NodeSink() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      bool exited = waitFor([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 3'000);
      if (!exited) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
  }

  // `config` without its file names; returns "" when the sink listens, else what went wrong.
  std::string start(const std::string& node, json config) {
    config["log_file"] = logPath();
    config["port_file"] = dir_.path() + "/sink.port";
    config["exit_on_stdin_eof"] = true;
    config["max_lifetime_ms"] = 120'000;
    const std::string config_path = writeFile(dir_.path() + "/sink.json", config.dump(2));
    writeFile(logPath(), "");
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return "pipe2 failed";
    const int out = ::open(outputPath().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const std::string script = kNodeDir + "/verify_sink.mjs";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execl(node.c_str(), node.c_str(), script.c_str(), config_path.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out);
    stdin_fd_ = in[1];
    if (pid_ < 0) return "fork failed";
    const std::string port_file = config["port_file"];
    bool exited = false;
    const bool listening = waitFor(
        [&] {
          int status = 0;
          if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            exited = true;
            pid_ = -1;
            return true;
          }
          return std::filesystem::exists(port_file);
        },
        10'000);
    if (exited || !listening) return "the Node sink did not start:\n" + output();
    port_ = std::atoi(readAll(port_file).c_str());
    return port_ > 0 ? "" : "the Node sink wrote no port:\n" + output();
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url(const std::string& path) const { return "http://" + address() + path; }
  std::string output() const { return readAll(outputPath()); }  // its stdout and stderr

  // One JSON object per request answered so far, in order.
  std::vector<json> log() const {
    std::vector<json> lines;
    std::string text = readAll(logPath());
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
      lines.push_back(json::parse(text.substr(start, nl - start), nullptr, false));
    return lines;
  }
  std::vector<json> log(const std::string& path) const {
    std::vector<json> lines;
    for (auto& l : log())
      if (l.is_object() && l.value("path", "") == path) lines.push_back(l);
    return lines;
  }

 private:
  std::string logPath() const { return dir_.path() + "/sink.log"; }
  std::string outputPath() const { return dir_.path() + "/sink.out"; }

  TempDir dir_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int port_ = 0;
};

size_t countEntries(const std::string& signature, const std::string& prefix) {
  size_t n = 0;
  std::stringstream entries(signature);
  std::string e;
  while (entries >> e) n += e.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

class NodeVerifyTest : public DaemonFixture {
 protected:
  void SetUp() override {
    node_ = findNode();
    ASSERT_FALSE(node_.empty())
        << "node is not on PATH (nor in /usr/local/bin, /usr/bin): these tests check payhookd's deliveries "
           "with Node and the official Standard Webhooks library; run scripts/install-deps.sh";
    ASSERT_TRUE(std::filesystem::exists(kNodeDir + "/node_modules/standardwebhooks/package.json"))
        << kNodeDir << "/node_modules has no standardwebhooks: run scripts/install-deps.sh (it runs npm ci "
        << "--prefix tests/node)";
    ASSERT_GE(sodium_init(), 0);

    const auto [signing_key, public_key] = ed25519Keys(7);
    const auto [other_signing_key, other_public_key] = ed25519Keys(99);
    (void)other_signing_key;
    json sink_config = {
        {"paths",
         {{"/a", {{"secrets", json::array({kSecretA1, kSecretA2})}}},
          {"/b", {{"secrets", json::array({kSecretB})}, {"public_key", public_key}}},
          {"/wrong-secret", {{"secrets", json::array({kWrongSecret})}}},
          // The right secret, but the public key of another signing key.
          {"/wrong-key", {{"secrets", json::array({kSecretB})}, {"public_key", other_public_key}}}}},
        {"fail_first", json::array({"msg_nv_retried"})}};
    const std::string error = sink_.start(node_, sink_config);
    ASSERT_EQ(error, "");

    DaemonOptions o;
    o.targets = R"(
[[targets]]
name = "a"
url = ")" + sink_.url("/a") +
                R"("
secret_file = "secrets/a.whsec"
timeout = "5s"

[[targets]]
name = "b"
url = ")" + sink_.url("/b") +
                R"("
secret_file = "secrets/b.whsec"
signing_key_file = "secrets/b.whsk"
timeout = "5s"

[[targets]]
name = "wrong-secret"
url = ")" + sink_.url("/wrong-secret") +
                R"("
secret_file = "secrets/c.whsec"
timeout = "5s"

[[targets]]
name = "wrong-key"
url = ")" + sink_.url("/wrong-key") +
                R"("
secret_file = "secrets/b.whsec"
signing_key_file = "secrets/b.whsk"
timeout = "5s"
)";
    // A retry more than a second later, so the retried attempt carries a newer webhook-timestamp.
    o.routes = R"(
[[routes]]
name = "shop"
provider = "standard-webhooks"
path = "/hooks/shop"
secret_file = "secrets/demo.whsec"
forward = ["a", "b"]
retry = { schedule = ["1100ms", "1100ms"], jitter = 0.0 }

[[routes]]
name = "refused"
provider = "standard-webhooks"
path = "/hooks/refused"
secret_file = "secrets/demo.whsec"
forward = ["wrong-secret", "wrong-key"]
retry = { schedule = ["200ms"], jitter = 0.0 }
)";
    createDaemon(o);
    writeSecret("a.whsec", std::string(kSecretA1) + "\n" + kSecretA2 + "\n");
    writeSecret("b.whsec", std::string(kSecretB) + "\n");
    writeSecret("c.whsec", std::string(kSecretC) + "\n");
    writeSecret("b.whsk", signing_key + "\n");
    startDaemon();
  }

  // Posts a Standard Webhooks callback to a route; returns the stored event's id.
  std::string post(const std::string& route, const std::string& msg_id, const std::string& body) {
    auto resp = postStandardWebhook(daemon_->address(), msg_id, body, "/hooks/" + route);
    EXPECT_EQ(resp.status, 204) << resp.body << daemon_->logs();
    return redis_.command({"GET", "{payhook}:idem:" + route + ":" + msg_id}).str;
  }

  // Sends a request to the sink as payhookd would, with the given headers and body.
  HttpResponse replay(const std::string& path, const json& line, const std::string& body,
                      const std::string& signature) {
    return httpRequest(sink_.address(), "POST", path,
                       {{"webhook-id", line.value("id", "")},
                        {"webhook-timestamp", line.value("timestamp", "")},
                        {"webhook-signature", signature},
                        {"content-type", "application/json"}},
                       body);
  }

  // The sink's log lines that did not verify, one per line.
  std::string refusals() {
    std::string out;
    for (json l : sink_.log()) {
      if (!l.is_object()) {
        out += "(a line that is not JSON)\n";
      } else if (!l.value("ok", false)) {
        l.erase("body");
        out += l.dump() + "\n";
      }
    }
    return out;
  }

  // The first request on `path` the sink verified and answered 200 (a replay of it must verify again).
  json firstAnswered200(const std::string& path) {
    for (const auto& l : sink_.log(path))
      if (l.value("status", 0) == 200) return l;
    ADD_FAILURE() << "no request on " << path << " was answered 200";
    return json::object();
  }

  std::string node_;
  NodeSink sink_;
};

TEST_F(NodeVerifyTest, EveryDeliveryVerifiesWithTheOfficialLibraryAndNodeCrypto) {
  // Several events, one with non-ASCII text (the signature is over UTF-8 bytes), one whose first attempt
  // the sink answers 500 after it verified.
  const std::vector<std::pair<std::string, std::string>> callbacks = {
      {"msg_nv_1", R"({"type":"invoice.paid","data":{"amount":"10.50"}})"},
      {"msg_nv_retried", R"({"type":"invoice.paid","data":{"amount":"99.99","note":"retry me"}})"},
      {"msg_nv_3", R"({"type":"invoice.paid","data":{"amount":"1.00","payer":"Пётр Иванов","memo":"☕ 💳"}})"},
      {"msg_nv_4", R"({"type":"refund.created","data":{"amount":"0.01","items":[1,2,3]}})"},
  };
  std::map<std::string, std::string> event_of;  // inbound msg id → event id
  for (const auto& [msg, body] : callbacks) {
    event_of[msg] = post("shop", msg, body);
    ASSERT_FALSE(event_of[msg].empty()) << daemon_->logs();
  }
  for (const auto& [msg, id] : event_of) {
    // Delivered or dead: a refusal by the sink ends in dead after the schedule, well within the wait.
    ASSERT_TRUE(waitFor(
        [&] {
          const std::string s = field(id, "state");
          return s == "delivered" || s == "dead";
        },
        15'000))
        << msg << " is " << field(id, "state") << "\n"
        << sink_.output() << daemon_->logs();
    ASSERT_EQ(field(id, "state"), "delivered") << msg << ": what the sink refused:\n" << refusals();
    EXPECT_EQ(field(id, "status:a"), "delivered");
    EXPECT_EQ(field(id, "status:b"), "delivered");
    EXPECT_EQ(attempts(id).size(), msg == "msg_nv_retried" ? 4u : 2u) << msg;
  }

  // Every request verified: v1 with each of the two secrets alone on "a", v1 and v1a on "b".
  std::set<std::string> ids;
  for (const auto& [msg, id] : event_of) ids.insert(id);
  for (const std::string path : {"/a", "/b"}) {
    const auto lines = sink_.log(path);
    ASSERT_EQ(lines.size(), 5u) << path << ": four events and one retry\n" << sink_.output();
    for (const auto& l : lines) {
      ASSERT_TRUE(l.is_object());
      SCOPED_TRACE(l.dump());
      EXPECT_TRUE(l.value("ok", false));
      EXPECT_EQ(l["errors"], json::array());
      EXPECT_TRUE(ids.count(l.value("id", ""))) << "webhook-id is the event id";
      EXPECT_EQ(l.value("content_type", ""), "application/json");
      EXPECT_EQ(l.value("user_agent", "").rfind("payhook/", 0), 0u);
      const std::string sig = l.value("signature", "");
      if (path == "/a") {
        EXPECT_EQ(l["v1"], json::array({true, true}));
        EXPECT_TRUE(l["v1a"].is_null());
        EXPECT_EQ(countEntries(sig, "v1,"), 2u) << "one v1 entry per secret during rotation";
        EXPECT_EQ(countEntries(sig, "v1a,"), 0u);
      } else {
        EXPECT_EQ(l["v1"], json::array({true}));
        EXPECT_EQ(l["v1a"], true);
        EXPECT_EQ(countEntries(sig, "v1,"), 1u);
        EXPECT_EQ(countEntries(sig, "v1a,"), 1u);
      }
      const bool retried = l.value("webhook_id", "") == "msg_nv_retried";
      EXPECT_EQ(l.value("status", 0), retried && l.value("attempt", 0) == 1 ? 500 : 200);
    }

    // The retried event: attempt 1 answered 500, attempt 2 (more than a second later) re-signed with a
    // newer timestamp, and verified too.
    std::vector<json> retried;
    for (const auto& l : lines)
      if (l.value("webhook_id", "") == "msg_nv_retried") retried.push_back(l);
    ASSERT_EQ(retried.size(), 2u) << path;
    EXPECT_EQ(retried[0].value("attempt", 0), 1);
    EXPECT_EQ(retried[1].value("attempt", 0), 2);
    EXPECT_EQ(retried[0].value("id", ""), retried[1].value("id", "")) << "the id is stable across attempts";
    EXPECT_LT(std::stoll(retried[0].value("timestamp", "0")), std::stoll(retried[1].value("timestamp", "0")));
    EXPECT_NE(retried[0].value("signature", ""), retried[1].value("signature", ""));
  }
  auto a = attempts(event_of["msg_nv_retried"]);
  ASSERT_EQ(a.size(), 4u);
  int failed = 0;
  for (const auto& r : a) failed += r.value("status", 0) == 500 ? 1 : 0;
  EXPECT_EQ(failed, 2) << "one 500 per target";

  // The checks bite: the same request verifies again as sent (no replay store in the sink), and is refused
  // by each check once one byte of the body changed or an entry is missing.
  for (const std::string path : {"/a", "/b"}) {
    const json l = firstAnswered200(path);
    const std::string body = l.value("body", "");
    const std::string sig = l.value("signature", "");
    ASSERT_FALSE(body.empty());
    EXPECT_EQ(replay(path, l, body, sig).status, 200) << path;
    std::string tampered = body;
    const size_t at = tampered.find("\"attempt\":1");
    ASSERT_NE(at, std::string::npos) << body;
    tampered[at + 10] = '7';
    auto resp = replay(path, l, tampered, sig);
    EXPECT_EQ(resp.status, 400) << path << ": " << resp.body;
    const json refused = sink_.log(path).back();
    EXPECT_FALSE(refused.value("ok", true));
    if (path == "/a") {
      EXPECT_EQ(refused["v1"], json::array({false, false})) << refused.dump();
    } else {
      EXPECT_EQ(refused["v1"], json::array({false})) << refused.dump();
      EXPECT_EQ(refused["v1a"], false) << refused.dump();
    }
  }
  {
    // On "b" the v1a entry alone is valid but v1 is missing: the official library refuses.
    const json l = firstAnswered200("/b");
    const std::string sig = l.value("signature", "");
    const std::string v1a_only = sig.substr(sig.find("v1a,"));
    EXPECT_EQ(replay("/b", l, l.value("body", ""), v1a_only).status, 400);
    const json refused = sink_.log("/b").back();
    EXPECT_EQ(refused["v1"], json::array({false})) << refused.dump();
    EXPECT_EQ(refused["v1a"], true) << refused.dump();
    // And the v1 entry alone: the v1a check refuses.
    const std::string v1_only = sig.substr(0, sig.find(' '));
    EXPECT_EQ(replay("/b", l, l.value("body", ""), v1_only).status, 400);
    const json refused2 = sink_.log("/b").back();
    EXPECT_EQ(refused2["v1"], json::array({true})) << refused2.dump();
    EXPECT_EQ(refused2["v1a"], false) << refused2.dump();
  }
}

TEST_F(NodeVerifyTest, ASinkWithTheWrongSecretOrKeyRefusesEveryAttempt) {
  const std::string id =
      post("refused", "msg_nv_refused", R"({"type":"invoice.paid","data":{"amount":"5.00"}})");
  ASSERT_FALSE(id.empty()) << daemon_->logs();
  ASSERT_TRUE(waitFor(
      [&] { return field(id, "status:wrong-secret") == "dead" && field(id, "status:wrong-key") == "dead"; },
      15'000))
      << field(id, "state") << "\n"
      << sink_.output() << daemon_->logs();
  EXPECT_EQ(field(id, "state"), "dead");

  // Two attempts each (the schedule allows one retry), every one refused by the check that should refuse.
  const auto wrong_secret = sink_.log("/wrong-secret");
  ASSERT_EQ(wrong_secret.size(), 2u) << sink_.output();
  for (const auto& l : wrong_secret) {
    EXPECT_FALSE(l.value("ok", true)) << l.dump();
    EXPECT_EQ(l.value("status", 0), 400) << l.dump();
    EXPECT_EQ(l["v1"], json::array({false})) << l.dump();
  }
  const auto wrong_key = sink_.log("/wrong-key");
  ASSERT_EQ(wrong_key.size(), 2u) << sink_.output();
  for (const auto& l : wrong_key) {
    EXPECT_FALSE(l.value("ok", true)) << l.dump();
    EXPECT_EQ(l.value("status", 0), 400) << l.dump();
    EXPECT_EQ(l["v1"], json::array({true})) << "the secret is right" << l.dump();
    EXPECT_EQ(l["v1a"], false) << l.dump();
  }
  const auto a = attempts(id);
  ASSERT_EQ(a.size(), 4u);
  for (const auto& r : a) EXPECT_EQ(r.value("status", 0), 400) << r.dump();
}

}  // namespace
}  // namespace payhook::testing
