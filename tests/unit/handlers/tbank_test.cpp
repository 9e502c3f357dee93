#include "handlers/tbank/tbank.h"
#include "handlers/tbank/notification.h"
#include "handlers/tbank/settings.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/digest.h"
#include "support/listing_expect.h"

namespace payhook::handlers {
namespace {

// The documentation's notification (PROTOCOLS: verified against T-Bank's spec and three SDKs' tests).
constexpr const char* kTerminalKey = "1321054611234DEMO";
constexpr const char* kPassword = "Dfsfh56dgKl";
constexpr const char* kFields =
    R"("TerminalKey":"1321054611234DEMO","OrderId":"201709","Success":true,"Status":"AUTHORIZED",)"
    R"("PaymentId":8742591,"ErrorCode":"0","Amount":9855,"CardId":322264,"Pan":"430000******0777",)"
    R"("ExpDate":"1122","RebillId":101709)";
constexpr const char* kToken = "b906d28e76c6428e37b25fcf86c0adc52c63d503013fdd632e300593d165766b";
constexpr const char* kTokenText =
    "985532226401122201709430000******0777Dfsfh56dgKl8742591101709AUTHORIZEDtrue1321054611234DEMO";

std::string published(const char* token = kToken) {
  return std::string("{") + kFields + R"(,"Token":")" + token + "\"}";
}

TBankHandler handler(const char* password = kPassword, const char* terminal = kTerminalKey) {
  return TBankHandler("tb", terminal, Secret(std::string(password)));
}

http::Request post(std::string body) {
  http::Request r;
  r.method = "POST";
  r.path = "/tbank/notify";
  r.headers = {{"content-type", "application/json"}};
  r.body = std::move(body);
  return r;
}

// `body` (a JSON object without a Token) with the Token T-Bank would add, last.
std::string sign(const std::string& body, const char* password = kPassword) {
  auto n = tbank::parseNotification(body);
  EXPECT_TRUE(n.ok()) << body;
  const std::string token = n.ok() ? tbank::token(*n, Secret(std::string(password))) : "";
  return body.substr(0, body.rfind('}')) + R"(,"Token":")" + token + "\"}";
}

Accept accepted(const Verdict& v) {
  EXPECT_TRUE(std::holds_alternative<Accept>(v))
      << (std::holds_alternative<Reject>(v) ? std::get<Reject>(v).reason : std::string("not a reject"));
  return std::holds_alternative<Accept>(v) ? std::get<Accept>(v) : Accept{};
}

void expectRefused(const Verdict& v, int status, const char* outcome) {
  ASSERT_TRUE(std::holds_alternative<Reject>(v));
  const Reject& r = std::get<Reject>(v);
  EXPECT_EQ(r.reply.status, status);
  EXPECT_EQ(r.reply.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.reply.body, status == 403 ? "bad token\n" : "bad request\n");
  EXPECT_EQ(r.outcome, outcome) << r.reason;
  EXPECT_EQ(r.reason.find(kPassword), std::string::npos);
}

std::string tokenOf(const std::string& body, const char* password) {
  auto n = tbank::parseNotification(body);
  EXPECT_TRUE(n.ok()) << body;
  return n.ok() ? tbank::token(*n, Secret(std::string(password))) : "";
}

// --- the Token ---

TEST(TBankToken, PublishedNotificationVector) {
  auto n = tbank::parseNotification(published());
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(tbank::tokenText(*n, kPassword), kTokenText);
  EXPECT_EQ(tbank::token(*n, Secret(std::string(kPassword))), kToken);
}

TEST(TBankToken, PublishedVectorWithSuccessFalse) {
  std::string body = std::string("{") + kFields + "}";
  body.replace(body.find("true"), 4, "false");
  EXPECT_EQ(tokenOf(body, kPassword), "014e237c74b5746cfff5b98459740afcd75e8d624156210857287397c4c8258e");
}

TEST(TBankToken, NestedObjectsAndArraysAreLeftOut) {
  // The python SDK's fixture: the same token with a Data object.
  EXPECT_EQ(tokenOf(std::string("{") + kFields + R"(,"Data":{"test":"__dummy"}})", kPassword), kToken);
  EXPECT_EQ(
      tokenOf(std::string("{") + kFields + R"(,"DATA":{"a":[1,{"b":2}]},"Receipt":[{"x":1}]})", kPassword),
      kToken);
}

TEST(TBankToken, TokenPageExampleWithCyrillicAndLeadingZeros) {
  const std::string body =
      R"({"TerminalKey":"MerchantTerminalKey","Amount":19200,"OrderId":"00000",)"
      R"("Description":"Подарочная карта на 1000 рублей","DATA":{"Phone":"+71234567890"},"Receipt":{"Items":[]}})";
  auto n = tbank::parseNotification(body);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(tbank::tokenText(*n, "11111111111111"),
            "19200Подарочная карта на 1000 рублей0000011111111111111MerchantTerminalKey");
  EXPECT_EQ(tbank::token(*n, Secret(std::string("11111111111111"))),
            "72dd466f8ace0a37a1f740ce5fb78101712bc0665d91a8108c7c8a0ccd426db2");
}

TEST(TBankToken, ValuesAreTheirJsonTextAndNullsAreSkipped) {
  auto n = tbank::parseNotification(
      R"({"B":1.50,"A":"x\u0079","C":null,"D":false,"E":18446744073709551616,"F":-3,"Token":"t"})");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(tbank::tokenText(*n, "pw"), "xy1.50false18446744073709551616-3pw");
}

TEST(TBankToken, NullsCanBeWrittenNull) {
  auto n = tbank::parseNotification(R"({"B":null,"A":"x","Token":"t"})");
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(tbank::hasNull(*n));
  EXPECT_EQ(tbank::tokenText(*n, "pw", tbank::Nulls::kAsText), "xnullpw");
}

TEST(TBankToken, BodiesThatAreNoFlatEnoughObjectAreRefused) {
  EXPECT_FALSE(tbank::parseNotification("").ok());
  EXPECT_FALSE(tbank::parseNotification("[1]").ok());
  EXPECT_FALSE(tbank::parseNotification("\"OK\"").ok());
  EXPECT_FALSE(tbank::parseNotification(R"({"a":1,"a":2})").ok());
  EXPECT_FALSE(tbank::parseNotification(R"({"a":1})"
                                        "x")
                   .ok());
  std::string deep = R"({"a":)";
  for (int i = 0; i < tbank::kMaxDepth; ++i) deep += "[";
  EXPECT_FALSE(tbank::parseNotification(deep + "1" + std::string(tbank::kMaxDepth, ']') + "}").ok());
  EXPECT_TRUE(tbank::parseNotification(R"({"a":[[1]]})").ok());
}

// --- the handler ---

TEST(TBankHandler, PublishedNotificationIsAcceptedAndNormalised) {
  const auto a = accepted(handler().handle(0, post(published()), 0));
  EXPECT_EQ(a.ack.status, 200);
  EXPECT_EQ(a.ack.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(a.ack.body, "OK");
  EXPECT_EQ(a.event.type, "tbank.authorized");
  EXPECT_EQ(a.event.provider, "tbank");
  EXPECT_EQ(a.event.route, "tb");
  EXPECT_TRUE(a.event.verified);
  EXPECT_EQ(a.event.idempotency_key, "payment:8742591:AUTHORIZED");
  EXPECT_EQ(nlohmann::json::parse(a.event.data_json), nlohmann::json::parse(R"({
      "terminal_key":"1321054611234DEMO","order_id":"201709","success":true,"status":"AUTHORIZED",
      "payment_id":"8742591","error_code":"0","amount":"9855","card_id":"322264","pan":"430000******0777",
      "exp_date":"1122","rebill_id":"101709","unsigned":{},
      "payment":{"outcome":"held","amount":"98.55","amount_minor":9855,"currency":"RUB","order_id":"201709",
                 "provider_payment_id":"8742591","test":false,"warnings":[],"unsigned":[]}})"));
  testing::expectListing(a.event, {"201709", "8742591"}, "98.55", "RUB", "AUTHORIZED", "held");
}

TEST(TBankHandler, UpperCaseTokenIsAccepted) {
  std::string upper = kToken;
  for (char& c : upper)
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  accepted(handler().handle(0, post(published(upper.c_str())), 0));
}

TEST(TBankHandler, NestedDataIsKeptUnsigned) {
  const std::string body =
      std::string("{") + kFields + R"(,"Data":{"test":"__dummy"},"Token":")" + kToken + "\"}";
  const auto a = accepted(handler().handle(0, post(body), 0));
  const auto data = nlohmann::json::parse(a.event.data_json);
  EXPECT_EQ(data["unsigned"], nlohmann::json::parse(R"({"data":{"test":"__dummy"}})"));
  EXPECT_FALSE(data.contains("data"));
}

TEST(TBankHandler, TamperedOrForeignNotificationsAreForged) {
  std::string amount = published();
  amount.replace(amount.find("9855"), 4, "9856");
  expectRefused(handler().handle(0, post(amount), 0), 403, "forged");
  std::string status = published();
  status.replace(status.find("AUTHORIZED"), 10, "CONFIRMED");
  expectRefused(handler().handle(0, post(status), 0), 403, "forged");
  // A field added, even one the shop would ignore.
  std::string added = published();
  added.insert(1, R"("Extra":"1",)");
  expectRefused(handler().handle(0, post(added), 0), 403, "forged");
  // A Token one digit off, cut short, missing, empty or not a string.
  std::string off = kToken;
  off.back() = 'c';
  expectRefused(handler().handle(0, post(published(off.c_str())), 0), 403, "forged");
  expectRefused(handler().handle(0, post(published("b906d28e")), 0), 403, "forged");
  expectRefused(handler().handle(0, post(std::string("{") + kFields + "}"), 0), 403, "forged");
  expectRefused(handler().handle(0, post(published("")), 0), 403, "forged");
  expectRefused(handler().handle(0, post(std::string("{") + kFields + R"(,"Token":5})"), 0), 403, "forged");
  // Another password.
  expectRefused(handler("Dfsfh56dgKm").handle(0, post(published()), 0), 403, "forged");
  // Signed with this password but for another terminal, or for none.
  expectRefused(handler(kPassword, "OtherTerminal").handle(0, post(published()), 0), 403, "forged");
  expectRefused(handler().handle(0, post(sign(R"({"OrderId":"1","Status":"CONFIRMED","PaymentId":"5"})")), 0),
                403, "forged");
}

TEST(TBankHandler, MalformedBodiesAre400) {
  expectRefused(handler().handle(0, post("not json"), 0), 400, "malformed");
  expectRefused(handler().handle(0, post("[]"), 0), 400, "malformed");
  expectRefused(handler().handle(0, post(std::string("{") + kFields + R"(,"Amount":1,"Token":"x"})"), 0), 400,
                "malformed");
  // A Password field would stand beside the password in the sorted fields.
  expectRefused(handler().handle(0, post(sign(R"({"TerminalKey":"1321054611234DEMO","Password":"x"})")), 0),
                400, "malformed");
  const std::string terminal = R"({"TerminalKey":"1321054611234DEMO",)";
  expectRefused(handler().handle(0, post(sign(terminal + R"("PaymentId":"5"})")), 0), 400, "malformed");
  expectRefused(handler().handle(0, post(sign(terminal + R"("PaymentId":"5","Status":"BAD STATUS"})")), 0),
                400, "malformed");
  expectRefused(handler().handle(0, post(sign(terminal + R"("Status":"CONFIRMED"})")), 0), 400, "malformed");
  // Names payhook keeps for itself, and two names that would meet in one.
  expectRefused(
      handler().handle(0, post(sign(terminal + R"("PaymentId":"5","Status":"CONFIRMED","Payment":"1"})")), 0),
      400, "malformed");
  expectRefused(
      handler().handle(
          0, post(sign(terminal + R"("PaymentId":"5","Status":"CONFIRMED","Data":{},"DATA":{}})")), 0),
      400, "malformed");
}

TEST(TBankHandler, EachStatusHasItsTypeKeyAndOutcome) {
  struct Case {
    const char* status;
    const char* success;
    const char* type;
    const char* outcome;
  };
  const Case cases[] = {
      {"AUTHORIZED", "true", "tbank.authorized", "held"},
      {"CONFIRMED", "true", "tbank.confirmed", "succeeded"},
      {"REVERSED", "true", "tbank.reversed", "reversed"},
      {"REFUNDED", "true", "tbank.refunded", "refunded"},
      {"PARTIAL_REFUNDED", "true", "tbank.partial_refunded", "refunded"},
      {"REJECTED", "false", "tbank.rejected", "failed"},
      {"DEADLINE_EXPIRED", "false", "tbank.deadline_expired", "failed"},
      {"CONFIRMED", "false", "tbank.confirmed", "pending"},
      {"3DS_CHECKING", "true", "tbank.3ds_checking", "pending"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.status + std::string(" ") + c.success);
    const std::string body =
        sign(std::string(R"({"TerminalKey":"1321054611234DEMO","OrderId":"o-1","Success":)") + c.success +
             R"(,"Status":")" + c.status + R"(","PaymentId":"77","Amount":100})");
    const auto a = accepted(handler().handle(0, post(body), 0));
    EXPECT_EQ(a.event.type, c.type);
    const auto payment = nlohmann::json::parse(a.event.data_json)["payment"];
    EXPECT_EQ(payment["outcome"], c.outcome);
    EXPECT_EQ(payment["amount"], "1.00");
    if (std::string(c.outcome) == "pending" && std::string(c.success) == "false") {
      EXPECT_EQ(payment["warnings"], nlohmann::json::parse(R"(["operation_failed"])"));
    }
  }
}

TEST(TBankHandler, RepeatsShareTheKeyAndEachStatusOrPartialRefundIsNews) {
  const std::string head =
      R"({"TerminalKey":"1321054611234DEMO","OrderId":"o-1","Success":true,"PaymentId":"77",)";
  auto key = [&](const std::string& rest) {
    return accepted(handler().handle(0, post(sign(head + rest)), 0)).event.idempotency_key;
  };
  EXPECT_EQ(key(R"("Status":"CONFIRMED","Amount":100})"), "payment:77:CONFIRMED");
  EXPECT_EQ(key(R"("Amount":100,"Status":"CONFIRMED"})"), "payment:77:CONFIRMED");
  EXPECT_EQ(key(R"("Status":"REFUNDED","Amount":100})"), "payment:77:REFUNDED");
  EXPECT_EQ(key(R"("Status":"PARTIAL_REFUNDED","Amount":40})"), "payment:77:PARTIAL_REFUNDED:40");
  EXPECT_EQ(key(R"("Status":"PARTIAL_REFUNDED","Amount":60})"), "payment:77:PARTIAL_REFUNDED:60");
}

TEST(TBankHandler, ANoticeWithoutAPaymentIsKeyedOnItsToken) {
  const std::string body =
      sign(R"({"TerminalKey":"1321054611234DEMO","NotificationType":"LINKCARD",)"
           R"("Status":"COMPLETED","CustomerKey":"c-1","RequestKey":"r-1","Success":true})");
  const auto a = accepted(handler().handle(0, post(body), 0));
  EXPECT_EQ(a.event.type, "tbank.linkcard.completed");
  const std::string token = nlohmann::json::parse(body)["Token"];
  EXPECT_EQ(a.event.idempotency_key, "notice:" + token);
  EXPECT_EQ(nlohmann::json::parse(a.event.data_json)["payment"]["outcome"], "pending");
}

TEST(TBankHandler, NullsVerifySkippedOrWrittenAndAreSignedOnlyWhenWritten) {
  const std::string body =
      R"({"TerminalKey":"1321054611234DEMO","OrderId":"o-1","Status":"CONFIRMED","PaymentId":"77","RebillId":null})";
  auto n = tbank::parseNotification(body);
  ASSERT_TRUE(n.ok());
  const Secret password{std::string(kPassword)};
  auto with = [&](const std::string& token) {
    return body.substr(0, body.size() - 1) + R"(,"Token":")" + token + "\"}";
  };
  // Skipped: anyone could have added the null, so it is not beside the signed fields.
  auto skipped = accepted(handler().handle(0, post(with(tbank::token(*n, password))), 0));
  auto data = nlohmann::json::parse(skipped.event.data_json);
  EXPECT_FALSE(data.contains("rebill_id"));
  EXPECT_TRUE(data["unsigned"].contains("rebill_id"));
  EXPECT_TRUE(data["unsigned"]["rebill_id"].is_null());
  // Written "null": the Token covers it.
  auto written =
      accepted(handler().handle(0, post(with(tbank::token(*n, password, tbank::Nulls::kAsText))), 0));
  data = nlohmann::json::parse(written.event.data_json);
  EXPECT_TRUE(data.contains("rebill_id"));
  EXPECT_TRUE(data["rebill_id"].is_null());
  EXPECT_EQ(skipped.event.idempotency_key, written.event.idempotency_key);
}

TEST(TBankHandler, TheStoredBodyKeepsNoToken) {
  const TBankHandler h = handler();
  EXPECT_EQ(h.storedBody(published()), std::string("{") + kFields + R"(,"Token":""})");
  EXPECT_EQ(h.storedBody(R"({ "Token" : "ab" , "DATA":{"Token":"cd"},"x":"\"Token\":\"ef"})"),
            R"({ "Token" : "" , "DATA":{"Token":"cd"},"x":"\"Token\":\"ef"})");
  EXPECT_EQ(h.storedBody(R"({"\u0054oken":"ab"})"), R"({"\u0054oken":""})");
  EXPECT_EQ(h.storedBody(R"({"a":["Token","x"],"Token":"ab"})"), R"({"a":["Token","x"],"Token":""})");
}

TEST(TBankHandler, SnakeCaseNames) {
  EXPECT_EQ(tbank::snakeCase("TerminalKey"), "terminal_key");
  EXPECT_EQ(tbank::snakeCase("DATA"), "data");
  EXPECT_EQ(tbank::snakeCase("SpAccumulationId"), "sp_accumulation_id");
  EXPECT_EQ(tbank::snakeCase("Pan"), "pan");
  EXPECT_EQ(tbank::snakeCase("HTTPCode"), "http_code");
  EXPECT_EQ(tbank::snakeCase("already_snake"), "already_snake");
}

TEST(TBankHandler, EndpointsAndFactory) {
  const auto endpoints = handler().endpoints();
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0].suffix, "/notify");
  EXPECT_EQ(endpoints[0].methods, (std::vector<std::string>{"POST"}));

  config::RouteConfig route;
  route.name = "tb";
  route.provider = "tbank";
  auto settings = std::make_shared<tbank::Settings>();
  route.settings = settings;
  settings->terminal_key = kTerminalKey;
  EXPECT_FALSE(makeTBankHandler(route).ok());  // no password
  settings->password = Secret(std::string(kPassword));
  auto made = makeTBankHandler(route);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_TRUE(std::holds_alternative<Accept>((*made)->handle(0, post(published()), 0)));
}

}  // namespace
}  // namespace payhook::handlers
