// The lean http:// transport against a scripted raw server on the same loop: framing of every kind,
// keep-alive and its failures, the per-host limit and its queue. As in http_client_test.cpp, every test ends
// with uv_loop_close() == 0, so a handle left open fails the test that left it.
#include <netinet/in.h>
#include <uv.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/client.h"
#include "uv/handle.h"

namespace payhook::http {
namespace {

constexpr uint64_t kGuardMs = 20'000;  // only reached when a test is about to fail

// What the server does with one request.
struct Reply {
  std::string bytes;   // written as they are
  bool close = false;  // close the connection after writing them
  bool hold = false;   // write nothing and keep the connection open
  static Reply ok(std::string body = "ok") {
    return {"HTTP/1.1 200 OK\r\ncontent-length: " + std::to_string(body.size()) + "\r\n\r\n" + body};
  }
};

// A raw HTTP/1.1 server on 127.0.0.1: it frames requests by Content-Length and answers each as the script
// says, given the connection's number (from 0, in accept order) and the request's number on it.
class ScriptedServer {
 public:
  using Script = std::function<Reply(int conn, int index, const std::string& request)>;

  ScriptedServer(uv_loop_t* loop, Script script) : script_(std::move(script)) {
    uv_tcp_init(loop, &listener_);
    listener_.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
    uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 64, &ScriptedServer::onConnection);
    sockaddr_storage bound{};
    int len = sizeof(bound);
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  ~ScriptedServer() { close(); }

  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }
  int open() const { return static_cast<int>(conns_.size()); }
  int maxOpen() const { return max_open_; }
  const std::vector<std::string>& requests() const { return requests_; }

  // Closes every accepted connection, as a server's keep-alive timeout would.
  void closeConnections() {
    for (auto* c : conns_) closeConn(c);
    conns_.clear();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    closeConnections();
  }

 private:
  struct Conn {
    uv_tcp_t tcp{};
    ScriptedServer* server = nullptr;
    int number = 0;
    int served = 0;
    std::string buf;
  };
  struct Write {
    uv_write_t req{};
    std::string data;
    Conn* conn = nullptr;
    bool close = false;
  };

  static void closeConn(Conn* c) {
    if (!c->server) return;
    c->server = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
             [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
  }

  void forget(Conn* c) {
    conns_.erase(std::remove(conns_.begin(), conns_.end(), c), conns_.end());
    closeConn(c);
  }

  static void onConnection(uv_stream_t* listener, int status) {
    auto* self = static_cast<ScriptedServer*>(listener->data);
    if (status < 0) return;
    auto* c = new Conn();
    c->server = self;
    uv_tcp_init(listener->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      closeConn(c);
      return;
    }
    c->number = self->accepted_++;
    self->conns_.push_back(c);
    self->max_open_ = std::max(self->max_open_, self->open());
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t, uv_buf_t* b) {
          static char chunk[64 * 1024];
          *b = uv_buf_init(chunk, sizeof(chunk));
        },
        &ScriptedServer::onRead);
  }

  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    auto* c = static_cast<Conn*>(s->data);
    ScriptedServer* self = c->server;
    if (!self) return;
    if (n < 0) {
      self->forget(c);
      return;
    }
    c->buf.append(b->base, static_cast<size_t>(n));
    for (;;) {
      const size_t end = c->buf.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::string head = c->buf.substr(0, end);
      for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      size_t length = 0;
      if (size_t at = head.find("\r\ncontent-length:"); at != std::string::npos)
        length = std::stoul(head.substr(at + 17));
      if (c->buf.size() < end + 4 + length) return;
      std::string request = c->buf.substr(0, end + 4 + length);
      c->buf.erase(0, end + 4 + length);
      self->requests_.push_back(request);
      Reply reply = self->script_(c->number, c->served++, request);
      if (reply.hold) continue;
      if (reply.bytes.empty()) {
        if (reply.close) self->forget(c);
        return;
      }
      auto* w = new Write();
      w->data = std::move(reply.bytes);
      w->conn = c;
      w->close = reply.close;
      uv_buf_t out = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
      uv_write(&w->req, s, &out, 1, [](uv_write_t* r, int) {
        std::unique_ptr<Write> w(reinterpret_cast<Write*>(r));
        if (w->close && w->conn->server) w->conn->server->forget(w->conn);
      });
      if (reply.close) return;
    }
  }

  Script script_;
  uv_tcp_t listener_{};
  std::vector<Conn*> conns_;
  std::vector<std::string> requests_;
  int port_ = 0;
  int accepted_ = 0;
  int max_open_ = 0;
  bool closed_ = false;
};

class HttpClientLeanTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }

  void TearDown() override {
    client_.reset();
    server_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }

  ScriptedServer& serve(ScriptedServer::Script script) {
    server_ = std::make_unique<ScriptedServer>(&loop_, std::move(script));
    return *server_;
  }

  Client& client(ClientOptions o = {}) {
    if (!client_) client_ = std::make_unique<Client>(&loop_, std::move(o));
    return *client_;
  }

  bool runUntil(const std::function<bool()>& pred) {
    struct Watch {
      uv_prepare_t prepare{};
      const std::function<bool()>* pred = nullptr;
    };
    auto* w = new Watch();
    w->pred = &pred;
    uv_prepare_init(&loop_, &w->prepare);
    w->prepare.data = w;
    uv_prepare_start(&w->prepare, [](uv_prepare_t* p) {
      if ((*static_cast<Watch*>(p->data)->pred)()) uv_stop(p->loop);
    });
    uv::Timer guard(&loop_);
    guard.start(kGuardMs, [this] { uv_stop(&loop_); });
    if (!pred()) uv_run(&loop_, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->prepare),
             [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
    return pred();
  }

  // Sends one request and runs the loop until its answer.
  ClientResponse fetch(ClientRequest req) {
    std::optional<ClientResponse> got;
    client().send(std::move(req), [&](ClientResponse r) { got = std::move(r); });
    EXPECT_TRUE(runUntil([&] { return got.has_value(); }));
    return got.value_or(ClientResponse{});
  }
  ClientResponse fetch(const std::string& url, std::string method = "POST") {
    ClientRequest req;
    req.method = std::move(method);
    req.url = url;
    req.body = method == "POST" ? "{}" : "";
    return fetch(std::move(req));
  }

  // Runs the loop for `ms`, so that closes and EOFs are seen.
  void runFor(uint64_t ms) {
    uv::Timer t(&loop_);
    bool fired = false;
    t.start(ms, [&] { fired = true; });
    runUntil([&] { return fired; });
  }

  uv_loop_t loop_{};
  std::unique_ptr<ScriptedServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(HttpClientLeanTest, TheRequestCarriesHostAgentLengthAndTheCallersHeaders) {
  auto& s = serve([](int, int, const std::string&) { return Reply::ok(); });
  ClientRequest req;
  req.url = s.url("/hook?a=1#fragment");
  req.headers = {{"content-type", "application/json"}, {"expect", "100-continue"}};
  req.body = "{\"x\":1}";
  const auto r = fetch(req);
  EXPECT_EQ(r.status, 200) << r.error;
  ASSERT_EQ(s.requests().size(), 1u);
  const std::string& seen = s.requests()[0];
  EXPECT_TRUE(seen.starts_with("POST /hook?a=1 HTTP/1.1\r\n")) << seen;
  EXPECT_NE(seen.find("\r\nHost: 127.0.0.1:" + std::to_string(s.port()) + "\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\r\nUser-Agent: payhook/"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\r\nContent-Length: 7\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\r\ncontent-type: application/json\r\n"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("expect"), std::string::npos) << seen;
  EXPECT_TRUE(seen.ends_with("\r\n\r\n{\"x\":1}")) << seen;
}

TEST_F(HttpClientLeanTest, SequentialRequestsReuseOneConnection) {
  auto& s = serve([](int, int i, const std::string&) { return Reply::ok(std::to_string(i)); });
  for (int i = 0; i < 5; ++i) {
    const auto r = fetch(s.url());
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.body, std::to_string(i));
  }
  EXPECT_EQ(s.accepted(), 1);
}

TEST_F(HttpClientLeanTest, AnIdleConnectionClosedByTheServerIsDroppedAndTheNextRequestSucceeds) {
  auto& s = serve([](int, int, const std::string&) { return Reply::ok(); });
  EXPECT_EQ(fetch(s.url()).status, 200);
  s.closeConnections();
  runFor(50);  // the client sees the EOF while the connection is idle
  const auto r = fetch(s.url());
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(s.accepted(), 2);
  EXPECT_EQ(s.requests().size(), 2u) << "the request went to a connection known closed";
}

TEST_F(HttpClientLeanTest, AReusedConnectionClosedWithoutAnAnswerIsRetriedOnceOnANewOne) {
  // The second request on connection 0 meets the close a keep-alive timeout would make at that moment.
  auto& s = serve([](int conn, int index, const std::string&) {
    if (conn == 0 && index == 1) return Reply{"", /*close=*/true};
    return Reply::ok();
  });
  EXPECT_EQ(fetch(s.url()).status, 200);
  const auto r = fetch(s.url());
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(s.accepted(), 2);
  EXPECT_EQ(s.requests().size(), 3u);
}

TEST_F(HttpClientLeanTest, AServerThatClosesWithoutAnsweringIsATransportError) {
  auto& s = serve([](int, int, const std::string&) { return Reply{"", /*close=*/true}; });
  const auto r = fetch(s.url());
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("closed"), std::string::npos) << r.error;
  EXPECT_EQ(s.requests().size(), 1u) << "a fresh connection is not retried";
}

TEST_F(HttpClientLeanTest, AGarbageAnswerIsATransportError) {
  auto& s = serve([](int, int, const std::string&) { return Reply{"SMTP ready\r\n\r\n"}; });
  const auto r = fetch(s.url());
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("malformed"), std::string::npos) << r.error;
  EXPECT_TRUE(r.headers.empty());
  EXPECT_TRUE(r.body.empty());
}

TEST_F(HttpClientLeanTest, AChunkedAnswerIsDecoded) {
  auto& s = serve([](int, int, const std::string&) {
    return Reply{
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"};
  });
  auto r = fetch(s.url());
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(fetch(s.url()).status, 200);
  EXPECT_EQ(s.accepted(), 1) << "a chunked answer keeps the connection";
}

TEST_F(HttpClientLeanTest, ACloseDelimitedAnswerEndsAtEof) {
  auto& s = serve([](int, int, const std::string&) {
    return Reply{"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end", /*close=*/true};
  });
  const auto r = fetch(s.url());
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "until the end");
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(fetch(s.url()).status, 200);
  EXPECT_EQ(s.accepted(), 2);
}

TEST_F(HttpClientLeanTest, InterimAnswersAreSkipped) {
  auto& s = serve([](int, int, const std::string&) {
    return Reply{
        "HTTP/1.1 100 Continue\r\nx-interim: 1\r\n\r\n"
        "HTTP/1.1 202 Accepted\r\nX-Final:  yes \r\ncontent-length: 4\r\n\r\ndone"};
  });
  const auto r = fetch(s.url());
  EXPECT_EQ(r.status, 202) << r.error;
  EXPECT_EQ(r.body, "done");
  EXPECT_EQ(r.header("x-interim"), nullptr);
  ASSERT_NE(r.header("x-final"), nullptr);
  EXPECT_EQ(*r.header("x-final"), "yes");
}

TEST_F(HttpClientLeanTest, ConnectionCloseAndHttp10AreHonoured) {
  auto& s = serve([](int conn, int, const std::string&) {
    if (conn == 0) return Reply{"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"};
    if (conn == 1) return Reply{"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"};
    return Reply{"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok"};
  });
  for (int i = 0; i < 4; ++i) {
    const auto r = fetch(s.url());
    EXPECT_EQ(r.status, 200) << r.error;
  }
  // close, then 1.0 without keep-alive, then 1.0 with keep-alive for the last two.
  EXPECT_EQ(s.accepted(), 3);
}

TEST_F(HttpClientLeanTest, AHeadAnswerHasNoBody) {
  auto& s = serve(
      [](int, int, const std::string&) { return Reply{"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"}; });
  const auto r = fetch(s.url(), "HEAD");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(s.requests().at(0).find("Content-Length"), std::string::npos);
  EXPECT_EQ(fetch(s.url(), "HEAD").status, 200);
  EXPECT_EQ(s.accepted(), 1);
}

TEST_F(HttpClientLeanTest, TheBodyIsCutAtTheCapAndTheConnectionIsNotReused) {
  auto& s = serve([](int, int, const std::string&) { return Reply::ok(std::string(5000, 'x')); });
  ClientOptions o;
  o.max_response_body = 100;
  client(o);
  auto r = fetch(s.url());
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.body, std::string(100, 'x'));
  EXPECT_EQ(r.error, "response body larger than 100 bytes, cut");
  ASSERT_NE(r.header("content-length"), nullptr);
  EXPECT_EQ(fetch(s.url()).status, 200);
  EXPECT_EQ(s.accepted(), 2);
}

TEST_F(HttpClientLeanTest, MaxHostConnectionsQueuesAndEveryRequestCompletes) {
  std::vector<int> answered;
  auto& s = serve([](int, int, const std::string&) { return Reply::ok(); });
  ClientOptions o;
  o.max_host_connections = 2;
  constexpr int kRequests = 20;
  int done = 0, ok = 0;
  for (int i = 0; i < kRequests; ++i) {
    ClientRequest req;
    req.url = s.url();
    client(o).send(req, [&](ClientResponse r) {
      ++done;
      ok += r.status == 200;
    });
  }
  EXPECT_EQ(client().inFlight(), static_cast<size_t>(kRequests));
  ASSERT_TRUE(runUntil([&] { return done == kRequests; }));
  EXPECT_EQ(ok, kRequests);
  EXPECT_EQ(s.accepted(), 2);
  EXPECT_LE(s.maxOpen(), 2);
}

TEST_F(HttpClientLeanTest, IdleConnectionsBeyondTheCapAreClosed) {
  auto& s = serve([](int, int, const std::string&) { return Reply::ok(); });
  ClientOptions o;
  o.max_idle_connections = 1;
  int done = 0;
  for (int i = 0; i < 3; ++i) {
    ClientRequest req;
    req.url = s.url();
    client(o).send(req, [&](ClientResponse r) {
      EXPECT_EQ(r.status, 200) << r.error;
      ++done;
    });
  }
  ASSERT_TRUE(runUntil([&] { return done == 3; }));
  EXPECT_EQ(s.accepted(), 3);
  ASSERT_TRUE(runUntil([&] { return s.open() == 1; })) << s.open() << " connections still open";
  EXPECT_EQ(fetch(s.url()).status, 200);
  EXPECT_EQ(s.accepted(), 3) << "the idle connection kept was not reused";
}

TEST_F(HttpClientLeanTest, AQueuedRequestCanBeCancelledAndTimesOutInTheQueue) {
  auto& s = serve([](int, int, const std::string&) { return Reply{"", false, /*hold=*/true}; });
  ClientOptions o;
  o.max_host_connections = 1;
  ClientRequest req;
  req.url = s.url();
  req.timeout_ms = 400;
  std::optional<ClientResponse> first, cancelled, queued;
  client(o).send(req, [&](ClientResponse r) { first = std::move(r); });
  const uint64_t id = client().send(req, [&](ClientResponse r) { cancelled = std::move(r); });
  client().send(req, [&](ClientResponse r) { queued = std::move(r); });
  EXPECT_TRUE(client().cancel(id));
  ASSERT_TRUE(runUntil([&] { return cancelled.has_value(); }));
  EXPECT_EQ(cancelled->error, "cancelled");
  ASSERT_TRUE(runUntil([&] { return first.has_value() && queued.has_value(); }));
  EXPECT_NE(first->error.find("timed out"), std::string::npos) << first->error;
  EXPECT_NE(queued->error.find("timed out"), std::string::npos) << queued->error;
  EXPECT_EQ(s.requests().size(), 1u) << "the cancelled request reached the server";
}

TEST_F(HttpClientLeanTest, IpV6LiteralsAndNamesConnect) {
  // Names resolve off the loop; "localhost" may give ::1 first, refused here, then 127.0.0.1.
  auto& s = serve([](int, int, const std::string&) { return Reply::ok("named"); });
  const auto r = fetch("http://localhost:" + std::to_string(s.port()) + "/");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "named");
  // Nothing listens on [::1] at this port: a refusal, reported as such.
  const auto v6 = fetch("http://[::1]:" + std::to_string(s.port()) + "/");
  EXPECT_EQ(v6.status, 0);
  EXPECT_NE(v6.error.find("[::1]"), std::string::npos) << v6.error;
}

TEST_F(HttpClientLeanTest, ALeanClientCanStillSendEverythingOverCurl) {
  auto& s = serve([](int, int, const std::string&) { return Reply::ok(); });
  ClientOptions o;
  o.lean_http = false;
  client(o);
  const auto r = fetch(s.url());
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_NE(s.requests().at(0).find("Accept: */*"), std::string::npos) << "curl's default header";
}

}  // namespace
}  // namespace payhook::http
