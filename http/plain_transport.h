// PlainTransport: HTTP/1.1 over plain TCP for the Client's http:// requests, on the Client's loop, with
// llhttp reading the answers (ResponseDecoder). Private to the http layer; Client routes to it.
//
// libcurl re-arms its socket watches for every transfer and polls a reused connection for liveness before
// each one; here a connection is read from its connect until its close, so an idle connection costs no
// system call and a peer's close of one is seen (and the connection dropped) at once.
//
// Pool: connections are kept per host:port and reused last-in first-out (the warmest one first). A request
// takes an idle connection, else opens one while the host has fewer than max_host_connections (0: no
// limit), else waits first-in first-out. A connection that answered with keep-alive goes to a waiting
// request of its host, else back idle, unless max_idle_connections are idle already (then it is closed).
// One idle for longer than curl's default maximum age (118 s) is closed when it would be picked. A request
// that fails on a reused connection before any byte of an answer (the peer closed it as we sent) is sent
// once more on a new connection, as curl does.
//
// Names resolve through uv_getaddrinfo (the libuv thread pool) once per host for 60 s, curl's default DNS
// cache time; IP literals need no lookup. Addresses are tried in the order the resolver gives them.
//
// Completion: every `done` runs on the loop, never inside send(), cancel() or shutdown(): failures found
// there go through the Defer the Client passes in, which runs them on a later loop turn. From libuv's
// callbacks the dones run last, after the pool is consistent, so one may send again or destroy the Client.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "http/client.h"

namespace payhook::http {

class PlainTransport {
 public:
  using Defer = std::function<void(Client::Done, ClientResponse)>;

  PlainTransport(uv_loop_t* loop, const ClientOptions& options, Defer defer);
  // Same as shutdown().
  ~PlainTransport();
  PlainTransport(const PlainTransport&) = delete;
  PlainTransport& operator=(const PlainTransport&) = delete;

  // Whether this transport takes `url`: http:// with a host name or IP literal, an optional port and a
  // path of visible ASCII. Anything else (https, user information, unusual bytes) stays with libcurl, which
  // keeps its behaviour for those (user information becomes basic authentication there).
  static bool accepts(std::string_view url);

  // The request's method, url and headers are already checked by the Client; `url` passed accepts().
  void send(uint64_t id, ClientRequest&& request, Client::Done done, uint64_t start_ns);
  bool cancel(uint64_t id);
  // Fails every request with "client shut down" and closes every handle. Idempotent.
  void shutdown();
  size_t inFlight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace payhook::http
