#include "handlers/integra_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace payhook::handlers::integra {
namespace {

using Kind = ShopDecision::Kind;

constexpr const char* kData =
    R"({"amount":"100.50","transaction_id":"0123456789abcdef0123456789abcdef","user":"9f86d081884c7d65"})";

TEST(IntegraApi, ShopDecisions) {
  EXPECT_EQ(parseShopDecision(R"({"accept":true})").kind, Kind::kAccept);
  auto d = parseShopDecision(R"({"accept":false,"code":12,"message":"out of stock"})");
  EXPECT_EQ(d.kind, Kind::kDecline);
  EXPECT_EQ(d.code, 12);
  EXPECT_EQ(d.message, "out of stock");
  EXPECT_EQ(parseShopDecision(R"({"accept":false})").kind, Kind::kDecline);
  // Anything else is no decision, with the reason kept.
  EXPECT_EQ(parseShopDecision("").kind, Kind::kNone);
  EXPECT_EQ(parseShopDecision("OK").kind, Kind::kNone);
  EXPECT_EQ(parseShopDecision(R"({"accept":"yes"})").kind, Kind::kNone);
  EXPECT_EQ(parseShopDecision(R"([true])").kind, Kind::kNone);
  EXPECT_FALSE(parseShopDecision(R"({"ok":1})").message.empty());
}

TEST(IntegraApi, DecisionJsonIsWhatTheApiJobReadsBack) {
  ShopDecision d{Kind::kDecline, 7, "no \"stock\""};
  auto j = nlohmann::json::parse(decisionJson(d, 200, 1'790'000'000'000));
  EXPECT_EQ(j["accept"], false);
  EXPECT_EQ(j["code"], 7);
  EXPECT_EQ(j["message"], "no \"stock\"");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["at"], 1'790'000'000'000);
  EXPECT_TRUE(nlohmann::json::parse(decisionJson({Kind::kNone, 0, "x"}, 204, 1))["accept"].is_null());
}

TEST(IntegraApi, ConfirmPaymentUrlCarriesTheBase64OfItsJson) {
  Base64Crypt crypt;
  auto call = apiCall("https://api.example/v1/", crypt, decisionJson({Kind::kAccept, 0, ""}, 200, 1), kData);
  ASSERT_TRUE(call.ok()) << call.error().message;
  EXPECT_EQ(call->method, "confirmPayment");
  EXPECT_EQ(call->json, R"({"amount":"100.50","transactionId":"0123456789abcdef0123456789abcdef"})");
  // base64 of that JSON ("eyJh...") with '+', '/' and '=' percent-encoded, after zaa and the user hash.
  const std::string b64 = crypt.encrypt(call->json);
  EXPECT_EQ(b64.substr(0, 4), "eyJh");
  std::string encoded;
  for (char c : b64) encoded += c == '+' ? "%2B" : c == '/' ? "%2F" : c == '=' ? "%3D" : std::string(1, c);
  EXPECT_EQ(call->url, "https://api.example/v1/confirmPayment?k=zaa9f86d081884c7d65" + encoded);
}

TEST(IntegraApi, Base64IsRfc4648) {
  Base64Crypt crypt;
  EXPECT_EQ(crypt.encrypt(""), "");
  EXPECT_EQ(crypt.encrypt("f"), "Zg==");
  EXPECT_EQ(crypt.encrypt("foobar"), "Zm9vYmFy");
  EXPECT_EQ(crypt.encrypt("\xfb\xff"), "+/8=");
}

TEST(IntegraApi, DeclinePaymentCarriesCodeAndMessage) {
  Base64Crypt crypt;
  auto call =
      apiCall("http://127.0.0.1:9/api", crypt, decisionJson({Kind::kDecline, 5, "fraud"}, 200, 1), kData);
  ASSERT_TRUE(call.ok());
  EXPECT_EQ(call->method, "declinePayment");
  EXPECT_EQ(call->json,
            R"({"errorCode":5,"errorMessage":"fraud","transactionId":"0123456789abcdef0123456789abcdef"})");
  EXPECT_TRUE(call->url.starts_with("http://127.0.0.1:9/api/declinePayment?k=zaa9f86d081884c7d65"));
}

// A base64 user hash goes into the URL percent-encoded the way PHP's urlencode() writes it: a raw '+' would
// reach Integra as a space, and a raw '=' or '/' could be misread.
TEST(IntegraApi, UserHashIsPercentEncodedInTheUrl) {
  Base64Crypt crypt;
  const std::string data =
      R"({"amount":"100,50","transaction_id":"0123456789abcdef0123456789abcdef","user":"ab+c/d=="})";
  auto call = apiCall("https://api.example/v1", crypt, decisionJson({Kind::kAccept, 0, ""}, 200, 1), data);
  ASSERT_TRUE(call.ok()) << call.error().message;
  EXPECT_TRUE(call->url.starts_with("https://api.example/v1/confirmPayment?k=zaaab%2Bc%2Fd%3D%3D"))
      << call->url;
  EXPECT_EQ(call->url.find("ab+c"), std::string::npos);
  // The amount Integra sent, as it sent it.
  EXPECT_EQ(call->json, R"({"amount":"100,50","transactionId":"0123456789abcdef0123456789abcdef"})");
}

TEST(IntegraApi, NoCallWithoutADecisionOrTheFields) {
  Base64Crypt crypt;
  EXPECT_FALSE(apiCall("http://x", crypt, decisionJson({Kind::kNone, 0, ""}, 200, 1), kData).ok());
  EXPECT_FALSE(apiCall("http://x", crypt, "", kData).ok());
  EXPECT_FALSE(apiCall("http://x", crypt, R"({"accept":true})", R"({"user":"u"})").ok());
  EXPECT_FALSE(apiCall("http://x", crypt, R"({"accept":true})", "not json").ok());
  // Read back from Redis: a user hash that would break the URL is refused, not sent.
  EXPECT_FALSE(apiCall("http://x", crypt, R"({"accept":true})",
                       R"({"amount":"1","transaction_id":"t","user":"a b
Host: evil"})")
                   .ok());
}

TEST(IntegraApi, AnswerSuccessAndFailures) {
  EXPECT_FALSE(
      apiFailure(200, R"({"status":{"code":0,"message":"ok"},"error":false,"data":{}})").has_value());
  auto refused = apiFailure(200, R"({"status":{"code":3,"message":"unknown transaction"},"error":true})");
  ASSERT_TRUE(refused.has_value());
  EXPECT_NE(refused->find("unknown transaction"), std::string::npos);
  EXPECT_TRUE(apiFailure(200, R"({"status":{"code":3},"error":false})").has_value());
  EXPECT_TRUE(apiFailure(200, "OK").has_value());
  EXPECT_TRUE(apiFailure(200, R"({"status":{"code":0}})").has_value());
  EXPECT_EQ(*apiFailure(502, ""), "HTTP 502");
}

}  // namespace
}  // namespace payhook::handlers::integra
