// The HTTP server against slow and hostile peers (http_server_fixture.h): bodies that trickle, clients that
// pipeline and never read, floods of connections from one address or beyond the open-file limit, chunk
// extensions without end. Timeouts are milliseconds here, so every test ends within a few seconds.
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http/server.h"
#include "tests/integration/http/http_server_fixture.h"

namespace payhook::http {
namespace {

using namespace std::chrono_literals;
using namespace server_test;

using Clock = std::chrono::steady_clock;

long msSince(Clock::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

// Sends one byte every `every` until the server closes the connection or `max` passes; the time it took.
std::optional<long> trickleUntilClosed(Client& c, std::chrono::milliseconds every,
                                       std::chrono::milliseconds max) {
  const auto start = Clock::now();
  while (Clock::now() - start < max) {
    if (!c.send("x")) return msSince(start);
    if (c.waitClosed(static_cast<int>(every.count()))) return msSince(start);
  }
  return std::nullopt;
}

const std::string kBodyHead = "POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n";

TEST_F(HttpServerTest, ATrickledBodyIsClosedAtTheBodyDeadline) {
  ServerLimits limits;
  limits.body_timeout_ms = 300;
  limits.min_body_rate = 0;  // the deadline alone
  limits.header_timeout_ms = 60'000;
  limits.idle_timeout_ms = 60'000;
  start(limits);
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send(kBodyHead));
  // A byte every 50 ms would keep a timer restarted by each read alive for ever.
  auto closed_after = trickleUntilClosed(c, 50ms, 3s);
  ASSERT_TRUE(closed_after) << "the trickled body was not closed";
  EXPECT_GE(*closed_after, 250);
  EXPECT_LT(*closed_after, 2000);
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HttpServerTest, ABodyBelowTheMinimumRateIsClosedLongBeforeTheDeadline) {
  ServerLimits limits;
  limits.body_timeout_ms = 20'000;
  limits.min_body_rate = 1000;  // bytes/s, after the grace
  limits.body_rate_grace_ms = 100;
  start(limits);
  Client slow = Client::tcp(port_);
  ASSERT_TRUE(slow.send(kBodyHead));
  auto closed_after = trickleUntilClosed(slow, 20ms, 3s);  // 50 bytes/s
  ASSERT_TRUE(closed_after) << "the slow body was not closed";
  EXPECT_LT(*closed_after, 2000);

  // 5000 bytes/s: well above the rate, so the same body is served.
  Client fair = Client::tcp(port_);
  ASSERT_TRUE(fair.send(kBodyHead));
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(fair.send(std::string(100, 'y')));
  }
  auto r = fair.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(handled_.load(), 1);
}

// Big answers to a client with a small receive buffer that never reads: the server's write stalls.
void answerBig(Request&& r, Responder responder) {
  responder.send(Response::text(200, r.path == "/big" ? std::string(2 << 20, 'b') : std::string("small")));
}

TEST_F(HttpServerTest, APipeliningClientThatNeverReadsIsClosedAtTheWriteDeadline) {
  handler_ = &answerBig;
  ServerLimits limits;
  limits.write_timeout_ms = 300;
  limits.idle_timeout_ms = 60'000;
  start(limits);
  Client c = Client::tcp(port_, nullptr, 4096);
  std::string requests;
  for (int i = 0; i < 20; ++i) requests += "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
  ASSERT_TRUE(c.send(requests));
  const auto start = Clock::now();
  EXPECT_TRUE(eventually([&] { return handled_.load() >= 1; }, 2s));
  EXPECT_TRUE(eventually([&] { return connectionCount() == 0; }, 3s))
      << "a client that does not read its answers still holds a connection";
  EXPECT_LT(msSince(start), 3000);
  EXPECT_LT(handled_.load(), 20);  // the rest were never handled
}

// A connection whose request the handler holds is not shed: that work ends on the application's terms.
TEST_F(HttpServerTest, AtMaxConnectionsARequestInFlightIsNotShed) {
  handler_ = [this](Request&&, Responder responder) { held_.push_back(responder); };
  ServerLimits limits;
  limits.max_connections = 1;
  start(limits);
  Client busy = Client::tcp(port_);
  ASSERT_TRUE(busy.send("GET /held HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return inFlightCount() == 1; }));
  Client extra = Client::tcp(port_);
  std::string received = "unset";
  EXPECT_TRUE(extra.waitClosed(2000, &received));
  EXPECT_EQ(received, "");
  loop_.call([this] { held_.front().send(Response::text(200, "done")); });
  auto r = busy.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "done");
}

TEST_F(HttpServerTest, AtMaxConnectionsASlowBodyAndASlowReaderAreShedForNewcomers) {
  handler_ = &answerBig;
  ServerLimits limits;
  limits.max_connections = 2;
  limits.body_timeout_ms = 60'000;  // only shedding may close them here
  limits.min_body_rate = 0;
  limits.write_timeout_ms = 60'000;
  start(limits);
  Client slow_body = Client::tcp(port_);
  ASSERT_TRUE(slow_body.send(kBodyHead + "partial"));
  Client slow_reader = Client::tcp(port_, nullptr, 4096);
  std::string requests;
  for (int i = 0; i < 10; ++i) requests += "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
  ASSERT_TRUE(slow_reader.send(requests));
  ASSERT_TRUE(eventually([&] { return handled_.load() >= 1; }));
  std::this_thread::sleep_for(100ms);  // its answers fill the socket buffers

  // The slow body began first, so it goes first.
  Client first = Client::tcp(port_);
  ASSERT_TRUE(first.send("GET /small HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  auto r = first.read();
  ASSERT_TRUE(r) << "the newcomer was refused";
  EXPECT_EQ(r->status, 200);
  std::string received = "unset";
  EXPECT_TRUE(slow_body.waitClosed(2000, &received));
  EXPECT_EQ(received, "");
  EXPECT_TRUE(first.waitClosed(2000));

  // A younger slow body now, so the non-reader is the oldest.
  Client young_body = Client::tcp(port_);
  ASSERT_TRUE(young_body.send(kBodyHead + "partial"));
  ASSERT_TRUE(eventually([&] { return connectionCount() == 2; }));
  Client second = Client::tcp(port_);
  ASSERT_TRUE(second.send("GET /small HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = second.read();
  ASSERT_TRUE(r) << "the newcomer was refused";
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(slow_reader.waitClosed(3000)) << "the client that does not read was not the one shed";
  EXPECT_FALSE(young_body.waitClosed(100));
}

TEST_F(HttpServerTest, PerAddressCapRefusesOneAddressWhileAnotherStillConnects) {
  ServerLimits limits;
  limits.max_connections_per_address = 3;
  start(limits);
  std::vector<Client> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(Client::tcp(port_, "127.0.0.1"));
    ASSERT_TRUE(held.back().connected());
  }
  ASSERT_TRUE(eventually([&] { return connectionCount() == 3; }));
  Client over = Client::tcp(port_, "127.0.0.1");
  std::string received = "unset";
  EXPECT_TRUE(over.waitClosed(2000, &received)) << "the fourth connection from one address was kept";
  EXPECT_EQ(received, "");

  Client other = Client::tcp(port_, "127.0.0.2");
  ASSERT_TRUE(other.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = other.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("peer=127.0.0.2"), std::string::npos);

  // A slot freed is a slot again.
  held.pop_back();
  ASSERT_TRUE(eventually([&] { return connectionCount() == 3; }));
  Client again = Client::tcp(port_, "127.0.0.1");
  ASSERT_TRUE(again.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = again.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  // A trusted proxy speaks for many clients: not capped.
  loop_.call([this] { server_->setUncappedPeers({*Cidr::parse("127.0.0.1/32")}); });
  Client proxied = Client::tcp(port_, "127.0.0.1");
  ASSERT_TRUE(proxied.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = proxied.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, AChunkExtensionFloodIsRefusedWithoutWaitingForItsEnd) {
  start();
  Client c = Client::tcp(port_);
  // 32 KiB of one extension on a one-byte chunk, with max_body at its 64 KiB default; the line never ends.
  ASSERT_TRUE(c.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;x=" +
                     std::string(32 * 1024, 'a')));
  std::string received;
  EXPECT_TRUE(c.waitClosed(2000, &received)) << "the server is still reading the extension";
  if (!received.empty()) {
    EXPECT_EQ(received.rfind("HTTP/1.1 400 ", 0), 0u) << received;
  }
  EXPECT_EQ(handled_.load(), 0);
}

// In a child process with RLIMIT_NOFILE at 128: a server asked for 10000 connections, 150 idle connections
// against it, then one request that must still be answered. The child reports its effective limit.
void serveUnderLowFileLimit(uint64_t fd_reserve, uint64_t* effective, bool* answered) {
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(report[0]);
    struct rlimit rl {
      128, 128
    };
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::_exit(2);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ServerLimits limits;
    limits.max_connections = 10'000;
    limits.fd_reserve = fd_reserve;
    Server server(&loop, limits, [](Request&&, Responder r) { r.send(Response::text(200, "ok")); });
    if (!server.listen("127.0.0.1:0").ok()) ::_exit(3);
    const std::string bound = server.boundAddresses().at(0);
    char line[64];
    const int n = std::snprintf(line, sizeof line, "%s %zu\n", bound.substr(bound.rfind(':') + 1).c_str(),
                                server.maxConnections());
    if (::write(report[1], line, static_cast<size_t>(n)) != n) ::_exit(4);
    uv_run(&loop, UV_RUN_DEFAULT);
    ::_exit(0);
  }
  ::close(report[1]);
  char line[64] = {};
  ssize_t got = 0;
  while (got < static_cast<ssize_t>(sizeof line) - 1) {
    ssize_t n = ::read(report[0], line + got, sizeof line - 1 - static_cast<size_t>(got));
    if (n <= 0 || std::string_view(line, static_cast<size_t>(got + n)).find('\n') != std::string_view::npos) {
      got += n > 0 ? n : 0;
      break;
    }
    got += n;
  }
  ::close(report[0]);
  int port = 0;
  unsigned long max = 0;
  ASSERT_EQ(std::sscanf(line, "%d %lu", &port, &max), 2) << line;
  *effective = max;
  {
    std::vector<Client> idle;
    for (int i = 0; i < 150; ++i) idle.push_back(Client::tcp(port));
    std::this_thread::sleep_for(100ms);
    Client legit = Client::tcp(port);
    *answered = legit.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n") && legit.read().has_value();
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

TEST_F(HttpServerTest, UnderALowOpenFileLimitMaxConnectionsIsClampedAndNewcomersAreServed) {
  uint64_t effective = 0;
  bool answered = false;
  serveUnderLowFileLimit(32, &effective, &answered);
  EXPECT_EQ(effective, 128u - 32);
  EXPECT_TRUE(answered) << "a request was refused once the idle connections took every descriptor";

  // With nothing reserved the limit is the whole table; running short of descriptors still sheds.
  serveUnderLowFileLimit(0, &effective, &answered);
  EXPECT_EQ(effective, 128u);
  EXPECT_TRUE(answered) << "a request was refused once the idle connections took every descriptor";
}

}  // namespace
}  // namespace payhook::http

namespace payhook::http {
namespace {

// A flood that reconnects as fast as it is shed keeps its own connections the youngest: at max_connections
// the address holding the most connections gives one up, not the older connection of a lone client.
TEST_F(HttpServerTest, AtMaxConnectionsTheBusiestAddressGivesUpAConnectionFirst) {
  ServerLimits limits;
  limits.max_connections = 4;
  limits.max_connections_per_address = 10;
  start(limits);
  Client lone = Client::tcp(port_, "127.0.0.1");
  ASSERT_TRUE(lone.send("POST / HTTP/1.1\r\nHost: t\r\n"));  // headers under way, the oldest of all
  ASSERT_TRUE(eventually([&] { return connectionCount() == 1; }));
  std::vector<Client> flood;
  for (int i = 0; i < 3; ++i) {
    flood.push_back(Client::tcp(port_, "127.0.0.2"));
    ASSERT_TRUE(flood.back().send("POST / HTTP/1.1\r\nHost: t\r\n"));
  }
  ASSERT_TRUE(eventually([&] { return connectionCount() == 4; }));
  // Each newcomer from the flood's address sheds one of that address's own.
  for (int i = 0; i < 3; ++i) {
    flood.push_back(Client::tcp(port_, "127.0.0.2"));
    ASSERT_TRUE(flood.back().send("POST / HTTP/1.1\r\nHost: t\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The lone client is still connected and finishes its request.
  ASSERT_TRUE(lone.send("Content-Length: 0\r\n\r\n"));
  auto r = lone.read();
  ASSERT_TRUE(r) << "the lone client's connection was shed for the flood";
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace payhook::http
