// The RBS gateway's getOrderStatusExtended.do as payhook asks it about expected orders: the request with the
// merchant's credentials, the answer's states, and the event a final state becomes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/rbs/status.h"

namespace payhook::handlers::rbs {
namespace {

RbsStatusSource source(bool token = false) {
  RbsStatusSource::Options o;
  o.api_base = "https://3dsec.sberbank.ru/payment/rest/";
  if (token) {
    o.token = Secret(std::string("tok en&1"));
  } else {
    o.user_name = "shop-api";
    o.password = Secret(std::string("p@ss=word&"));
  }
  return RbsStatusSource(o);
}

constexpr const char* kMdOrder = "06cf5599-3f17-7c86-bdbc-bd7d00a8b38b";

TEST(RbsStatus, RequestIsAFormPostWithUserNameAndPassword) {
  const StatusRequest r = source().request(kMdOrder);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://3dsec.sberbank.ru/payment/rest/getOrderStatusExtended.do");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].value, "application/x-www-form-urlencoded");
  EXPECT_EQ(r.body, std::string("userName=shop-api&password=p%40ss%3Dword%26&orderId=") + kMdOrder);
}

TEST(RbsStatus, ATokenReplacesUserNameAndPassword) {
  EXPECT_EQ(source(true).request("2003").body, "token=tok%20en%261&orderNumber=2003");
}

TEST(RbsStatus, TheGatewaysOwnIdsAreOrderIdAndAnythingElseIsTheShopsOrderNumber) {
  EXPECT_EQ(orderParameter(kMdOrder), "orderId");
  EXPECT_EQ(orderParameter("2003"), "orderNumber");
  EXPECT_EQ(orderParameter("06cf5599-3f17-7c86-bdbc-bd7d00a8b38x"), "orderNumber");
  EXPECT_EQ(orderParameter("06cf5599_3f17-7c86-bdbc-bd7d00a8b38b"), "orderNumber");
}

TEST(RbsStatus, OrderStatusesMapToPaymentOutcomes) {
  EXPECT_EQ(outcomeOfOrderStatus(0), "");
  EXPECT_EQ(outcomeOfOrderStatus(1), "held");
  EXPECT_EQ(outcomeOfOrderStatus(2), "succeeded");
  EXPECT_EQ(outcomeOfOrderStatus(3), "reversed");
  EXPECT_EQ(outcomeOfOrderStatus(4), "refunded");
  EXPECT_EQ(outcomeOfOrderStatus(5), "");
  EXPECT_EQ(outcomeOfOrderStatus(6), "failed");
  EXPECT_EQ(outcomeOfOrderStatus(7), "");
}

TEST(RbsStatus, DepositedIsAFinalEventFromReconciliation) {
  const std::string body =
      R"({"errorCode":"0","errorMessage":"Success","orderNumber":"2003","orderStatus":2,"actionCode":0,)"
      R"("amount":100050,"currency":"643","attributes":[{"name":"mdOrder","value":"06cf5599-3f17-7c86-bdbc-bd7d00a8b38b"}]})";
  const StatusAnswer a = source().answer("bank", "2003", 200, body);
  ASSERT_EQ(a.kind, StatusAnswer::Kind::kFinal) << a.error;
  EXPECT_EQ(a.status, "orderStatus 2 (deposited)");
  const Event& e = a.event;
  EXPECT_EQ(e.type, "rbs.order_status");
  EXPECT_EQ(e.route, "bank");
  EXPECT_EQ(e.provider, "rbs");
  EXPECT_TRUE(e.verified);
  EXPECT_EQ(e.idempotency_key, "status:2003:2");
  EXPECT_EQ(e.raw.body, body);
  EXPECT_EQ(e.raw.body.find("password"), std::string::npos);
  auto data = nlohmann::json::parse(e.data_json);
  EXPECT_EQ(data["source"], "reconciliation");
  EXPECT_EQ(data["order_status"], 2);
  EXPECT_EQ(data["md_order"], kMdOrder);
  EXPECT_EQ(data["order_number"], "2003");
  EXPECT_EQ(data["payment"]["outcome"], "succeeded");
  EXPECT_EQ(data["payment"]["amount"], "1000.50");
  EXPECT_EQ(data["payment"]["currency"], "RUB");
  EXPECT_EQ(e.order.state, "succeeded");
  EXPECT_TRUE(e.order.final);
  EXPECT_TRUE(e.order.reconciliation);
  EXPECT_EQ(e.order.keys, (std::vector<std::string>{"2003", kMdOrder}));
}

TEST(RbsStatus, HeldIsReportedButNotFinal) {
  const StatusAnswer a = source().answer("bank", kMdOrder, 200, R"({"errorCode":0,"orderStatus":1})");
  ASSERT_EQ(a.kind, StatusAnswer::Kind::kHeld);
  EXPECT_EQ(a.event.order.state, "held");
  EXPECT_FALSE(a.event.order.final);
  EXPECT_EQ(a.event.order.keys, std::vector<std::string>{kMdOrder});
}

TEST(RbsStatus, DeclinedReversedAndRefundedAreFinal) {
  for (int s : {3, 4, 6}) {
    const StatusAnswer a = source().answer("bank", "7", 200, R"({"orderStatus":)" + std::to_string(s) + "}");
    EXPECT_EQ(a.kind, StatusAnswer::Kind::kFinal) << s;
    EXPECT_TRUE(a.event.order.final);
  }
}

TEST(RbsStatus, RegisteredAndThreeDsAreStillPending) {
  EXPECT_EQ(source().answer("bank", "7", 200, R"({"errorCode":"0","orderStatus":0})").kind,
            StatusAnswer::Kind::kPending);
  EXPECT_EQ(source().answer("bank", "7", 200, R"({"orderStatus":"5"})").kind, StatusAnswer::Kind::kPending);
}

TEST(RbsStatus, ErrorsAndGarbageAreFailuresThatSayWhy) {
  auto a = source().answer("bank", "7", 200, R"({"errorCode":"6","errorMessage":"Order not found"})");
  EXPECT_EQ(a.kind, StatusAnswer::Kind::kFailed);
  EXPECT_EQ(a.error, "errorCode 6: Order not found");
  EXPECT_EQ(source().answer("bank", "7", 503, "busy").error, "HTTP 503");
  EXPECT_EQ(source().answer("bank", "7", 200, "<html>").error, "the answer is not a JSON object");
  EXPECT_EQ(source().answer("bank", "7", 200, R"({"errorCode":0})").error, "the answer has no orderStatus");
  EXPECT_EQ(source().answer("bank", "7", 0, "").kind, StatusAnswer::Kind::kFailed);
}

}  // namespace
}  // namespace payhook::handlers::rbs
