#include "handlers/integra/api.h"

#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "handlers/form.h"
#include "handlers/integra/integra.h"

namespace payhook::handlers::integra {
namespace {

using nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The parameters of declinePayment that the call itself is made of.
bool reservedParam(const std::string& name) {
  return name == "transactionId" || name == "errorCode" || name == "errorMessage";
}

// Reads a JSON text; a discarded value (not an object) on malformed input.
json parseObject(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  return j.is_object() ? j : json();
}

}  // namespace

ShopDecision parseShopDecision(std::string_view body, const DeclineDefaults& defaults) {
  ShopDecision d;
  auto refuse = [&](std::string reason) {
    d.kind = ShopDecision::Kind::kDecline;
    d.code = defaults.code;
    d.message = defaults.message;
    d.defaulted = true;
    d.reason = std::move(reason);
    return d;
  };
  json j = parseObject(body);
  if (!j.is_object()) return refuse("the answer is not a JSON object");
  auto accept = j.find("accept");
  if (accept == j.end() || !accept->is_boolean()) return refuse("the answer has no boolean \"accept\"");
  auto params = j.find("params");
  if (accept->get<bool>()) {
    d.kind = ShopDecision::Kind::kAccept;
    if (params != j.end()) d.ignored.push_back("params: confirmPayment takes none");
    return d;
  }
  d.kind = ShopDecision::Kind::kDecline;
  if (params != j.end() && !params->is_object()) {
    d.ignored.push_back("params: not an object");
  } else if (params != j.end()) {
    for (const auto& [name, value] : params->items()) {
      if (reservedParam(name)) {
        d.ignored.push_back("params." + name + ": set by payhook, not by params");
      } else if (!value.is_string() && !value.is_number() && !value.is_boolean()) {
        d.ignored.push_back("params." + name + ": not a string, number or boolean");
      } else {
        d.params[name] = value;
      }
    }
  }
  auto code = j.find("code");
  const bool has_code = code != j.end() && code->is_number_integer();
  auto msg = j.find("message");
  const bool has_message = msg != j.end() && msg->is_string() && !msg->get_ref<const std::string&>().empty();
  d.code = has_code ? code->get<int64_t>() : defaults.code;
  d.message = has_message ? msg->get<std::string>() : defaults.message;
  if (!has_code || !has_message) {
    d.defaulted = true;
    d.reason = !has_code && !has_message ? "the refusal has no integer \"code\" and no \"message\""
               : !has_code               ? "the refusal has no integer \"code\""
                                         : "the refusal has no \"message\"";
  }
  return d;
}

std::string decisionJson(const ShopDecision& d, int status, int64_t at_ms) {
  json j = json::object();
  switch (d.kind) {
    case ShopDecision::Kind::kAccept:
      j["accept"] = true;
      break;
    case ShopDecision::Kind::kDecline:
      j["accept"] = false;
      j["code"] = d.code;
      j["message"] = d.message;
      if (!d.params.empty()) j["params"] = d.params;
      break;
  }
  if (d.defaulted) {
    j["defaulted"] = true;
    j["reason"] = d.reason;
  }
  j["status"] = status;
  j["at"] = at_ms;
  return dump(j);
}

std::string Base64Crypt::encrypt(std::string_view text) const {
  if (sodium_init() < 0) return {};
  std::string out(sodium_base64_encoded_len(text.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

Result<ApiCall> apiRequest(std::string_view decision_json, std::string_view data_json) {
  json decision = parseObject(decision_json);
  json data = parseObject(data_json);
  if (!decision.is_object() || !decision.contains("accept") || !decision["accept"].is_boolean())
    return Error{"the event holds no accept/decline decision"};
  auto field = [&](const char* name) -> const std::string* {
    auto it = data.find(name);
    return it != data.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  const std::string* id = field("transaction_id");
  const std::string* amount = field("amount");
  const std::string* user = field("user");
  if (!id || !user) return Error{"the event lacks transaction_id or user"};
  // Checked at ingest already; the stored event is read back from Redis, so again before it goes into a URL.
  if (!userHash(*user)) return Error{"the event's user hash is malformed"};

  ApiCall call;
  json body = json::object();
  if (decision["accept"].get<bool>()) {
    if (!amount) return Error{"the event lacks amount"};
    call.method = "confirmPayment";
    body["amount"] = *amount;
    body["transactionId"] = *id;
  } else {
    call.method = "declinePayment";
    body["transactionId"] = *id;
    body["errorCode"] = decision.value("code", int64_t{0});
    body["errorMessage"] = decision.value("message", std::string());
    // Read back from Redis: checked again, so that nothing replaces what the call is made of.
    if (auto params = decision.find("params"); params != decision.end() && params->is_object()) {
      for (const auto& [name, value] : params->items())
        if (!reservedParam(name) && (value.is_string() || value.is_number() || value.is_boolean()))
          body[name] = value;
    }
  }
  call.json = dump(body);
  call.user = *user;
  return call;
}

std::string apiUrl(std::string_view api_base, const ApiCall& call, std::string_view encrypted) {
  std::string base(api_base);
  while (!base.empty() && base.back() == '/') base.pop_back();
  // The hash may hold base64's '+', '/' and '=': encoded like the rest, or '+' would reach PHP as a space.
  return base + "/" + call.method + "?k=zaa" + phpUrlencode(call.user) + phpUrlencode(encrypted);
}

Result<ApiCall> apiCall(std::string_view api_base, const Crypt& crypt, std::string_view decision_json,
                        std::string_view data_json) {
  auto call = apiRequest(decision_json, data_json);
  if (!call) return call;
  call->url = apiUrl(api_base, *call, crypt.encrypt(call->json));
  return call;
}

std::optional<std::string> apiFailure(int status, std::string_view body) {
  json j = parseObject(body);
  std::string message;
  if (j.is_object()) {
    if (auto st = j.find("status"); st != j.end() && st->is_object()) {
      if (auto m = st->find("message"); m != st->end() && m->is_string()) message = m->get<std::string>();
    }
  }
  if (status < 200 || status > 299) return "HTTP " + std::to_string(status);
  if (!j.is_object()) return std::string("the answer is not a JSON object");
  auto error = j.find("error");
  if (error == j.end() || !error->is_boolean()) return std::string("the answer has no boolean \"error\"");
  if (error->get<bool>())
    return "Integra refused: " + (message.empty() ? std::string("error=true") : message);
  auto st = j.find("status");
  if (st == j.end() || !st->is_object() || !st->contains("code") || !(*st)["code"].is_number_integer() ||
      (*st)["code"].get<int64_t>() != 0)
    return "Integra answered a non-zero status code" + (message.empty() ? std::string() : ": " + message);
  return std::nullopt;
}

}  // namespace payhook::handlers::integra
