// The admin listener's requests: liveness and readiness probes. (Metrics and the operator API grow here.)
#pragma once

#include <functional>

#include "common/http_message.h"
#include "daemon/http/server.h"

namespace payhook::daemon {

class Admin {
 public:
  // `ready` answers whether the daemon can store callbacks now (Redis reachable, config loaded, not
  // stopping).
  explicit Admin(std::function<bool()> ready) : ready_(std::move(ready)) {}

  void handle(http::Request&& request, http::Responder responder) const;

 private:
  std::function<bool()> ready_;
};

}  // namespace payhook::daemon
