#include "support/redis_server.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace payhook::testing {
namespace {

constexpr const char* kRedisServerPath = "/usr/bin/redis-server";
constexpr auto kStartTimeout = std::chrono::seconds(5);
constexpr auto kExitTimeout = std::chrono::seconds(10);

RedisReply copyReply(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(copyReply(r->element[i]));
      break;
    default:
      out.type = RedisReply::kNil;
  }
  return out;
}

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

}  // namespace

std::string quoteRedisConfig(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string percentEncode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/payhook-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

// The lowest port of the kernel's ephemeral range (the local ports of outgoing connections and of bind to
// port 0).
int ephemeralLow() {
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  f >> low;
  return low;
}

bool bindable(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

// A port below the ephemeral range: between this call and the server's own bind, no outgoing connection of
// any test running beside this one can take it as its local port (a port from bind(0) could be taken so).
// Random, so that tests running in parallel rarely try the same one.
int freeTcpPort() {
  static std::mt19937 random(std::random_device{}());
  const int top = std::min(ephemeralLow(), 32768) - 1;
  if (top > 10'000) {
    std::uniform_int_distribution<int> pick(10'000, top);
    for (int i = 0; i < 200; ++i)
      if (const int port = pick(random); bindable(port)) return port;
  }
  // No room below the range: let the kernel choose.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error("bind 127.0.0.1:0: " + std::string(std::strerror(e)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

RedisServer::RedisServer(Options options) : options_(std::move(options)) {
  // A write to a connection Redis has just dropped must fail with EPIPE, not kill the test binary.
  ::signal(SIGPIPE, SIG_IGN);
  if (!options_.unix_socket) port_ = options_.port > 0 ? options_.port : freeTcpPort();
  writeConfig();
  start();
}

RedisServer::RedisServer() : RedisServer(Options{}) {}

RedisServer::~RedisServer() {
  if (running()) kill();
}

std::string RedisServer::socketPath() const {
  return options_.unix_socket ? dir_.path() + "/redis.sock" : std::string();
}

std::string RedisServer::url() const {
  if (options_.unix_socket) {
    std::string u = "unix:" + socketPath();
    if (!options_.password.empty()) u += "?password=" + percentEncode(options_.password);
    return u;
  }
  std::string auth = options_.password.empty() ? "" : ":" + percentEncode(options_.password) + "@";
  return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/0";
}

void RedisServer::writeConfig() const {
  std::ofstream conf(dir_.path() + "/redis.conf");
  conf << "daemonize no\n"
       << "dir " << quoteRedisConfig(dir_.path()) << "\n"
       << "logfile " << quoteRedisConfig(dir_.path() + "/redis.log") << "\n";
  if (!options_.sentinel) {
    conf << "appendonly yes\n"
         // "no" rather than the default "everysec": everysec postpones the AOF write while a background
         // fsync is slow and still answers, so a SIGKILL could lose an acknowledged write; with "no" the
         // write always precedes the reply and the page cache outlives the process.
         << "appendfsync no\n"
         << "save \"\"\n"
         << "databases 16\n";
  }
  if (options_.unix_socket) {
    conf << "port 0\n"
         << "unixsocket " << quoteRedisConfig(socketPath()) << "\n"
         << "unixsocketperm 700\n";
  } else {
    conf << "bind 127.0.0.1\n"
         << "port " << port_ << "\n";
  }
  if (!options_.password.empty()) conf << "requirepass " << quoteRedisConfig(options_.password) << "\n";
  for (const auto& line : options_.extra_config) conf << line << "\n";
  if (!conf) throw std::runtime_error("cannot write " + dir_.path() + "/redis.conf");
}

void RedisServer::start() {
  if (running()) return;
  std::string conf = dir_.path() + "/redis.conf";
  const bool sentinel = options_.sentinel;
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    // A crashed test binary must not leave servers behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (sentinel)
      ::execl(kRedisServerPath, kRedisServerPath, conf.c_str(), "--sentinel", static_cast<char*>(nullptr));
    else
      ::execl(kRedisServerPath, kRedisServerPath, conf.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  waitUntilReady();
}

void RedisServer::waitUntilReady() {
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  std::string last = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited during start-up: " + logTail());
    }
    try {
      RedisReply r = command({"PING"});
      if (r.type == RedisReply::kStatus && r.str == "PONG") return;
      last = r.str;  // e.g. LOADING while the AOF is read back
    } catch (const std::exception& e) {
      last = e.what();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
  throw std::runtime_error("redis-server did not answer PING within 5 s (" + last + "): " + logTail());
}

void RedisServer::waitForExit() {
  auto deadline = std::chrono::steady_clock::now() + kExitTimeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
}

void RedisServer::stop() {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  ::kill(pid_, SIGCONT);  // a paused server handles SIGTERM only once it runs again
  waitForExit();
}

void RedisServer::kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  waitForExit();
}

void RedisServer::pause() {
  if (running()) ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
  if (running()) ::kill(pid_, SIGCONT);
}

void RedisServer::wipe() {
  if (running()) throw std::logic_error("RedisServer::wipe() while the server runs");
  for (const char* name : {"appendonlydir", "appendonly.aof", "dump.rdb"}) {
    std::error_code ec;
    std::filesystem::remove_all(dir_.path() + "/" + name, ec);
    if (ec) throw std::runtime_error("cannot remove " + dir_.path() + "/" + name + ": " + ec.message());
  }
}

RedisReply RedisServer::command(const std::vector<std::string>& argv) const {
  timeval tv{5, 0};
  ContextPtr c(options_.unix_socket ? redisConnectUnixWithTimeout(socketPath().c_str(), tv)
                                    : redisConnectWithTimeout("127.0.0.1", port_, tv));
  if (!c) throw std::runtime_error("redis connect: out of memory");
  if (c->err) throw std::runtime_error("redis connect: " + std::string(c->errstr));
  redisSetTimeout(c.get(), tv);

  auto run = [&c](const std::vector<std::string>& args) {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    ReplyPtr reply(static_cast<redisReply*>(
        redisCommandArgv(c.get(), static_cast<int>(args.size()), ptrs.data(), lens.data())));
    if (!reply) throw std::runtime_error("redis command: " + std::string(c->errstr));
    return copyReply(reply.get());
  };

  if (!options_.password.empty()) {
    RedisReply auth = run({"AUTH", options_.password});
    if (auth.type == RedisReply::kError) return auth;
  }
  return run(argv);
}

std::string RedisServer::logTail(size_t max_chars) const {
  std::ifstream in(dir_.path() + "/redis.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_chars ? s.substr(s.size() - max_chars) : s;
}

}  // namespace payhook::testing
