// StatusSource: a provider's order-status API, asked about an expected order whose callback did not come by
// its deadline (README "Expected payments"). Pure like a handler: it builds the request and reads the
// answer; the delivery engine's reconciler sends it on the loop, with the route's retry policy and poll rate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/event.h"
#include "common/http_message.h"

namespace payhook::handlers {

// One status request. The credentials it carries are never logged or stored: the reconciler logs the
// order and the answer's status only.
struct StatusRequest {
  std::string method = "POST";
  std::string url;
  std::vector<http::Header> headers;
  std::string body;
};

struct StatusAnswer {
  enum class Kind {
    kFinal,    // a final state: `event` is emitted and closes the expectation
    kHeld,     // held (two-stage): `event` is emitted once, and the order is asked about again
    kPending,  // nothing final yet: asked again by the retry policy
    kFailed,   // no usable answer (HTTP error, the API's error code, garbage): asked again likewise
  };
  Kind kind = Kind::kFailed;
  std::string status;  // what an operator reads as the last status seen, e.g. "orderStatus 0 (created)"
  std::string error;   // kFailed: why, without secrets
  // kFinal and kHeld: the event, without id and received_at; `order` filled (reconciliation = true).
  Event event;
};

struct PollSettings {
  uint64_t rate = 5;                              // status requests per second, per route and process
  uint64_t hold_deadline_ms = 7ull * 86'400'000;  // a held order is asked about until this after its deadline
  uint64_t timeout_ms = 10'000;                   // one request
};

class StatusSource {
 public:
  virtual ~StatusSource() = default;
  // The type of the events it emits ("rbs.order_status"); only reconciliation emits it, so the delivery
  // envelope says "source": "reconciliation" for events of this type.
  virtual std::string eventType() const = 0;
  virtual const PollSettings& settings() const = 0;
  // Why `order` cannot be asked about (its registration is refused with this), or empty when it can. An
  // API that takes the order in its URL path refuses what would change the path.
  virtual std::string checkOrder(std::string_view /*order*/) const { return {}; }
  // The request for `order`, as registered (an id or number of the provider's).
  virtual StatusRequest request(std::string_view order) const = 0;
  // Reads the API's answer. `http_status` 0: no answer (error says why, already in the answer's error).
  virtual StatusAnswer answer(std::string_view route, std::string_view order, int http_status,
                              std::string_view body) const = 0;
};

}  // namespace payhook::handlers
