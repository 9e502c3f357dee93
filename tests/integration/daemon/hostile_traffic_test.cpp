// Hostile traffic against the real payhookd and a real redis-server: slowloris beside
// normal load, max_connections filled by slowloris, header bombs, a 100 MB body, NUL bytes and invalid UTF-8,
// duplicated signed parameters and 10 000 parameters. What a user relies on: normal callbacks are still
// answered, every refusal is prompt and stores nothing, no forged payload gets a 2xx, and the daemon's memory
// does not follow the attacker's byte counts. Timing is asserted only as "served" or with generous bounds;
// the latency figures under attack are bench/slowloris.sh's job.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/secret.h"
#include "common/webhook_signature.h"
#include "handlers/digest.h"
#include "handlers/form.h"
#include "handlers/payinpayout/payinpayout.h"
#include "handlers/rbs/rbs.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/raw_socket.h"
#include "support/redis_server.h"
#include "support/signed_requests.h"
#include "support/sink.h"
#include "support/store_inspect.h"
#include "support/yoomoney_form.h"

namespace payhook::testing {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr const char* kYooPassword = yoomoney::kPassword;        // the provider's published test vector
constexpr const char* kRbsToken = "ooc7slpvc61k7sf7ma7p4hrefr";  // the provider's published test vector
constexpr const char* kRbsQuery =
    "mdOrder=06cf5599-3f17-7c86-bdbc-bd7d00a8b38b&operation=approved&orderNumber=2003&status=1";
constexpr const char* kRbsChecksum = "EAF2FB72CAB99FD5067F4BA493DD84F4D79C1589FDE8ED29622F0F07215AA972";
constexpr const char* kIntegraToken = "tok-3f9a1c77e2b54d08";
constexpr const char* kTxId = "0123456789abcdef0123456789abcdef";
constexpr const char* kPpKey = "secret_key";
constexpr const char* kForm = "application/x-www-form-urlencoded";

// Every provider at once, so one daemon serves each case.
constexpr const char* kRoutes = R"(
[[routes]]
name = "demo"
provider = "standard-webhooks"
path = "/hooks/demo"
secret_file = "secrets/demo.whsec"
forward = ["orders"]

[[routes]]
name = "shop"
provider = "yoomoney"
path = "/yoomoney"
shop_id = "13"
shop_password_file = "secrets/yoomoney.pass"
decision = "orders"
forward = ["orders"]
max_unsigned = "256KiB"  # one case below sends 10 000 of the shop's own fields, signed

[[routes]]
name = "bank"
provider = "rbs"
path = "/rbs"
checksum = "hmac-sha256"
secret_file = "secrets/rbs.token"
forward = ["orders"]

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
name = "pp"
provider = "payinpayout"
path = "/payinpayout"
secret_file = "secrets/pp.secret"
forward = ["orders"]

[[routes]]
name = "allpay"
provider = "allpay"
path = "/allpay"
public_key_file = "secrets/allpay.pub.pem"
forward = ["orders"]
)";

// --- small helpers -------------------------------------------------------------------------------

std::string fixture(const std::string& path) {
  std::ifstream f(std::string(PAYHOOK_SOURCE_DIR) + "/tests/fixtures/" + path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The test process holds a thousand sockets, and payhookd (forked from it) inherits the limit.
void raiseNofileLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

rlim_t nofileLimit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

// A field of /proc/<pid>/status in KiB (VmHWM: peak RSS; VmRSS: now); -1 when unreadable.
long procStatusKib(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// How much payhookd's peak RSS may grow while refusing a 100 MB body: one read buffer and an answer, plus
// allocator noise; a sanitizer build's shadow memory and quarantine get more room, still far below 100 MB.
#if defined(__SANITIZE_ADDRESS__)
constexpr long kRssSlackKib = 48 * 1024;
#else
constexpr long kRssSlackKib = 8 * 1024;
#endif

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

Headers swhHeaders(const std::string& id, const std::string& body, int64_t ts = std::time(nullptr)) {
  return standardWebhookHeaders(id, body, ts);
}

// --- provider payloads ---------------------------------------------------------------------------

using yoomoney::Fields;

// The YooMoney answer's code attribute ("0", "1", "200", ...); empty when there is none.
std::string yooCode(const HttpResponse& r) {
  const auto at = r.body.find(" code=\"");
  if (at == std::string::npos) return {};
  return r.body.substr(at + 7, r.body.find('"', at + 7) - at - 7);
}

std::string rbsSigned(const std::string& pairs) {
  auto form = handlers::Form::parse(pairs);
  return pairs + "&checksum=" +
         handlers::hmacSha256Hex(Secret(kRbsToken), handlers::rbs::signedString(*form),
                                 handlers::HexCase::kUpper);
}

std::string integraQuery() {
  return std::string("token=") + kIntegraToken + "&transaction_id=" + kTxId +
         "&amount=100.50&user=9f86d081884c7d65";
}

// Signs `body` (a JSON object without a hash) and appends the hash (payinpayout_test.cpp does the same;
// signedMessage itself is checked against the published vectors in the unit tests).
std::string ppSign(const std::string& body) {
  auto message = handlers::payinpayout::signedMessage(body, handlers::payinpayout::Order::kAsSent);
  EXPECT_TRUE(message.ok()) << body;
  const std::string mac = handlers::hmacMd5Hex(Secret(std::string(kPpKey)), message.ok() ? *message : "",
                                               handlers::HexCase::kLower);
  return body.substr(0, body.rfind('}')) + R"(,"hash":")" + mac + R"("})";
}

std::string ppInvoice(const std::string& extra = "") {
  return R"({"external_id":"123457","service_id":111,"status":1,"payment_in_id":"011111-000082",)" + extra +
         R"("payment_out_id":"022222-001244","timestamp":")" + std::to_string(std::time(nullptr)) + R"("})";
}

// --- fixture -------------------------------------------------------------------------------------

class HostileTrafficTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() {
    ASSERT_GE(sodium_init(), 0);
    raiseNofileLimit();
  }

  // Starts payhookd with every provider's route and `extra_server` lines in [server]; `targets` replaces
  // the default "orders" target (which points at a closed port).
  void start(const std::string& extra_server = "", const std::string& targets = "") {
    DaemonOptions o;
    o.routes = kRoutes;
    o.extra_server = extra_server;
    o.targets = targets;
    createDaemon(o);
    writeSecret("yoomoney.pass", std::string(kYooPassword) + "\n");
    writeSecret("rbs.token", std::string(kRbsToken) + "\n");
    writeSecret("integra.token", std::string(kIntegraToken) + "\n");
    writeSecret("pp.secret", std::string(kPpKey) + "\n");
    writeSecret("allpay.pub.pem", fixture("allpay/test-allpay.pub.pem"));
    startDaemon();
  }

  void TearDown() override {
    if (daemon_) {
      // Still alive after everything the test threw at it, and it stops cleanly.
      EXPECT_EQ(httpRequest(daemon_->adminAddress(), "GET", "/healthz").status, 200);
      const std::string logs = daemon_->logs();
      for (const char* secret : {kYooPassword, kRbsToken, kIntegraToken})
        EXPECT_EQ(logs.find(secret), std::string::npos) << "a secret reached the log";
      EXPECT_EQ(daemon_->stop(), 0) << logs.substr(logs.size() > 4000 ? logs.size() - 4000 : 0);
    }
  }

  size_t storedEvents() { return countKeys(redis_, "{payhook}:ev:*"); }

  HttpResponse swhPost(const std::string& id, const std::string& body) {
    return httpRequest(daemon_->address(), "POST", "/hooks/demo", swhHeaders(id, body), body);
  }
  HttpResponse yooPost(const std::string& body, const std::string& endpoint = "aviso") {
    return httpRequest(daemon_->address(), "POST", "/yoomoney/" + endpoint, {{"content-type", kForm}}, body);
  }
  HttpResponse rbsGet(const std::string& query) {
    return httpRequest(daemon_->address(), "GET", "/rbs/callback?" + query);
  }
  HttpResponse integraGet(const std::string& query) {
    return httpRequest(daemon_->address(), "GET", "/integra/notify?" + query);
  }
  HttpResponse ppPost(const std::string& body, const std::string& endpoint = "callback") {
    return httpRequest(daemon_->address(), "POST", "/payinpayout/" + endpoint,
                       {{"content-type", "application/json"}}, body);
  }
};

// --- slowloris -----------------------------------------------------------------------------------

// One slowloris connection: opened, then silent (kind 0), stuck after part of its header section (kind 1),
// or trickling one header byte every 500 ms (kind 2), which must not extend the header timeout.
struct Slow {
  std::unique_ptr<RawSocket> sock;
  int kind = 0;
  Clock::time_point opened;
  Clock::time_point closed;
  bool is_closed = false;
  size_t received = 0;  // bytes the daemon sent: a slowloris connection deserves none
  size_t trickled = 0;
};

constexpr std::string_view kSlowHead = "POST /hooks/demo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

std::vector<Slow> openSlowloris(const std::string& address, int count) {
  std::vector<Slow> out;
  out.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    Slow s;
    s.sock = std::make_unique<RawSocket>(address);
    if (!s.sock->ok()) break;
    s.kind = i % 3;
    s.opened = Clock::now();
    if (s.kind == 1) s.sock->sendAll(kSlowHead);
    out.push_back(std::move(s));
  }
  return out;
}

// Watches the slowloris connections until all are closed or `deadline`: records when each one was closed
// and trickles a byte to kind-2 connections every 500 ms. Runs on its own thread.
void watchSlowloris(std::vector<Slow>* slow, Clock::time_point deadline) {
  auto next_trickle = Clock::now() + std::chrono::milliseconds(500);
  std::vector<pollfd> fds;
  std::vector<size_t> index;
  char buf[4096];
  while (Clock::now() < deadline) {
    fds.clear();
    index.clear();
    for (size_t i = 0; i < slow->size(); ++i) {
      if ((*slow)[i].is_closed) continue;
      fds.push_back({(*slow)[i].sock->fd(), POLLIN, 0});
      index.push_back(i);
    }
    if (fds.empty()) return;
    int n = ::poll(fds.data(), fds.size(), 50);
    const auto now = Clock::now();
    for (size_t k = 0; n > 0 && k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      Slow& s = (*slow)[index[k]];
      ssize_t r = ::recv(fds[k].fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0) {
        s.received += static_cast<size_t>(r);
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        s.is_closed = true;
        s.closed = now;
      }
    }
    if (now >= next_trickle) {
      next_trickle = now + std::chrono::milliseconds(500);
      for (size_t i : index) {
        Slow& s = (*slow)[i];
        if (s.kind != 2 || s.is_closed) continue;
        const char c = s.trickled < kSlowHead.size() ? kSlowHead[s.trickled] : 'a';
        if (s.sock->sendSome(std::string_view(&c, 1)) == 1) ++s.trickled;
      }
    }
  }
}

int64_t percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

TEST_F(HostileTrafficTest, ThousandSlowlorisConnectionsDoNotStopNormalCallbacks) {
  constexpr int kSlow = 1000;
  constexpr int64_t kHeaderTimeoutMs = 3000;
  ASSERT_GE(nofileLimit(), static_cast<rlim_t>(kSlow + 200)) << "RLIMIT_NOFILE too low for this test";
  // All of them come from one address; the per-address cap would refuse most of them at once.
  start("header_timeout = \"3s\"\nmax_connections = 5000\nmax_connections_per_address = 0\n");

  const auto t0 = Clock::now();
  std::vector<Slow> slow = openSlowloris(daemon_->address(), kSlow);
  ASSERT_EQ(slow.size(), static_cast<size_t>(kSlow));
  const int64_t open_ms = msSince(t0);
  std::thread watcher(watchSlowloris, &slow,
                      Clock::now() + std::chrono::milliseconds(kHeaderTimeoutMs + 4000));

  // Normal traffic while they are held: signed callbacks on fresh connections and on one keep-alive
  // connection, for most of the header timeout.
  std::vector<int64_t> latencies;
  int served = 0, sent = 0;
  std::vector<std::string> failures;
  HttpConnection keep(daemon_->address());
  ASSERT_TRUE(keep.connected());
  const auto normal_until = Clock::now() + std::chrono::milliseconds(kHeaderTimeoutMs - 800);
  while (Clock::now() < normal_until) {
    const std::string id = "msg_normal_" + std::to_string(sent);
    const std::string body = R"({"type":"invoice.paid","n":)" + std::to_string(sent) + "}";
    const auto t = Clock::now();
    HttpResponse r;
    if (sent % 2 == 0) {
      r = swhPost(id, body);
    } else {
      keep.send(rawRequest("POST", "/hooks/demo", swhHeaders(id, body), body));
      r = keep.read(5000);
    }
    latencies.push_back(msSince(t));
    ++sent;
    if (r.status == 204)
      ++served;
    else if (failures.size() < 5)
      failures.push_back(id + ": " + std::to_string(r.status) + " " + r.body);
  }
  const int64_t normal_ms = msSince(t0);

  watcher.join();
  EXPECT_GT(sent, 50);
  EXPECT_EQ(served, sent) << "normal callbacks not answered 204: " << ::testing::PrintToString(failures);
  EXPECT_EQ(storedEvents(), static_cast<size_t>(served));  // every 204 is a stored event

  // Every slowloris connection was closed by the header timeout, without a byte of answer: not before it
  // (so the daemon held all thousand; the uv loop's cached clock may start the timer a little early), and
  // not much after it.
  int still_open = 0, early = 0, late = 0, answered = 0;
  int64_t min_life = INT64_MAX, max_life = 0;
  for (const Slow& s : slow) {
    if (!s.is_closed) {
      ++still_open;
      continue;
    }
    const int64_t life = std::chrono::duration_cast<std::chrono::milliseconds>(s.closed - s.opened).count();
    min_life = std::min(min_life, life);
    max_life = std::max(max_life, life);
    if (life < kHeaderTimeoutMs - 500) ++early;
    if (life > kHeaderTimeoutMs + 2000) ++late;
    if (s.received != 0) ++answered;
  }
  EXPECT_EQ(still_open, 0);
  EXPECT_EQ(early, 0) << "closed before header_timeout: refused or shed, not held";
  EXPECT_EQ(late, 0);
  EXPECT_EQ(answered, 0);
  std::printf(
      "[ figures  ] %d slowloris opened in %lld ms; %d normal callbacks in %lld ms, all 204: p50 %lld ms, "
      "p99 %lld ms, max %lld ms; slowloris closed after %lld..%lld ms (header_timeout %lld ms)\n",
      kSlow, static_cast<long long>(open_ms), sent, static_cast<long long>(normal_ms),
      static_cast<long long>(percentile(latencies, 0.5)), static_cast<long long>(percentile(latencies, 0.99)),
      static_cast<long long>(percentile(latencies, 1.0)), static_cast<long long>(min_life),
      static_cast<long long>(max_life), static_cast<long long>(kHeaderTimeoutMs));

  // And the daemon serves as before once they are gone.
  EXPECT_EQ(swhPost("msg_after_slowloris", R"({"type":"x"})").status, 204);
}

// When slowloris connections alone fill max_connections, the oldest connection that has not completed a
// request header section (or is idle between keep-alive requests) is closed to make room for each newcomer,
// so held-open connections cannot lock providers out for as long as an attacker keeps reopening them.
// Connections with a request in flight are never shed.
TEST_F(HostileTrafficTest, AtMaxConnectionsTheOldestIncompleteConnectionIsShedForANewOne) {
  constexpr int kMax = 100;
  start("header_timeout = \"10s\"\nmax_connections = " + std::to_string(kMax) + "\n");
  std::vector<std::unique_ptr<RawSocket>> slow;
  for (int i = 0; i < kMax; ++i) {
    slow.push_back(std::make_unique<RawSocket>(daemon_->address()));
    ASSERT_TRUE(slow.back()->ok());
    slow.back()->sendAll(kSlowHead);
  }
  for (int i = 0; i < 10; ++i) {
    auto r = swhPost("msg_shed_" + std::to_string(i), "{}");
    EXPECT_EQ(r.status, 204) << "normal callback " << i << " refused while slowloris holds max_connections";
  }
  bool closed = false;
  slow.front()->readUntilClosed(1000, &closed);
  EXPECT_TRUE(closed) << "the oldest incomplete connection was not the one shed";
  // The newest ones are still open: only as many were shed as newcomers needed (10 callbacks).
  bool newest_closed = false;
  slow.back()->readUntilClosed(100, &newest_closed);
  EXPECT_FALSE(newest_closed);
  EXPECT_EQ(httpRequest(daemon_->adminAddress(), "GET", "/healthz").status, 200);
  EXPECT_NE(daemon_->logs().find("closed the oldest connection not held by the handler"), std::string::npos);
  EXPECT_EQ(storedEvents(), 10u);
}

// --- header bombs --------------------------------------------------------------------------------

TEST_F(HostileTrafficTest, HeaderBombsGet431AtOnceAndStoreNothing) {
  start();  // defaults: max_headers 100, max_header_bytes 16 KiB, header_timeout 10 s
  const std::string body = R"({"type":"invoice.paid"})";
  // Each bomb is a validly signed callback plus the bomb, sent without the blank line that ends the header
  // section: the answer must come when the limit is crossed, not at the end or at the header timeout.
  std::string signed_head = "POST /hooks/demo HTTP/1.1\r\nhost: 127.0.0.1\r\n";
  for (const auto& [k, v] : swhHeaders("msg_bomb", body)) signed_head += k + ": " + v + "\r\n";
  signed_head += "content-length: " + std::to_string(body.size()) + "\r\n";

  struct Bomb {
    std::string name;
    std::string bytes;
  };
  std::vector<Bomb> bombs;
  {
    std::string many = signed_head;
    for (int i = 0; i < 1000; ++i) many += "x-h-" + std::to_string(i) + ": v\r\n";
    bombs.push_back({"1000 header lines", many});
  }
  bombs.push_back({"one 64 KiB header", signed_head + "x-big: " + std::string(64 * 1024, 'a') + "\r\n"});
  {
    std::string wide = signed_head;
    for (int i = 0; i < 90; ++i) wide += "x-w-" + std::to_string(i) + ": " + std::string(300, 'b') + "\r\n";
    bombs.push_back({"90 headers of 300 bytes (within max_headers, over max_header_bytes)", wide});
  }
  bombs.push_back({"64 KiB request target",
                   "GET /hooks/demo?" + std::string(64 * 1024, 'q') + " HTTP/1.1\r\nhost: 127.0.0.1\r\n"});
  {
    // Header lines folded into continuation lines (obs-fold) are refused by llhttp outright.
    std::string folded = signed_head + "x-fold: a\r\n";
    for (int i = 0; i < 2000; ++i) folded += " b\r\n";
    bombs.push_back({"2000 obs-fold continuation lines", folded});
  }

  for (const Bomb& b : bombs) {
    SCOPED_TRACE(b.name);
    RawSocket s(daemon_->address());
    ASSERT_TRUE(s.ok());
    const auto t = Clock::now();
    s.sendAll(b.bytes);  // the daemon may answer and close before all of it is sent
    bool closed = false;
    const std::string answer = s.readUntilClosed(3000, &closed);
    const int64_t ms = msSince(t);
    const int status = statusOf(answer);
    if (b.name.find("obs-fold") != std::string::npos) {
      EXPECT_TRUE(status == 400 || status == 431) << answer;
    } else {
      EXPECT_EQ(status, 431) << answer;
    }
    EXPECT_NE(answer.find("connection: close"), std::string::npos) << answer;
    EXPECT_TRUE(closed);
    EXPECT_LT(ms, 1500) << "answered only after " << ms << " ms";
    std::printf("[ figures  ] %s: %d after %lld ms\n", b.name.c_str(), status, static_cast<long long>(ms));
  }
  expectNothingStored();
  // The limits hold exactly at their edge: 100 header lines in all are fine.
  Headers ok = swhHeaders("msg_edge", body);
  // httpRequest adds host, connection and content-length to the four signed ones.
  for (int i = 0; i < 100 - 7; ++i) ok.emplace_back("x-h-" + std::to_string(i), "v");
  EXPECT_EQ(httpRequest(daemon_->address(), "POST", "/hooks/demo", ok, body).status, 204);
}

// --- a 100 MB body -------------------------------------------------------------------------------

TEST_F(HostileTrafficTest, HundredMegabyteBodyGets413BeforeItIsSentAndIsNeverBuffered) {
  start();  // max_body 64 KiB
  constexpr uint64_t kHuge = 100ull * 1024 * 1024;
  const long hwm_before = procStatusKib(daemon_->pid(), "VmHWM");
  ASSERT_GT(hwm_before, 0);
  const std::string chunk(16 * 1024, 'x');

  // Paced like a fast uplink (16 KiB per ms at most): the 413 must come before 1 MB has left the client.
  {
    RawSocket s(daemon_->address());
    ASSERT_TRUE(s.ok());
    Headers h = swhHeaders("msg_huge", "");
    h.emplace_back("content-length", std::to_string(kHuge));
    const auto t = Clock::now();
    ASSERT_TRUE(s.sendAll(rawRequest("POST", "/hooks/demo", h, "", /*with_length=*/false)));
    uint64_t sent = 0;
    while (sent < kHuge && msSince(t) < 5000 && !s.readable(1)) {
      ssize_t n = s.sendSome(chunk);
      if (n < 0) break;
      sent += static_cast<uint64_t>(n);
    }
    const int64_t ms = msSince(t);
    bool closed = false;
    const std::string answer = s.readUntilClosed(3000, &closed);
    EXPECT_EQ(statusOf(answer), 413) << answer;
    EXPECT_NE(answer.find("connection: close"), std::string::npos);
    EXPECT_TRUE(closed);
    EXPECT_LT(sent, 1024u * 1024u) << "the client had sent " << sent << " bytes of body when the 413 came";
    std::printf("[ figures  ] 100 MB announced: 413 after %lld ms, %llu body bytes sent by then\n",
                static_cast<long long>(ms), static_cast<unsigned long long>(sent));
  }

  // Blasted as fast as the kernel takes it: the daemon has stopped reading, so the client is stuck once the
  // socket buffers are full, far short of 100 MB, and the daemon's memory does not follow.
  {
    RawSocket s(daemon_->address());
    ASSERT_TRUE(s.ok());
    Headers h = swhHeaders("msg_huge2", "");
    h.emplace_back("content-length", std::to_string(kHuge));
    std::string first = rawRequest("POST", "/hooks/demo", h, "", /*with_length=*/false);
    first += std::string(1024 * 1024 - first.size(), 'y');  // headers and body in one burst
    ssize_t n0 = s.sendSome(first);
    uint64_t sent = n0 > 0 ? static_cast<uint64_t>(n0) : 0;
    const auto t = Clock::now();
    auto last_progress = t;
    while (sent < kHuge && msSince(t) < 5000 && msSince(last_progress) < 500) {
      ssize_t n = s.sendSome(chunk);
      if (n < 0) break;  // reset: the daemon closed the connection
      if (n == 0) {
        pollfd p{s.fd(), POLLOUT, 0};
        ::poll(&p, 1, 50);
        continue;
      }
      sent += static_cast<uint64_t>(n);
      last_progress = Clock::now();
    }
    std::printf(
        "[ figures  ] 100 MB blasted: the kernel took %llu bytes in all before the client stalled or was "
        "reset\n",
        static_cast<unsigned long long>(sent));
    EXPECT_LT(sent, 32ull * 1024 * 1024);
  }
  const long hwm_after = procStatusKib(daemon_->pid(), "VmHWM");
  std::printf("[ figures  ] payhookd VmHWM %ld KiB before, %ld KiB after\n", hwm_before, hwm_after);
  EXPECT_LT(hwm_after - hwm_before, kRssSlackKib)
      << "peak RSS grew by " << (hwm_after - hwm_before) << " KiB";
  expectNothingStored();
  EXPECT_EQ(swhPost("msg_after_huge", "{}").status, 204);
}

TEST_F(HostileTrafficTest, ChunkedBodyGrowingPastMaxBodyGets413AndTheConnectionCloses) {
  start();  // max_body 64 KiB
  RawSocket s(daemon_->address());
  ASSERT_TRUE(s.ok());
  Headers h = swhHeaders("msg_chunked", "");
  h.emplace_back("transfer-encoding", "chunked");
  ASSERT_TRUE(s.sendAll(rawRequest("POST", "/hooks/demo", h, "", /*with_length=*/false)));
  const std::string piece = "2000\r\n" + std::string(0x2000, 'z') + "\r\n";  // 8 KiB chunks
  uint64_t body = 0;
  const auto t = Clock::now();
  while (body < 4u * 1024 * 1024 && msSince(t) < 5000 && !s.readable(2)) {
    if (!s.sendAll(piece)) break;
    body += 0x2000;
  }
  bool closed = false;
  const std::string answer = s.readUntilClosed(3000, &closed);
  EXPECT_EQ(statusOf(answer), 413) << answer;
  EXPECT_TRUE(closed);
  // The chunk header that would cross 64 KiB is refused: at most that chunk's bytes were sent past the limit
  // (two, for the one in flight when the answer arrived).
  EXPECT_LE(body, 64u * 1024 + 2 * 0x2000);
  std::printf("[ figures  ] chunked: 413 with %llu body bytes sent\n", static_cast<unsigned long long>(body));
  expectNothingStored();
}

// --- NUL bytes and invalid UTF-8 -----------------------------------------------------------------

// Bytes that are not UTF-8 (a lone 0xFF, a lead byte followed by ASCII) and a raw NUL.
const std::string kBadText = std::string("caf\xff-\xc3(-nul:") + '\0' + "-end";
// What the envelope's JSON carries for it: each invalid byte becomes U+FFFD (EF BF BD), the NUL is escaped.
const std::string kBadTextReplaced = std::string("caf\xef\xbf\xbd-\xef\xbf\xbd(-nul:") + '\0' + "-end";

TEST_F(HostileTrafficTest, StandardWebhooksBodyWithNulAndInvalidUtf8) {
  Sink sink({200});
  start("", R"(
[[targets]]
name = "orders"
url = ")" + sink.url() +
                R"("
secret_file = "secrets/orders.whsec"
timeout = "5s"
)");
  // Forged: a NUL or a bad byte slipped into a signed body breaks the signature.
  const std::string good = R"({"type":"invoice.paid","note":"cafe"})";
  std::string forged = good;
  forged.insert(20, 1, '\0');
  auto h = swhHeaders("msg_forged_nul", good);
  EXPECT_EQ(httpRequest(daemon_->address(), "POST", "/hooks/demo", h, forged).status, 401);
  forged = good;
  forged[30] = '\xff';
  EXPECT_EQ(httpRequest(daemon_->address(), "POST", "/hooks/demo", h, forged).status, 401);
  // A NUL in a header value is refused by the HTTP parser itself.
  {
    RawSocket s(daemon_->address());
    std::string req = rawRequest("POST", "/hooks/demo", swhHeaders("msg_nul_header", good), good);
    req.insert(req.find("msg_nul_header") + 3, 1, '\0');
    s.sendAll(req);
    EXPECT_EQ(statusOf(s.readUntilClosed(3000)), 400);
  }
  expectNothingStored();

  // Validly signed, the body not valid JSON (raw NUL and invalid UTF-8 inside a string): stored and answered
  // 204, since the signature is good; the payload is null in data and the raw body is kept byte for byte.
  const std::string body = R"({"type":"invoice.paid","note":")" + kBadText + R"("})";
  ASSERT_EQ(swhPost("msg_bad_utf8", body).status, 204) << daemon_->logs();
  auto ev = storedEvent(redis_, "demo", "msg_bad_utf8");
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev["raw_body"], body);
  EXPECT_EQ(ev["type"], "standard_webhooks.webhook");  // "type" could not be read from an invalid body
  auto data = json::parse(ev["data"], nullptr, false);
  ASSERT_FALSE(data.is_discarded()) << ev["data"];
  EXPECT_TRUE(data["payload"].is_null());

  // Delivered as valid JSON, the raw body's invalid bytes replaced by U+FFFD (queue/envelope.h).
  ASSERT_TRUE(waitFor([&] { return sink.count() >= 1; }, 10'000)) << daemon_->logs();
  const http::Request got = sink.received().front();
  auto envelope = json::parse(got.body, nullptr, false);
  ASSERT_FALSE(envelope.is_discarded()) << got.body;
  EXPECT_EQ(envelope["raw"]["body"], R"({"type":"invoice.paid","note":")" + kBadTextReplaced + R"("})");
  // And the envelope is itself signed for the shop's app, over the exact bytes sent.
  const std::string* sig = got.header("webhook-signature");
  ASSERT_NE(sig, nullptr);
  auto orders_key = swh::decodeSecret("whsec_b3JkZXJzLXRhcmdldC1zZWNyZXQtMDEyMzQ1Njc=").value();
  EXPECT_EQ(swh::verify({{orders_key}, {}}, *got.header("webhook-id"), *got.header("webhook-timestamp"), *sig,
                        got.body, static_cast<int64_t>(std::time(nullptr)) * 1000),
            swh::VerifyResult::kOk);
}

TEST_F(HostileTrafficTest, YooMoneyFormWithNulAndInvalidUtf8) {
  start();
  // Forged: NUL or a bad byte appended to signed fields, md5 unchanged.
  {
    Fields f = yoomoney::request("paymentAviso", "70");
    yoomoney::set(&f, "customerNumber", yoomoney::get(f, "customerNumber") + '\0');
    auto r = yooPost(yoomoney::formBody(f));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(yooCode(r), "1") << r.body;
  }
  {
    Fields f = yoomoney::request("paymentAviso", "71");
    yoomoney::set(&f, "customerNumber", yoomoney::get(f, "customerNumber") + "\xff\xfe");
    auto r = yooPost(yoomoney::formBody(f));
    EXPECT_EQ(yooCode(r), "1") << r.body;
  }
  {
    Fields f = yoomoney::request("paymentAviso", "72");
    yoomoney::set(&f, "orderSumAmount", std::string("87.10") + '\0');  // not an amount any more
    auto r = yooPost(yoomoney::formBody(f));
    EXPECT_EQ(yooCode(r), "200") << r.body;
  }
  {
    Fields f = yoomoney::request("paymentAviso", "73");
    yoomoney::set(&f, "md5", yoomoney::get(f, "md5") + '\0');
    auto r = yooPost(yoomoney::formBody(f));
    EXPECT_EQ(yooCode(r), "1") << r.body;
  }
  {
    // A raw (unencoded) NUL and 0xFF in the body itself.
    std::string body = yoomoney::formBody(yoomoney::request("paymentAviso", "74"));
    body.insert(body.find("customerNumber=") + 15, std::string("\0\xff", 2));
    auto r = yooPost(body);
    EXPECT_EQ(yooCode(r), "1") << r.body;
  }
  expectNothingStored();

  // Validly signed with a NUL and bytes that are not UTF-8 in a signed field and a custom one: accepted (the
  // shop's password vouches for it), stored with the raw body exact, and data read as windows-1251 (the
  // encoding of a form that is not UTF-8), so data stays valid JSON.
  Fields f = yoomoney::request("paymentAviso", "75");
  yoomoney::set(&f, "customerNumber", kBadText);
  yoomoney::set(&f, "cps_email", kBadText);
  yoomoney::sign(&f);
  const std::string body = yoomoney::formBody(f);
  auto r = yooPost(body);
  ASSERT_EQ(yooCode(r), "0") << r.body << daemon_->logs();
  EXPECT_NE(r.body.find("invoiceId=\"75\""), std::string::npos);
  auto ev = storedEvent(redis_, "shop", "paymentAviso:75");
  ASSERT_FALSE(ev.empty());
  // Byte for byte but for the md5, which the raw body keeps blank (yoomoney_test.cpp: it would expose the
  // password to guessing).
  const std::string md5 = yoomoney::get(f, "md5");
  std::string expected_raw = body;
  expected_raw.erase(expected_raw.find(md5), md5.size());
  EXPECT_EQ(ev["raw_body"], expected_raw);
  auto data = json::parse(ev["data"], nullptr, false);
  ASSERT_FALSE(data.is_discarded()) << ev["data"];
  const std::string as_cp1251 = std::string("caf\xD1\x8F-\xD0\x93(-nul:") + '\0' + "-end";  // ÿ→я, Ã→Г
  EXPECT_EQ(data["customer_number"], as_cp1251);
  EXPECT_EQ(data["unsigned"]["custom"]["cps_email"], as_cp1251);
}

TEST_F(HostileTrafficTest, PayinPayoutJsonWithNulAndInvalidUtf8) {
  start();
  auto expectMalformed = [&](const std::string& body, const char* what) {
    auto r = ppPost(body);
    EXPECT_EQ(r.status, 400) << what << ": " << r.body;
    EXPECT_EQ(r.body, R"({"result": false})") << what;
  };
  // Raw control bytes and invalid UTF-8 make the body invalid JSON: 400 before any hash is checked.
  std::string signed_body = ppSign(ppInvoice());
  std::string b = signed_body;
  b.insert(b.find("123457"), 1, '\0');
  expectMalformed(b, "raw NUL in a string");
  b = signed_body;
  b.insert(b.find("123457"), "\xff\xfe");
  expectMalformed(b, "invalid UTF-8 in a string");
  b = signed_body;
  b.insert(b.find("123457"), "\xc3(");
  expectMalformed(b, "truncated UTF-8 sequence");
  b = signed_body;
  b.insert(1, std::string("\0", 1));
  expectMalformed(b, "NUL between tokens");
  // Escaped NUL (valid JSON) added after signing: a forgery, 403.
  b = signed_body;
  b.insert(b.find("123457") + 6, "\\u0000");
  auto r = ppPost(b);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.body, R"({"result": false})");
  expectNothingStored();

  // Validly signed with an escaped NUL and U+FFFD-worthy text in an extra field: 200 and stored.
  const std::string good = ppSign(ppInvoice(R"("note":"a\u0000b\ufffd",)"));
  r = ppPost(good);
  ASSERT_EQ(r.status, 200) << r.body << daemon_->logs();
  EXPECT_EQ(r.body, R"({"result": true})");
  auto ev = storedEvent(redis_, "pp", "invoice:123457:1");
  ASSERT_FALSE(ev.empty());
  auto data = json::parse(ev["data"], nullptr, false);
  ASSERT_FALSE(data.is_discarded());
  EXPECT_EQ(data["note"], std::string("a\0b\xef\xbf\xbd", 6));
}

TEST_F(HostileTrafficTest, QueryProvidersWithNulAndInvalidUtf8) {
  start();
  // RBS: the published signed query with a NUL or 0xFF added to a signed value: 403; in the name of a pair
  // the bank did not sign: 403 too (any name is signed like any other).
  const std::string signed_q = std::string(kRbsQuery) + "&checksum=" + kRbsChecksum;
  std::string q = signed_q;
  q.insert(q.find("2003") + 4, "%00");
  EXPECT_EQ(rbsGet(q).status, 403);
  q = signed_q;
  q.insert(q.find("2003") + 4, "%FF%C3(");
  EXPECT_EQ(rbsGet(q).status, 403);
  EXPECT_EQ(rbsGet(signed_q + "&na%00me=1").status, 403);
  EXPECT_EQ(rbsGet(signed_q + "&n%FFme=1").status, 403);
  // A raw NUL in the request target is refused by the HTTP parser.
  {
    RawSocket s(daemon_->address());
    s.sendAll("GET /rbs/callback?" + signed_q + std::string("\0", 1) + "x HTTP/1.1\r\nhost: t\r\n\r\n");
    EXPECT_EQ(statusOf(s.readUntilClosed(3000)), 400);
  }
  // Integra: a NUL in the token is a wrong token (404, revealing nothing); in the id with the right token,
  // 400.
  EXPECT_EQ(integraGet("token=" + std::string(kIntegraToken) + "%00&transaction_id=" + kTxId +
                       "&amount=1&user=9f86d081884c7d65")
                .status,
            404);
  EXPECT_EQ(integraGet("token=" + std::string(kIntegraToken) + "&transaction_id=" + kTxId +
                       "%00&amount=1&user=9f86d081884c7d65")
                .status,
            400);
  EXPECT_EQ(integraGet("token=" + std::string(kIntegraToken) + "&transaction_id=" + kTxId +
                       "&amount=1&user=9f86%FFd081884c7d65")
                .status,
            400);
  expectNothingStored();
}

// --- duplicated signed parameters ----------------------------------------------------------------

TEST_F(HostileTrafficTest, DuplicatedSignedParametersAreRefusedWhicheverCopyIsSigned) {
  start();
  // YooMoney: a second orderSumAmount, before or after the signed one; a second md5; a name spelled with
  // a percent escape. The protocol's answer for an unreadable request: HTTP 200, code 200.
  const std::string aviso = yoomoney::formBody(yoomoney::request("paymentAviso", "80"));
  for (const std::string& body :
       {aviso + "&orderSumAmount=1.00", "orderSumAmount=1.00&" + aviso,
        aviso + "&md5=00000000000000000000000000000000", "md5=00000000000000000000000000000000&" + aviso,
        aviso + "&orderSum%41mount=1.00", aviso + "&invoiceId=81", aviso + "&shopId=14"}) {
    auto r = yooPost(body);
    EXPECT_EQ(r.status, 200) << body;
    EXPECT_EQ(yooCode(r), "200") << body << "\n" << r.body;
  }
  // RBS: two amounts (either one signed), two checksums.
  const std::string rbs_signed = rbsSigned("amount=123456&" + std::string(kRbsQuery));
  EXPECT_EQ(rbsGet(rbs_signed + "&amount=1").status, 400);
  EXPECT_EQ(rbsGet("amount=1&" + rbs_signed).status, 400);
  EXPECT_EQ(rbsGet(rbs_signed + "&checksum=" + kRbsChecksum).status, 400);
  EXPECT_EQ(rbsGet(rbs_signed + "&%61mount=1").status, 400);
  EXPECT_EQ(storedEvents(), 0u);
  // A pair in the query beside a signed body is the shop's own (its callback URL's), never the signed one.
  EXPECT_EQ(
      httpRequest(daemon_->address(), "POST", "/rbs/callback?amount=1", {{"content-type", kForm}}, rbs_signed)
          .status,
      200);
  auto rbs_ev = storedEvent(redis_, "bank", "06cf5599-3f17-7c86-bdbc-bd7d00a8b38b:approved:1");
  ASSERT_FALSE(rbs_ev.empty());
  auto rbs_data = json::parse(rbs_ev["data"]);
  EXPECT_EQ(rbs_data["amount"], "123456");
  EXPECT_EQ(rbs_data["payment"]["amount_minor"], 123456);
  EXPECT_EQ(rbs_data["unsigned"]["shop_params"]["amount"], "1");
  EXPECT_EQ(rbsGet(rbs_signed).status, 200);  // the bank's retry by GET is the same event
  const size_t rbs_events = storedEvents();
  EXPECT_EQ(rbs_events, 1u);
  // Integra: two tokens (the right one first or second), two ids, two amounts: the query is unreadable,
  // so the answer is the unknown-path 404 (nothing is revealed before the token is proven).
  const std::string iq = integraQuery();
  for (const std::string& query :
       {iq + "&token=wrong", "token=wrong&" + iq, iq + "&transaction_id=ffffffffffffffffffffffffffffffff",
        iq + "&amount=999999.00", iq + "&%74oken=" + kIntegraToken}) {
    EXPECT_EQ(integraGet(query).status, 404) << query;
  }
  // Payin-payout: a validly signed body with a key repeated after or before the signed copy, in any
  // spelling nlohmann would fold into one (or that PHP's case-insensitive sort would tie), and a second hash.
  {
    const std::string body = ppSign(ppInvoice());
    const std::string head = body.substr(0, body.size() - 1), tail = body.substr(1);
    for (const std::string& forged :
         {head + R"(,"status":4})", R"({"status":4,)" + tail, R"({"Status":4,)" + tail,
          R"({"st\u0061tus":4,)" + tail, head + R"(,"STATUS":4})",
          R"({"hash":"00000000000000000000000000000000",)" + tail}) {
      auto r = ppPost(forged);
      EXPECT_EQ(r.status, 400) << forged;
      EXPECT_EQ(r.body, R"({"result": false})");
    }
  }
  // Standard Webhooks: a second webhook-signature or webhook-id header.
  {
    const std::string body = R"({"type":"x"})";
    Headers h = swhHeaders("msg_dup", body);
    h.emplace_back("webhook-signature", "v1,AAAA");
    EXPECT_EQ(httpRequest(daemon_->address(), "POST", "/hooks/demo", h, body).status, 400);
    h = swhHeaders("msg_dup", body);
    h.emplace_back("webhook-id", "msg_other");
    EXPECT_EQ(httpRequest(daemon_->address(), "POST", "/hooks/demo", h, body).status, 400);
  }
  // allpay: two webshopResponse fields in a form body (the signed paid document and the failed one).
  {
    auto b64 = [](const std::string& s) {
      std::string out(sodium_base64_ENCODED_LEN(s.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
      sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                        sodium_base64_VARIANT_ORIGINAL);
      out.resize(std::strlen(out.c_str()));
      return out;
    };
    const std::string paid = b64(fixture("allpay/paid.xml")), failed = b64(fixture("allpay/failed.xml"));
    for (const std::string& body :
         {"webshopResponse=" + yoomoney::encode(paid) + "&webshopResponse=" + yoomoney::encode(failed),
          "webshopResponse=" + yoomoney::encode(failed) + "&webshopResponse=" + yoomoney::encode(paid)}) {
      auto r = httpRequest(daemon_->address(), "POST", "/allpay/notify", {{"content-type", kForm}}, body);
      EXPECT_GE(r.status, 400) << r.body;
      EXPECT_LT(r.status, 500) << r.body;
    }
  }
  EXPECT_EQ(storedEvents(), rbs_events) << "a duplicated parameter was accepted somewhere";
  EXPECT_EQ(countKeys(redis_, "{payhook}:idem:*"), rbs_events);
}

// --- 10 000 parameters ---------------------------------------------------------------------------

// Three-character names, no value: 10 000 of them fit in 40 KB, within the default max_body.
std::string manyParams(int count, char first = 'a') {
  static constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += '&';
    out += static_cast<char>(first + i / (62 * 62));
    out += kAlnum[(i / 62) % 62];
    out += kAlnum[i % 62];
  }
  return out;
}

TEST_F(HostileTrafficTest, TenThousandParametersAreAnsweredPromptlyAndTheLoopStaysResponsive) {
  start("max_body = \"256KiB\"\n");  // room for the 10 000-key JSON body too (80 KB)
  std::atomic<bool> stop{false};
  std::atomic<int> probes{0}, probe_failures{0};
  std::atomic<int64_t> probe_max_ms{0};
  std::thread prober([&] {
    while (!stop) {
      const auto t = Clock::now();
      const int status = httpRequest(daemon_->adminAddress(), "GET", "/healthz").status;
      const int64_t ms = msSince(t);
      ++probes;
      if (status != 200) ++probe_failures;
      if (ms > probe_max_ms) probe_max_ms = ms;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  const std::string many = manyParams(10'000);
  ASSERT_LT(many.size(), 64u * 1024);
  struct Case {
    std::string name;
    std::function<HttpResponse()> send;
    std::function<void(const HttpResponse&)> check;
  };
  Fields signed_many_fields = yoomoney::request("paymentAviso", "90");
  std::string signed_many = yoomoney::formBody(signed_many_fields) + many;
  std::string pp_many = "{";
  for (int i = 0; i < 10'000; ++i) pp_many += "\"k" + std::to_string(i) + "\":0,";
  pp_many += R"("external_id":"1","status":1,"timestamp":")" + std::to_string(std::time(nullptr)) +
             R"(","hash":"00000000000000000000000000000000"})";
  const std::vector<Case> cases = {
      {"YooMoney aviso, forged md5, 10 000 extra fields",
       [&] {
         Fields f = yoomoney::request("paymentAviso", "91");
         yoomoney::set(&f, "md5", "00000000000000000000000000000000");
         return yooPost(yoomoney::formBody(f) + many);
       },
       [](const HttpResponse& r) { EXPECT_EQ(yooCode(r), "1") << r.body; }},
      {"YooMoney aviso, 10 000 fields, a signed one repeated",
       [&] {
         return yooPost(yoomoney::formBody(yoomoney::request("paymentAviso", "92")) + many + "&invoiceId=93");
       },
       [](const HttpResponse& r) { EXPECT_EQ(yooCode(r), "200") << r.body; }},
      {"YooMoney aviso, 10 000 fields, an unsigned one repeated (stored)",
       [&] { return yooPost(yoomoney::formBody(yoomoney::request("paymentAviso", "94")) + many + "&aaa"); },
       [](const HttpResponse& r) { EXPECT_EQ(yooCode(r), "0") << r.body; }},
      {"YooMoney aviso, validly signed, 10 000 custom fields (stored)", [&] { return yooPost(signed_many); },
       [](const HttpResponse& r) { EXPECT_EQ(yooCode(r), "0") << r.body; }},
      {"RBS form body, 10 000 params, forged checksum",
       [&] {
         return httpRequest(daemon_->address(), "POST", "/rbs/callback", {{"content-type", kForm}},
                            std::string(kRbsQuery) + "&checksum=" + kRbsChecksum + many);
       },
       [](const HttpResponse& r) { EXPECT_EQ(r.status, 403) << r.body; }},
      {"RBS query, 10 000 params (over max_header_bytes)",
       [&] { return rbsGet(std::string(kRbsQuery) + "&checksum=" + kRbsChecksum + many); },
       [](const HttpResponse& r) { EXPECT_EQ(r.status, 431) << r.body; }},
      {"Integra query, 10 000 params (over max_header_bytes)",
       [&] { return integraGet(integraQuery() + many); },
       [](const HttpResponse& r) { EXPECT_EQ(r.status, 431) << r.body; }},
      {"Payin-payout JSON, 10 000 keys, forged hash", [&] { return ppPost(pp_many); },
       [](const HttpResponse& r) { EXPECT_EQ(r.status, 403) << r.body; }},
      {"Standard Webhooks, 10 000-key JSON body, forged signature",
       [&] {
         Headers h = swhHeaders("msg_many", "{}");
         return httpRequest(daemon_->address(), "POST", "/hooks/demo", h, pp_many);
       },
       [](const HttpResponse& r) { EXPECT_EQ(r.status, 401) << r.body; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    int64_t worst = 0;
    for (int i = 0; i < 5; ++i) {
      const auto t = Clock::now();
      HttpResponse r = c.send();
      worst = std::max(worst, msSince(t));
      c.check(r);
    }
    EXPECT_LT(worst, 1000) << "slowest answer " << worst << " ms";
    std::printf("[ figures  ] %s: slowest of 5 answers %lld ms\n", c.name.c_str(),
                static_cast<long long>(worst));
  }
  stop = true;
  prober.join();
  EXPECT_GT(probes.load(), 5);
  EXPECT_EQ(probe_failures.load(), 0);
  EXPECT_LT(probe_max_ms.load(), 500) << "the admin /healthz waited behind the hostile requests";
  std::printf("[ figures  ] admin /healthz during the above: %d probes, slowest %lld ms\n", probes.load(),
              static_cast<long long>(probe_max_ms.load()));
  // Only the validly signed ones were stored (the one with 10 000 custom fields and the one that repeats an
  // unsigned field), each once however often it was sent, with every one of its fields.
  EXPECT_EQ(storedEvents(), 2u);
  EXPECT_FALSE(storedEvent(redis_, "shop", "paymentAviso:94").empty());
  auto ev = storedEvent(redis_, "shop", "paymentAviso:90");
  ASSERT_FALSE(ev.empty());
  auto data = json::parse(ev["data"], nullptr, false);
  ASSERT_TRUE(data.is_object());
  EXPECT_EQ(data["unsigned"]["custom"].size(), 10'001u);  // cps_email and the 10 000
}

}  // namespace
}  // namespace payhook::testing
