// Integra's asynchronous Decide flow (README "Integra's decision"): the shop's decision target answers the
// delivered notify event with {"accept": true} or {"accept": false, "code": N, "message": "..."}, and payhook
// carries the decision out as a GET to Integra's API (confirmPayment or declinePayment), retried like any
// delivery; a 2xx answer that is no clear decision is the route's default refusal. Pure functions: the
// delivery engine does the I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace payhook::handlers::integra {

// The route's safe refusal (decline_code, decline_message): what declinePayment carries when the shop's
// 2xx answer is no clear decision, or a refusal without its code or message.
struct DeclineDefaults {
  int64_t code = 1;
  std::string message = "declined by the shop";
};

// What the shop decided, read from the 2xx body of its decision target. Every 2xx is a decision: anything
// but {"accept": true} or a complete {"accept": false, "code": N, "message": "..."} is (completed into) the
// route's default refusal, with `defaulted` set and the reason kept.
struct ShopDecision {
  enum class Kind { kAccept, kDecline };
  Kind kind = Kind::kDecline;
  int64_t code = 0;     // decline: the errorCode sent to Integra
  std::string message;  // decline: the errorMessage
  bool defaulted = false;
  std::string reason;  // defaulted: what the answer lacked
  // decline: the scalar values (strings, numbers, booleans) of the answer's "params" object, sent as
  // declinePayment's optional parameters; never transactionId, errorCode or errorMessage.
  nlohmann::json params = nlohmann::json::object();
  std::vector<std::string> ignored;  // what of "params" was not used, and why: for a log line
};

ShopDecision parseShopDecision(std::string_view body, const DeclineDefaults& defaults);

// The JSON kept on the event as its `decision` field, and read back when the API job runs:
// {"accept":true|false,"code":N,"message":"...",["params":{...}],["defaulted":true,"reason":"..."],
//  "status":<decision target's HTTP status>,"at":<ms>}.
std::string decisionJson(const ShopDecision& d, int status, int64_t at_ms);

// Integra's `k` parameter is encrypt(json) with a scheme Integra gives partners privately ("SimpleCrypt");
// its public example is plain base64. payhook builds in only that (crypt = "base64"); the real scheme is the
// partner's own encryptor, which the delivery engine runs as a command (crypt_command) and feeds to apiUrl().
class Crypt {
 public:
  virtual ~Crypt() = default;
  virtual std::string encrypt(std::string_view json) const = 0;
};

// Base64 (RFC 4648, with padding) of the JSON, as in Integra's public example. Not encryption.
class Base64Crypt final : public Crypt {
 public:
  std::string encrypt(std::string_view json) const override;
};

struct ApiCall {
  std::string method;  // "confirmPayment" or "declinePayment"
  std::string json;    // what is encrypted into `k`
  std::string user;    // the user hash, as stored (checked: integra::userHash())
  std::string url;     // {api_base}/{method}?k=zaa<urlencoded(user hash)><urlencoded(encrypt(json))>
};

// The call that carries out `decision_json` (decisionJson()) for the stored notify event's data
// (transaction_id, amount, user), without its URL: what is to be encrypted. An error when the decision is
// not accept/decline or the data lacks a field: nothing can be sent then.
Result<ApiCall> apiRequest(std::string_view decision_json, std::string_view data_json);

// The call's URL once its JSON is encrypted: both the user hash and `encrypted` are percent-encoded the way
// PHP's urlencode() writes them.
std::string apiUrl(std::string_view api_base, const ApiCall& call, std::string_view encrypted);

// apiRequest() and apiUrl() with a cipher that needs no I/O.
Result<ApiCall> apiCall(std::string_view api_base, const Crypt& crypt, std::string_view decision_json,
                        std::string_view data_json);

// Integra's answer: success is HTTP 2xx with {"status":{"code":0,...},"error":false,...}. Anything else is
// a failure, described in the returned text (Integra's own message when it gave one).
std::optional<std::string> apiFailure(int status, std::string_view body);

}  // namespace payhook::handlers::integra
