// The `rbs` route's own keys (README "Configuration").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.h"
#include "config/config.h"
#include "handlers/status_source.h"

namespace payhook::handlers::rbs {

struct Settings final : config::ProviderSettings {
  std::string checksum;        // "hmac-sha256", "rsa" or "none"
  std::vector<Secret> secret;  // hmac-sha256: the tokens, several during rotation
  std::string public_key;      // rsa: PEM keys or certificates
  std::string rsa_hash = "sha512";
  std::vector<std::string> own_params;  // parameters the shop put in its callback URL (never signed)
  std::string currency = "RUB";         // ISO 4217 letters, when the callback carries no `currency`
  // getOrderStatusExtended.do for expected orders (README "Expected payments"); empty api_base: none.
  std::string api_base;
  std::string api_user;
  Secret api_password;  // with api_user
  Secret api_token;     // instead of api_user and api_password
  PollSettings poll;
};

// The parameters the gateway documents for its callbacks, all signed, then the two that carry the checksum.
// A route's `own_params` may not name any of them; the handler refuses a ';' in the values of the signed
// ones (the first kSignedParamCount).
inline constexpr std::string_view kBankParams[] = {
    "mdOrder",         "orderNumber",    "operation",    "status",     "amount",
    "currency",        "approvalCode",   "bindingId",    "clientId",   "maskedPan",
    "depositedAmount", "refundedAmount", "paymentState", "actionCode", "callbackCreationDate",
    "checksum",        "sign_alias"};
inline constexpr size_t kSignedParamCount = 15;
static_assert(kBankParams[kSignedParamCount] == "checksum");

config::ProviderConfig providerConfig();

}  // namespace payhook::handlers::rbs
