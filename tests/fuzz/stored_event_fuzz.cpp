// What payhook decodes from Redis: a stored event's packed parts (queue/event_record.h) and fields become
// the envelope apps receive, and its `decision` plus `data` become Integra's API call. Redis content is
// untrusted input (an operator's edit, another version, corruption): nothing may crash, a packed field
// decodes only when it is the one spelling of its parts, the envelope must always be valid JSON naming the
// event, and an API call is built only from a real decision and the fields it needs.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/event.h"
#include "delivery/envelope.h"
#include "handlers/integra/api.h"
#include "queue/event_record.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using payhook::fuzz::splitFields;
  auto f = splitFields(payhook::fuzz::asView(data, size), 11);
  payhook::Event e;
  e.id = std::string(f[0]);
  e.type = std::string(f[1]);
  e.route = std::string(f[2]);
  e.provider = std::string(f[3]);
  e.data_json = std::string(f[4]);
  e.raw.method = std::string(f[5]);
  e.raw.path = std::string(f[6]);
  e.raw.query = std::string(f[7]);
  e.raw.content_type = std::string(f[8]);
  const std::string decision(f[9]);
  e.raw.body = std::string(f[10]);
  e.received_at_ms = static_cast<int64_t>(size) * 1'000'003;
  e.verified = size % 2 == 0;

  // The whole input as a packed field: what decodes packs back to the same bytes.
  namespace record = payhook::queue::record;
  if (auto parts = record::unpack(payhook::fuzz::asView(data, size))) {
    std::string again;
    record::appendPacked(again, *parts);
    FUZZ_CHECK(again == payhook::fuzz::asView(data, size));
    FUZZ_CHECK(record::packedSize(*parts) == size);
    payhook::Event decoded;
    record::fill(*parts, decoded);
  }
  // And the event built from it, packed: decodes to the same parts.
  std::string at, packed;
  const record::Parts mine = record::partsOf(e, at);
  record::appendPacked(packed, mine);
  auto back = record::unpack(packed);
  FUZZ_CHECK(back.has_value() && *back == mine);

  // The listing field ("ix") as Redis holds it: whatever it holds reads as four values and keys, and a
  // listing packed again keeps its keys (each one a key the store indexes) and its line structure.
  const payhook::EventListing listing = record::unpackListing(payhook::fuzz::asView(data, size));
  for (const auto& k : listing.keys) FUZZ_CHECK(k.find('\n') == std::string::npos);
  const payhook::EventListing again = record::unpackListing(record::packListing(listing));
  for (const auto& k : again.keys) FUZZ_CHECK(record::isListingKey(k));
  FUZZ_CHECK(again.keys.size() <= listing.keys.size());

  const std::string envelope = payhook::delivery::envelopeJson(e, static_cast<int>(size % 9) + 1);
  auto j = nlohmann::json::parse(envelope, nullptr, false);
  FUZZ_CHECK(j.is_object());
  FUZZ_CHECK(j.contains("id") && j["id"].is_string());
  FUZZ_CHECK(j["attempt"] == static_cast<int>(size % 9) + 1);
  FUZZ_CHECK(j.contains("raw") && j["raw"].is_object());
  // `data` is the stored JSON when it parses as JSON, null otherwise: never text an app must parse again.
  if (!nlohmann::json::accept(e.data_json)) FUZZ_CHECK(j["data"].is_null());

  payhook::handlers::integra::Base64Crypt crypt;
  auto call = payhook::handlers::integra::apiCall("https://api.example/", crypt, decision, e.data_json);
  if (call) {
    auto d = nlohmann::json::parse(decision, nullptr, false);
    FUZZ_CHECK(d.is_object() && d["accept"].is_boolean());
    FUZZ_CHECK(call->method == (d["accept"].get<bool>() ? "confirmPayment" : "declinePayment"));
    FUZZ_CHECK(call->url.rfind("https://api.example/" + call->method + "?k=zaa", 0) == 0);
    // Whatever Redis held, the URL carries no white space or control byte: the user hash is checked again
    // and the JSON goes in base64, percent-encoded.
    for (char c : call->url)
      FUZZ_CHECK(static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f);
  }
  // Every answer is a decision: a clear one, or the default refusal with its reason.
  const payhook::handlers::integra::DeclineDefaults defaults{1, "declined by the shop"};
  auto shop = payhook::handlers::integra::parseShopDecision(e.raw.body, defaults);
  if (shop.kind == payhook::handlers::integra::ShopDecision::Kind::kDecline) {
    FUZZ_CHECK(!shop.message.empty());
    FUZZ_CHECK(shop.defaulted == !shop.reason.empty());
  }
  FUZZ_CHECK(shop.params.is_object());
  for (const char* reserved : {"transactionId", "errorCode", "errorMessage"})
    FUZZ_CHECK(!shop.params.contains(reserved));
  // Carried out on this event's data, the call is the one decided, for this transaction, whatever params
  // held.
  if (auto decided = payhook::handlers::integra::apiCall(
          "https://api.example/", crypt, payhook::handlers::integra::decisionJson(shop, 200, 1),
          e.data_json)) {
    auto body = nlohmann::json::parse(decided->json, nullptr, false);
    auto data = nlohmann::json::parse(e.data_json, nullptr, false);
    FUZZ_CHECK(body.is_object() && data.is_object());
    FUZZ_CHECK(body["transactionId"] == data["transaction_id"]);
    if (shop.kind == payhook::handlers::integra::ShopDecision::Kind::kDecline)
      FUZZ_CHECK(body["errorCode"] == shop.code && body["errorMessage"] == shop.message);
  }
  (void)payhook::handlers::integra::apiFailure(static_cast<int>(size % 600), e.raw.body);
  return 0;
}
