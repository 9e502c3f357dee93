#include "handlers/cloudpayments/cloudpayments.h"
#include "handlers/cloudpayments/settings.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "support/listing_expect.h"

namespace payhook::handlers {
namespace {

using Json = nlohmann::json;
using H = CloudPaymentsHandler;

// The undr/cloud_payments SDK's spec: its 917-byte Pay body, its API secret, its valid and invalid HMACs.
constexpr const char* kSecret = "pass";
constexpr const char* kVectorHmac = "tJW02TMAce4Em8eJTNqjhOax+BYRM5K2D8mX9xsmUUc=";
constexpr const char* kInvalidHmac = "6sUXv4W0wmhfpkkDtp+3Hw/M8deAPkMRVV3OWANcqro=";
// Computed from the same formula: a short body, and the same after percent-decoding.
constexpr const char* kShort =
    "TransactionId=666&Amount=123.00&Currency=RUB&InvoiceId=1234567&AccountId=user%40example.com&"
    "Status=Completed";
constexpr const char* kShortHmac = "32mEoqxAj2be/0mdqM+TFPayToT4GVxgkrldi9x4x00=";
constexpr const char* kShortDecodedHmac = "FJu7cDuUS9VwmW0rm4H5S1WVqsuQEnjSERPL0ygm4D0=";
constexpr int64_t kNowMs = 1447771880000;

std::string vectorBody() {
  std::ifstream f(std::string(PAYHOOK_FIXTURES_DIR) + "/cloudpayments/pay_undr.form", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

CloudPaymentsHandler handler(const std::string& secret = kSecret) {
  return CloudPaymentsHandler("cp", Secret(secret));
}

http::Request post(std::string body, std::vector<http::Header> headers,
                   const std::string& content_type = "application/x-www-form-urlencoded") {
  http::Request r;
  r.method = "POST";
  r.path = "/cloudpayments/pay";
  r.headers = {{"content-type", content_type}};
  for (auto& h : headers) r.headers.push_back(std::move(h));
  r.body = std::move(body);
  return r;
}

// `body` with the Content-HMAC CloudPayments would send.
http::Request signedPost(std::string body,
                         const std::string& content_type = "application/x-www-form-urlencoded") {
  std::string mac = cloudpayments::hmacBase64(Secret(std::string(kSecret)), body);
  return post(std::move(body), {{"content-hmac", std::move(mac)}}, content_type);
}

Reject expectReject(const Verdict& v) {
  const auto* r = std::get_if<Reject>(&v);
  EXPECT_NE(r, nullptr) << "expected a Reject";
  return r ? *r : Reject{};
}

Accept expectAccept(const Verdict& v) {
  if (const auto* r = std::get_if<Reject>(&v)) ADD_FAILURE() << "rejected: " << r->reason;
  const auto* a = std::get_if<Accept>(&v);
  EXPECT_NE(a, nullptr) << "expected an Accept";
  return a ? *a : Accept{};
}

void expectAnswer(const http::Response& r, int status, int code) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"code":)" + std::to_string(code) + "}");
}

void expectForged(const Verdict& v) {
  const Reject r = expectReject(v);
  expectAnswer(r.reply, 403, 13);
  EXPECT_EQ(r.outcome, "forged") << r.reason;
  EXPECT_EQ(r.reason.find(kSecret), std::string::npos);
}

void expectMalformed(const Verdict& v) {
  const Reject r = expectReject(v);
  expectAnswer(r.reply, 400, 13);
  EXPECT_EQ(r.outcome, "malformed") << r.reason;
}

Json paymentOf(const Event& e) {
  return Json::parse(e.data_json)["payment"];
}

// --- the HMAC ---

TEST(CloudPaymentsHmac, PublishedVectorOverThe917ByteBody) {
  const std::string body = vectorBody();
  ASSERT_EQ(body.size(), 917u);
  EXPECT_EQ(cloudpayments::hmacBase64(Secret(std::string(kSecret)), body), kVectorHmac);
  EXPECT_TRUE(cloudpayments::hmacMatches(Secret(std::string(kSecret)), body, kVectorHmac));
  EXPECT_FALSE(cloudpayments::hmacMatches(Secret(std::string(kSecret)), body, kInvalidHmac));
}

TEST(CloudPaymentsHmac, ComputedShortBodyAndItsDecodedForm) {
  EXPECT_EQ(cloudpayments::hmacBase64(Secret(std::string(kSecret)), kShort), kShortHmac);
  EXPECT_EQ(cloudpayments::hmacBase64(Secret(std::string(kSecret)),
                                      "TransactionId=666&Amount=123.00&Currency=RUB&InvoiceId=1234567&"
                                      "AccountId=user@example.com&Status=Completed"),
            kShortDecodedHmac);
}

TEST(CloudPaymentsHmac, HeaderThatIsNotBase64OfADigestNeverMatches) {
  const Secret key{std::string(kSecret)};
  EXPECT_FALSE(cloudpayments::hmacMatches(key, kShort, ""));
  EXPECT_FALSE(cloudpayments::hmacMatches(key, kShort, "not base64!"));
  EXPECT_FALSE(cloudpayments::hmacMatches(key, kShort, "32mEoqxAj2be/0mdqM+TFPayToT4GVxgkrldi9x4x0="));
  EXPECT_FALSE(cloudpayments::hmacMatches(key, kShort, "AAAA"));
  // Surrounding blanks are the header's, not the value's.
  EXPECT_TRUE(cloudpayments::hmacMatches(key, kShort, std::string(" ") + kShortHmac + " "));
}

TEST(CloudPayments, PublishedVectorThroughHandleIsAStoredPay) {
  const auto v = handler().handle(H::kPay, post(vectorBody(), {{"content-hmac", kVectorHmac}}), kNowMs);
  const Accept a = expectAccept(v);
  expectAnswer(a.ack, 200, 0);
  EXPECT_EQ(a.event.type, "cloudpayments.pay");
  EXPECT_EQ(a.event.provider, "cloudpayments");
  EXPECT_EQ(a.event.route, "cp");
  EXPECT_TRUE(a.event.verified);
  EXPECT_EQ(a.event.idempotency_key, "pay:666");
  const Json data = Json::parse(a.event.data_json);
  EXPECT_EQ(data["transaction_id"], "666");
  EXPECT_EQ(data["account_id"], "user@example.com");
  EXPECT_EQ(data["name"], "VLADIMIR KOCHNEV");
  EXPECT_EQ(data["date_time"], "2015-11-17 14:51:20");
  EXPECT_EQ(data["ip_city"], "Санкт-Петербург");
  EXPECT_EQ(data["card_exp_date"], "01/19");
  EXPECT_EQ(data["card_first_six"], "411111");
  EXPECT_EQ(data["subscription_id"], "");
  EXPECT_EQ(data["test_mode"], "1");
  EXPECT_EQ(paymentOf(a.event),
            Json::parse(R"({"outcome":"succeeded","amount":"123.00","amount_minor":12300,"currency":"RUB",)"
                        R"("order_id":"1234567","provider_payment_id":"666","test":true,"warnings":[],)"
                        R"("unsigned":[]})"));
  testing::expectListing(a.event, {"1234567", "666", "user@example.com"}, "123.00", "RUB", "Completed",
                         "succeeded");
}

TEST(CloudPayments, PublishedInvalidHmacIsRefused) {
  expectForged(handler().handle(H::kPay, post(vectorBody(), {{"content-hmac", kInvalidHmac}}), kNowMs));
}

TEST(CloudPayments, MissingHmacIsRefused) {
  expectForged(handler().handle(H::kPay, post(kShort, {}), kNowMs));
}

TEST(CloudPayments, OneByteChangedIsRefused) {
  std::string body = vectorBody();
  body[body.find("Amount=123") + 7] = '9';
  expectForged(handler().handle(H::kPay, post(body, {{"content-hmac", kVectorHmac}}), kNowMs));
  // The HMAC is over the bytes as sent: upper-case escapes of the same text are another body.
  body = vectorBody();
  body.replace(body.find("%2f"), 3, "%2F");
  expectForged(handler().handle(H::kPay, post(body, {{"content-hmac", kVectorHmac}}), kNowMs));
}

TEST(CloudPayments, AnotherSecretIsRefusedAndNeverNamed) {
  const auto v = handler("pass2").handle(H::kPay, post(kShort, {{"content-hmac", kShortHmac}}), kNowMs);
  expectForged(v);
  EXPECT_EQ(expectReject(v).reason.find("pass2"), std::string::npos);
}

TEST(CloudPayments, RepeatedHmacHeaderIsRefused) {
  expectForged(handler().handle(
      H::kPay, post(kShort, {{"content-hmac", kShortHmac}, {"content-hmac", kShortHmac}}), kNowMs));
}

TEST(CloudPayments, XContentHmacIsTheFallbackOverTheDecodedBody) {
  expectAccept(handler().handle(H::kPay, post(kShort, {{"x-content-hmac", kShortDecodedHmac}}), kNowMs));
  // Over the raw bytes it is not the X- header's value.
  expectForged(handler().handle(H::kPay, post(kShort, {{"x-content-hmac", kShortHmac}}), kNowMs));
  // Only a fallback: a Content-HMAC that does not match is not rescued by a matching X-Content-HMAC.
  expectForged(handler().handle(
      H::kPay, post(kShort, {{"content-hmac", kInvalidHmac}, {"x-content-hmac", kShortDecodedHmac}}),
      kNowMs));
  // Both present and right: Content-HMAC decides.
  expectAccept(handler().handle(
      H::kPay, post(kShort, {{"content-hmac", kShortHmac}, {"x-content-hmac", kInvalidHmac}}), kNowMs));
}

// --- bodies ---

TEST(CloudPayments, JsonBodyWithUnknownAndNestedFields) {
  const std::string body =
      R"({"TransactionId":1001,"Amount":10.5,"Currency":"RUB","InvoiceId":"A-7","AccountId":"u1",)"
      R"("Status":"Completed","TestMode":false,"Data":{"cart":[1,2]},"NewField":"x","CardId":"c1"})";
  const Accept a = expectAccept(handler().handle(H::kPay, signedPost(body, "application/json"), kNowMs));
  EXPECT_EQ(a.event.idempotency_key, "pay:1001");
  const Json data = Json::parse(a.event.data_json);
  EXPECT_EQ(data["transaction_id"], "1001");
  EXPECT_EQ(data["amount"], "10.5");
  EXPECT_EQ(data["test_mode"], "false");
  EXPECT_EQ(data["data"], Json::parse(R"({"cart":[1,2]})"));
  EXPECT_EQ(data["new_field"], "x");
  EXPECT_EQ(data["card_id"], "c1");
  const Json p = paymentOf(a.event);
  EXPECT_EQ(p["amount"], "10.50");
  EXPECT_EQ(p["amount_minor"], 1050);
  EXPECT_EQ(p["test"], false);
  EXPECT_EQ(p["order_id"], "A-7");
}

TEST(CloudPayments, JsonIsReadWhateverTheContentTypeSays) {
  const std::string body = R"({"TransactionId":"5","Amount":"1.00","Currency":"RUB","Status":"Completed"})";
  const Accept a = expectAccept(handler().handle(H::kPay, signedPost(body, "text/plain"), kNowMs));
  EXPECT_EQ(a.event.idempotency_key, "pay:5");
}

TEST(CloudPayments, SignedBodiesThatCannotBeReadAreMalformed) {
  expectMalformed(handler().handle(H::kPay, signedPost("TransactionId=%zz"), kNowMs));
  expectMalformed(handler().handle(H::kPay, signedPost("{\"TransactionId\":", "application/json"), kNowMs));
  expectMalformed(handler().handle(H::kPay, signedPost("[1,2]", "application/json"), kNowMs));
  expectMalformed(handler().handle(H::kPay, signedPost("Amount=1.00&Currency=RUB"), kNowMs));
  expectMalformed(handler().handle(H::kPay, signedPost("TransactionId="), kNowMs));
  expectMalformed(handler().handle(H::kPay, signedPost("TransactionId=1:2"), kNowMs));
  expectMalformed(handler().handle(H::kRecurrent, signedPost("AccountId=u1&Status=Active"), kNowMs));
}

TEST(CloudPayments, ReservedNamesAreKeptBesideThePayment) {
  const Accept a =
      expectAccept(handler().handle(H::kPay, signedPost("TransactionId=1&Payment=x&Check=y"), kNowMs));
  const Json data = Json::parse(a.event.data_json);
  EXPECT_EQ(data["payment_"], "x");
  EXPECT_EQ(data["check_"], "y");
  EXPECT_TRUE(data["payment"].is_object());
}

TEST(CloudPayments, RepeatedFieldsKeepEveryValue) {
  const Accept a = expectAccept(handler().handle(H::kPay, signedPost("TransactionId=1&Tag=a&Tag=b"), kNowMs));
  EXPECT_EQ(Json::parse(a.event.data_json)["tag"], Json::parse(R"(["a","b"])"));
}

TEST(CloudPayments, SnakeCaseNames) {
  EXPECT_EQ(cloudpayments::snakeCase("TransactionId"), "transaction_id");
  EXPECT_EQ(cloudpayments::snakeCase("IpAddress"), "ip_address");
  EXPECT_EQ(cloudpayments::snakeCase("CardFirstSix"), "card_first_six");
  EXPECT_EQ(cloudpayments::snakeCase("Rrn"), "rrn");
  EXPECT_EQ(cloudpayments::snakeCase("Id"), "id");
  EXPECT_EQ(cloudpayments::snakeCase("HTTPCode"), "http_code");
  EXPECT_EQ(cloudpayments::snakeCase("Card3DS"), "card3_ds");
  EXPECT_EQ(cloudpayments::snakeCase("already_snake"), "already_snake");
  EXPECT_EQ(cloudpayments::snakeCase(""), "");
}

// --- types, keys and the normalised payment ---

struct TypeCase {
  size_t endpoint;
  std::string body;
  std::string type;
  std::string key;
  std::string outcome;
};

TEST(CloudPayments, EveryTypeHasItsKeyAndOutcome) {
  const std::string base = "TransactionId=77&Amount=5.00&Currency=RUB&InvoiceId=9&AccountId=a";
  const TypeCase cases[] = {
      {H::kPay, base + "&Status=Completed", "cloudpayments.pay", "pay:77", "succeeded"},
      {H::kPay, base + "&Status=Authorized", "cloudpayments.pay", "pay:77", "held"},
      {H::kFail, base + "&Status=Declined&Reason=InsufficientFunds&ReasonCode=5051", "cloudpayments.fail",
       "fail:77", "failed"},
      {H::kConfirm, base + "&Status=Completed", "cloudpayments.confirm", "confirm:77", "succeeded"},
      {H::kConfirm, base, "cloudpayments.confirm", "confirm:77", "succeeded"},
      {H::kRefund, base + "&PaymentTransactionId=70&Op=Refund", "cloudpayments.refund", "refund:77",
       "refunded"},
      {H::kCancel, base, "cloudpayments.cancel", "cancel:77", "reversed"},
      {H::kRecurrent,
       "Id=sc_1&AccountId=a&Amount=5.00&Currency=RUB&Status=PastDue&SuccessfulTransactionsNumber=3&"
       "FailedTransactionsNumber=1",
       "cloudpayments.recurrent", "recurrent:sc_1:PastDue:3:1", "pending"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    const Accept a = expectAccept(handler().handle(c.endpoint, signedPost(c.body), kNowMs));
    expectAnswer(a.ack, 200, 0);
    EXPECT_EQ(a.event.type, c.type);
    EXPECT_EQ(a.event.idempotency_key, c.key);
    EXPECT_EQ(paymentOf(a.event)["outcome"], c.outcome);
    EXPECT_EQ(paymentOf(a.event)["amount"], "5.00");
    EXPECT_EQ(paymentOf(a.event)["currency"], "RUB");
    EXPECT_EQ(paymentOf(a.event)["test"], false);
  }
}

TEST(CloudPayments, RefundNamesThePaymentItReturns) {
  const Accept a = expectAccept(handler().handle(
      H::kRefund, signedPost("TransactionId=78&PaymentTransactionId=70&Amount=2.00&Currency=RUB&InvoiceId=9"),
      kNowMs));
  EXPECT_EQ(paymentOf(a.event)["provider_payment_id"], "70");
  testing::expectListing(a.event, {"9", "78", "70"}, "2.00", "RUB", "", "refunded");
}

TEST(CloudPayments, FailListsItsReason) {
  const Accept a = expectAccept(handler().handle(
      H::kFail, signedPost("TransactionId=7&Amount=1&Currency=RUB&Status=Declined&Reason=InsufficientFunds"),
      kNowMs));
  testing::expectListing(a.event, {"7"}, "1.00", "RUB", "Declined/InsufficientFunds", "failed");
}

TEST(CloudPayments, RecurrentIsFoundBySubscriptionAndAccount) {
  const Accept a = expectAccept(handler().handle(
      H::kRecurrent, signedPost("Id=sc_8&AccountId=acc&Status=Active&Amount=3&Currency=RUB"), kNowMs));
  EXPECT_EQ(a.event.idempotency_key, "recurrent:sc_8:Active::");
  testing::expectListing(a.event, {"acc", "sc_8"}, "3.00", "RUB", "Active", "pending");
}

TEST(CloudPayments, CheckIsADecideForAuditOnly) {
  const auto v = handler().handle(H::kCheck, signedPost(kShort), kNowMs);
  const auto* d = std::get_if<Decide>(&v);
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->deliver);
  EXPECT_EQ(d->event.type, "cloudpayments.check");
  EXPECT_EQ(d->event.idempotency_key, "check:666");
  EXPECT_EQ(paymentOf(d->event)["outcome"], "pending");
  EXPECT_EQ(paymentOf(d->event)["order_id"], "1234567");
}

TEST(CloudPayments, EndpointsInOrder) {
  const auto e = handler().endpoints();
  const char* suffixes[] = {"/check", "/pay", "/fail", "/confirm", "/refund", "/recurrent", "/cancel"};
  ASSERT_EQ(e.size(), std::size(suffixes));
  for (size_t i = 0; i < e.size(); ++i) {
    EXPECT_EQ(e[i].suffix, suffixes[i]);
    EXPECT_EQ(e[i].methods, std::vector<std::string>{"POST"});
  }
}

// --- Check decisions ---

Decision decision(Decision::Kind kind, int code = 0, bool pending = false) {
  Decision d;
  d.kind = kind;
  d.code = code;
  d.pending = pending;
  d.message = "m";
  return d;
}

TEST(CloudPaymentsDecided, AcceptIsCode0) {
  expectAnswer(handler().decided(Event{}, decision(Decision::Kind::kAccept)), 200, 0);
}

TEST(CloudPaymentsDecided, EachDocumentedRefusalCodePassesThrough) {
  // 11 and 12 both pass as given: copies of the docs disagree on which one means a wrong amount.
  for (int code : {10, 11, 12, 13, 20})
    expectAnswer(handler().decided(Event{}, decision(Decision::Kind::kRefuse, code)), 200, code);
}

TEST(CloudPaymentsDecided, AnyOtherRefusalIsCode13) {
  for (int code : {0, 1, 14, 21, 100, -1})
    expectAnswer(handler().decided(Event{}, decision(Decision::Kind::kRefuse, code)), 200, 13);
}

TEST(CloudPaymentsDecided, PendingTimeoutAndFailureAreCode13) {
  expectAnswer(handler().decided(Event{}, decision(Decision::Kind::kRefuse, 10, /*pending=*/true)), 200, 13);
  expectAnswer(handler().decided(Event{}, decision(Decision::Kind::kFailed)), 200, 13);
  expectAnswer(handler().decided(Event{}, decision(Decision::Kind::kFailed, 12)), 200, 13);
}

TEST(CloudPayments, UnavailableIs503WithRetryAfterAndARefusalCode) {
  const http::Response r = handler().unavailable();
  expectAnswer(r, 503, 13);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].name, "retry-after");
  EXPECT_EQ(r.headers[0].value, "5");
}

// --- notes: a Pay after a refused Check ---

TEST(CloudPaymentsNotes, CheckAndPayOfOneTransactionShareANote) {
  const auto check = handler().handle(H::kCheck, signedPost(kShort), kNowMs);
  const auto pay = handler().handle(H::kPay, signedPost(kShort), kNowMs);
  EXPECT_EQ(handler().noteKey(std::get<Decide>(check).event), "transaction:666");
  EXPECT_EQ(handler().noteKey(std::get<Accept>(pay).event), "transaction:666");
  const auto refund = handler().handle(H::kRefund, signedPost(kShort), kNowMs);
  EXPECT_EQ(handler().noteKey(std::get<Accept>(refund).event), "");
}

TEST(CloudPaymentsNotes, APayAfterARefusedCheckSaysSo) {
  Accept a = expectAccept(handler().handle(H::kPay, signedPost(kShort), kNowMs));
  EXPECT_EQ(handler().annotate(a.event, "accept 0190-x"), "");
  const std::string warning = handler().annotate(a.event, "refuse 0190-check");
  EXPECT_FALSE(warning.empty());
  const Json data = Json::parse(a.event.data_json);
  EXPECT_EQ(data["check"], Json::parse(R"({"decision":"refuse","event_id":"0190-check"})"));
  EXPECT_EQ(data["payment"]["warnings"], Json::parse(R"(["check_refused"])"));
}

TEST(CloudPayments, FactoryNeedsTheSecret) {
  config::RouteConfig route;
  route.name = "cp";
  route.provider = "cloudpayments";
  auto settings = std::make_shared<cloudpayments::Settings>();
  route.settings = settings;
  settings->api_secret = Secret(std::string(kSecret));
  auto ok = makeCloudPaymentsHandler(route);
  ASSERT_TRUE(ok.ok());
  expectAccept((*ok)->handle(H::kPay, post(kShort, {{"content-hmac", kShortHmac}}), kNowMs));
  settings->api_secret = Secret();
  auto empty = makeCloudPaymentsHandler(route);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message.rfind("api_secret_file: ", 0), 0u);
}

}  // namespace
}  // namespace payhook::handlers
