#include "delivery/envelope.h"

#include <gtest/gtest.h>

#include "common/webhook_signature.h"

namespace payhook::delivery {
namespace {

// Two 32-byte secrets (Standard Webhooks' published test secret and a second one for rotation) and a
// 32-byte ed25519 seed.
constexpr const char* kSecretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* kSecretB = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
constexpr const char* kSigningKey = "whsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

Event sampleEvent() {
  Event e;
  e.id = "0190f3c2-7a10-7cc4-8a5e-1f2d3c4b5a69";
  e.type = "yoomoney.check_order";
  e.route = "shop";
  e.provider = "yoomoney";
  e.received_at_ms = 1795687200123;  // 2026-11-26T10:00:00.123Z
  e.verified = true;
  e.data_json = R"({"invoice_id":"55","order_sum_amount":"87.10","nested":{"a":[1,2]}})";
  e.idempotency_key = "checkOrder:55";
  e.raw.method = "POST";
  e.raw.path = "/yoomoney/check";
  e.raw.query = "";
  e.raw.content_type = "application/x-www-form-urlencoded";
  e.raw.body = "action=checkOrder&invoiceId=55&note=\"q\"\\";
  return e;
}

const std::string* find(const std::vector<http::Header>& h, std::string_view name) {
  for (const auto& x : h)
    if (x.name == name) return &x.value;
  return nullptr;
}

TEST(Envelope, IsTheDocumentedJsonInItsFixedOrder) {
  EXPECT_EQ(
      envelopeJson(sampleEvent(), 1),
      R"({"id":"0190f3c2-7a10-7cc4-8a5e-1f2d3c4b5a69","type":"yoomoney.check_order","route":"shop",)"
      R"("provider":"yoomoney","received_at":"2026-11-26T10:00:00.123Z","attempt":1,"verified":true,)"
      R"("source":"callback","data":{"invoice_id":"55","order_sum_amount":"87.10","nested":{"a":[1,2]}},)"
      R"("raw":{"method":"POST","path":"/yoomoney/check","query":"",)"
      R"("content_type":"application/x-www-form-urlencoded",)"
      R"("body":"action=checkOrder&invoiceId=55&note=\"q\"\\"}})");
}

TEST(Envelope, AttemptUnverifiedAndBadDataAreRepresented) {
  Event e = sampleEvent();
  e.verified = false;
  e.data_json = "{not json";
  const std::string json = envelopeJson(e, 3);
  EXPECT_NE(json.find(R"("attempt":3,"verified":false,"source":"callback","data":null,)"), std::string::npos)
      << json;
  e.data_json.clear();
  EXPECT_NE(envelopeJson(e, 1).find(R"("data":null,)"), std::string::npos);
}

TEST(Envelope, SaysWhetherTheProviderSentItOrReconciliationFoundIt) {
  EXPECT_NE(envelopeJson(sampleEvent(), 1).find(R"("verified":true,"source":"callback","data":)"),
            std::string::npos);
  EXPECT_NE(envelopeJson(sampleEvent(), 1, "reconciliation").find(R"("source":"reconciliation","data":)"),
            std::string::npos);
}

TEST(Envelope, ABodyThatIsNotUtf8StillGivesValidJson) {
  Event e = sampleEvent();
  e.raw.body = "name=\xcf\xf0\xe8\xe2\xe5\xf2";  // cp1251, not UTF-8
  const std::string json = envelopeJson(e, 1);
  EXPECT_NE(json.find("\"body\":\"name=\xef\xbf\xbd"), std::string::npos) << json;
}

TEST(SignedHeaders, VerifyWithTheTargetsSecret) {
  const std::string body = envelopeJson(sampleEvent(), 1);
  const int64_t ts = 1795687200;
  auto headers = signedHeaders("evt_1", ts, body, decodeSigningKeys({Secret(kSecretA)}, Secret()));
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(*find(headers, "content-type"), "application/json");
  EXPECT_EQ(*find(headers, "webhook-id"), "evt_1");
  EXPECT_EQ(*find(headers, "webhook-timestamp"), "1795687200");
  const std::string& sig = *find(headers, "webhook-signature");
  EXPECT_TRUE(sig.starts_with("v1,"));
  EXPECT_EQ(sig.find(' '), std::string::npos);

  swh::VerifyKeys keys;
  keys.hmac.push_back(swh::decodeSecret(kSecretA).value());
  EXPECT_EQ(swh::verify(keys, "evt_1", "1795687200", sig, body, ts * 1000), swh::VerifyResult::kOk);
  // Any change to the body, the id or the timestamp breaks it.
  EXPECT_EQ(swh::verify(keys, "evt_1", "1795687200", sig, body + " ", ts * 1000),
            swh::VerifyResult::kBadSignature);
  EXPECT_EQ(swh::verify(keys, "evt_2", "1795687200", sig, body, ts * 1000), swh::VerifyResult::kBadSignature);
  EXPECT_EQ(swh::verify(keys, "evt_1", "1795687201", sig, body, ts * 1000), swh::VerifyResult::kBadSignature);
  // A different secret does not verify it.
  swh::VerifyKeys other;
  other.hmac.push_back(swh::decodeSecret(kSecretB).value());
  EXPECT_EQ(swh::verify(other, "evt_1", "1795687200", sig, body, ts * 1000),
            swh::VerifyResult::kBadSignature);
}

TEST(SignedHeaders, RotationGivesOneV1EntryPerSecretEachVerifying) {
  const std::string body = R"({"x":1})";
  auto headers = signedHeaders("evt_1", 1700000000, body,
                               decodeSigningKeys({Secret(kSecretA), Secret(kSecretB)}, Secret()));
  const std::string& sig = *find(headers, "webhook-signature");
  const size_t space = sig.find(' ');
  ASSERT_NE(space, std::string::npos);
  const std::string first = sig.substr(0, space), second = sig.substr(space + 1);
  EXPECT_TRUE(first.starts_with("v1,"));
  EXPECT_TRUE(second.starts_with("v1,"));
  EXPECT_NE(first, second);
  for (const char* s : {kSecretA, kSecretB}) {
    swh::VerifyKeys keys;
    keys.hmac.push_back(swh::decodeSecret(s).value());
    EXPECT_EQ(swh::verify(keys, "evt_1", "1700000000", sig, body, 1700000000000), swh::VerifyResult::kOk)
        << s;
  }
}

TEST(SignedHeaders, ASigningKeyAddsAV1aEntry) {
  const std::string body = R"({"x":1})";
  auto headers =
      signedHeaders("evt_1", 1700000000, body, decodeSigningKeys({Secret(kSecretA)}, Secret(kSigningKey)));
  const std::string& sig = *find(headers, "webhook-signature");
  const size_t space = sig.find(' ');
  ASSERT_NE(space, std::string::npos);
  EXPECT_TRUE(sig.substr(space + 1).starts_with("v1a,")) << sig;
  auto signing = swh::decodeSigningKey(kSigningKey).value();
  swh::VerifyKeys keys;
  keys.ed25519.push_back(swh::publicKeyOf(signing));
  EXPECT_EQ(swh::verify(keys, "evt_1", "1700000000", sig, body, 1700000000000), swh::VerifyResult::kOk);
}

// Text that does not decode is left out rather than signed with garbage (the config loader refuses it first).
TEST(SignedHeaders, KeysThatDoNotDecodeAreLeftOut) {
  SigningKeys keys = decodeSigningKeys({Secret("whsec_not base64!"), Secret(kSecretA)}, Secret("whsk_%%"));
  EXPECT_EQ(keys.hmac.size(), 1u);
  EXPECT_TRUE(keys.ed25519.empty());
  auto headers = signedHeaders("evt_1", 1700000000, "{}", keys);
  EXPECT_EQ(find(headers, "webhook-signature")->find(' '), std::string::npos);
}

}  // namespace
}  // namespace payhook::delivery
