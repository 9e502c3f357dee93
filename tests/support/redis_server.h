// Test fixture: a private redis-server per test, in its own temp dir, on a free loopback port or a unix
// socket.
//
// Every integration test that needs Redis owns one RedisServer. The server runs with `appendonly yes`,
// `appendfsync no` and `save ""`, so data written before stop() or kill() is back after start() (the AOF is
// written before a reply is sent, so even SIGKILL loses nothing that was acknowledged). All methods are
// blocking and meant for the test thread only. The nodes of a replicated or clustered Redis
// (redis_topology.h) are RedisServers too, configured through Options::extra_config.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace payhook::testing {

// A fresh directory under $TMPDIR (or /tmp), removed recursively with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A loopback TCP port that was free a moment ago: binds 127.0.0.1:0, reads the port and closes.
int freeTcpPort();

// A redis.conf value in double quotes, with quotes and backslashes escaped.
std::string quoteRedisConfig(const std::string& value);

// RFC 3986 percent-encoding of everything but the unreserved characters, for passwords in URLs.
std::string percentEncode(const std::string& s);

// A copy of a hiredis reply that outlives the connection it came from.
struct RedisReply {
  enum Type { kNil, kString, kInteger, kArray, kError, kStatus } type = kNil;
  std::string str;  // kString, kError, kStatus
  long long integer = 0;
  std::vector<RedisReply> elements;  // kArray
};

class RedisServer {
 public:
  struct Options {
    bool unix_socket = false;  // listen on <dir>/redis.sock only, no TCP port
    std::string password;      // requirepass; url() and command() use it
    // Lines appended to redis.conf after the defaults; Redis takes the last value of a directive, so
    // "appendonly no" here overrides the default "appendonly yes".
    std::vector<std::string> extra_config;
    int port = 0;           // the TCP port; 0 picks a free one
    bool sentinel = false;  // run as a Sentinel (--sentinel): no data settings in the config
  };

  // Starts redis-server and waits until it answers PING (at most 5 s); throws std::runtime_error otherwise,
  // with the tail of the server's log in the message.
  explicit RedisServer(Options options);
  // Same as RedisServer(Options{}); two constructors because GCC rejects "= {}" for a nested struct with
  // default member initializers.
  RedisServer();
  // SIGKILL and wait, if still running.
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  void stop();    // SIGTERM (and SIGCONT, in case it is paused), then wait for the exit
  void kill();    // SIGKILL, then wait
  void start();   // starts again on the same address and dir; throws like the constructor
  void pause();   // SIGSTOP: connections stay open, nothing is answered
  void resume();  // SIGCONT
  // Deletes the data files (AOF directory and RDB) while stopped, so the next start() comes up empty, as a
  // Redis that lost its disk or runs without persistence would. Throws std::logic_error while running.
  void wipe();
  bool running() const { return pid_ > 0; }

  // "redis://127.0.0.1:PORT/0", "redis://:PASSWORD@127.0.0.1:PORT/0", "unix:/DIR/redis.sock" or
  // "unix:/DIR/redis.sock?password=PASSWORD" (password percent-encoded).
  std::string url() const;
  int port() const { return port_; }  // 0 for a unix socket
  const std::string& dir() const { return dir_.path(); }
  std::string socketPath() const;  // empty for TCP
  // The last max_chars of the server's log, for the messages of failed waits.
  std::string logTail(size_t max_chars = 2000) const;

  // Runs one command on a fresh synchronous connection (with AUTH when a password is set). Redis errors
  // come back as kError replies; connection problems and a 5 s timeout throw std::runtime_error.
  RedisReply command(const std::vector<std::string>& argv) const;

 private:
  void writeConfig() const;
  void waitUntilReady();
  void waitForExit();

  Options options_;
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace payhook::testing
