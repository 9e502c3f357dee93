// The engine's private tables, shared by engine.cpp (claims, sweeps, finishing) and attempt.cpp (one
// attempt from its request to its answer).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "delivery/engine.h"
#include "delivery/envelope.h"
#include "handlers/provider.h"
#include "uv/subprocess.h"

namespace payhook::delivery {

struct Engine::Target {
  std::string url;  // empty for a follow-up pseudo-target: the URL comes from each job's decision
  SigningKeys keys;
  uint64_t timeout_ms = 10'000;
  size_t max_in_flight = 64;
  std::vector<http::Header> headers;
  BreakerOptions breaker;
  std::string api_route;  // set for "@<route>": the route whose follow-up or re-check calls this is
};

struct Engine::RouteInfo {
  RetryPolicy policy;
  // A follow-up: the target whose 2xx answer is the shop's decision, and the pseudo-target that carries it
  // out. All set, or all empty (the route's shop decides before the provider is answered, or not at all).
  std::string decision_target;
  std::string api_target;
  std::shared_ptr<const handlers::FollowUp> follow_up;
  uv::SubprocessOptions program;  // follow_up->program(), when it has one
  // A re-check (handlers::Recheck): its jobs run on api_target, and its confirmation queues `forward`.
  std::shared_ptr<const handlers::Recheck> recheck;
  std::vector<std::string> forward;
  std::string status_type;  // the events the route's status source emits; empty: it has none
};

// A snapshot of the config the engine needs; replaced whole on reload, so an attempt in flight keeps the
// one it started with.
struct Engine::Tables {
  std::map<std::string, Target> targets;
  std::map<std::string, RouteInfo> routes;
};

// The metric label of an attempt's outcome.
inline const char* kindName(NextStep::Kind k) {
  switch (k) {
    case NextStep::Kind::kDelivered:
      return "delivered";
    case NextStep::Kind::kRetry:
      return "retry";
    case NextStep::Kind::kDead:
      return "dead";
  }
  return "?";
}

}  // namespace payhook::delivery
