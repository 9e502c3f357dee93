// Everything hostile at once against the real payhookd, with a legitimate provider measured alongside:
// slow bodies, clients that pipeline and never read, chunk-extension floods (each reopened as soon as the
// daemon closes it, from eight addresses of their own, more of them than max_connections), and one captured
// YooMoney checkOrder replayed a thousand times with fields of the replayer's own. Every legitimate callback
// must be stored and answered within 1 s, the shop asked about the check once, and Redis must not grow with
// the replays.
#include <sodium.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/daemon_process.h"
#include "support/decision_sink.h"
#include "support/http_client.h"
#include "support/raw_socket.h"
#include "support/redis_server.h"
#include "support/signed_requests.h"
#include "support/store_inspect.h"
#include "support/yoomoney_form.h"

namespace payhook::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// What a legitimate callback may take. A sanitizer build runs the daemon several times slower, and the
// attackers' thousands of pipelined requests cost it seconds of loop time, not the milliseconds of a
// release build; there the bound only shows nobody is locked out.
// The attack is scaled down with it, so that its loop time stays within store_timeout.
#if defined(__SANITIZE_ADDRESS__)
constexpr int64_t kLegitimateMs = 5000;
constexpr int kPipelined = 400;
#else
constexpr int64_t kLegitimateMs = 1000;
constexpr int kPipelined = 4000;
#endif

long long usedMemory(RedisServer& redis) {
  const std::string info = redis.command({"INFO", "memory"}).str;
  const size_t at = info.find("used_memory:");
  return at == std::string::npos ? -1 : std::stoll(info.substr(at + 12));
}

// One hostile connection and what it does.
enum class Kind { kSlowBody, kSlowReader, kExtensionFlood };

struct Attacker {
  Kind kind;
  std::string source;
  std::unique_ptr<RawSocket> sock;
  Clock::time_point next_step;
  size_t sent = 0;
};

std::string opening(Kind kind) {
  switch (kind) {
    case Kind::kSlowBody:
      return "POST /hooks/demo HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 100000\r\n\r\n{";
    case Kind::kSlowReader: {
      // Many small requests in one go, answers never read: the daemon's writes stall once the socket
      // buffers are full, and reading stops once 64 KiB are buffered.
      std::string pipeline;
      for (int i = 0; i < kPipelined; ++i)
        pipeline += "GET /nothing-here HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";
      return pipeline;
    }
    case Kind::kExtensionFlood:
      return "POST /hooks/demo HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n1;ext=";
  }
  return {};
}

// Keeps `attackers` connected until `until`: reopens any the daemon closed, trickles a body byte every
// 200 ms, and pours chunk-extension bytes as fast as the daemon takes them. Counts the reopenings.
void attack(const std::string& address, std::vector<Attacker>* attackers, Clock::time_point until,
            std::atomic<int>* reopened) {
  const std::string flood(16 * 1024, 'x');
  char buf[16 * 1024];
  while (Clock::now() < until) {
    for (Attacker& a : *attackers) {
      const auto now = Clock::now();
      if (a.sock && a.sock->ok()) {
        // Drain nothing for the slow reader; notice a close for the others.
        if (a.kind != Kind::kSlowReader && a.sock->readable(0)) {
          const ssize_t n = ::recv(a.sock->fd(), buf, sizeof buf, MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) a.sock.reset();
        } else if (a.kind == Kind::kSlowReader) {
          pollfd p{a.sock->fd(), POLLRDHUP, 0};
          if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) a.sock.reset();
        }
      }
      if (!a.sock || !a.sock->ok()) {
        a.sock = std::make_unique<RawSocket>(address, a.source, a.kind == Kind::kSlowReader ? 4096 : 0);
        if (!a.sock->ok()) continue;
        if (a.sent > 0) ++*reopened;
        a.sock->sendSome(opening(a.kind));
        a.sent = 1;
        a.next_step = now + 200ms;
        continue;
      }
      if (a.kind == Kind::kSlowBody && now >= a.next_step) {
        a.sock->sendSome("1");
        a.next_step = now + 200ms;
      } else if (a.kind == Kind::kExtensionFlood) {
        if (a.sock->sendSome(flood) < 0) a.sock.reset();
      }
    }
    std::this_thread::sleep_for(5ms);
  }
}

TEST(HostileMixTest, LegitimateCallbacksAreAnsweredWithinASecondAndReplaysCostNothing) {
  ASSERT_GE(sodium_init(), 0);
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 65536);
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  RedisServer redis;
  DecisionSink shop;
  shop.answer(R"({"accept": false, "message": "no such order"})");
  DaemonOptions o;
  o.redis_url = redis.url();
  o.log_level = "info";
  // Limits an operator might set on a small box; the attackers below outnumber max_connections.
  o.extra_server =
      "max_connections = 48\nmax_connections_per_address = 16\nheader_timeout = \"2s\"\n"
      "body_timeout = \"3s\"\nbody_rate_grace = \"1s\"\nwrite_timeout = \"2s\"\nidle_timeout = \"5s\"\n";
  o.targets = R"(
[[targets]]
name = "orders"
url = "http://127.0.0.1:9/payhook"
secret_file = "secrets/orders.whsec"

[[targets]]
name = "shop-decisions"
url = ")" + shop.url() +
              R"("
secret_file = "secrets/orders.whsec"
)";
  o.routes = R"(
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
decision = "shop-decisions"
forward = ["orders"]
)";
  DaemonProcess daemon(o);
  writeFile(daemon.dir() + "/secrets/yoomoney.pass", std::string(yoomoney::kPassword) + "\n");
  ASSERT_TRUE(daemon.start()) << daemon.logs();
  ASSERT_TRUE(daemon.waitReady(200, 15'000)) << daemon.logs();

  // The captured check, answered once before the attack (the shop refuses it).
  const std::string check = yoomoney::formBody(yoomoney::request("checkOrder", "4242"));
  auto first = httpRequest(daemon.address(), "POST", "/yoomoney/check",
                           {{"content-type", "application/x-www-form-urlencoded"}}, check);
  ASSERT_EQ(first.status, 200) << daemon.logs();
  ASSERT_NE(first.body.find(R"(code="100")"), std::string::npos) << first.body;
  const long long memory_before = usedMemory(redis);

  // 8 addresses x 12 connections (under the per-address cap, twice max_connections in all).
  std::vector<Attacker> attackers;
  for (int host = 2; host <= 9; ++host)
    for (int i = 0; i < 12; ++i)
      attackers.push_back(
          {static_cast<Kind>(i % 3), "127.0.0." + std::to_string(host), nullptr, Clock::now(), 0});
  const auto attack_until = Clock::now() + 7s;
  std::atomic<int> reopened{0};
  std::thread attacker(attack, daemon.address(), &attackers, attack_until, &reopened);

  // The replayer: the same check a thousand times, half of them with a new requestDatetime and 2 KB of
  // fields of its own (neither is covered by the md5).
  std::atomic<int> replays_refused{0}, replays_other{0};
  std::thread replayer([&] {
    auto fields = yoomoney::request("checkOrder", "4242");
    yoomoney::set(&fields, "requestDatetime", "2031-01-01T00:00:00.000+03:00");
    yoomoney::set(&fields, "cps_note", std::string(2048, 'r'));
    const std::string varied = yoomoney::formBody(fields);
    auto conn = std::make_unique<HttpConnection>(daemon.address());
    for (int i = 0; i < 1000; ++i) {
      const std::string& body = i % 2 == 0 ? check : varied;
      // Its idle keep-alive connection is the first the daemon sheds for a newcomer at max_connections:
      // then it connects again and resends, as a provider would.
      HttpResponse r;
      for (int attempt = 0; attempt < 5 && r.status == 0; ++attempt) {
        if (!conn->connected() || attempt > 0) conn = std::make_unique<HttpConnection>(daemon.address());
        conn->send(rawRequest("POST", "/yoomoney/check",
                              {{"content-type", "application/x-www-form-urlencoded"}}, body));
        r = conn->read(5000);
      }
      if (r.status == 200 && r.body.find(R"(code="100")") != std::string::npos)
        ++replays_refused;
      else
        ++replays_other;
    }
  });

  // The legitimate provider: signed callbacks one after another from 127.0.0.1, each on a new connection.
  std::this_thread::sleep_for(500ms);  // let the attackers fill the daemon first
  std::vector<int64_t> latencies;
  std::vector<std::string> failures;
  int sent = 0;
  while (Clock::now() < attack_until - 500ms) {
    const std::string id = "msg_legit_" + std::to_string(sent++);
    const std::string body = R"({"type":"invoice.paid","n":)" + std::to_string(sent) + "}";
    const auto t = Clock::now();
    HttpResponse r = postStandardWebhook(daemon.address(), id, body);
    const int64_t ms = msSince(t);
    latencies.push_back(ms);
    if ((r.status != 204 || ms >= kLegitimateMs) && failures.size() < 5)
      failures.push_back(id + ": HTTP " + std::to_string(r.status) + " after " + std::to_string(ms) + " ms");
    std::this_thread::sleep_for(20ms);
  }
  replayer.join();
  attacker.join();

  std::sort(latencies.begin(), latencies.end());
  const int64_t p50 = latencies.empty() ? 0 : latencies[latencies.size() / 2];
  const int64_t worst = latencies.empty() ? 0 : latencies.back();
  EXPECT_GT(sent, 50);
  EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures) << daemon.logs().substr(0, 4000);
  EXPECT_LT(worst, kLegitimateMs);
  // Every legitimate callback is a stored event; the check is one event however often it came.
  EXPECT_EQ(countKeys(redis, "{payhook}:idem:demo:*"), static_cast<size_t>(sent));
  EXPECT_EQ(countKeys(redis, "{payhook}:idem:shop:*"), 1u);
  EXPECT_EQ(countKeys(redis, "{payhook}:ev:*"), static_cast<size_t>(sent) + 1);
  // The shop was asked once, and every replay got the answer YooMoney acted on.
  EXPECT_EQ(shop.received().size(), 1u);
  EXPECT_EQ(replays_refused.load(), 1000);
  EXPECT_EQ(replays_other.load(), 0);
  // Redis grew by the legitimate events only (about 1.5 KB each), not by the replays' 1 MB of fields.
  const long long growth = usedMemory(redis) - memory_before;
  EXPECT_LT(growth, 200'000 + static_cast<long long>(sent) * 4'000) << "bytes";
  // The attackers were held to their deadlines, not let in for good.
  EXPECT_GT(reopened.load(), 20);

  std::printf(
      "[ figures  ] under %zu hostile connections (%d reopened) and 1000 replayed checks: %d legitimate "
      "callbacks, all stored, p50 %lld ms, slowest %lld ms; Redis grew %lld bytes; shop asked %zu time(s)\n",
      attackers.size(), reopened.load(), sent, static_cast<long long>(p50), static_cast<long long>(worst),
      growth, shop.received().size());
  EXPECT_EQ(httpRequest(daemon.adminAddress(), "GET", "/healthz").status, 200);
  EXPECT_EQ(daemon.stop(), 0) << daemon.logs().substr(0, 4000);
}

}  // namespace
}  // namespace payhook::testing
