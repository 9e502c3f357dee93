// payhookd under systemd's protocols, without systemd: the watchdog pings seen on a NOTIFY_SOCKET the
// test owns, and a restart through socket activation (the test holds the listening socket and hands it to
// one payhookd after another, as systemd does with payhookd.socket) that refuses no connection.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "handlers/standard_webhooks/standard_webhooks.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The receiving end of $NOTIFY_SOCKET: one datagram per sd_notify() call.
class NotifySocket {
 public:
  NotifySocket() {
    path_ = dir_.path() + "/notify.sock";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    path_.copy(sa.sun_path, sizeof(sa.sun_path) - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) ADD_FAILURE() << "bind " << path_;
  }
  ~NotifySocket() { ::close(fd_); }
  const std::string& path() const { return path_; }

  // The next datagram within `timeout`; empty when none came.
  std::string next(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  // Waits for a datagram with `line` among its lines; false when `timeout` passed first.
  bool waitFor(const std::string& line, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (hasLine(next(left), line)) return true;
    }
    return false;
  }
  // Counts datagrams with `line` during `window`.
  int count(const std::string& line, std::chrono::milliseconds window) {
    int n = 0;
    auto deadline = Clock::now() + window;
    while (Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (hasLine(next(left), line)) ++n;
    }
    return n;
  }

  static bool hasLine(const std::string& datagram, const std::string& line) {
    return ("\n" + datagram + "\n").find("\n" + line + "\n") != std::string::npos;
  }

 private:
  TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

std::vector<std::pair<std::string, std::string>> signedHeaders(const std::string& id, const std::string& ts,
                                                               const std::string& body) {
  auto key = handlers::swh::decodeSecret(DaemonProcess::kDemoSecret).value();
  return {{"webhook-id", id},
          {"webhook-timestamp", ts},
          {"webhook-signature", handlers::swh::signV1(key, id, ts, body)}};
}

class SystemdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }

  DaemonOptions options() {
    DaemonOptions o;
    o.redis_url = redis_.url();
    return o;
  }

  RedisServer redis_;
};

TEST_F(SystemdTest, WatchdogPingsComeFromTheLoopAndStopWhenItStops) {
  NotifySocket notify;
  auto o = options();
  o.env = {"NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=200000"};
  DaemonProcess d(o);
  ASSERT_TRUE(d.start()) << d.logs();
  ASSERT_TRUE(notify.waitFor("READY=1", 5s)) << d.logs();
  // WATCHDOG_USEC/2 = 100 ms: about ten pings a second.
  EXPECT_GE(notify.count("WATCHDOG=1", 1000ms), 5);

  // A stopped process is what a stuck loop looks like from outside: the pings stop, so systemd would
  // kill it once WatchdogSec passes.
  ASSERT_GT(d.pid(), 0);  // kill(-1, ...) would signal every process
  ASSERT_EQ(::kill(d.pid(), SIGSTOP), 0);
  notify.count("WATCHDOG=1", 100ms);  // whatever was sent just before the stop
  EXPECT_EQ(notify.count("WATCHDOG=1", 500ms), 0);
  ASSERT_EQ(::kill(d.pid(), SIGCONT), 0);
  EXPECT_TRUE(notify.waitFor("WATCHDOG=1", 1000ms));

  EXPECT_EQ(d.stop(SIGTERM), 0) << d.logs();
  EXPECT_TRUE(notify.waitFor("STOPPING=1", 1000ms));
}

TEST_F(SystemdTest, NoWatchdogPingsWhenTheWatchdogBelongsToAnotherProcess) {
  NotifySocket notify;
  auto o = options();
  // WATCHDOG_PID names the process systemd supervises; a child that inherited the variables is not it.
  o.env = {"NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=200000", "WATCHDOG_PID=1"};
  DaemonProcess d(o);
  ASSERT_TRUE(d.start()) << d.logs();
  ASSERT_TRUE(notify.waitFor("READY=1", 5s)) << d.logs();
  EXPECT_EQ(notify.count("WATCHDOG=1", 500ms), 0);
  EXPECT_EQ(d.stop(SIGTERM), 0);
}

// A listening socket the test holds across daemons, as systemd holds payhookd.socket's.
struct HeldListener {
  int fd = -1;
  int port = 0;
  HeldListener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 4096) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
      ADD_FAILURE() << "cannot listen on the loopback";
    port = ntohs(sa.sin_port);
  }
  ~HeldListener() { ::close(fd); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

TEST_F(SystemdTest, RestartThroughSocketActivationRefusesNoConnection) {
  HeldListener listener;
  auto activated = [&] {
    auto o = options();
    o.listen = listener.address();  // also in the config: payhookd must not bind it, LISTEN_FDS wins
    o.listen_fd = listener.fd;
    o.shutdown_timeout = "10s";
    return std::make_unique<DaemonProcess>(o);
  };
  auto daemon = activated();
  ASSERT_TRUE(daemon->start()) << daemon->logs();

  // One client thread sends signed callbacks back to back, each on its own connection, while the daemon
  // is replaced twice under it. Every one must be answered 204, which means stored.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, stored{0};
  std::vector<std::string> failures;
  std::thread client([&] {
    const auto deadline = Clock::now() + 60s;  // bounded whatever happens
    while (!stop && Clock::now() < deadline) {
      const std::string id = "msg_restart_" + std::to_string(sent.load());
      const std::string body = R"({"n":)" + std::to_string(sent.load()) + "}";
      const std::string ts = std::to_string(std::time(nullptr));
      auto headers = signedHeaders(id, ts, body);
      headers.emplace_back("content-type", "application/json");
      auto r = httpRequest(listener.address(), "POST", "/hooks/demo", headers, body);
      ++sent;
      if (r.status == 204)
        ++stored;
      else if (failures.size() < 20)
        failures.push_back(id + ": status " + std::to_string(r.status));
    }
  });

  struct Joiner {  // an ASSERT below must not leave the thread running
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Joiner() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } joiner{stop, client};

  auto waitForProgress = [&](int more) {
    const int target = stored.load() + more;
    const auto deadline = Clock::now() + 10s;
    while (stored.load() < target && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return stored.load() >= target;
  };
  int queued_stored = 0;
  ASSERT_TRUE(waitForProgress(50)) << daemon->logs();
  EXPECT_NE(daemon->logs().find("serving the sockets passed by systemd"), std::string::npos)
      << daemon->logs();
  for (int restart = 0; restart < 2; ++restart) {
    EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->logs();
    // Between the two daemons the kernel queues new connections on the held socket.
    // One connection is made for certain while no payhookd runs at all; the next one answers it.
    HttpConnection queued(listener.address());
    ASSERT_TRUE(queued.connected());
    const std::string id = "msg_gap_" + std::to_string(restart), body = "{}";
    const std::string ts = std::to_string(std::time(nullptr));
    std::string request =
        "POST /hooks/demo HTTP/1.1\r\nhost: t\r\nconnection: close\r\ncontent-type: application/json\r\n";
    for (const auto& [k, v] : signedHeaders(id, ts, body)) request += k + ": " + v + "\r\n";
    request += "content-length: 2\r\n\r\n" + body;
    ASSERT_TRUE(queued.send(request));
    daemon = activated();
    ASSERT_TRUE(daemon->start()) << daemon->logs();
    const int status = queued.read().status;
    EXPECT_EQ(status, 204) << daemon->logs();
    if (status == 204) ++queued_stored;
    EXPECT_TRUE(waitForProgress(50)) << daemon->logs();
  }
  stop = true;
  client.join();
  EXPECT_EQ(daemon->stop(SIGTERM), 0) << daemon->logs();

  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  EXPECT_EQ(stored.load(), sent.load());
  EXPECT_GE(sent.load(), 150);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), static_cast<size_t>(stored.load() + queued_stored));
}

// systemd's own fd passing, through systemd-socket-activate: it listens, execs payhookd on the first
// connection, and that connection is answered (it waits in the queue until payhookd accepts).
TEST_F(SystemdTest, FirstConnectionThroughSystemdSocketActivateStartsAndIsAnswered) {
  const char* tool = "/usr/bin/systemd-socket-activate";
  if (::access(tool, X_OK) != 0) GTEST_SKIP() << tool << " is not installed (Debian package systemd)";
  auto o = options();
  const std::string address = "127.0.0.1:" + std::to_string(freeTcpPort());
  o.listen = address;
  DaemonProcess config(o);  // writes the config; its own start() is not used
  std::string listen = address, path = payhookdPath(), file = config.configPath();
  std::string log = config.dir() + "/activate.log";
  char* argv[] = {const_cast<char*>(tool),
                  const_cast<char*>("-l"),
                  listen.data(),
                  path.data(),
                  const_cast<char*>("--config"),
                  file.data(),
                  nullptr};
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(tool, argv);
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid <= 0) return;  // never kill(-1, ...): that signals every process
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reaper{pid};
  // The tool binds before it reports; connections before that are refused, so wait for the log line.
  const auto deadline = Clock::now() + 5s;
  while (Clock::now() < deadline && readFile(log).find("Listening on") == std::string::npos)
    std::this_thread::sleep_for(10ms);
  ASSERT_NE(readFile(log).find("Listening on"), std::string::npos) << readFile(log);

  const std::string id = "msg_activate", body = "{}", ts = std::to_string(std::time(nullptr));
  auto headers = signedHeaders(id, ts, body);
  headers.emplace_back("content-type", "application/json");
  auto r = httpRequest(address, "POST", "/hooks/demo", headers, body);
  EXPECT_EQ(r.status, 204) << readFile(log);
  EXPECT_NE(readFile(log).find("serving the sockets passed by systemd"), std::string::npos) << readFile(log);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);

  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);  // the tool exec'd payhookd, so this is payhookd
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  reaper.pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << readFile(log);
}

}  // namespace
}  // namespace payhook::testing
