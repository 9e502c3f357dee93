// The HTTP server in-process (http_server_fixture.h): framing, keep-alive, pipelining, limits, listeners
// and shutdown. Slow and hostile peers are in http_server_slow_peers_test.cpp.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http/router.h"
#include "http/server.h"
#include "tests/integration/http/http_server_fixture.h"

namespace payhook::http {
namespace {

using namespace std::chrono_literals;
using namespace server_test;

TEST_F(HttpServerTest, KeepAliveCarriesTwoRequestsOnOneConnection) {
  start();
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r1 = c.read();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->body, "GET /a?x=1 peer=127.0.0.1 body=");
  EXPECT_EQ(r1->get("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r1->get("content-length"), std::to_string(r1->body.size()));
  EXPECT_FALSE(r1->has("connection"));
  ASSERT_TRUE(c.send("POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
  auto r2 = c.read();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "POST /b? peer=127.0.0.1 body=hello");
  EXPECT_EQ(connectionCount(), 1u);
  EXPECT_EQ(handled_.load(), 2);
}

// An answer larger than the socket can take at once: the first part goes out with uv_try_write, the rest
// through a libuv write request; the bytes arrive whole and in order, and the connection serves on.
TEST_F(HttpServerTest, AnAnswerLargerThanTheSocketBufferArrivesWholeAndTheConnectionServesOn) {
  std::string big(8 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
  handler_ = [&big](Request&& r, Responder responder) {
    responder.send(r.path == "/big" ? Response::text(200, big) : Response::text(200, "small"));
  };
  start();
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the server fill the socket first
  auto r1 = c.read();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  ASSERT_EQ(r1->body.size(), big.size());
  EXPECT_TRUE(r1->body == big);
  ASSERT_TRUE(c.send("GET /small HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r2 = c.read();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "small");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrderWhenAnsweredAsynchronously) {
  // The first request takes longest: had the server handed all three over at once, the answers would
  // come back 3, 2, 1.
  handler_ = [this](Request&& r, Responder responder) {
    uint64_t delay = r.path == "/1" ? 90 : r.path == "/2" ? 45 : 0;
    answerAfter(delay, std::move(responder), Response::text(200, r.path + ":" + r.body));
  };
  start();
  Client c = Client::tcp(port_);
  ASSERT_TRUE(
      c.send("GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
             "POST /2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
             "GET /3 HTTP/1.1\r\nHost: t\r\n\r\n"));
  for (const char* want : {"/1:", "/2:abc", "/3:"}) {
    auto r = c.read();
    ASSERT_TRUE(r) << want;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, want);
  }
  EXPECT_EQ(handled_.load(), 3);
}

TEST_F(HttpServerTest, ManyPipelinedRequestsBeyondTheReadBufferStayInOrder) {
  start();
  Client c = Client::tcp(port_);
  constexpr int kCount = 3000;  // ~100 KB of requests: more than the server buffers while one is in flight
  std::string all;
  for (int i = 0; i < kCount; ++i) all += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
  // Sent from another thread: the answers must be read while the requests are still going out.
  std::thread sender([&] { EXPECT_TRUE(c.send(all)); });
  int in_order = 0;
  for (int i = 0; i < kCount; ++i) {
    auto r = c.read();
    if (!r) break;
    in_order += r->body == "GET /" + std::to_string(i) + "? peer=127.0.0.1 body=";
  }
  sender.join();
  EXPECT_EQ(in_order, kCount);
}

TEST_F(HttpServerTest, AStaleResponderCannotAnswerALaterRequest) {
  handler_ = [this](Request&& r, Responder responder) {
    if (r.path == "/1") {
      held_.push_back(responder);
      responder.send(Response::text(200, "one"));
      return;
    }
    held_[0].send(Response::text(200, "stale"));  // dropped: it belongs to /1
    held_[0].send(Response::text(200, "stale"));
    responder.send(Response::text(200, "two"));
    responder.send(Response::text(200, "twice"));  // dropped: /2 is answered already
  };
  start();
  Client c = Client::tcp(port_);
  ASSERT_TRUE(
      c.send("GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nGET /1 HTTP/1.1\r\nHost: "
             "t\r\n\r\n"));
  for (const char* want : {"one", "two", "one"}) {
    auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, want);
  }
  EXPECT_FALSE(c.readable(50));
}

TEST_F(HttpServerTest, OversizedContentLengthGets413BeforeTheBodyIsSent) {
  ServerLimits limits;
  limits.max_body = 64 * 1024;
  start(limits);
  Client c = Client::tcp(port_);
  const size_t total = 10 * 1024 * 1024;
  ASSERT_TRUE(
      c.send("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n"));
  // Only a sliver of the 10 MB has been sent when the answer is read.
  ASSERT_TRUE(c.send(std::string(16 * 1024, 'x')));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->get("connection"), "close");
  EXPECT_TRUE(c.waitClosed());
  // The rest of the body has nowhere to go.
  bool all_sent = true;
  for (size_t sent = 16 * 1024; sent < total && all_sent; sent += 256 * 1024)
    all_sent = c.send(std::string(256 * 1024, 'x'));
  EXPECT_FALSE(all_sent);
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitGets413) {
  ServerLimits limits;
  limits.max_body = 1024;
  start(limits);
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" +
                     std::string(1024, 'y') + "\r\n1\r\n"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(c.waitClosed());
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HttpServerTest, HeaderTimeoutClosesAConnectionThatNeverFinishesItsHeaders) {
  ServerLimits limits;
  limits.header_timeout_ms = 200;
  start(limits);
  Client slow = Client::tcp(port_);
  ASSERT_TRUE(slow.send("GET / HTTP/1.1\r\nHost: t\r\n"));
  Client silent = Client::tcp(port_);
  std::string received = "unset";
  EXPECT_TRUE(slow.waitClosed(3000, &received));
  EXPECT_EQ(received, "");  // closed without an answer
  EXPECT_TRUE(silent.waitClosed(3000));
  EXPECT_TRUE(eventually([&] { return connectionCount() == 0; }));
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HttpServerTest, HeaderTimeoutIsNotExtendedByTrickledBytes) {
  ServerLimits limits;
  limits.header_timeout_ms = 200;
  limits.idle_timeout_ms = 60'000;
  start(limits);
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\n"));
  bool closed = false;
  // One header byte every 50 ms would keep a per-read timer alive forever.
  for (int i = 0; i < 100 && !closed; ++i) {
    if (!c.send("X")) break;
    closed = c.waitClosed(50);
  }
  EXPECT_TRUE(closed || c.waitClosed(3000));
}

TEST_F(HttpServerTest, IdleTimeoutClosesAKeptAliveConnection) {
  ServerLimits limits;
  limits.idle_timeout_ms = 200;
  limits.header_timeout_ms = 60'000;
  start(limits);
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(c.read());
  EXPECT_TRUE(c.waitClosed(3000));
  EXPECT_TRUE(eventually([&] { return connectionCount() == 0; }));
}

TEST_F(HttpServerTest, TooLargeOrTooManyHeadersGet431) {
  ServerLimits limits;
  limits.max_header_bytes = 1024;
  limits.max_headers = 5;
  start(limits);
  Client big = Client::tcp(port_);
  ASSERT_TRUE(big.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(2000, 'b') + "\r\n\r\n"));
  auto r = big.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->get("connection"), "close");
  EXPECT_TRUE(big.waitClosed());

  Client many = Client::tcp(port_);
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 6; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
  ASSERT_TRUE(many.send(req + "\r\n"));
  r = many.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(many.waitClosed());
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HttpServerTest, MalformedRequestGets400AndClose) {
  start();
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send("NOT HTTP AT ALL\r\n\r\n"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->get("connection"), "close");
  EXPECT_TRUE(c.waitClosed());
}

TEST_F(HttpServerTest, NotFoundAndMethodNotAllowedAreTheApplicationsAnswers) {
  Router router;
  ASSERT_TRUE(router.add("/rbs/callback", {"GET", "POST"}, 0).ok());
  handler_ = [&router](Request&& r, Responder responder) {
    auto m = router.match(r.method, r.path);
    if (m.kind == Router::Match::kNotFound) return responder.send(Response::text(404, "not found\n"));
    if (m.kind == Router::Match::kMethodNotAllowed)
      return responder.send(Response::text(405, "method not allowed\n").withHeader("allow", m.allow));
    responder.send(Response::empty(204));
  };
  start();
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  ASSERT_TRUE(c.send("DELETE /rbs/callback HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get("allow"), "GET, POST");
  ASSERT_TRUE(c.send("POST /rbs/callback HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
  r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_FALSE(r->has("content-length"));  // 204 carries no body and no length
  EXPECT_EQ(handled_.load(), 3);           // the server answered none of them itself
}

// At max_connections the connection idle (or waiting for headers) the longest is closed to make room, as
// nginx reclaims idle keep-alive connections: the newcomer is served, the other one keeps working.
TEST_F(HttpServerTest, AtMaxConnectionsTheLongestIdleConnectionMakesRoomForANewOne) {
  ServerLimits limits;
  limits.max_connections = 2;
  start(limits);
  Client a = Client::tcp(port_);
  ASSERT_TRUE(a.send("GET /first HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(a.read());
  Client b = Client::tcp(port_);
  ASSERT_TRUE(b.send("GET /first HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(b.read());
  Client extra = Client::tcp(port_);
  ASSERT_TRUE(extra.send("GET /extra HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = extra.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  std::string received = "unset";
  EXPECT_TRUE(a.waitClosed(3000, &received)) << "the longest idle connection was not the one closed";
  EXPECT_EQ(received, "");
  ASSERT_TRUE(b.send("GET /again HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = b.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(connectionCount(), 2u);
}

TEST_F(HttpServerTest, ExpectContinueGetsTheInterimAnswerThenTheFinalOne) {
  start();
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send("POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  auto interim = c.read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  EXPECT_EQ(interim->head, "HTTP/1.1 100 Continue\r\n");
  ASSERT_TRUE(c.send("hello"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /e? peer=127.0.0.1 body=hello");
}

TEST_F(HttpServerTest, ExpectContinueWithTooLargeBodyGets413Only) {
  ServerLimits limits;
  limits.max_body = 10;
  start(limits);
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send("POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(HttpServerTest, UnixSocketListenerReplacesAStaleSocketAndServes) {
  char tmpl[] = "/tmp/payhook-http-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/http.sock";
  {
    // A socket file left behind by a process that died.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path.c_str(), sizeof(sun.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)), 0);
    ::close(fd);
    ASSERT_TRUE(std::filesystem::exists(path));
  }
  start({}, {"unix:" + path});
  EXPECT_EQ(server_->boundAddresses()[0], "unix:" + path);
  Client c = Client::unixSocket(path);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /u HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "GET /u? peer=unix body=");  // no peer address on a unix socket

  // A live socket is not stolen. (Servers are touched on their loop's thread only.)
  EXPECT_FALSE(loop_.call([&] {
    Server other(loop_.loop(), {}, [](Request&&, Responder) {});
    return other.listen("unix:" + path).ok();
  }));

  loop_.call([this] { server_->closeAll(); });
  EXPECT_FALSE(std::filesystem::exists(path));  // our own socket file goes with the listener
  std::filesystem::remove_all(dir);
}

TEST_F(HttpServerTest, ListenFdServesAnInheritedSocket) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  handler_ = &HttpServerTest::echo;
  server_ = std::make_unique<Server>(loop_.loop(), ServerLimits{}, &HttpServerTest::echo);
  ASSERT_TRUE(server_->listenFd(fd).ok());
  EXPECT_FALSE(server_->listenFd(-1).ok());
  auto bound = server_->boundAddresses();
  ASSERT_EQ(bound.size(), 1u);
  port_ = std::atoi(bound[0].substr(bound[0].rfind(':') + 1).c_str());
  loop_.start();
  started_ = true;
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send("GET /fd HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, ListenRejectsBadAddresses) {
  Server s(loop_.loop(), {}, [](Request&&, Responder) {});
  EXPECT_FALSE(s.listen("127.0.0.1").ok());
  EXPECT_FALSE(s.listen("127.0.0.1:99999").ok());
  EXPECT_FALSE(s.listen("127.0.0.1:http").ok());
  EXPECT_FALSE(s.listen("::1:80").ok());
  EXPECT_FALSE(s.listen("unix:").ok());
  EXPECT_TRUE(s.boundAddresses().empty());
  auto ok = s.listen("[::1]:0");
  if (ok.ok()) {  // hosts without IPv6 cannot bind ::1
    auto bound = s.boundAddresses();
    ASSERT_EQ(bound.size(), 1u);
    EXPECT_EQ(bound[0].rfind("[::1]:", 0), 0u);
    EXPECT_NE(bound[0], "[::1]:0");
  }
}

TEST_F(HttpServerTest, HttpTenKeepsAliveOnlyWhenAsked) {
  start();
  Client ka = Client::tcp(port_);
  ASSERT_TRUE(ka.send("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = ka.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get("connection"), "keep-alive");
  ASSERT_TRUE(ka.send("GET /k2 HTTP/1.0\r\n\r\n"));
  r = ka.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get("connection"), "close");
  EXPECT_TRUE(ka.waitClosed());
}

TEST_F(HttpServerTest, ResponseSerializationFollowsTheResponseValue) {
  handler_ = [](Request&& r, Responder responder) {
    if (r.path == "/close") return responder.send(Response{200, "", "bye", {}, true});
    Response resp{201, "application/json", "{}", {}, false};
    resp.headers.push_back({"retry-after", "5"});
    resp.headers.push_back({"x-evil", "a\r\nset-cookie: x"});  // never reaches the wire
    resp.headers.push_back({"content-length", "999"});         // framing belongs to the server
    responder.send(std::move(resp));
  };
  start();
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send("GET /j HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->head.substr(0, r->head.find("\r\n")), "HTTP/1.1 201 Created");
  EXPECT_EQ(r->get("content-type"), "application/json");
  EXPECT_EQ(r->get("content-length"), "2");
  EXPECT_EQ(r->get("retry-after"), "5");
  EXPECT_FALSE(r->has("x-evil"));
  EXPECT_FALSE(r->has("set-cookie"));
  EXPECT_EQ(r->body, "{}");
  ASSERT_TRUE(c.send("HEAD /j HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = c.read(/*head_request=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get("content-length"), "2");  // the length a GET would get, and no body
  ASSERT_TRUE(c.send("GET /close HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "bye");
  EXPECT_FALSE(r->has("content-type"));
  EXPECT_EQ(r->get("connection"), "close");
  EXPECT_TRUE(c.waitClosed());
}

TEST_F(HttpServerTest, AnswerToAConnectionThatIsGoneIsDropped) {
  std::promise<void> got;
  handler_ = [&](Request&&, Responder responder) {
    held_.push_back(std::move(responder));
    got.set_value();
  };
  start();
  {
    Client c = Client::tcp(port_);
    ASSERT_TRUE(c.send("GET /gone HTTP/1.1\r\nHost: t\r\n\r\n"));
    got.get_future().wait();
  }
  EXPECT_TRUE(eventually([&] { return connectionCount() == 0; }));
  EXPECT_EQ(inFlightCount(), 0u);
  loop_.call([this] {
    EXPECT_FALSE(held_[0].connected());
    held_[0].send(Response::text(200, "late"));  // nowhere to go: nothing happens
  });
}

TEST_F(HttpServerTest, ShutdownWaitsForTheRequestInFlightThenCompletes) {
  handler_ = [this](Request&&, Responder responder) { held_.push_back(std::move(responder)); };
  start();
  Client idle = Client::tcp(port_);
  ASSERT_TRUE(idle.send("GET /first HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return held_.size() == 1; }));
  loop_.call([this] { held_[0].send(Response::text(200, "first")); });
  ASSERT_TRUE(idle.read());  // keep-alive: now idle between requests
  Client busy = Client::tcp(port_);
  ASSERT_TRUE(busy.send("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx"));
  ASSERT_TRUE(eventually([&] { return inFlightCount() == 1; }));
  ASSERT_TRUE(eventually([&] { return connectionCount() == 2; }));

  std::atomic<bool> done{false};
  loop_.call([&] { server_->shutdown([&] { done = true; }); });
  EXPECT_TRUE(idle.waitClosed(200));             // idle between requests: closed at once
  EXPECT_FALSE(Client::tcp(port_).connected());  // no longer accepting
  EXPECT_FALSE(done.load());
  EXPECT_EQ(connectionCount(), 1u);
  EXPECT_FALSE(busy.readable(20));

  loop_.call([this] { held_[1].send(Response::text(200, "finally")); });
  auto r = busy.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "finally");
  EXPECT_EQ(r->get("connection"), "close");
  EXPECT_TRUE(busy.waitClosed());
  EXPECT_TRUE(eventually([&] { return done.load(); }));
  EXPECT_EQ(connectionCount(), 0u);
}

// A restart must not fail a connection accepted just before it: its first request is still answered.
TEST_F(HttpServerTest, ShutdownStillAnswersTheFirstRequestOfAFreshConnection) {
  start();
  Client fresh = Client::tcp(port_);
  Client silent = Client::tcp(port_);
  ASSERT_TRUE(eventually([&] { return connectionCount() == 2; }));
  std::atomic<bool> done{false};
  loop_.call([&] { server_->shutdown([&] { done = true; }); });
  ASSERT_TRUE(fresh.send("GET /late HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = fresh.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get("connection"), "close");
  EXPECT_TRUE(fresh.waitClosed());
  // One that never sends is closed once the grace passes, so it cannot hold the shutdown up.
  EXPECT_TRUE(silent.waitClosed(3000));
  EXPECT_TRUE(eventually([&] { return done.load(); }));
}

TEST_F(HttpServerTest, ShutdownWithNoConnectionsCompletesFromTheLoop) {
  start();
  std::promise<void> done;
  loop_.call([&] { server_->shutdown([&] { done.set_value(); }); });
  EXPECT_EQ(done.get_future().wait_for(5s), std::future_status::ready);
}

TEST_F(HttpServerTest, HandlerThatThrowsGets500) {
  handler_ = [](Request&&, Responder) { throw std::runtime_error("boom"); };
  start();
  Client c = Client::tcp(port_);
  ASSERT_TRUE(c.send("GET /t HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(inFlightCount(), 0u);
}

}  // namespace
}  // namespace payhook::http
