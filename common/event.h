// Event: one verified (or audited) provider callback, as stored in Redis and forwarded to apps.
#pragma once

#include <cstdint>
#include <string>

namespace payhook {

struct RawRequest {
  std::string method;
  std::string path;
  std::string query;
  std::string content_type;
  std::string body;
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
};

}  // namespace payhook
