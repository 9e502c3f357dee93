// The outbound HTTP client in-process: a Client and its sinks on one uv loop run by the test thread. Every
// test ends by shutting everything down and asserting uv_loop_close() == 0, so a leaked handle (a poll,
// curl's timer, a deferred callback) fails the test that leaked it.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/server.h"
#include "uv/handle.h"

namespace payhook::http {
namespace {

constexpr uint64_t kGuardMs = 20'000;  // generous: only reached when a test is about to fail

// A raw HTTP/1.1 sink that counts the connections it accepts and answers every request "200 ok" on the same
// connection, so keep-alive is visible from the server's side.
class CountingSink {
 public:
  explicit CountingSink(uv_loop_t* loop) {
    uv_tcp_init(loop, &listener_);
    listener_.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
    uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16, &CountingSink::onConnection);
    sockaddr_storage bound{};
    int len = sizeof(bound);
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  ~CountingSink() { close(); }

  int port() const { return port_; }
  int accepted() const { return accepted_; }
  int requests() const { return requests_; }

  void close() {
    if (closed_) return;
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    for (auto* c : conns_) closeConn(c);
    conns_.clear();
  }

 private:
  struct Conn {
    uv_tcp_t tcp{};
    CountingSink* sink = nullptr;
    std::string buf;
  };
  struct Write {
    uv_write_t req{};
    std::string data;
  };

  static void closeConn(Conn* c) {
    c->sink = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
             [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
  }

  static void onConnection(uv_stream_t* server, int status) {
    auto* self = static_cast<CountingSink*>(server->data);
    if (status < 0) return;
    auto* c = new Conn();
    c->sink = self;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      closeConn(c);
      return;
    }
    ++self->accepted_;
    self->conns_.push_back(c);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t, uv_buf_t* b) {
          static char chunk[64 * 1024];
          *b = uv_buf_init(chunk, sizeof(chunk));
        },
        &CountingSink::onRead);
  }

  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    auto* c = static_cast<Conn*>(s->data);
    if (!c->sink) return;
    if (n < 0) {
      auto& v = c->sink->conns_;
      v.erase(std::remove(v.begin(), v.end(), c), v.end());
      closeConn(c);
      return;
    }
    c->buf.append(b->base, static_cast<size_t>(n));
    for (;;) {
      size_t end = c->buf.find("\r\n\r\n");
      if (end == std::string::npos) return;
      size_t length = 0;
      std::string head = c->buf.substr(0, end);
      for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (size_t at = head.find("\r\ncontent-length:"); at != std::string::npos)
        length = std::stoul(head.substr(at + 17));
      if (c->buf.size() < end + 4 + length) return;
      c->buf.erase(0, end + 4 + length);
      ++c->sink->requests_;
      auto* w = new Write();
      w->data = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
      uv_buf_t out = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
      uv_write(&w->req, s, &out, 1, [](uv_write_t* r, int) { delete reinterpret_cast<Write*>(r); });
    }
  }

  uv_tcp_t listener_{};
  std::vector<Conn*> conns_;
  int port_ = 0;
  int accepted_ = 0;
  int requests_ = 0;
  bool closed_ = false;
};

// Every test runs twice: http:// over the lean transport, and everything over libcurl.
class HttpClientTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }

  void TearDown() override {
    client_.reset();
    if (server_) server_->closeAll();
    server_.reset();
    sink_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }

  // A payhook::http::Server on 127.0.0.1:0 answering with `handler`; returns its base URL.
  std::string startServer(RequestHandler handler, ServerLimits limits = {}) {
    server_ = std::make_unique<Server>(&loop_, limits, std::move(handler));
    auto st = server_->listen("127.0.0.1:0");
    EXPECT_TRUE(st.ok());
    return "http://" + server_->boundAddresses().at(0);
  }

  // Runs the loop until `pred` holds (or the guard passes; then the test fails). The check sits in a prepare
  // handle, which runs just before the loop would block, so a callback run from a timer is seen at once.
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

  Client& client(ClientOptions o = {}) {
    o.lean_http = GetParam();
    if (!client_) client_ = std::make_unique<Client>(&loop_, std::move(o));
    return *client_;
  }

  uv_loop_t loop_{};
  std::unique_ptr<Server> server_;
  std::unique_ptr<CountingSink> sink_;
  std::unique_ptr<Client> client_;
};

TEST_P(HttpClientTest, CurlResolvesNamesOffTheLoop) {
  EXPECT_TRUE(Client::asyncDnsAvailable());
}

TEST_P(HttpClientTest, PostsAndReceivesStatusHeadersAndBody) {
  Request seen;
  std::string base = startServer([&](Request&& r, Responder resp) {
    seen = std::move(r);
    Response out{201, "application/json", R"({"accept":true})", {{"x-sink", "yes"}}, false};
    resp.send(std::move(out));
  });
  std::optional<ClientResponse> got;
  int calls = 0;
  ClientRequest req;
  req.url = base + "/decide?x=1";
  req.headers = {{"content-type", "application/json"}, {"webhook-id", "evt_1"}};
  req.body = R"({"id":"evt_1"})";
  req.timeout_ms = 10'000;
  client().send(std::move(req), [&](ClientResponse r) {
    ++calls;
    got = std::move(r);
  });
  ASSERT_TRUE(runUntil([&] { return got.has_value(); }));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got->status, 201) << got->error;
  EXPECT_EQ(got->body, R"({"accept":true})");
  ASSERT_NE(got->header("x-sink"), nullptr);
  EXPECT_EQ(*got->header("x-sink"), "yes");
  EXPECT_EQ(*got->header("content-type"), "application/json");
  EXPECT_FALSE(got->truncated);
  EXPECT_GE(got->latency_ms, 0.0);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/decide");
  EXPECT_EQ(seen.query, "x=1");
  EXPECT_EQ(seen.body, R"({"id":"evt_1"})");
  ASSERT_NE(seen.header("webhook-id"), nullptr);
  EXPECT_EQ(*seen.header("webhook-id"), "evt_1");
  ASSERT_NE(seen.header("user-agent"), nullptr);
  EXPECT_TRUE(seen.header("user-agent")->starts_with("payhook/"));
  EXPECT_EQ(seen.header("expect"), nullptr);
  EXPECT_EQ(client().inFlight(), 0u);
}

TEST_P(HttpClientTest, AHostNameIsResolvedAndConnected) {
  std::string base = startServer([](Request&&, Responder resp) { resp.send(Response::text(200, "named")); });
  const std::string port = base.substr(base.rfind(':') + 1);
  std::optional<ClientResponse> got;
  ClientRequest req;
  req.method = "GET";
  req.url = "http://localhost:" + port + "/";
  client().send(req, [&](ClientResponse r) { got = std::move(r); });
  ASSERT_TRUE(runUntil([&] { return got.has_value(); }));
  EXPECT_EQ(got->status, 200) << got->error;
  EXPECT_EQ(got->body, "named");
}

// `openssl s_server` with a fresh self-signed certificate for "localhost", in a child process.
class TlsServer {
 public:
  TlsServer() {
    char tmpl[] = "/tmp/payhook-tls.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    const std::string gen =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost -keyout " +
        dir_ + "/key.pem -out " + dir_ + "/cert.pem >/dev/null 2>&1";
    if (std::system(gen.c_str()) != 0) return;
    port_ = freePort();
    pid_ = ::fork();
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      const std::string accept = "127.0.0.1:" + std::to_string(port_);
      const std::string cert = dir_ + "/cert.pem", key = dir_ + "/key.pem";
      ::execlp("openssl", "openssl", "s_server", "-accept", accept.c_str(), "-cert", cert.c_str(), "-key",
               key.c_str(), "-www", "-quiet", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Wait until it accepts connections.
    for (int i = 0; i < 500; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(static_cast<uint16_t>(port_));
      sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0;
      ::close(fd);
      if (up) {
        ready_ = true;
        return;
      }
      ::usleep(20'000);
    }
  }
  ~TlsServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  bool ready() const { return ready_; }
  int port() const { return port_; }
  std::string certFile() const { return dir_ + "/cert.pem"; }

 private:
  static int freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
    socklen_t len = sizeof(sin);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
    ::close(fd);
    return ntohs(sin.sin_port);
  }
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool ready_ = false;
};

TEST_P(HttpClientTest, TlsCertificatesAreVerified) {
  TlsServer tls;
  ASSERT_TRUE(tls.ready()) << "openssl s_server did not start";
  ClientRequest req;
  req.method = "GET";
  req.url = "https://localhost:" + std::to_string(tls.port()) + "/";
  req.timeout_ms = 10'000;
  // Self-signed: the default CA bundle does not vouch for it.
  std::optional<ClientResponse> got;
  client().send(req, [&](ClientResponse r) { got = std::move(r); });
  ASSERT_TRUE(runUntil([&] { return got.has_value(); }));
  EXPECT_EQ(got->status, 0);
  EXPECT_NE(got->error.find("certificate"), std::string::npos) << got->error;

  // Trusted explicitly, the same server is accepted: the failure above was the verification.
  client_.reset();
  ClientOptions o;
  o.ca_file = tls.certFile();
  std::optional<ClientResponse> trusted;
  client(o).send(req, [&](ClientResponse r) { trusted = std::move(r); });
  ASSERT_TRUE(runUntil([&] { return trusted.has_value(); }));
  EXPECT_EQ(trusted->status, 200) << trusted->error;
}

TEST_P(HttpClientTest, DoneNeverRunsInsideSend) {
  bool inside = true;
  int calls = 0;
  ClientRequest bad;
  bad.url = "ftp://127.0.0.1/";
  client().send(bad, [&](ClientResponse r) {
    EXPECT_FALSE(inside);
    EXPECT_EQ(r.status, 0);
    EXPECT_FALSE(r.error.empty());
    ++calls;
  });
  ClientRequest injected;
  injected.url = "http://127.0.0.1:1/";
  injected.headers = {{"x-a", "1\r\nx-b: 2"}};
  client().send(injected, [&](ClientResponse r) {
    EXPECT_FALSE(inside);
    EXPECT_EQ(r.status, 0);
    ++calls;
  });
  inside = false;
  ASSERT_TRUE(runUntil([&] { return calls == 2; }));
}

TEST_P(HttpClientTest, SequentialRequestsReuseOneConnection) {
  sink_ = std::make_unique<CountingSink>(&loop_);
  const std::string url = "http://127.0.0.1:" + std::to_string(sink_->port()) + "/";
  constexpr int kRequests = 5;
  int done = 0;
  std::function<void()> next = [&] {
    ClientRequest req;
    req.url = url;
    req.body = "request " + std::to_string(done);
    client().send(std::move(req), [&](ClientResponse r) {
      EXPECT_EQ(r.status, 200) << r.error;
      EXPECT_EQ(r.body, "ok");
      if (++done < kRequests) next();
    });
  };
  next();
  ASSERT_TRUE(runUntil([&] { return done == kRequests; }));
  EXPECT_EQ(sink_->requests(), kRequests);
  EXPECT_EQ(sink_->accepted(), 1) << "each request opened its own connection";
}

TEST_P(HttpClientTest, ATimeoutIsATransportError) {
  std::vector<Responder> held;  // never answered until the end
  std::string base = startServer([&](Request&&, Responder resp) { held.push_back(resp); });
  std::optional<ClientResponse> got;
  ClientRequest req;
  req.url = base + "/slow";
  req.timeout_ms = 300;
  client().send(req, [&](ClientResponse r) { got = std::move(r); });
  ASSERT_TRUE(runUntil([&] { return got.has_value(); }));
  EXPECT_EQ(got->status, 0);
  EXPECT_NE(got->error.find("timed out"), std::string::npos) << got->error;
  EXPECT_GE(got->latency_ms, 250.0);
}

TEST_P(HttpClientTest, ConnectionRefusedIsATransportError) {
  // A port that was just free: bind, read the port, close.
  int port = 0;
  {
    uv_tcp_t probe;
    uv_tcp_init(&loop_, &probe);
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(&probe, reinterpret_cast<const sockaddr*>(&addr), 0);
    sockaddr_storage bound{};
    int len = sizeof(bound);
    uv_tcp_getsockname(&probe, reinterpret_cast<sockaddr*>(&bound), &len);
    port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    uv_close(reinterpret_cast<uv_handle_t*>(&probe), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  std::optional<ClientResponse> got;
  ClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  client().send(req, [&](ClientResponse r) { got = std::move(r); });
  ASSERT_TRUE(runUntil([&] { return got.has_value(); }));
  EXPECT_EQ(got->status, 0);
  EXPECT_FALSE(got->error.empty());
}

TEST_P(HttpClientTest, ALargeResponseIsCutAtTheCap) {
  std::string base = startServer(
      [](Request&&, Responder resp) { resp.send(Response::text(200, std::string(1 << 20, 'x'))); });
  ClientOptions o;
  o.max_response_body = 1000;
  std::optional<ClientResponse> got;
  ClientRequest req;
  req.url = base + "/big";
  client(o).send(req, [&](ClientResponse r) { got = std::move(r); });
  ASSERT_TRUE(runUntil([&] { return got.has_value(); }));
  EXPECT_EQ(got->status, 200);
  EXPECT_TRUE(got->truncated);
  EXPECT_EQ(got->body, std::string(1000, 'x'));
  EXPECT_FALSE(got->error.empty());

  // The client is still usable afterwards.
  std::optional<ClientResponse> again;
  client().send(req, [&](ClientResponse r) { again = std::move(r); });
  ASSERT_TRUE(runUntil([&] { return again.has_value(); }));
  EXPECT_EQ(again->status, 200);
}

TEST_P(HttpClientTest, CancelFailsOnlyThatRequestOnce) {
  std::vector<Responder> held;
  std::string base = startServer([&](Request&&, Responder resp) { held.push_back(resp); });
  int cancelled_calls = 0, other_calls = 0;
  std::string cancelled_error;
  ClientRequest req;
  req.url = base + "/hold";
  req.timeout_ms = 20'000;
  uint64_t a = client().send(req, [&](ClientResponse r) {
    ++cancelled_calls;
    cancelled_error = r.error;
  });
  client().send(req, [&](ClientResponse r) {
    ++other_calls;
    EXPECT_EQ(r.status, 200);
  });
  ASSERT_TRUE(runUntil([&] { return held.size() == 2; }));
  EXPECT_TRUE(client().cancel(a));
  EXPECT_FALSE(client().cancel(a));
  EXPECT_EQ(cancelled_calls, 0) << "cancel ran done synchronously";
  for (auto& r : held) r.send(Response::text(200, "late"));
  ASSERT_TRUE(runUntil([&] { return cancelled_calls == 1 && other_calls == 1; }));
  EXPECT_EQ(cancelled_error, "cancelled");
}

TEST_P(HttpClientTest, ShutdownFailsEveryRequestInFlightOnceAndLetsTheLoopEnd) {
  std::vector<Responder> held;
  std::string base = startServer([&](Request&&, Responder resp) { held.push_back(resp); });
  constexpr int kRequests = 4;
  std::vector<int> calls(kRequests + 1, 0);
  std::vector<std::string> errors(kRequests + 1);
  ClientRequest req;
  req.url = base + "/hold";
  req.timeout_ms = 20'000;
  for (int i = 0; i < kRequests; ++i)
    client().send(req, [&, i](ClientResponse r) {
      ++calls[i];
      errors[i] = r.error;
      EXPECT_EQ(r.status, 0);
    });
  ASSERT_TRUE(runUntil([&] { return held.size() == kRequests; }));
  EXPECT_EQ(client().inFlight(), static_cast<size_t>(kRequests));
  client().shutdown();
  client().shutdown();  // idempotent
  // A send after shutdown fails the same way, still never synchronously.
  client().send(req, [&](ClientResponse r) {
    ++calls[kRequests];
    errors[kRequests] = r.error;
  });
  for (int c : calls) EXPECT_EQ(c, 0);
  server_->closeAll();
  server_.reset();
  // No server, no client handles: the loop must run dry by itself.
  uv_run(&loop_, UV_RUN_DEFAULT);
  for (int i = 0; i <= kRequests; ++i) {
    EXPECT_EQ(calls[i], 1) << i;
    EXPECT_EQ(errors[i], "client shut down") << i;
  }
  client_.reset();
  EXPECT_EQ(uv_loop_close(&loop_), 0);
  ASSERT_EQ(uv_loop_init(&loop_), 0);  // for TearDown
}

TEST_P(HttpClientTest, DestroyingTheClientStillRunsEveryDoneOnce) {
  std::vector<Responder> held;
  std::string base = startServer([&](Request&&, Responder resp) { held.push_back(resp); });
  int calls = 0;
  ClientRequest req;
  req.url = base + "/hold";
  client().send(req, [&](ClientResponse r) {
    ++calls;
    EXPECT_EQ(r.status, 0);
  });
  ASSERT_TRUE(runUntil([&] { return held.size() == 1; }));
  client_.reset();
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(runUntil([&] { return calls == 1; }));
}

TEST_P(HttpClientTest, ADoneCallbackMaySendAgainAndDestroyTheClient) {
  std::string base = startServer([](Request&&, Responder resp) { resp.send(Response::text(200, "ok")); });
  int calls = 0;
  ClientRequest req;
  req.url = base + "/";
  client().send(req, [&](ClientResponse r) {
    ++calls;
    EXPECT_EQ(r.status, 200);
    client().send(req, [&](ClientResponse r2) {
      ++calls;
      EXPECT_EQ(r2.status, 200);
      client_.reset();  // from inside its own callback
    });
  });
  ASSERT_TRUE(runUntil([&] { return calls == 2; }));
  EXPECT_EQ(client_, nullptr);
}

TEST_P(HttpClientTest, ManyConcurrentRequestsAllComplete) {
  std::string base = startServer([](Request&& r, Responder resp) { resp.send(Response::text(200, r.body)); });
  constexpr int kRequests = 50;
  int ok = 0, done = 0;
  for (int i = 0; i < kRequests; ++i) {
    ClientRequest req;
    req.url = base + "/echo";
    req.body = std::to_string(i);
    client().send(req, [&, i](ClientResponse r) {
      ++done;
      if (r.status == 200 && r.body == std::to_string(i)) ++ok;
    });
  }
  ASSERT_TRUE(runUntil([&] { return done == kRequests; }));
  EXPECT_EQ(ok, kRequests);
}

INSTANTIATE_TEST_SUITE_P(Transports, HttpClientTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Lean" : "Curl";
                         });

}  // namespace
}  // namespace payhook::http
