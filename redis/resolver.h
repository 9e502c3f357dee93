// A host name to its addresses, resolved on libuv's thread pool: getaddrinfo can block for seconds, and
// nothing may block the loop.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <vector>

namespace payhook::redis {

// An IPv4 or IPv6 address written as such: nothing to resolve.
bool isNumericIp(const std::string& host);

class Resolver {
 public:
  // The distinct IPv4 and IPv6 addresses, in the resolver's order; empty with the reason in `error`.
  using Done = std::function<void(std::vector<std::string> addresses, std::string error)>;

  explicit Resolver(uv_loop_t* loop) : loop_(loop) {}
  // Cancels a lookup in flight.
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // One lookup at a time. `done` runs once, on the loop, unless cancel() comes first. Empty, or why the
  // lookup could not start (then `done` never runs).
  std::string resolve(const std::string& host, Done done);
  // The answer of the lookup in flight, if any, is dropped.
  void cancel();

 private:
  struct Request;
  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept;

  uv_loop_t* loop_;
  Request* request_ = nullptr;
  Done done_;
};

}  // namespace payhook::redis
