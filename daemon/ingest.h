// Ingest: the hot path of one callback. Route it, check its source, let its handler verify it, store it,
// and only then answer the provider in its own format.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/result.h"
#include "common/secret.h"
#include "config/config.h"
#include "daemon/refusal_log.h"
#include "delivery/envelope.h"
#include "handlers/handler.h"
#include "http/router.h"
#include "http/server.h"
#include "queue/event_store.h"

namespace payhook::http {
class Client;
}  // namespace payhook::http

namespace payhook::daemon {

// Where a Decide flow asks for the shop's decision: the route's `decision` target, resolved when the route
// table is built so a reload swaps it with the routes.
struct DecisionTarget {
  std::string name;
  std::string url;
  delivery::SigningKeys keys;
  std::vector<http::Header> headers;
  uint64_t timeout_ms = 5'000;  // the route's decision_timeout
};

// The route's counters, resolved once per route table (metrics::Family::with() looks up by strings).
struct RouteMetrics {
  metrics::Counter* stored = nullptr;
  metrics::Counter* duplicate = nullptr;
  metrics::Counter* unavailable = nullptr;
  metrics::Histogram* latency = nullptr;
};

struct RouteEntry {
  std::string name;
  std::string provider;
  std::vector<Cidr> allow;                 // empty: any source
  queue::StoreSpec spec;                   // targets and idempotency TTL
  std::optional<DecisionTarget> decision;  // set when the route names a `decision` target
  std::unique_ptr<handlers::Handler> handler;
  // Filled by Ingest on the loop the first time the route serves a request (with metrics set).
  mutable std::optional<RouteMetrics> metrics;
};

// The ingest metrics families (names in docs/operations.md); they live in the App's registry.
struct IngestMetrics {
  metrics::Family<metrics::Counter>* callbacks = nullptr;  // route, provider, outcome
  metrics::Family<metrics::Histogram>* latency = nullptr;  // route
};

// Every route's endpoints, mounted in one router. Immutable once built, so a reload swaps it whole.
class RouteTable {
 public:
  // Errors are "FILE:LINE: key: message".
  static Result<std::shared_ptr<const RouteTable>> build(const config::Config& config,
                                                         std::vector<std::string>* errors);

  struct Mount {
    std::shared_ptr<const RouteEntry> route;
    size_t endpoint = 0;
  };
  const http::Router& router() const { return router_; }
  const Mount& mount(size_t i) const { return mounts_[i]; }
  size_t routeCount() const { return routes_; }

 private:
  http::Router router_;
  std::vector<Mount> mounts_;
  size_t routes_ = 0;
};

struct IngestOptions {
  std::vector<Cidr> trusted_proxies;
  bool trust_unix_peers = false;  // trusted_proxies lists "unix"
};

class Ingest {
 public:
  Ingest(queue::EventStore& store, const Clock& clock, IngestOptions options);

  void setRoutes(std::shared_ptr<const RouteTable> routes) { routes_ = std::move(routes); }
  void setTrustedProxies(std::vector<Cidr> proxies, bool trust_unix_peers) {
    options_.trusted_proxies = std::move(proxies);
    options_.trust_unix_peers = trust_unix_peers;
  }
  // The client that asks decision targets (Decide flows); without one a Decide verdict is answered with the
  // handler's unavailable(). It must outlive every request in flight, or be shut down first (its failures
  // then refuse the pending decisions).
  void setClient(http::Client* client) { client_ = client; }
  // Counts every routed callback by outcome and times it; null: no metrics.
  void setMetrics(const IngestMetrics* metrics) { metrics_ = metrics; }
  // How many refusals are logged per route ([log] refusals_per_second, refusal_burst).
  void setRefusalLimits(RefusalLog::Limits limits) { refusal_log_.setLimits(limits); }
  // One line per route whose refusals were not all logged since the last call; the App calls it every
  // RefusalLog interval and at the end.
  void logRefusalSummaries();

  // Handles one request from the main listener; answers through `responder` exactly once.
  void handle(http::Request&& request, http::Responder responder);

  // The client address after X-Forwarded-For from trusted proxies is applied.
  std::string clientAddress(const http::Request& request) const;

 private:
  queue::EventStore& store_;
  const Clock& clock_;
  IngestOptions options_;
  std::shared_ptr<const RouteTable> routes_;
  http::Client* client_ = nullptr;
  const IngestMetrics* metrics_ = nullptr;
  mutable RefusalLog refusal_log_;  // refuse() is const: logging is no change to what Ingest does

  const RouteMetrics* routeMetrics(const RouteEntry& route) const;
  // One callback of `route` answered: counted under `outcome`, timed from `start` (uv_hrtime).
  void count(const RouteEntry& route, std::string_view outcome, uint64_t start) const;

  // Logs, counts and sends a handler's refusal.
  void refuse(const RouteEntry& route, handlers::Reject reject, const http::Responder& responder,
              uint64_t start) const;
  // Stores an accepted event and answers `ack` once it is stored, or the handler's unavailable() otherwise.
  void storeAndAck(const Event& event, const std::shared_ptr<const RouteEntry>& route, http::Response ack,
                   http::Responder responder, uint64_t start);
  // The answer to a stored (or duplicate) event, or the provider's "try again later", counted and logged.
  void answerStored(const RouteEntry& route, const queue::StoreResult& result, const std::string& type,
                    http::Response ack, const http::Responder& responder, uint64_t start) const;
  // An Accept with unless_stored: acknowledged only when the route already holds its idempotency key.
  void ackIfStored(const std::shared_ptr<const RouteEntry>& route, handlers::Accept accept,
                   http::Responder responder, uint64_t start);

  // Decide flow: ask the route's decision target, store the event with the decision (for audit only, or,
  // with `deliver` (handlers::Decide), like an accepted callback with its delivery jobs), then answer with
  // handler.decided(); a store failure answers unavailable(). An audit-only decision is asked once per
  // idempotency key: a repeat is answered from the decision the stored event recorded.
  void decide(std::shared_ptr<Event> event, std::shared_ptr<const RouteEntry> route,
              http::Responder responder, uint64_t start, bool deliver);
  void ask(std::shared_ptr<Event> event, std::shared_ptr<const RouteEntry> route, http::Responder responder,
           uint64_t start, bool deliver);
};

}  // namespace payhook::daemon
