#include "handlers/standard_webhooks/standard_webhooks.h"
#include "support/listing_expect.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <nlohmann/json.hpp>

namespace payhook::handlers {
namespace {

// The published vector from the Standard Webhooks specification.
constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* kId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr const char* kTs = "1614265330";
constexpr const char* kBody = R"({"test": 2432232314})";
constexpr const char* kSig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
constexpr int64_t kNowMs = 1614265330LL * 1000;

swh::VerifyKeys hmacKeys(std::initializer_list<const char*> secrets) {
  swh::VerifyKeys keys;
  for (const char* s : secrets) keys.hmac.push_back(swh::decodeSecret(s).value());
  return keys;
}

http::Request signedRequest(const std::string& sig, std::string body = kBody) {
  http::Request r;
  r.method = "POST";
  r.path = "/hooks/demo";
  r.headers = {{"webhook-id", kId},
               {"webhook-timestamp", kTs},
               {"webhook-signature", sig},
               {"content-type", "application/json"}};
  r.body = std::move(body);
  return r;
}

TEST(StandardWebhooks, PublishedVectorSigns) {
  auto key = swh::decodeSecret(kSecret);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(swh::signV1(*key, kId, kTs, kBody), kSig);
}

TEST(StandardWebhooks, PublishedVectorVerifies) {
  EXPECT_EQ(swh::verify(hmacKeys({kSecret}), kId, kTs, kSig, kBody, kNowMs), swh::VerifyResult::kOk);
}

TEST(StandardWebhooks, OneByteChangedIsRefused) {
  auto keys = hmacKeys({kSecret});
  EXPECT_EQ(swh::verify(keys, kId, kTs, kSig, R"({"test": 2432232315})", kNowMs),
            swh::VerifyResult::kBadSignature);
  EXPECT_EQ(swh::verify(keys, "msg_p5jXN8AQM9LWM0D4loKWxJeK", kTs, kSig, kBody, kNowMs),
            swh::VerifyResult::kBadSignature);
  EXPECT_EQ(swh::verify(keys, kId, kTs, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=", kBody, kNowMs),
            swh::VerifyResult::kBadSignature);
}

TEST(StandardWebhooks, ToleranceIsFiveMinutesBothWays) {
  auto keys = hmacKeys({kSecret});
  EXPECT_EQ(swh::verify(keys, kId, kTs, kSig, kBody, kNowMs + 300'000), swh::VerifyResult::kOk);
  EXPECT_EQ(swh::verify(keys, kId, kTs, kSig, kBody, kNowMs - 300'000), swh::VerifyResult::kOk);
  EXPECT_EQ(swh::verify(keys, kId, kTs, kSig, kBody, kNowMs + 301'000), swh::VerifyResult::kStale);
  EXPECT_EQ(swh::verify(keys, kId, kTs, kSig, kBody, kNowMs - 301'000), swh::VerifyResult::kStale);
  EXPECT_EQ(swh::verify(keys, kId, "16142653x0", kSig, kBody, kNowMs), swh::VerifyResult::kBadTimestamp);
  EXPECT_EQ(swh::verify(keys, kId, "", kSig, kBody, kNowMs), swh::VerifyResult::kBadTimestamp);
}

TEST(StandardWebhooks, AnyValidEntryAndAnyKeyPasses) {
  auto keys = hmacKeys({"whsec_bm90IHRoZSBrZXkgYXQgYWxs", kSecret});
  std::string header = std::string("v1,AAAA v2,xyz v1,bm9wZQ== ") + kSig;
  EXPECT_EQ(swh::verify(keys, kId, kTs, header, kBody, kNowMs), swh::VerifyResult::kOk);
  EXPECT_EQ(swh::verify(keys, kId, kTs, "v1,AAAA garbage", kBody, kNowMs), swh::VerifyResult::kBadSignature);
  EXPECT_EQ(swh::verify(keys, kId, kTs, "", kBody, kNowMs), swh::VerifyResult::kBadSignature);
}

TEST(StandardWebhooks, AHeaderStuffedWithEntriesIsRefusedUnchecked) {
  auto keys = hmacKeys({kSecret});
  std::string header;
  for (int i = 0; i < 8; ++i) header += "v1a,AAAA ";
  EXPECT_EQ(swh::verify(keys, kId, kTs, header + kSig, kBody, kNowMs), swh::VerifyResult::kBadSignature);
  // Refused before anything is checked, wherever the valid entry stands.
  EXPECT_EQ(swh::verify(keys, kId, kTs, std::string(kSig) + " " + header, kBody, kNowMs),
            swh::VerifyResult::kBadSignature);
  std::string seven;
  for (int i = 0; i < 7; ++i) seven += "v1a,AAAA ";
  EXPECT_EQ(swh::verify(keys, kId, kTs, seven + kSig, kBody, kNowMs), swh::VerifyResult::kOk);
}

TEST(StandardWebhooks, Ed25519SignAndVerify) {
  unsigned char seed[crypto_sign_SEEDBYTES];
  for (size_t i = 0; i < sizeof seed; ++i) seed[i] = static_cast<unsigned char>(i * 7 + 1);
  char b64[64];
  sodium_bin2base64(b64, sizeof b64, seed, sizeof seed, sodium_base64_VARIANT_ORIGINAL);
  auto sk = swh::decodeSigningKey(std::string("whsk_") + b64);
  ASSERT_TRUE(sk.ok()) << sk.error().message;
  std::string sig = swh::signV1a(*sk, kId, kTs, kBody);
  ASSERT_EQ(sig.rfind("v1a,", 0), 0u);
  swh::VerifyKeys keys;
  keys.ed25519.push_back(swh::publicKeyOf(*sk));
  EXPECT_EQ(swh::verify(keys, kId, kTs, sig, kBody, kNowMs), swh::VerifyResult::kOk);
  EXPECT_EQ(swh::verify(keys, kId, kTs, sig, "{}", kNowMs), swh::VerifyResult::kBadSignature);
  // A v1a entry is never checked against an HMAC key and the reverse.
  EXPECT_EQ(swh::verify(hmacKeys({kSecret}), kId, kTs, sig, kBody, kNowMs), swh::VerifyResult::kBadSignature);
}

TEST(StandardWebhooks, BadKeysAreRefused) {
  EXPECT_FALSE(swh::decodeSecret("whsec_!!!").ok());
  EXPECT_FALSE(swh::decodeSecret("whsec_").ok());
  EXPECT_FALSE(swh::decodePublicKey("whpk_AAAA").ok());
  EXPECT_FALSE(swh::decodeSigningKey("whsk_AAAA").ok());
}

// A 64-byte key is the seed and its public key: the full form of a seed's key is accepted and signs as the
// seed does; a 64-byte key whose halves do not belong together is refused (found by the fuzzer: every
// signature made with it would be invalid under every key).
TEST(StandardWebhooks, SixtyFourByteSigningKeyMustHoldItsOwnPublicKey) {
  unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  for (size_t i = 0; i < sizeof seed; ++i) seed[i] = static_cast<unsigned char>(i * 5 + 3);
  crypto_sign_seed_keypair(pk, sk, seed);
  auto encode = [](const unsigned char* bytes, size_t n) {
    char b64[128];
    sodium_bin2base64(b64, sizeof b64, bytes, n, sodium_base64_VARIANT_ORIGINAL);
    return std::string("whsk_") + b64;
  };
  auto full = swh::decodeSigningKey(encode(sk, sizeof sk));
  ASSERT_TRUE(full.ok()) << full.error().message;
  auto from_seed = swh::decodeSigningKey(encode(seed, sizeof seed));
  ASSERT_TRUE(from_seed.ok());
  EXPECT_EQ(swh::signV1a(*full, kId, kTs, kBody), swh::signV1a(*from_seed, kId, kTs, kBody));

  sk[40] ^= 1;  // the public half no longer matches the seed
  auto bad = swh::decodeSigningKey(encode(sk, sizeof sk));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("second half is not the public key"), std::string::npos);
}

// libsodium 1.0.18 decodes bytes from 0x80 up as base64 digits; keys and signatures holding them are refused.
TEST(StandardWebhooks, NonAsciiBytesAreNotBase64) {
  const std::string garbage = std::string(84, '\xff') + "hw==";  // the fuzzer's input
  EXPECT_FALSE(swh::decodeSecret(garbage).ok());
  EXPECT_FALSE(swh::decodeSigningKey(garbage).ok());
  EXPECT_FALSE(swh::decodePublicKey("whpk_" + std::string(43, '\x80') + "=").ok());
  // A signature whose base64 carries such a byte is no signature, even where libsodium would decode it.
  std::string sig(kSig);
  sig[5] = '\xc3';
  EXPECT_EQ(swh::verify(hmacKeys({kSecret}), kId, kTs, sig, kBody, kNowMs), swh::VerifyResult::kBadSignature);
}

TEST(StandardWebhooksHandler, AcceptsSignedAndDescribesTheEvent) {
  StandardWebhooksHandler h("demo", hmacKeys({kSecret}));
  auto v = h.handle(0, signedRequest(kSig), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Accept>(v));
  const auto& a = std::get<Accept>(v);
  EXPECT_EQ(a.ack.status, 204);
  EXPECT_TRUE(a.ack.body.empty());
  EXPECT_EQ(a.event.idempotency_key, kId);
  EXPECT_EQ(a.event.route, "demo");
  EXPECT_EQ(a.event.provider, "standard-webhooks");
  EXPECT_EQ(a.event.type, "standard_webhooks.webhook");
  EXPECT_TRUE(a.event.verified);
  auto data = nlohmann::json::parse(a.event.data_json);
  EXPECT_EQ(data["webhook_id"], kId);
  EXPECT_EQ(data["payload"]["test"], 2432232314LL);
  testing::expectListing(a.event, {kId}, "", "", "", "");
}

TEST(StandardWebhooksHandler, TypeComesFromThePayload) {
  auto key = swh::decodeSecret(kSecret).value();
  std::string body = R"({"type":"invoice.paid","data":{"amount":"10.00"}})";
  StandardWebhooksHandler h("demo", hmacKeys({kSecret}));
  auto v = h.handle(0, signedRequest(swh::signV1(key, kId, kTs, body), body), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Accept>(v));
  EXPECT_EQ(std::get<Accept>(v).event.type, "standard_webhooks.invoice.paid");
}

// Serialising a payload recurses per nesting level; 300k levels overflowed the stack (found while fuzzing).
// The body itself still reaches the event's raw part, which the daemon fills.
TEST(StandardWebhooksHandler, DeeplyNestedPayloadIsStoredRawOnly) {
  auto key = swh::decodeSecret(kSecret).value();
  StandardWebhooksHandler h("demo", hmacKeys({kSecret}));
  const std::string deep = std::string(300'000, '[') + std::string(300'000, ']');
  auto v = h.handle(0, signedRequest(swh::signV1(key, kId, kTs, deep), deep), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Accept>(v));
  const auto& a = std::get<Accept>(v);
  EXPECT_EQ(a.event.type, "standard_webhooks.webhook");
  EXPECT_TRUE(nlohmann::json::parse(a.event.data_json)["payload"].is_null());

  // Realistic nesting, and brackets inside strings, still parse.
  const std::string nested =
      std::string(100, '[') + R"({"type":"a","s":"[[[[\"{{{{"})" + std::string(100, ']');
  v = h.handle(0, signedRequest(swh::signV1(key, kId, kTs, nested), nested), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Accept>(v));
  EXPECT_TRUE(nlohmann::json::parse(std::get<Accept>(v).event.data_json)["payload"].is_array());
}

TEST(StandardWebhooksHandler, RefusesForgedStaleAndIncomplete) {
  StandardWebhooksHandler h("demo", hmacKeys({kSecret}));
  auto forged = h.handle(0, signedRequest(kSig, R"({"test": 1})"), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Reject>(forged));
  EXPECT_EQ(std::get<Reject>(forged).reply.status, 401);

  auto stale = h.handle(0, signedRequest(kSig), kNowMs + 3'600'000);
  ASSERT_TRUE(std::holds_alternative<Reject>(stale));
  EXPECT_EQ(std::get<Reject>(stale).reply.status, 401);

  auto req = signedRequest(kSig);
  req.headers.erase(req.headers.begin() + 2);  // webhook-signature
  auto missing = h.handle(0, req, kNowMs);
  ASSERT_TRUE(std::holds_alternative<Reject>(missing));
  EXPECT_EQ(std::get<Reject>(missing).reply.status, 400);

  auto dup = signedRequest(kSig);
  dup.headers.push_back({"webhook-signature", "v1,AAAA"});
  auto repeated = h.handle(0, dup, kNowMs);
  ASSERT_TRUE(std::holds_alternative<Reject>(repeated));
  EXPECT_EQ(std::get<Reject>(repeated).reply.status, 400);
}

}  // namespace
}  // namespace payhook::handlers
