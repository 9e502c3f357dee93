// The admin listener's requests: liveness and readiness probes, and Prometheus metrics.
#pragma once

#include <functional>
#include <string>

#include "common/http_message.h"
#include "daemon/http/server.h"

namespace payhook::daemon {

class Admin {
 public:
  // `ready` answers whether the daemon can store callbacks now (Redis reachable, config loaded, not
  // stopping).
  // `metrics` renders the Prometheus text exposition.
  Admin(std::function<bool()> ready, std::function<std::string()> metrics)
      : ready_(std::move(ready)), metrics_(std::move(metrics)) {}

  void handle(http::Request&& request, http::Responder responder) const;

 private:
  std::function<bool()> ready_;
  std::function<std::string()> metrics_;
};

}  // namespace payhook::daemon
