// The `tbank` route handler: T-Bank (Tinkoff) internet acquiring's HTTP notifications (README "T-Bank").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "config/config.h"
#include "handlers/handler.h"
#include "handlers/provider.h"
#include "handlers/tbank/notification.h"
#include "handlers/tbank/settings.h"

namespace payhook::handlers {

// `POST {path}/notify`, a JSON object whose Token (tbank::token(), nulls either way) is checked with the
// terminal's password in constant time, in any letter case, and whose TerminalKey must be the route's
// terminal_key. Answers `200 OK` (text/plain) once stored, also for a repeat; `403 bad token` for a missing
// or wrong Token or another terminal's notification; `400` for a body that is not a JSON object, repeats a
// key, nests too deep, has a field named Password, or has no usable Status and neither PaymentId nor
// NotificationType. Nothing is stored for a refusal.
//
// A payment notification (with PaymentId): type "tbank.<status in lower case>" (tbank.confirmed, ...),
// idempotency key "payment:<PaymentId>:<Status>", and for PARTIAL_REFUNDED also ":<Amount>", since one
// payment may be refunded in part more than once. Any other notification (NotificationType LINKCARD, ...):
// type "tbank.<type>.<status>" in lower case, key "notice:<Token>" (the Token hashes the whole signed
// content, so T-Bank's hourly repeats share it). Data: the top-level scalars under snake_case names
// (TerminalKey → terminal_key), numbers as the body writes them but as strings, booleans as booleans;
// nested objects and arrays (DATA, Receipt), which the Token does not cover, under "unsigned", and so are
// null fields unless the Token covered them as "null" (tbank::Nulls). The Token is
// blanked in the stored body (see Handler::storedBody).
class TBankHandler final : public Handler {
 public:
  TBankHandler(std::string route, std::string terminal_key, Secret password);

  std::vector<Endpoint> endpoints() const override;
  Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const override;
  std::string storedBody(std::string&& body) const override;

 private:
  std::string route_;
  std::string terminal_key_;
  Secret password_;
};

// Builds the handler from a route's `terminal_key` and `password_file`. Errors are "key: message".
Result<std::unique_ptr<Handler>> makeTBankHandler(const config::RouteConfig& route);

namespace tbank {
// The `tbank` provider: its keys and its handler.
Provider provider();
// "TerminalKey" → "terminal_key", "DATA" → "data", "SpAccumulationId" → "sp_accumulation_id".
std::string snakeCase(std::string_view name);
}  // namespace tbank

}  // namespace payhook::handlers
