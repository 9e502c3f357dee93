// Outbound HTTP client on the daemon's libuv loop. http:// requests go over a lean HTTP/1.1 transport of
// its own (plain_transport.h: a keep-alive pool per host, llhttp for the answers, names resolved in libuv's
// thread pool); https:// ones, and http:// URLs with user information, over libcurl's multi-socket API with
// its connection cache, DNS on curl's resolver threads. Either way nothing blocks the loop. It knows
// nothing of payments: callers give bytes and get bytes back.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_message.h"

namespace payhook::http {

struct ClientRequest {
  std::string method = "POST";
  std::string url;  // http:// or https:// only; redirects are never followed
  std::vector<Header> headers;
  std::string body;
  uint64_t timeout_ms = 10'000;  // the whole exchange: resolve, connect, TLS, send, receive
};

struct ClientResponse {
  int status = 0;               // 0: transport error (see `error`); otherwise the HTTP status
  std::string error;            // why status is 0, or that the body was cut short; never secret material
  std::vector<Header> headers;  // lower-case names, of the final response only
  std::string body;             // at most ClientOptions::max_response_body bytes
  bool truncated = false;       // the body was longer than the cap: the rest was not read
  double latency_ms = 0;        // from send() to completion

  const std::string* header(std::string_view name) const {
    for (const auto& h : headers)
      if (h.name == name) return &h.value;
    return nullptr;
  }
};

struct ClientOptions {
  size_t max_response_body = 64 * 1024;
  long max_host_connections = 0;  // per host:port; 0: no limit (requests beyond it wait for a connection)
  // Idle connections kept for reuse, all hosts together. libcurl's default (4 × the transfers running now)
  // shrinks between bursts and closes connections a moment later needed again: each costs a handshake and a
  // TIME_WAIT port. Size it to the sum of the targets' max_in_flight.
  long max_idle_connections = 256;
  std::string user_agent;  // empty: "payhook/<version>"
  std::string ca_file;     // empty: the system's default CA bundle (verification is always on)
  // http:// over the lean transport; false: every URL over libcurl (to compare the two, or to fall back).
  bool lean_http = true;
};

class Client {
 public:
  using Done = std::function<void(ClientResponse)>;

  // `loop` must outlive the Client and run until shutdown() has let every handle close.
  Client(uv_loop_t* loop, ClientOptions options = {});
  // Same as shutdown(): pending requests still get their failure on a later loop turn.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // True when libcurl resolves names off the calling thread (CURL_VERSION_ASYNCHDNS). Without it a DNS
  // lookup would block the loop, so the daemon refuses to start.
  static bool asyncDnsAvailable();

  // Starts one request. `done` runs exactly once, on the loop, never inside send() (not even for a request
  // refused at once, or after shutdown()). The returned id is never 0 and is only good for cancel().
  uint64_t send(ClientRequest request, Done done);

  // Abandons a request: its `done` runs on a later loop turn with status 0 and error "cancelled".
  // False when the id is unknown or already finished.
  bool cancel(uint64_t id);

  // Fails every pending request (status 0, "client shut down", on a later loop turn) and closes every
  // connection and handle, so the loop can end. Later send() calls fail the same way. Idempotent.
  void shutdown();

  size_t inFlight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace payhook::http
