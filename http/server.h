// HTTP/1.1 server over libuv streams and llhttp: TCP and unix-socket listeners, keep-alive, pipelining
// answered in order, chunked bodies, Expect: 100-continue, and the limits that keep one peer from hurting
// the rest. It knows nothing of payments: every complete request goes to one RequestHandler.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/http_message.h"
#include "common/result.h"

namespace payhook::http {

struct ServerLimits {
  uint64_t max_body = 64 * 1024;          // larger: 413 at once, the rest is not read, connection closed
  uint64_t max_header_bytes = 16 * 1024;  // request line + headers larger: 431
  uint64_t max_headers = 100;             // more header lines: 431
  uint64_t header_timeout_ms = 10'000;    // headers not complete in time: connection closed
  uint64_t idle_timeout_ms = 60'000;      // keep-alive connection with nothing in progress: closed
  // The body must be complete this long after the end of the header section, however it trickles.
  uint64_t body_timeout_ms = 30'000;
  // After body_rate_grace_ms, a body must have averaged this many bytes per second since the header
  // section ended, or the connection is closed; 0 turns the rate off (body_timeout_ms still applies).
  uint64_t min_body_rate = 1024;
  uint64_t body_rate_grace_ms = 5'000;
  uint64_t write_timeout_ms = 30'000;  // an answer the peer has not taken whole within this: closed
  // At the limit the oldest connection not held by the handler is closed for the newcomer (server.cpp).
  // Clamped at start to the open-file limit minus fd_reserve, the descriptors the rest of the process needs.
  uint64_t max_connections = 10'000;
  uint64_t fd_reserve = 64;
  // Connections from one TCP peer address; over it, the newcomer is closed at once. 0: no cap. Unix-socket
  // peers and the addresses given to Server::setUncappedPeers() (trusted proxies) are not capped.
  uint64_t max_connections_per_address = 128;
};

// max_connections within `file_limit` descriptors of which `reserve` belong to the rest of the process;
// never below a quarter of the limit (nor below 1).
uint64_t connectionBudget(uint64_t max_connections, uint64_t file_limit, uint64_t reserve);

class Connection;

// Wire behaviour worth knowing: headers not complete within header_timeout_ms, or a body not complete
// within body_timeout_ms (or slower than min_body_rate), close the connection without an answer, as does an
// answer the peer has not read within write_timeout_ms; a peer that closes (EOF) while its request is in
// flight is treated as gone, so the Responder drops the answer; decoder errors (400, 413, 431, 501) are
// answered with "connection: close".
//
// Sends the one response to one request. Copyable and cheap; when the connection has gone away
// (peer closed, server shut down), send() does nothing. Call send() exactly once, on the loop.
class Responder {
 public:
  Responder() = default;
  // `seq` names the request this responder answers, so a stale copy cannot answer a later request.
  Responder(std::weak_ptr<Connection> conn, uint64_t seq) : conn_(std::move(conn)), seq_(seq) {}
  void send(Response response) const;
  bool connected() const { return !conn_.expired(); }

 private:
  std::weak_ptr<Connection> conn_;
  uint64_t seq_ = 0;  // the connection's request number; 0 never matches one
};

using RequestHandler = std::function<void(Request&& request, Responder responder)>;

class Server {
 public:
  Server(uv_loop_t* loop, ServerLimits limits, RequestHandler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. `address` is "host:port", "[v6addr]:port" or "unix:/path" (a stale socket file is
  // replaced). Port 0 picks a free port; boundAddresses() tells which.
  Status listen(const std::string& address);
  // Listens on an already bound socket (systemd socket activation).
  Status listenFd(int fd);
  std::vector<std::string> boundAddresses() const;

  // Stops accepting. Idle keep-alive connections close now; busy ones close after their current response;
  // ones accepted but with no request yet may send one within a short grace (Connection::drain).
  // `done` runs once every connection is closed, always from its own loop callback (never inside this
  // call), so it may destroy the Server; it does not run if the Server is destroyed first.
  void shutdown(std::function<void()> done);
  // Closes every listener and connection at once.
  void closeAll();

  // Peers not held to max_connections_per_address (a reverse proxy speaks for many clients); replaces the
  // previous list.
  void setUncappedPeers(std::vector<Cidr> ranges);
  // max_connections after the clamp to the open-file limit.
  size_t maxConnections() const;
  size_t connectionCount() const;
  size_t inFlightCount() const;  // requests handed to the handler and not yet answered

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  friend class Connection;
};

}  // namespace payhook::http
