// Payin-payout: the signed-message builder, PHP's urlencode and the route handler on fuzzed JSON bodies.
//
// Input: flags NUL body. Flag bit 1 has the driver sign the body (a "hash" field inserted after its first
// "{"), so the accepted path is fuzzed too, not only the refusals a fuzzer cannot sign its way past; bit 2
// sends it to the top-up endpoint instead of the invoice callback. "now" is the invoice vector's timestamp.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "common/http_message.h"
#include "handlers/digest.h"
#include "handlers/form.h"
#include "handlers/payinpayout/payinpayout.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace ph = payhook::handlers;

constexpr int64_t kNowMs = 1558429736LL * 1000;

enum Flags : uint8_t {
  kSign = 1,
  kTopup = 2,
};

const payhook::Secret& key() {
  static const payhook::Secret k(std::string("secret_key"));  // Payin-payout's published vector key
  return k;
}

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

// phpUrlencode() leaves only unreserved bytes, "+" and upper-case escapes, and decodes back to its input.
void fuzzUrlencode(std::string_view bytes) {
  const std::string encoded = ph::payinpayout::phpUrlencode(bytes);
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '%') {
      FUZZ_CHECK(i + 2 < encoded.size());
      for (size_t j = 1; j <= 2; ++j) {
        const char h = encoded[i + j];
        FUZZ_CHECK((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'));
      }
      i += 2;
    } else {
      FUZZ_CHECK(unreserved(c) || c == '+');
    }
  }
  std::string decoded;
  FUZZ_CHECK(ph::percentDecode(encoded, &decoded, /*plus_is_space=*/true));
  FUZZ_CHECK(decoded == bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = payhook::fuzz::asView(data, size);
  const auto fields = payhook::fuzz::splitFields(input, 2);
  const uint8_t flags = fields[0].empty() ? 0 : static_cast<uint8_t>(fields[0][0]);
  std::string body(fields[1]);
  fuzzUrlencode(body);

  const auto message = ph::payinpayout::signedMessage(body, ph::payinpayout::Order::kAsSent);
  bool signed_by_driver = false;
  if ((flags & kSign) && message.ok()) {
    // Only into a JSON body: a form's text would take the inserted field as part of a value.
    const size_t brace = body.find_first_not_of(" \t\r\n");
    if (brace != std::string::npos && body[brace] == '{') {
      const std::string mac = ph::hmacMd5Hex(key(), *message, ph::HexCase::kLower);
      const bool empty_object = body.find_first_not_of(" \t\r\n", brace + 1) == body.find('}', brace + 1);
      body.insert(brace + 1, "\"hash\":\"" + mac + "\"" + (empty_object ? "" : ","));
      // Inserting a field must not change the message (a "hash" already there makes the body refused).
      const auto again = ph::payinpayout::signedMessage(body, ph::payinpayout::Order::kAsSent);
      if (again.ok()) {
        FUZZ_CHECK(*again == *message);
        signed_by_driver = true;
      }
    }
  }

  payhook::http::Request request;
  request.method = "POST";
  request.path = (flags & kTopup) ? "/payinpayout/topup" : "/payinpayout/callback";
  request.headers.push_back({"content-type", "application/json"});
  request.body = body;

  const ph::PayinPayoutHandler handler("pp", key(), 600'000);
  const auto verdict = handler.handle((flags & kTopup) ? 1 : 0, request, kNowMs);
  if (const auto* accept = std::get_if<ph::Accept>(&verdict)) {
    FUZZ_CHECK(accept->ack.status == 200 && accept->ack.body == R"({"result": true})");
    FUZZ_CHECK(accept->ack.content_type == "application/json");
    FUZZ_CHECK(ph::payinpayout::signedMessage(body, ph::payinpayout::Order::kAsSent).ok());
    const std::string_view prefix = (flags & kTopup) ? "topup:" : "invoice:";
    FUZZ_CHECK(accept->event.idempotency_key.size() > prefix.size() &&
               accept->event.idempotency_key.compare(0, prefix.size(), prefix) == 0);
    // Stored and forwarded as JSON: it must parse back, without the hash.
    const auto data_json =
        nlohmann::json::parse(accept->event.data_json, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(data_json.is_object() && !data_json.contains("hash"));
  } else if (const auto* reject = std::get_if<ph::Reject>(&verdict)) {
    FUZZ_CHECK(reject->reply.status == 400 || reject->reply.status == 403);
    FUZZ_CHECK(reject->reply.body == R"({"result": false})");
    if (!message.ok()) FUZZ_CHECK(reject->reply.status == 400);
    // A body the driver signed is never refused for its hash.
    if (signed_by_driver) FUZZ_CHECK(reject->reason != "bad hash");
  } else {
    FUZZ_CHECK(false);  // Payin-payout never waits for a decision
  }
  return 0;
}
