// RBS gateway: the callback handler on fuzzed query strings and form bodies, under each checksum mode, and
// the PEM key parser on the whole input.
//
// Input: flags NUL pairs. The flags' first byte picks GET or POST, the checksum mode, and may ask the driver
// to append a valid HMAC checksum, so the accepted path (snake_case data, the event) is fuzzed too, not
// only the refusals a fuzzer cannot sign its way past.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "common/http_message.h"
#include "common/secret.h"
#include "handlers/digest.h"
#include "handlers/form.h"
#include "handlers/rbs/rbs.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace handlers = payhook::handlers;
namespace rbs = payhook::handlers::rbs;

constexpr std::string_view kToken = "ooc7slpvc61k7sf7ma7p4hrefr";  // the provider's published test vector
// The RBS gateway's published bank key (tests/fixtures/rbs/bank-public.pem).
constexpr std::string_view kBankPem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwtuGKbQ4WmfdV1gjWWys\n"
    "5jyHKTWXnxX3zVa5/Cx5aKwJpOsjrXnHh6l8bOPQ6Sgj3iSeKJ9plZ3i7rPjkfmw\n"
    "qUOJ1eLU5NvGkVjOgyi11aUKgEKwS5Iq5HZvXmPLzu+U22EUCTQwjBqnE/Wf0hnI\n"
    "wYABDgc0fJeJJAHYHMBcJXTuxF8DmDf4DpbLrQ2bpGaCPKcX+04POS4zVLVCHF6N\n"
    "6gYtM7U2QXYcTMTGsAvmIqSj1vddGwvNGeeUVoPbo6enMBbvZgjN5p6j3ItTziMb\n"
    "Vba3m/u7bU1dOG2/79UpGAGR10qEFHiOqS6WpO7CuIR2tL9EznXRc7D9JZKwGfoY\n"
    "/QIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

enum Flags : uint8_t {
  kPost = 1,
  kModeRsa = 2,   // else HMAC, unless kModeNone
  kModeNone = 4,  // wins over kModeRsa
  kSignHmac = 8,  // append "&checksum=<valid HMAC>"
  kOtherContentType = 16,
  kBoth = 32,  // the pairs in the query and the body (the body's are the bank's, the query's the shop's)
};

struct Handlers {
  handlers::RbsHandler hmac;
  handlers::RbsHandler rsa;
  handlers::RbsHandler none;
};

handlers::RbsHandler make(rbs::Checksum mode) {
  handlers::RbsHandler::Options o;
  o.route = "bank";
  o.checksum = mode;
  if (mode == rbs::Checksum::kHmacSha256) o.tokens.emplace_back(std::string(kToken));
  if (mode == rbs::Checksum::kRsa) {
    auto keys = rbs::RsaPublicKeys::parse(kBankPem);
    FUZZ_CHECK(keys.ok() && keys->size() == 1);
    o.rsa_keys = std::move(keys.value());
  }
  return handlers::RbsHandler(std::move(o));
}

const Handlers& all() {
  static const Handlers h{make(rbs::Checksum::kHmacSha256), make(rbs::Checksum::kRsa),
                          make(rbs::Checksum::kNone)};
  return h;
}

bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = payhook::fuzz::asView(data, size);
  // Whatever the input is, parsing it as a key file fails cleanly or yields keys.
  if (auto keys = rbs::RsaPublicKeys::parse(input)) FUZZ_CHECK(keys->size() > 0);
  (void)rbs::snakeCase(input);

  const auto fields = payhook::fuzz::splitFields(input, 2);
  const uint8_t flags = fields[0].empty() ? 0 : static_cast<uint8_t>(fields[0][0]);
  std::string pairs(fields[1]);
  bool signed_validly = false;
  if (flags & kSignHmac) {
    auto form = handlers::Form::parse(pairs);
    if (form && !form->has("checksum")) {
      pairs += "&checksum=" + handlers::hmacSha256Hex(payhook::Secret(std::string(kToken)),
                                                      rbs::signedString(*form), handlers::HexCase::kUpper);
      signed_validly = true;
    }
  }

  payhook::http::Request request;
  request.peer = "127.0.0.1";
  request.path = "/rbs/callback";
  if (flags & kPost) {
    request.method = "POST";
    request.headers.push_back({"content-type", (flags & kOtherContentType)
                                                   ? "application/json"
                                                   : "application/x-www-form-urlencoded"});
    request.body = pairs;
    if (flags & kBoth) request.query = pairs;
  } else {
    request.method = "GET";
    request.query = pairs;
    if (flags & kBoth) request.body = pairs;
  }

  const Handlers& h = all();
  const handlers::RbsHandler& handler = (flags & kModeNone) ? h.none : (flags & kModeRsa) ? h.rsa : h.hmac;
  const bool hmac_mode = !(flags & kModeNone) && !(flags & kModeRsa);
  const auto verdict = handler.handle(0, request, 0);

  if (const auto* accept = std::get_if<handlers::Accept>(&verdict)) {
    FUZZ_CHECK(accept->ack.status == 200 && accept->ack.body == "OK");
    const auto& ev = accept->event;
    FUZZ_CHECK(ev.provider == "rbs" && ev.route == "bank");
    FUZZ_CHECK(ev.verified == !(flags & kModeNone));
    // The type is "rbs." and a plain word; the key ends ":<operation>:<status>".
    FUZZ_CHECK(ev.type.size() > 4 && ev.type.compare(0, 4, "rbs.") == 0);
    for (size_t i = 4; i < ev.type.size(); ++i) FUZZ_CHECK(isAlpha(ev.type[i]));
    const std::string operation = ev.type.substr(4);
    FUZZ_CHECK(ev.idempotency_key.find(":" + operation + ":") != std::string::npos);
    // The stored data must parse back as JSON, whatever bytes the values had, and hold no checksum.
    const auto json = nlohmann::json::parse(ev.data_json, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(json.is_object());
    FUZZ_CHECK(!json.contains("checksum") && !json.contains("sign_alias"));
    FUZZ_CHECK(json.contains("md_order") && json.contains("operation") && json.contains("status"));
    // The normalised payment is always there, and only a deposit with status 1 is money the shop has.
    FUZZ_CHECK(json.contains("payment") && json["payment"].is_object() &&
               json["payment"].contains("outcome"));
    if (json["payment"]["outcome"] == "succeeded")
      FUZZ_CHECK(operation == "deposited" && json["status"] == "1");
    // The query's pairs are the shop's only beside a form body (no route here lists own_params), and stay
    // apart from the signed fields.
    FUZZ_CHECK(json.contains("unsigned") && json["unsigned"].is_object());
    if (json["unsigned"].contains("shop_params"))
      FUZZ_CHECK((flags & kBoth) && json["unsigned"]["shop_params"].is_object());
  } else if (const auto* reject = std::get_if<handlers::Reject>(&verdict)) {
    FUZZ_CHECK(reject->reply.status == 400 || reject->reply.status == 403);
    // The reason may quote the request, so only a token the request did not carry would be a leak.
    if (input.find(kToken) == std::string_view::npos)
      FUZZ_CHECK(reject->reason.find(kToken) == std::string::npos);
    // A validly signed, well-formed request to the HMAC route is never taken for a forgery, whatever the
    // query beside a body carries (the shop's own parameters, never signed).
    if (hmac_mode && signed_validly && !(flags & kOtherContentType)) FUZZ_CHECK(reject->reply.status != 403);
  } else {
    FUZZ_CHECK(false);  // no decision flow here
  }
  return 0;
}
