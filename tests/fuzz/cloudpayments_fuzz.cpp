// CloudPayments: the route handler on fuzzed bodies of every notification type, its HMAC check, its
// field names and its Check answers.
//
// Input: flags NUL body. Flag bit 1 has the driver sign the body with Content-HMAC, so the accepted path
// is fuzzed too, not only the refusals a fuzzer cannot sign its way past; bit 2 signs with X-Content-HMAC
// instead (over the percent-decoded body); bit 4 sends it as application/json. Bits 5-7 pick the
// endpoint (check, pay, fail, confirm, refund, recurrent, cancel; 7 is pay again).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "common/http_message.h"
#include "common/percent.h"
#include "handlers/cloudpayments/cloudpayments.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace ph = payhook::handlers;

enum Flags : uint8_t {
  kSign = 1,
  kSignDecoded = 2,
  kJson = 4,
};

const payhook::Secret& key() {
  static const payhook::Secret k(std::string("pass"));  // the SDK spec's API secret
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = payhook::fuzz::asView(data, size);
  const auto fields = payhook::fuzz::splitFields(input, 2);
  const uint8_t flags = fields[0].empty() ? 0 : static_cast<uint8_t>(fields[0][0]);
  const std::string body(fields[1]);
  size_t endpoint = (flags >> 4) & 7;
  if (endpoint == 7) endpoint = ph::CloudPaymentsHandler::kPay;

  // Field names become data keys: snake case has no capitals and only ever grows.
  const std::string snake = ph::cloudpayments::snakeCase(body);
  FUZZ_CHECK(snake.size() >= body.size());
  for (char c : snake) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));

  payhook::http::Request request;
  request.method = "POST";
  request.path = "/cloudpayments/x";
  request.headers.push_back(
      {"content-type", (flags & kJson) ? "application/json" : "application/x-www-form-urlencoded"});
  request.body = body;
  bool signed_by_driver = false;
  if (flags & kSign) {
    request.headers.push_back({"content-hmac", ph::cloudpayments::hmacBase64(key(), body)});
    signed_by_driver = true;
  } else if (flags & kSignDecoded) {
    std::string decoded;
    if (payhook::percentDecode(body, &decoded, /*plus_is_space=*/true)) {
      request.headers.push_back({"x-content-hmac", ph::cloudpayments::hmacBase64(key(), decoded)});
      signed_by_driver = true;
    }
  }

  const ph::CloudPaymentsHandler handler("cp", key());
  const auto verdict = handler.handle(endpoint, request, 0);
  auto checkEvent = [&](const payhook::Event& ev) {
    FUZZ_CHECK(ev.type.rfind("cloudpayments.", 0) == 0);
    FUZZ_CHECK(ev.verified && ev.provider == "cloudpayments");
    const std::string kind = ev.type.substr(std::string_view("cloudpayments.").size());
    FUZZ_CHECK(ev.idempotency_key.rfind(kind + ":", 0) == 0 && ev.idempotency_key.size() > kind.size() + 1);
    // Stored and forwarded as JSON: it must parse back, with the normalised payment in it.
    const auto parsed = nlohmann::json::parse(ev.data_json, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(parsed.is_object() && parsed.contains("payment") && parsed["payment"].is_object());
  };
  if (const auto* accept = std::get_if<ph::Accept>(&verdict)) {
    FUZZ_CHECK(signed_by_driver);
    FUZZ_CHECK(endpoint != ph::CloudPaymentsHandler::kCheck);
    FUZZ_CHECK(accept->ack.status == 200 && accept->ack.body == R"({"code":0})");
    checkEvent(accept->event);
  } else if (const auto* decide = std::get_if<ph::Decide>(&verdict)) {
    FUZZ_CHECK(signed_by_driver);
    FUZZ_CHECK(endpoint == ph::CloudPaymentsHandler::kCheck && !decide->deliver);
    checkEvent(decide->event);
    // Whatever the app answers, CloudPayments gets a code from its own table.
    ph::Decision d;
    d.kind = body.empty() ? ph::Decision::Kind::kAccept : static_cast<ph::Decision::Kind>(body[0] % 3);
    d.code = body.size() > 1 ? static_cast<signed char>(body[1]) : 0;
    const int code = ph::cloudpayments::checkCode(d);
    FUZZ_CHECK(code == 0 || code == 10 || code == 11 || code == 12 || code == 13 || code == 20);
    const auto answer = handler.decided(decide->event, d);
    FUZZ_CHECK(answer.status == 200 && answer.body == R"({"code":)" + std::to_string(code) + "}");
  } else {
    const auto& reject = std::get<ph::Reject>(verdict);
    FUZZ_CHECK(reject.reply.body == R"({"code":13})");
    FUZZ_CHECK(reject.reply.status == 400 || reject.reply.status == 403);
    // A body the driver signed is never refused as forged; one it did not sign always is.
    FUZZ_CHECK((reject.reply.status == 403) == !signed_by_driver);
    // The reason may quote the request (a parameter's name), never the secret.
    if (body.find("pass") == std::string::npos) FUZZ_CHECK(reject.reason.find("pass") == std::string::npos);
  }
  return 0;
}
