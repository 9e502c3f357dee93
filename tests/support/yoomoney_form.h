// YooMoney's HTTP protocol for tests: a checkOrder or paymentAviso form as YooMoney sends it,
// signed with the shop password of YooMoney's published test vector, and its urlencoded body.
#pragma once

#include <cctype>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "handlers/digest.h"

namespace payhook::testing::yoomoney {

constexpr const char* kPassword = "s<kY23653f,{9fcnshwq";

using Fields = std::vector<std::pair<std::string, std::string>>;

inline std::string get(const Fields& f, const std::string& name) {
  for (const auto& [k, v] : f)
    if (k == name) return v;
  return {};
}

inline void set(Fields* f, const std::string& name, const std::string& value) {
  for (auto& [k, v] : *f)
    if (k == name) {
      v = value;
      return;
    }
  f->emplace_back(name, value);
}

// The md5 over the signed fields and the shop password, upper-case hex, as YooMoney computes it.
inline void sign(Fields* f, const std::string& password = kPassword) {
  std::string text;
  for (const char* n : {"action", "orderSumAmount", "orderSumCurrencyPaycash", "orderSumBankPaycash",
                        "shopId", "invoiceId", "customerNumber"})
    text += get(*f, n) + ";";
  set(f, "md5", handlers::md5Hex(text + password, handlers::HexCase::kUpper));
}

// The published vector's fields (shopId 13, invoice 55 by default), md5 left empty.
inline Fields vectorForm(const std::string& action, const std::string& invoice_id = "55") {
  return {{"requestDatetime", "2011-05-04T20:38:00.000+04:00"},
          {"action", action},
          {"md5", ""},
          {"shopId", "13"},
          {"shopArticleId", "456"},
          {"invoiceId", invoice_id},
          {"customerNumber", "8123294469"},
          {"orderCreatedDatetime", "2011-05-04T20:38:00.000+04:00"},
          {"orderSumAmount", "87.10"},
          {"orderSumCurrencyPaycash", "643"},
          {"orderSumBankPaycash", "1001"},
          {"shopSumAmount", "86.23"},
          {"shopSumCurrencyPaycash", "643"},
          {"shopSumBankPaycash", "1001"},
          {"paymentPayerCode", "42007148320"},
          {"paymentType", "AC"}};
}

// A signed request, with one custom field from the shop's payment form.
inline Fields request(const std::string& action, const std::string& invoice_id = "55") {
  Fields f = vectorForm(action, invoice_id);
  f.emplace_back("cps_email", "user@example.com");
  if (action == "paymentAviso") f.emplace_back("paymentDatetime", "2011-05-04T20:38:10.000+04:00");
  sign(&f);
  return f;
}

// Percent-encodes every byte but A-Za-z0-9 and "-._~".
inline std::string encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

inline std::string formBody(const Fields& f) {
  std::string body;
  for (const auto& [k, v] : f) body += (body.empty() ? "" : "&") + encode(k) + "=" + encode(v);
  return body;
}

}  // namespace payhook::testing::yoomoney
