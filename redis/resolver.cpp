#include "redis/resolver.h"

#include <netinet/in.h>

#include <netdb.h>

#include <algorithm>
#include <utility>

namespace payhook::redis {

bool isNumericIp(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return uv_inet_pton(AF_INET, host.c_str(), buf) == 0 || uv_inet_pton(AF_INET6, host.c_str(), buf) == 0;
}

// Owned by libuv until its callback, which always runs (with UV_ECANCELED after a cancel).
struct Resolver::Request {
  uv_getaddrinfo_t req{};
  Resolver* owner = nullptr;  // cleared when the answer is no longer wanted
};

Resolver::~Resolver() {
  cancel();
}

std::string Resolver::resolve(const std::string& host, Done done) {
  cancel();
  auto* r = new Request{};
  r->owner = this;
  r->req.data = r;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(loop_, &r->req, &Resolver::onResolved, host.c_str(), nullptr, &hints);
  if (rc != 0) {
    delete r;
    return uv_strerror(rc);
  }
  request_ = r;
  done_ = std::move(done);
  return {};
}

void Resolver::cancel() {
  if (!request_) return;
  request_->owner = nullptr;
  uv_cancel(reinterpret_cast<uv_req_t*>(&request_->req));
  request_ = nullptr;
  done_ = nullptr;
}

void Resolver::onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
  auto* r = static_cast<Request*>(req->data);
  Resolver* self = r->owner;
  delete r;
  if (!self) {
    uv_freeaddrinfo(res);
    return;
  }
  self->request_ = nullptr;
  std::vector<std::string> addresses;
  for (addrinfo* ai = status == 0 ? res : nullptr; ai; ai = ai->ai_next) {
    char name[INET6_ADDRSTRLEN] = {};
    if (ai->ai_family == AF_INET)
      uv_ip4_name(reinterpret_cast<sockaddr_in*>(ai->ai_addr), name, sizeof(name));
    else if (ai->ai_family == AF_INET6)
      uv_ip6_name(reinterpret_cast<sockaddr_in6*>(ai->ai_addr), name, sizeof(name));
    else
      continue;
    if (std::find(addresses.begin(), addresses.end(), name) == addresses.end()) addresses.emplace_back(name);
  }
  uv_freeaddrinfo(res);
  std::string error;
  if (addresses.empty()) error = status != 0 ? uv_strerror(status) : "no IPv4 or IPv6 address";
  auto done = std::move(self->done_);
  self->done_ = nullptr;
  done(std::move(addresses), std::move(error));
}

}  // namespace payhook::redis
