#include "handlers/yookassa/yookassa.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/cidr.h"
#include "handlers/registry.h"
#include "handlers/yookassa/settings.h"
#include "support/listing_expect.h"

namespace payhook::handlers {
namespace {

using Json = nlohmann::json;
using Kind = Recheck::Outcome::Kind;

constexpr const char* kPaymentId = "22e12f66-000f-5000-8000-18db351245c7";

// A payment object as YooKassa's notifications and its API carry it (the SDKs' example, shortened).
std::string paymentObject(const std::string& status, const std::string& value = "100.00") {
  return R"({"id":")" + std::string(kPaymentId) + R"(","status":")" + status + R"(","paid":true,)" +
         R"("amount":{"value":")" + value +
         R"(","currency":"RUB"},"created_at":"2026-11-26T10:00:00.000Z",)" +
         R"("metadata":{"order_id":"37"},"test":false})";
}

std::string notification(const std::string& event, const std::string& object) {
  return R"({"type":"notification","event":")" + event + R"(","object":)" + object + "}";
}

http::Request post(std::string body) {
  http::Request r;
  r.method = "POST";
  r.path = "/yookassa";
  r.headers = {{"content-type", "application/json"}};
  r.body = std::move(body);
  return r;
}

Accept accepted(const Verdict& v) {
  EXPECT_TRUE(std::holds_alternative<Accept>(v))
      << (std::holds_alternative<Reject>(v) ? std::get<Reject>(v).reason : std::string("not a reject"));
  return std::holds_alternative<Accept>(v) ? std::get<Accept>(v) : Accept{};
}

void expectMalformed(const std::string& body) {
  const auto v = YooKassaHandler("yk").handle(0, post(body), 0);
  ASSERT_TRUE(std::holds_alternative<Reject>(v)) << body;
  const Reject& r = std::get<Reject>(v);
  EXPECT_EQ(r.reply.status, 400) << body;
  EXPECT_EQ(r.outcome, "malformed") << body;
}

Event stored(const std::string& event, const std::string& object) {
  auto ev = yookassa::eventOf("yk", notification(event, object));
  EXPECT_TRUE(ev.ok()) << (ev.ok() ? "" : ev.error().message);
  return ev.ok() ? *ev : Event{};
}

TEST(YooKassa, APaymentNotificationIsAcceptedUnverifiedUnderItsEventIdAndStatus) {
  const auto a = accepted(YooKassaHandler("yk").handle(
      0, post(notification("payment.succeeded", paymentObject("succeeded"))), 0));
  EXPECT_EQ(a.ack.status, 200);
  EXPECT_EQ(a.ack.body, "");
  const Event& ev = a.event;
  EXPECT_EQ(ev.type, "yookassa.payment.succeeded");
  EXPECT_EQ(ev.provider, "yookassa");
  EXPECT_EQ(ev.route, "yk");
  EXPECT_FALSE(ev.verified) << "nothing is verified before the API re-check";
  EXPECT_EQ(ev.idempotency_key, std::string("payment.succeeded:") + kPaymentId + ":succeeded");
  const Json data = Json::parse(ev.data_json);
  EXPECT_EQ(data["event"], "payment.succeeded");
  EXPECT_EQ(data["object_type"], "payment");
  EXPECT_EQ(data["id"], kPaymentId);
  EXPECT_EQ(data["status"], "succeeded");
  EXPECT_EQ(data["object"], Json::parse(paymentObject("succeeded")));
  EXPECT_EQ(data["payment"],
            Json::parse(R"({"outcome":"succeeded","amount":"100.00","amount_minor":10000,
      "currency":"RUB","order_id":"37","provider_payment_id":")" +
                        std::string(kPaymentId) + R"(","test":false,"warnings":[],"unsigned":[]})"));
  testing::expectListing(ev, {"37", kPaymentId}, "100.00", "RUB", "payment.succeeded", "succeeded");
}

TEST(YooKassa, EachObjectAndStatusNormalises) {
  EXPECT_EQ(Json::parse(stored("payment.waiting_for_capture", paymentObject("waiting_for_capture"))
                            .data_json)["payment"]["outcome"],
            "held");
  EXPECT_EQ(
      Json::parse(stored("payment.canceled", paymentObject("canceled")).data_json)["payment"]["outcome"],
      "failed");
  const Event refund = stored("refund.succeeded", R"({"id":"216749f7-0016-50be-b000-078d43a63ae4",
      "status":"succeeded","amount":{"value":"1.00","currency":"RUB"},"payment_id":")" +
                                                      std::string(kPaymentId) + "\"}");
  EXPECT_EQ(refund.type, "yookassa.refund.succeeded");
  const Json rd = Json::parse(refund.data_json);
  EXPECT_EQ(rd["payment"]["outcome"], "refunded");
  EXPECT_EQ(rd["payment"]["provider_payment_id"], kPaymentId);
  testing::expectListing(refund, {"216749f7-0016-50be-b000-078d43a63ae4", kPaymentId}, "1.00", "RUB",
                         "refund.succeeded", "refunded");
  const Event payout = stored("payout.succeeded", R"({"id":"po-285e5ee7-0022-5000-8000-01516a44b147",
      "status":"succeeded","amount":{"value":"320.00","currency":"RUB"}})");
  EXPECT_EQ(Json::parse(payout.data_json)["payment"]["outcome"], "pending");
  EXPECT_EQ(
      stored("deal.closed", R"({"id":"dl-2909e77d-0022-5000-8000-0c37205b3208","status":"closed"})").type,
      "yookassa.deal.closed");
}

TEST(YooKassa, ForgedAndMalformedNotificationsAreRefused) {
  expectMalformed("not json");
  expectMalformed("[1,2]");
  expectMalformed(notification("payment.succeeded", paymentObject("succeeded")).replace(9, 12, "notice"));
  expectMalformed(R"({"event":"payment.succeeded","object":)" + paymentObject("succeeded") + "}");
  expectMalformed(notification("payment", paymentObject("succeeded")));
  expectMalformed(notification("Payment.Succeeded", paymentObject("succeeded")));
  expectMalformed(notification("payment_method.active", R"({"id":"pm-1","status":"active"})"));
  expectMalformed(notification("payment.succeeded", R"("x")"));
  expectMalformed(notification("payment.succeeded", R"({"status":"succeeded"})"));
  expectMalformed(notification("payment.succeeded", R"({"id":"","status":"succeeded"})"));
  expectMalformed(notification("payment.succeeded", R"({"id":"../../v3/me","status":"succeeded"})"));
  expectMalformed(notification("payment.succeeded", R"({"id":12,"status":"succeeded"})"));
  // The key and the re-check take the announced status; an object that says another is no notification.
  expectMalformed(notification("payment.succeeded", paymentObject("pending")));
  expectMalformed(notification("payment.succeeded", paymentObject("succeeded")).substr(0, 40));
  expectMalformed(std::string(10'000, '[') + std::string(10'000, ']'));
}

TEST(YooKassa, ApiPathFollowsTheObject) {
  EXPECT_EQ(yookassa::apiPath(stored("payment.succeeded", paymentObject("succeeded")).data_json).value(),
            std::string("/v3/payments/") + kPaymentId);
  EXPECT_EQ(
      yookassa::apiPath(stored("refund.succeeded", R"({"id":"r-1","status":"succeeded"})").data_json).value(),
      "/v3/refunds/r-1");
  EXPECT_EQ(
      yookassa::apiPath(stored("payout.canceled", R"({"id":"po-1","status":"canceled"})").data_json).value(),
      "/v3/payouts/po-1");
  EXPECT_EQ(yookassa::apiPath(stored("deal.closed", R"({"id":"dl-1","status":"closed"})").data_json).value(),
            "/v3/deals/dl-1");
  EXPECT_FALSE(yookassa::apiPath(R"({"object_type":"payment"})").ok());
  EXPECT_FALSE(yookassa::apiPath("not json").ok());
}

TEST(YooKassa, TheApiConfirmingTheStatusForwardsItsObjectVerified) {
  const Event ev = stored("payment.succeeded", paymentObject("succeeded"));
  // The API's object is what is forwarded: here it tells a larger amount than the notification did.
  const auto out = yookassa::judge(ev, 200, paymentObject("succeeded", "250.00"), 1'764'151'200'000);
  ASSERT_EQ(out.kind, Kind::kConfirmed) << out.note;
  EXPECT_TRUE(out.event.verified);
  EXPECT_EQ(out.event.type, "yookassa.payment.succeeded");
  EXPECT_EQ(out.event.idempotency_key, ev.idempotency_key);
  const Json data = Json::parse(out.event.data_json);
  EXPECT_EQ(data["object"]["amount"]["value"], "250.00");
  EXPECT_EQ(data["payment"]["amount"], "250.00");
  EXPECT_EQ(data["recheck"]["confirmed_at"], "2025-11-26T10:00:00.000Z");
  EXPECT_EQ(out.event.listing.amount, "250.00");
}

TEST(YooKassa, TheApiContradictingTheStatusRefutesTheEvent) {
  // A payment captured before the re-check: its waiting_for_capture is not forwarded (payment.succeeded
  // has its own notification).
  const Event held = stored("payment.waiting_for_capture", paymentObject("waiting_for_capture"));
  auto out = yookassa::judge(held, 200, paymentObject("succeeded"), 0);
  EXPECT_EQ(out.kind, Kind::kRefuted);
  EXPECT_NE(out.note.find("\"succeeded\""), std::string::npos) << out.note;
  EXPECT_NE(out.note.find("waiting_for_capture"), std::string::npos) << out.note;
  // An operator's search shows the refutation, and no outcome the notification claimed.
  EXPECT_EQ(out.event.listing.status, "payment.waiting_for_capture (refuted)");
  EXPECT_EQ(out.event.listing.outcome, "pending");
  EXPECT_EQ(out.event.listing.keys, held.listing.keys);
  EXPECT_FALSE(out.event.verified);
  // A forged success of a payment that is still pending.
  out = yookassa::judge(stored("payment.succeeded", paymentObject("succeeded")), 200,
                        paymentObject("pending"), 0);
  EXPECT_EQ(out.kind, Kind::kRefuted);
  // An object the API does not know.
  out = yookassa::judge(stored("payment.succeeded", paymentObject("succeeded")), 404,
                        R"({"type":"error","code":"not_found"})", 0);
  EXPECT_EQ(out.kind, Kind::kRefuted);
  EXPECT_NE(out.note.find("HTTP 404"), std::string::npos);
}

TEST(YooKassa, AnAnswerThatSettlesNothingIsRetried) {
  const Event ev = stored("payment.succeeded", paymentObject("succeeded"));
  for (int status : {0, 500, 502, 429}) EXPECT_EQ(yookassa::judge(ev, status, "", 0).kind, Kind::kFailed);
  const auto denied = yookassa::judge(ev, 401, R"({"type":"error","code":"invalid_credentials"})", 0);
  EXPECT_EQ(denied.kind, Kind::kFailed);
  EXPECT_NE(denied.note.find("credentials"), std::string::npos);
  EXPECT_EQ(yookassa::judge(ev, 200, "not json", 0).kind, Kind::kFailed);
  EXPECT_EQ(yookassa::judge(ev, 200, std::string(R"({"id":")") + kPaymentId + "\"}", 0).kind, Kind::kFailed);
  // A 404 that is not YooKassa's "not_found" (a wrong api_base, a proxy) refutes nothing.
  EXPECT_EQ(yookassa::judge(ev, 404, "<html>Not Found</html>", 0).kind, Kind::kFailed);
  // Another object than the one asked for (a proxy's mix-up) proves nothing.
  std::string other = paymentObject("succeeded");
  other.replace(other.find(kPaymentId), 8, "00000000");
  EXPECT_EQ(yookassa::judge(ev, 200, other, 0).kind, Kind::kFailed);
}

TEST(YooKassa, TheRecheckAsksTheApiWithTheShopsBasicAuthentication) {
  config::RouteConfig route;
  route.name = "yk";
  route.provider = "yookassa";
  auto settings = std::make_shared<yookassa::Settings>();
  settings->shop_id = "506751";
  settings->secret_key = Secret(std::string("test_secret"));
  settings->api_base = "http://127.0.0.1:1";
  route.settings = settings;
  auto handler = makeHandler(route);
  ASSERT_TRUE(handler.ok()) << handler.error().message;
  EXPECT_TRUE((*handler)->verifiesFirst());
  EXPECT_EQ((*handler)->endpoints()[0].suffix, "");
  EXPECT_EQ(makeFollowUp(route), nullptr);
  auto recheck = makeRecheck(route);
  ASSERT_NE(recheck, nullptr);
  auto call = recheck->request(stored("payment.succeeded", paymentObject("succeeded")));
  ASSERT_TRUE(call.ok()) << call.error().message;
  EXPECT_EQ(call->url, std::string("http://127.0.0.1:1/v3/payments/") + kPaymentId);
  ASSERT_FALSE(call->headers.empty());
  EXPECT_EQ(call->headers[0].name, "authorization");
  EXPECT_EQ(call->headers[0].value, "Basic NTA2NzUxOnRlc3Rfc2VjcmV0");  // base64("506751:test_secret")
}

TEST(YooKassa, DefaultSourcesAreYooKassasPublishedNetworks) {
  const auto allow = YooKassaHandler("yk").defaultAllowIps();
  ASSERT_EQ(allow.size(), 7u);
  std::vector<Cidr> cidrs;
  for (const auto& text : allow) {
    auto c = Cidr::parse(text);
    ASSERT_TRUE(c) << text;
    cidrs.push_back(*c);
  }
  auto allowed = [&](const char* ip) {
    for (const auto& c : cidrs)
      if (c.contains(ip)) return true;
    return false;
  };
  EXPECT_TRUE(allowed("185.71.76.1"));
  EXPECT_TRUE(allowed("77.75.156.35"));
  EXPECT_TRUE(allowed("2a02:5180:0:1509::1"));
  EXPECT_FALSE(allowed("77.75.156.12"));
  EXPECT_FALSE(allowed("127.0.0.1"));
}

}  // namespace
}  // namespace payhook::handlers
