// The admin listener's requests: liveness and readiness probes, and Prometheus metrics.
#pragma once

#include <functional>
#include <string>

#include "common/http_message.h"
#include "http/server.h"

namespace payhook::daemon {

class Admin {
 public:
  // `not_ready` says why the daemon cannot store callbacks now (Redis unreachable or refusing writes,
  // stopping), or nothing when it can. `metrics` renders the Prometheus text exposition.
  Admin(std::function<std::string()> not_ready, std::function<std::string()> metrics)
      : not_ready_(std::move(not_ready)), metrics_(std::move(metrics)) {}

  void handle(http::Request&& request, http::Responder responder) const;

 private:
  std::function<std::string()> not_ready_;
  std::function<std::string()> metrics_;
};

}  // namespace payhook::daemon
