#include "handlers/listing.h"

#include <array>
#include <string>

namespace payhook::handlers {
namespace {

using Json = nlohmann::json;

struct ProviderFields {
  std::string_view provider;
  std::array<const char*, 5> keys;    // JSON pointers into data, the most telling first
  std::array<const char*, 2> status;  // joined with '/' when both are there
};

// The providers' values an operator is told on the phone: the shop's order number and the provider's own
// payment ids (README "Finding a payment").
constexpr ProviderFields kFields[] = {
    {"yoomoney", {"/unsigned/order_number", "/invoice_id", nullptr}, {"/action", nullptr}},
    {"rbs", {"/order_number", "/md_order", nullptr}, {"/operation", "/status"}},
    {"integra", {"/transaction_id", nullptr, nullptr}, {nullptr, nullptr}},
    {"payinpayout", {"/external_id", "/payment_in_id", "/payment_out_id"}, {"/status", "/payment_in_status"}},
    {"allpay", {"/invoice_number", "/transaction_id", nullptr}, {"/status", nullptr}},
    {"standard-webhooks", {"/webhook_id", nullptr, nullptr}, {nullptr, nullptr}},
    {"cloudpayments",
     {"/invoice_id", "/transaction_id", "/payment_transaction_id", "/account_id", "/id"},
     {"/status", "/reason"}},
    {"robokassa", {"/inv_id", nullptr, nullptr}, {nullptr, nullptr}},
    {"tbank", {"/order_id", "/payment_id", nullptr}, {"/status", nullptr}},
    {"yookassa", {"/object/metadata/order_id", "/id", "/object/payment_id"}, {"/event", nullptr}},
};

// A string member as it is; a number as its decimal text; anything else (absent, null, an object) empty.
std::string textAt(const Json& data, const char* pointer) {
  if (!pointer || !data.is_object()) return {};
  const Json::json_pointer ptr(pointer);
  if (!data.contains(ptr)) return {};
  const Json& v = data.at(ptr);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  return {};
}

EventListing fieldsOf(std::string_view provider, const Json& data) {
  EventListing l;
  for (const auto& f : kFields) {
    if (f.provider != provider) continue;
    for (const char* k : f.keys)
      if (std::string v = textAt(data, k); !v.empty()) l.keys.push_back(std::move(v));
    for (const char* s : f.status) {
      std::string v = textAt(data, s);
      if (v.empty()) continue;
      if (!l.status.empty()) l.status += '/';
      l.status += v;
    }
  }
  return l;
}

}  // namespace

EventListing listingOf(std::string_view provider, const Json& data) {
  EventListing l = fieldsOf(provider, data);
  if (data.is_object())
    if (auto p = data.find("payment"); p != data.end() && p->is_object()) {
      l.amount = textAt(*p, "/amount");
      l.currency = textAt(*p, "/currency");
      l.outcome = textAt(*p, "/outcome");
    }
  return l;
}

EventListing listingOf(std::string_view provider, const Json& data, const Payment& payment) {
  EventListing l = fieldsOf(provider, data);
  l.amount = payment.amount.value_or("");
  l.currency = payment.currency.value_or("");
  l.outcome = outcomeName(payment.outcome);
  return l;
}

}  // namespace payhook::handlers
