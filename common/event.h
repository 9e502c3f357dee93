// Event: one verified (or audited) provider callback, as stored in Redis and forwarded to apps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace payhook {

// What an operator reads and searches an event by (queue/operator.h): the provider's identifying values,
// the amount, the currency and the provider's own status, taken from the callback when it is stored.
struct EventListing {
  std::vector<std::string> keys;  // the order number and the provider's ids, the most telling first
  std::string amount;             // major units as the provider wrote them; empty when not given
  std::string currency;           // ISO 4217 letters; empty when not known
  std::string status;             // the provider's status or operation, e.g. "deposited/1"
  std::string outcome;            // data.payment.outcome; empty for events without a payment
};

struct RawRequest {
  std::string method;
  std::string path;
  std::string query;
  std::string content_type;
  std::string body;
};

// The expected order an event speaks of (README "Expected payments"). The store script reads it to close the
// order's expectation in the same step, and to hold back the second event of one order and state when the
// two came from different sources. Not stored with the event.
struct OrderRef {
  std::vector<std::string> keys;  // the ids the order may have been registered by; empty: none
  std::string state;            // the state reported (payment outcome: "succeeded", "held", ...); empty: none
  bool final = false;           // nothing after it is waited for: the expectation is closed
  bool reconciliation = false;  // found by asking the provider's status API, not sent by the provider
  // A claim until the provider's API confirms it (a re-check): when stored it is only held back when
  // reconciliation reported the state first; the confirmation marks and closes the expectation.
  bool confirm_first = false;
};

struct Event {
  std::string id;               // UUIDv7, assigned on receipt
  std::string type;             // "<provider>.<kind>", as the handler names it
  std::string route;            // route name from the config
  std::string provider;         // the route's provider name
  int64_t received_at_ms = 0;   // Unix milliseconds
  bool verified = false;        // signature checked and valid
  std::string data_json;        // normalised fields, a JSON object
  std::string idempotency_key;  // provider's own key; unique per route
  RawRequest raw;
  EventListing listing;
  OrderRef order;
};

}  // namespace payhook
