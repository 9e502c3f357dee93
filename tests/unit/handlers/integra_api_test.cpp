#include "handlers/integra/api.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

namespace payhook::handlers::integra {
namespace {

using Kind = ShopDecision::Kind;

constexpr const char* kData =
    R"({"amount":"100.50","transaction_id":"0123456789abcdef0123456789abcdef","user":"9f86d081884c7d65"})";

const DeclineDefaults kDefaults{1, "declined by the shop"};

ShopDecision accept() {
  ShopDecision d;
  d.kind = Kind::kAccept;
  return d;
}

ShopDecision decline(int64_t code, std::string message) {
  ShopDecision d;
  d.kind = Kind::kDecline;
  d.code = code;
  d.message = std::move(message);
  return d;
}

TEST(IntegraApi, ShopDecisions) {
  const auto accept = parseShopDecision(R"({"accept":true})", kDefaults);
  EXPECT_EQ(accept.kind, Kind::kAccept);
  EXPECT_FALSE(accept.defaulted);
  auto d = parseShopDecision(R"({"accept":false,"code":12,"message":"out of stock"})", kDefaults);
  EXPECT_EQ(d.kind, Kind::kDecline);
  EXPECT_EQ(d.code, 12);
  EXPECT_EQ(d.message, "out of stock");
  EXPECT_FALSE(d.defaulted);
  EXPECT_EQ(d.reason, "");
}

// Integra waits for an answer: whatever the shop's 2xx says, some call is made. What is no clear accept is
// the safe refusal, with the route's default code and message and the reason kept.
TEST(IntegraApi, AnythingButAClearDecisionIsTheDefaultRefusal) {
  struct Case {
    const char* body;
    const char* reason;
  };
  for (const Case& c :
       {Case{"", "the answer is not a JSON object"}, Case{"OK", "the answer is not a JSON object"},
        Case{"[true]", "the answer is not a JSON object"}, Case{"{}", "the answer has no boolean \"accept\""},
        Case{R"({"accept":"yes"})", "the answer has no boolean \"accept\""},
        Case{R"({"accept":1,"code":3,"message":"x"})", "the answer has no boolean \"accept\""},
        Case{R"({"accept":null})", "the answer has no boolean \"accept\""}}) {
    SCOPED_TRACE(c.body);
    const auto d = parseShopDecision(c.body, kDefaults);
    EXPECT_EQ(d.kind, Kind::kDecline);
    EXPECT_EQ(d.code, 1);
    EXPECT_EQ(d.message, "declined by the shop");
    EXPECT_TRUE(d.defaulted);
    EXPECT_EQ(d.reason, c.reason);
  }
  // The route's own defaults.
  const auto custom = parseShopDecision("{}", DeclineDefaults{42, "refused by payhook"});
  EXPECT_EQ(custom.code, 42);
  EXPECT_EQ(custom.message, "refused by payhook");
}

// A refusal keeps what the shop gave and takes the rest from the defaults.
TEST(IntegraApi, ARefusalWithoutCodeOrMessageIsCompletedFromTheDefaults) {
  auto d = parseShopDecision(R"({"accept":false})", kDefaults);
  EXPECT_EQ(d.kind, Kind::kDecline);
  EXPECT_EQ(d.code, 1);
  EXPECT_EQ(d.message, "declined by the shop");
  EXPECT_TRUE(d.defaulted);
  EXPECT_EQ(d.reason, "the refusal has no integer \"code\" and no \"message\"");

  d = parseShopDecision(R"({"accept":false,"code":12})", kDefaults);
  EXPECT_EQ(d.code, 12);
  EXPECT_EQ(d.message, "declined by the shop");
  EXPECT_TRUE(d.defaulted);
  EXPECT_EQ(d.reason, "the refusal has no \"message\"");

  for (const char* body :
       {R"({"accept":false,"message":"fraud"})", R"({"accept":false,"code":"12","message":"fraud"})",
        R"({"accept":false,"code":1.5,"message":"fraud"})"}) {
    SCOPED_TRACE(body);
    d = parseShopDecision(body, kDefaults);
    EXPECT_EQ(d.code, 1);
    EXPECT_EQ(d.message, "fraud");
    EXPECT_TRUE(d.defaulted);
    EXPECT_EQ(d.reason, "the refusal has no integer \"code\"");
  }
  d = parseShopDecision(R"({"accept":false,"code":7,"message":""})", kDefaults);
  EXPECT_EQ(d.code, 7);
  EXPECT_EQ(d.message, "declined by the shop");
  EXPECT_EQ(d.reason, "the refusal has no \"message\"");
  // The shop's explicit code is its choice, 0 included.
  d = parseShopDecision(R"({"accept":false,"code":0,"message":"x"})", kDefaults);
  EXPECT_EQ(d.code, 0);
  EXPECT_FALSE(d.defaulted);
}

// declinePayment's optional parameters: the scalar values of the shop's "params", never in place of the
// three the call is made of.
TEST(IntegraApi, RefusalParamsArePassedThrough) {
  const auto d = parseShopDecision(R"({"accept":false,"code":5,"message":"fraud","params":{
      "reason":"velocity","retry":false,"score":0.5,"n":3,"nested":{"a":1},"list":[1],"nil":null,
      "transactionId":"x","errorCode":9,"errorMessage":"y"}})",
                                   kDefaults);
  EXPECT_EQ(d.kind, Kind::kDecline);
  EXPECT_EQ(d.code, 5);
  EXPECT_FALSE(d.defaulted);
  EXPECT_EQ(d.params, nlohmann::json::parse(R"({"reason":"velocity","retry":false,"score":0.5,"n":3})"));
  EXPECT_EQ(d.ignored.size(), 6u);
  for (const char* name : {"nested", "list", "nil", "transactionId", "errorCode", "errorMessage"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(std::count_if(d.ignored.begin(), d.ignored.end(),
                            [&](const std::string& note) { return note.find(name) != std::string::npos; }),
              1);
  }
  // Kept on the event, and sent.
  const std::string stored = decisionJson(d, 200, 1);
  EXPECT_EQ(nlohmann::json::parse(stored)["params"], d.params);
  Base64Crypt crypt;
  auto call = apiCall("http://x/api", crypt, stored, kData);
  ASSERT_TRUE(call.ok()) << call.error().message;
  EXPECT_EQ(nlohmann::json::parse(call->json), nlohmann::json::parse(R"({"transactionId":
      "0123456789abcdef0123456789abcdef","errorCode":5,"errorMessage":"fraud","reason":"velocity","retry":false,
      "score":0.5,"n":3})"));
  // With a defaulted refusal too.
  const auto defaulted = parseShopDecision(R"({"accept":false,"params":{"lang":"ru"}})", kDefaults);
  EXPECT_TRUE(defaulted.defaulted);
  EXPECT_EQ(defaulted.params, nlohmann::json::parse(R"({"lang":"ru"})"));
  call = apiCall("http://x/api", crypt, decisionJson(defaulted, 200, 1), kData);
  ASSERT_TRUE(call.ok());
  EXPECT_EQ(nlohmann::json::parse(call->json)["lang"], "ru");
  EXPECT_EQ(nlohmann::json::parse(call->json)["errorCode"], 1);
  // Not an object, or with an accept: ignored, and said so.
  const auto not_object =
      parseShopDecision(R"({"accept":false,"code":1,"message":"m","params":[1]})", kDefaults);
  EXPECT_TRUE(not_object.params.empty());
  EXPECT_EQ(not_object.ignored.size(), 1u);
  const auto accepted = parseShopDecision(R"({"accept":true,"params":{"lang":"ru"}})", kDefaults);
  EXPECT_EQ(accepted.kind, Kind::kAccept);
  EXPECT_TRUE(accepted.params.empty());
  EXPECT_EQ(accepted.ignored.size(), 1u);
  EXPECT_FALSE(nlohmann::json::parse(decisionJson(accepted, 200, 1)).contains("params"));
  // No params: no key.
  EXPECT_FALSE(nlohmann::json::parse(decisionJson(decline(5, "x"), 200, 1)).contains("params"));
}

// A stored decision is read back from Redis: its params must not replace what the call is made of.
TEST(IntegraApi, StoredParamsNeverOverrideTheCall) {
  Base64Crypt crypt;
  auto call =
      apiCall("http://x/api", crypt,
              R"({"accept":false,"code":5,"message":"m","params":{"transactionId":"evil","errorCode":0,
                          "errorMessage":"","x":{"a":1},"y":"ok"},"status":200,"at":1})",
              kData);
  ASSERT_TRUE(call.ok());
  EXPECT_EQ(nlohmann::json::parse(call->json), nlohmann::json::parse(R"({"transactionId":
      "0123456789abcdef0123456789abcdef","errorCode":5,"errorMessage":"m","y":"ok"})"));
}

TEST(IntegraApi, DecisionJsonIsWhatTheApiJobReadsBack) {
  const ShopDecision d = decline(7, "no \"stock\"");
  auto j = nlohmann::json::parse(decisionJson(d, 200, 1'790'000'000'000));
  EXPECT_EQ(j["accept"], false);
  EXPECT_EQ(j["code"], 7);
  EXPECT_EQ(j["message"], "no \"stock\"");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["at"], 1'790'000'000'000);
  EXPECT_FALSE(j.contains("defaulted"));
  // A defaulted refusal says so, and why.
  j = nlohmann::json::parse(decisionJson(parseShopDecision("{}", kDefaults), 204, 5));
  EXPECT_EQ(j, nlohmann::json::parse(R"({"accept":false,"code":1,"message":"declined by the shop",
      "defaulted":true,"reason":"the answer has no boolean \"accept\"","status":204,"at":5})"));
}

TEST(IntegraApi, ADefaultedRefusalIsADeclinePaymentCall) {
  Base64Crypt crypt;
  auto call = apiCall("http://x/api", crypt, decisionJson(parseShopDecision("OK", kDefaults), 200, 1), kData);
  ASSERT_TRUE(call.ok()) << call.error().message;
  EXPECT_EQ(call->method, "declinePayment");
  EXPECT_EQ(call->json, R"({"errorCode":1,"errorMessage":"declined by the shop","transactionId":")"
                        R"(0123456789abcdef0123456789abcdef"})");
}

TEST(IntegraApi, ConfirmPaymentUrlCarriesTheBase64OfItsJson) {
  Base64Crypt crypt;
  auto call = apiCall("https://api.example/v1/", crypt, decisionJson(accept(), 200, 1), kData);
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
  auto call = apiCall("http://127.0.0.1:9/api", crypt, decisionJson(decline(5, "fraud"), 200, 1), kData);
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
  auto call = apiCall("https://api.example/v1", crypt, decisionJson(accept(), 200, 1), data);
  ASSERT_TRUE(call.ok()) << call.error().message;
  EXPECT_TRUE(call->url.starts_with("https://api.example/v1/confirmPayment?k=zaaab%2Bc%2Fd%3D%3D"))
      << call->url;
  EXPECT_EQ(call->url.find("ab+c"), std::string::npos);
  // The amount Integra sent, as it sent it.
  EXPECT_EQ(call->json, R"({"amount":"100,50","transactionId":"0123456789abcdef0123456789abcdef"})");
}

// With crypt_command the JSON is encrypted by the partner's program between apiRequest() and apiUrl();
// whatever it prints is percent-encoded into `k`.
TEST(IntegraApi, ExternalCipherOutputGoesIntoTheUrlEncoded) {
  auto call = apiRequest(decisionJson(accept(), 200, 1), kData);
  ASSERT_TRUE(call.ok()) << call.error().message;
  EXPECT_EQ(call->method, "confirmPayment");
  EXPECT_EQ(call->json, R"({"amount":"100.50","transactionId":"0123456789abcdef0123456789abcdef"})");
  EXPECT_EQ(call->user, "9f86d081884c7d65");
  EXPECT_EQ(call->url, "");
  EXPECT_EQ(apiUrl("http://x/api/", *call, "a b+c/=~&"),
            "http://x/api/confirmPayment?k=zaa9f86d081884c7d65a+b%2Bc%2F%3D%7E%26");
}

TEST(IntegraApi, NoCallWithoutADecisionOrTheFields) {
  Base64Crypt crypt;
  // A decision recorded as none (accept null, as stored before every 2xx became a decision).
  EXPECT_FALSE(
      apiCall("http://x", crypt, R"({"accept":null,"message":"x","status":200,"at":1})", kData).ok());
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
