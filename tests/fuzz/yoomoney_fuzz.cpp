// YooMoney: the route handler on fuzzed form bodies, decided() on the events it produces, and the XML
// attribute escaping on the whole input.
//
// Input: one flags byte, then the form body. Flag kAviso picks the aviso endpoint (check otherwise); flag
// kSign makes the driver append a valid md5 for the body's own fields (when it has them all and no md5),
// so the accepted paths are fuzzed too, not only the refusals a fuzzer cannot sign its way past.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <variant>

#include "common/http_message.h"
#include "handlers/digest.h"
#include "handlers/form.h"
#include "handlers/xml_text.h"
#include "handlers/yoomoney/yoomoney.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace h = payhook::handlers;

constexpr int64_t kNowMs = 1304527081000;
constexpr std::string_view kPassword = "s<kY23653f,{9fcnshwq";  // the provider's published test vector
constexpr std::string_view kXmlHead = R"(<?xml version="1.0" encoding="UTF-8"?>)";

enum Flags : uint8_t { kAviso = 1, kSign = 2 };

const h::YooMoneyHandler& handler() {
  static const h::YooMoneyHandler k("shop", "13", payhook::Secret(std::string(kPassword)));
  return k;
}

bool validUtf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

size_t count(std::string_view s, char c) {
  size_t n = 0;
  for (char x : s) n += x == c;
  return n;
}

// Every answer is one empty XML element with well-formed attributes: the only '<' are the declaration's
// and the element's, quotes pair up, and the bytes are UTF-8.
void checkAnswer(const payhook::http::Response& r, std::string_view element) {
  FUZZ_CHECK(r.status == 200);
  FUZZ_CHECK(r.content_type == "application/xml; charset=utf-8");
  FUZZ_CHECK(
      r.body.starts_with(std::string(kXmlHead) + "<" + std::string(element) + " performedDatetime=\""));
  FUZZ_CHECK(r.body.ends_with("\"/>"));
  FUZZ_CHECK(count(r.body, '<') == 2 && count(r.body, '>') == 2);
  FUZZ_CHECK(count(r.body, '"') % 2 == 0);
  FUZZ_CHECK(validUtf8(r.body));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = payhook::fuzz::asView(data, size);
  {
    const std::string escaped = h::xmlEscaped(input, 255);
    FUZZ_CHECK(escaped.find_first_of("<>\"'\t\n\r") == std::string::npos);
    FUZZ_CHECK(validUtf8(escaped));
  }
  if (input.empty()) return 0;
  const uint8_t flags = static_cast<uint8_t>(input[0]);
  std::string body(input.substr(1));
  const bool aviso = flags & kAviso;

  bool signed_by_driver = false;
  if (flags & kSign) {
    if (auto form = h::Form::parse(body); form && !form->has("md5")) {
      std::string text;
      bool all = true;
      for (const char* n : {"action", "orderSumAmount", "orderSumCurrencyPaycash", "orderSumBankPaycash",
                            "shopId", "invoiceId", "customerNumber"}) {
        const std::string* v = form->get(n);
        all = all && v != nullptr;
        if (v) text += *v + ";";
      }
      if (all) {
        body += "&md5=" + h::md5Hex(text + std::string(kPassword), h::HexCase::kLower);
        signed_by_driver = true;
      }
    }
  }

  payhook::http::Request request;
  request.method = "POST";
  request.path = aviso ? "/yoomoney/aviso" : "/yoomoney/check";
  request.headers.push_back({"content-type", "application/x-www-form-urlencoded"});
  request.body = body;
  const std::string_view element = aviso ? "paymentAvisoResponse" : "checkOrderResponse";
  const auto& hd = handler();
  const auto verdict =
      hd.handle(aviso ? h::YooMoneyHandler::kAviso : h::YooMoneyHandler::kCheck, request, kNowMs);

  const payhook::Event* event = nullptr;
  if (const auto* reject = std::get_if<h::Reject>(&verdict)) {
    checkAnswer(reject->reply, element);
    const bool code1 = reject->reply.body.find(" code=\"1\"") != std::string::npos;
    FUZZ_CHECK(code1 || reject->reply.body.find(" code=\"200\"") != std::string::npos);
    // Properly signed for this route's shop: an md5 refusal would be a verification bug.
    if (signed_by_driver && code1) {
      auto form = h::Form::parse(body);
      FUZZ_CHECK(form.ok());
      FUZZ_CHECK(*form->get("shopId") != "13");
    }
    FUZZ_CHECK(reject->reply.body.find(kPassword) == std::string::npos);
  } else if (const auto* accept = std::get_if<h::Accept>(&verdict)) {
    FUZZ_CHECK(aviso);
    checkAnswer(accept->ack, element);
    FUZZ_CHECK(accept->ack.body.find(" code=\"0\"") != std::string::npos);
    FUZZ_CHECK(accept->event.type == "yoomoney.payment_aviso");
    FUZZ_CHECK(accept->event.idempotency_key.starts_with("paymentAviso:"));
    event = &accept->event;
  } else {
    const auto& decide = std::get<h::Decide>(verdict);
    FUZZ_CHECK(!aviso);
    FUZZ_CHECK(decide.event.type == "yoomoney.check_order");
    FUZZ_CHECK(decide.event.idempotency_key.starts_with("checkOrder:"));
    event = &decide.event;
  }

  if (event != nullptr) {
    FUZZ_CHECK(event->verified && event->provider == "yoomoney" && event->route == "shop");
    // The data is stored and forwarded as JSON: it must parse back, and never carries the md5.
    const auto json = nlohmann::json::parse(event->data_json, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(json.is_object() && !json.contains("md5") && json["unsigned"].is_object() &&
               json["unsigned"]["custom"].is_object());
    // Beside payhook's own keys, the top level holds only what the md5 covers.
    static const std::set<std::string> kTop{"action",
                                            "shop_id",
                                            "invoice_id",
                                            "customer_number",
                                            "order_sum_amount",
                                            "order_sum_currency_paycash",
                                            "order_sum_bank_paycash",
                                            "payment",
                                            "unsigned"};
    for (const auto& item : json.items()) FUZZ_CHECK(kTop.count(item.key()) == 1);
    FUZZ_CHECK(json["invoice_id"].is_string());
    // Invoices key as numbers: "0092" and "92" are one invoice, and data.payment names it so.
    std::string invoice = json["invoice_id"].get<std::string>();
    invoice.erase(0, std::min(invoice.find_first_not_of('0'), invoice.size() - 1));
    FUZZ_CHECK(event->idempotency_key.ends_with(":" + invoice));
    const auto& payment = json["payment"];
    FUZZ_CHECK(payment.is_object() && payment["provider_payment_id"] == invoice);
    FUZZ_CHECK(aviso ? (payment["outcome"] == "succeeded" || payment["outcome"] == "failed")
                     : payment["outcome"] == "pending");
    // decided() answers from the event alone, with any message the app might send.
    for (auto kind : {h::Decision::Kind::kAccept, h::Decision::Kind::kRefuse, h::Decision::Kind::kFailed}) {
      h::Decision d;
      d.kind = kind;
      d.message = std::string(input);
      const auto reply = hd.decided(*event, d);
      checkAnswer(reply, element);
      FUZZ_CHECK(reply.body.find(" invoiceId=\"" + json["invoice_id"].get<std::string>() + "\"") !=
                 std::string::npos);
    }
  }
  return 0;
}
