// Standard Webhooks: verify() and the route handler on fuzzed headers and bodies, and the key decoders on
// the whole input.
//
// Input: flags NUL webhook-id NUL webhook-timestamp NUL webhook-signature NUL body. The flags' first byte
// may ask the driver to append valid v1 / v1a entries to the signature header, so the accepted path (JSON
// payload parsing and the event) is fuzzed too, not only the rejections a fuzzer cannot sign its way past.
// "now" is the published test vector's timestamp, so the vector in the corpus verifies as it stands.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/http_message.h"
#include "handlers/standard_webhooks/standard_webhooks.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace swh = payhook::handlers::swh;

constexpr int64_t kNowMs = 1614265330LL * 1000;
constexpr std::string_view kSecret =
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";  // the provider's published test vector
// Made up for the driver: a base64 32-byte ed25519 seed.
constexpr std::string_view kSigningKey = "whsk_8DtI2vR9Cyg0wNL0x7oLlDB0Fmy0zGZxxWZIRaoTUr0=";

enum Flags : uint8_t {
  kSignV1 = 1,
  kSignV1a = 2,
  kRepeatHeader = 4,  // a second webhook-signature line
  kDropId = 8,
};

struct Keys {
  payhook::Secret hmac;
  payhook::Secret signing;
  swh::VerifyKeys verify;
};

const Keys& keys() {
  static const Keys k = [] {
    Keys out;
    auto hmac = swh::decodeSecret(kSecret);
    auto signing = swh::decodeSigningKey(kSigningKey);
    FUZZ_CHECK(hmac.ok() && signing.ok());
    out.hmac = *hmac;
    out.signing = *signing;
    out.verify.hmac.push_back(*hmac);
    out.verify.ed25519.push_back(swh::publicKeyOf(*signing));
    return out;
  }();
  return k;
}

// verify() refuses a header of more than this many space-separated entries before checking any.
constexpr size_t kMaxSignatureEntries = 8;

bool timestampInWindow(std::string_view ts) {
  // Mirrors verify()'s rule loosely: plain decimal digits within the 300 s tolerance of kNowMs.
  if (ts.empty() || ts.size() > 18) return false;
  int64_t v = 0;
  for (char c : ts) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return v >= kNowMs / 1000 - 300 && v <= kNowMs / 1000 + 300;
}

// Whatever key material the input might be: decoding must fail cleanly or give a key that round-trips.
void fuzzKeyDecoders(std::string_view text) {
  if (auto secret = swh::decodeSecret(text)) {
    FUZZ_CHECK(!secret->empty());
    swh::VerifyKeys k;
    k.hmac.push_back(*secret);
    const std::string sig = swh::signV1(*secret, "msg_1", "1614265330", text);
    FUZZ_CHECK(swh::verify(k, "msg_1", "1614265330", sig, text, kNowMs) == swh::VerifyResult::kOk);
  }
  if (auto pk = swh::decodePublicKey(text)) FUZZ_CHECK(pk->size() == 32);
  if (auto sk = swh::decodeSigningKey(text)) {
    FUZZ_CHECK(sk->size() == 64);
    swh::VerifyKeys k;
    k.ed25519.push_back(swh::publicKeyOf(*sk));
    const std::string sig = swh::signV1a(*sk, "msg_1", "1614265330", text);
    FUZZ_CHECK(swh::verify(k, "msg_1", "1614265330", sig, text, kNowMs) == swh::VerifyResult::kOk);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = payhook::fuzz::asView(data, size);
  fuzzKeyDecoders(input);

  const auto fields = payhook::fuzz::splitFields(input, 5);
  const uint8_t flags = fields[0].empty() ? 0 : static_cast<uint8_t>(fields[0][0]);
  const std::string_view id = fields[1], ts = fields[2], body = fields[4];
  std::string signature(fields[3]);
  const Keys& k = keys();
  std::vector<std::string> valid;  // entries the driver signed properly
  if (flags & kSignV1) valid.push_back(swh::signV1(k.hmac, id, ts, body));
  if (flags & kSignV1a) valid.push_back(swh::signV1a(k.signing, id, ts, body));
  for (const auto& entry : valid) signature += " " + entry;
  // A header of more than kMaxSignatureEntries space-separated entries is refused before any is checked.
  const bool valid_within_limit =
      !valid.empty() &&
      static_cast<size_t>(std::count(signature.begin(), signature.end(), ' ')) < kMaxSignatureEntries;

  const auto result = swh::verify(k.verify, id, ts, signature, body, kNowMs);
  if (timestampInWindow(ts)) {
    FUZZ_CHECK(result != swh::VerifyResult::kBadTimestamp && result != swh::VerifyResult::kStale);
    // A valid entry the walk reaches passes, whatever junk surrounds it.
    if (valid_within_limit) FUZZ_CHECK(result == swh::VerifyResult::kOk);
  }

  payhook::http::Request request;
  request.method = "POST";
  request.path = "/hooks/demo";
  request.headers.push_back({"content-type", "application/json"});
  if (!(flags & kDropId)) request.headers.push_back({"webhook-id", std::string(id)});
  request.headers.push_back({"webhook-timestamp", std::string(ts)});
  request.headers.push_back({"webhook-signature", signature});
  if (flags & kRepeatHeader) request.headers.push_back({"webhook-signature", "v1,AAAA"});
  request.body = std::string(body);

  const payhook::handlers::StandardWebhooksHandler handler("demo", k.verify);
  const auto verdict = handler.handle(0, request, kNowMs);
  if (const auto* accept = std::get_if<payhook::handlers::Accept>(&verdict)) {
    FUZZ_CHECK(result == swh::VerifyResult::kOk);
    FUZZ_CHECK(!(flags & (kDropId | kRepeatHeader)));
    FUZZ_CHECK(accept->ack.status == 204);
    FUZZ_CHECK(accept->event.idempotency_key == id);
    // The event's data is stored and forwarded as JSON: it must parse back, whatever bytes the body had.
    const auto data_json =
        nlohmann::json::parse(accept->event.data_json, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(data_json.is_object());
  } else if (const auto* reject = std::get_if<payhook::handlers::Reject>(&verdict)) {
    FUZZ_CHECK(reject->reply.status == 400 || reject->reply.status == 401);
    if (result == swh::VerifyResult::kOk && !id.empty() && !(flags & (kDropId | kRepeatHeader)))
      FUZZ_CHECK(false);  // verified, well-formed headers: must be accepted
  } else {
    FUZZ_CHECK(false);  // this handler never asks for a decision
  }
  return 0;
}
