// YooKassa's GET /v3/payments/{id} as payhook asks it about expected payments: the request with the shop's
// basic authentication, the payment statuses, the event a final or held one becomes, and the notification's
// reference to the expected payment it closes.
#include <gtest/gtest.h>
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "handlers/yookassa/status.h"
#include "handlers/yookassa/yookassa.h"

namespace payhook::handlers::yookassa {
namespace {

using Json = nlohmann::json;

constexpr const char* kId = "22e12f66-000f-5000-8000-18db351245c7";
// "Basic " + base64("506751:test_secret").
constexpr const char* kAuthorization = "Basic NTA2NzUxOnRlc3Rfc2VjcmV0";

YooKassaStatusSource source() {
  YooKassaStatusSource::Options o;
  o.api_base = "https://api.yookassa.ru";
  o.authorization = kAuthorization;
  return YooKassaStatusSource(o);
}

std::string payment(const std::string& status) {
  return R"({"id":")" + std::string(kId) + R"(","status":")" + status +
         R"(","paid":true,"amount":{"value":"100.50","currency":"RUB"},"metadata":{"order_id":"37"},)"
         R"("test":true})";
}

TEST(YooKassaStatus, RequestIsAGetOfThePaymentWithBasicAuthentication) {
  const StatusRequest r = source().request(kId);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.url, std::string("https://api.yookassa.ru/v3/payments/") + kId);
  EXPECT_TRUE(r.body.empty());
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0].name, "authorization");
  EXPECT_EQ(r.headers[0].value, kAuthorization);
}

TEST(YooKassaStatus, TheSettingsCredentialsMakeTheAuthorization) {
  ASSERT_GE(sodium_init(), 0);
  Settings s;
  s.shop_id = "506751";
  s.secret_key = Secret(std::string("test_secret"));
  EXPECT_EQ(authorizationOf(s), kAuthorization);
}

TEST(YooKassaStatus, OnlyIdsThatStayInThePathCanBeExpected) {
  EXPECT_EQ(source().checkOrder(kId), "");
  EXPECT_EQ(source().checkOrder("2f_a-B9"), "");
  EXPECT_NE(source().checkOrder("../refunds/x"), "");
  EXPECT_NE(source().checkOrder("a?b"), "");
  EXPECT_NE(source().checkOrder(std::string(65, 'a')), "");
}

TEST(YooKassaStatus, PaymentStatusesMapToTheSharedOutcomes) {
  EXPECT_EQ(outcomeOfPaymentStatus("succeeded"), "succeeded");
  EXPECT_EQ(outcomeOfPaymentStatus("waiting_for_capture"), "held");
  EXPECT_EQ(outcomeOfPaymentStatus("canceled"), "failed");
  EXPECT_EQ(outcomeOfPaymentStatus("pending"), "");
  EXPECT_EQ(outcomeOfPaymentStatus("something_new"), "");
}

TEST(YooKassaStatus, SucceededIsAFinalEventFromReconciliation) {
  const std::string body = payment("succeeded");
  const StatusAnswer a = source().answer("yk", kId, 200, body);
  ASSERT_EQ(a.kind, StatusAnswer::Kind::kFinal) << a.error;
  EXPECT_EQ(a.status, "status \"succeeded\"");
  const Event& e = a.event;
  EXPECT_EQ(e.type, "yookassa.payment_status");
  EXPECT_EQ(e.provider, "yookassa");
  EXPECT_EQ(e.route, "yk");
  EXPECT_TRUE(e.verified);
  EXPECT_EQ(e.idempotency_key, std::string("status:") + kId + ":succeeded");
  EXPECT_EQ(e.raw.method, "GET");
  EXPECT_EQ(e.raw.path, std::string("/v3/payments/") + kId);
  EXPECT_EQ(e.raw.body, body);
  const Json data = Json::parse(e.data_json);
  EXPECT_EQ(data["source"], "reconciliation");
  EXPECT_EQ(data["expected_order"], kId);
  EXPECT_EQ(data["event"], "payment.succeeded");
  EXPECT_EQ(data["status"], "succeeded");
  EXPECT_EQ(data["object"]["amount"]["value"], "100.50");
  EXPECT_EQ(data["payment"]["outcome"], "succeeded");
  EXPECT_EQ(data["payment"]["provider_payment_id"], kId);
  EXPECT_EQ(data["payment"]["order_id"], "37");
  ASSERT_EQ(e.order.keys.size(), 1u);
  EXPECT_EQ(e.order.keys[0], kId);
  EXPECT_EQ(e.order.state, "succeeded");
  EXPECT_TRUE(e.order.final);
  EXPECT_TRUE(e.order.reconciliation);
}

TEST(YooKassaStatus, CanceledIsFinalAndFailed) {
  const StatusAnswer a = source().answer("yk", kId, 200, payment("canceled"));
  ASSERT_EQ(a.kind, StatusAnswer::Kind::kFinal);
  EXPECT_EQ(a.event.order.state, "failed");
  EXPECT_TRUE(a.event.order.final);
  EXPECT_EQ(Json::parse(a.event.data_json)["payment"]["outcome"], "failed");
  EXPECT_EQ(a.event.idempotency_key, std::string("status:") + kId + ":canceled");
}

TEST(YooKassaStatus, WaitingForCaptureIsHeldAndNotFinal) {
  const StatusAnswer a = source().answer("yk", kId, 200, payment("waiting_for_capture"));
  ASSERT_EQ(a.kind, StatusAnswer::Kind::kHeld);
  EXPECT_EQ(a.event.order.state, "held");
  EXPECT_FALSE(a.event.order.final);
  EXPECT_EQ(Json::parse(a.event.data_json)["payment"]["outcome"], "held");
}

TEST(YooKassaStatus, PendingAndUnknownStatusesAreAskedAgain) {
  for (const char* status : {"pending", "something_new"}) {
    const StatusAnswer a = source().answer("yk", kId, 200, payment(status));
    EXPECT_EQ(a.kind, StatusAnswer::Kind::kPending) << status;
    EXPECT_TRUE(a.error.empty()) << status;
  }
}

TEST(YooKassaStatus, UnusableAnswersAreFailuresWithoutSecrets) {
  struct Case {
    int status;
    std::string body;
  };
  const Case cases[] = {
      {0, ""},
      {503, R"({"type":"error"})"},
      {401, R"({"type":"error","code":"invalid_credentials"})"},
      {404, R"({"type":"error","code":"not_found"})"},
      {200, "not json"},
      {200, "[1]"},
      {200, R"({"id":"another","status":"succeeded"})"},
      {200, std::string(R"({"id":")") + kId + R"("})"},
  };
  for (const auto& c : cases) {
    const StatusAnswer a = source().answer("yk", kId, c.status, c.body);
    EXPECT_EQ(a.kind, StatusAnswer::Kind::kFailed) << c.status << " " << c.body;
    EXPECT_FALSE(a.error.empty()) << c.status << " " << c.body;
    EXPECT_EQ(a.error.find("NTA2NzUx"), std::string::npos);
  }
  EXPECT_NE(source().answer("yk", kId, 401, "").error.find("secret_key_file"), std::string::npos);
}

TEST(YooKassaStatus, APaymentNotificationReferencesItsExpectedPayment) {
  auto e = eventOf(
      "yk", R"({"type":"notification","event":"payment.succeeded","object":)" + payment("succeeded") + "}");
  ASSERT_TRUE(e) << e.error().message;
  ASSERT_EQ(e->order.keys.size(), 1u);
  EXPECT_EQ(e->order.keys[0], kId);
  EXPECT_EQ(e->order.state, "succeeded");
  EXPECT_TRUE(e->order.final);
  EXPECT_FALSE(e->order.reconciliation);
  // Stored, it only waits: the API's confirmation settles the expectation.
  EXPECT_TRUE(e->order.confirm_first);

  auto held = eventOf("yk", R"({"type":"notification","event":"payment.waiting_for_capture","object":)" +
                                payment("waiting_for_capture") + "}");
  ASSERT_TRUE(held);
  EXPECT_EQ(held->order.state, "held");
  EXPECT_FALSE(held->order.final);
}

TEST(YooKassaStatus, TheConfirmationSettlesTheExpectedPaymentWithTheApisStatus) {
  auto e = eventOf(
      "yk", R"({"type":"notification","event":"payment.succeeded","object":)" + payment("succeeded") + "}");
  ASSERT_TRUE(e);
  const Recheck::Outcome confirmed = judge(*e, 200, payment("succeeded"), 1'700'000'000'000);
  ASSERT_EQ(confirmed.kind, Recheck::Outcome::Kind::kConfirmed) << confirmed.note;
  ASSERT_EQ(confirmed.event.order.keys.size(), 1u);
  EXPECT_EQ(confirmed.event.order.keys[0], kId);
  EXPECT_EQ(confirmed.event.order.state, "succeeded");
  EXPECT_TRUE(confirmed.event.order.final);
  EXPECT_TRUE(confirmed.event.order.confirm_first);
}

TEST(YooKassaStatus, ARefundNotificationReferencesNoExpectedPayment) {
  auto e =
      eventOf("yk", R"({"type":"notification","event":"refund.succeeded","object":{"id":"216749f7-0016-50be-)"
                    R"(b000-078d43a63ae4","status":"succeeded","payment_id":")" +
                        std::string(kId) + R"(","amount":{"value":"1.00","currency":"RUB"}}})");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_TRUE(e->order.keys.empty());
}

}  // namespace
}  // namespace payhook::handlers::yookassa
