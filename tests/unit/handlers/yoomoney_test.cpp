#include "handlers/yoomoney/yoomoney.h"

#include "handlers/xml_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/digest.h"
#include "support/listing_expect.h"
#include "support/yoomoney_form.h"

namespace payhook::handlers {
namespace {

// YooMoney's published test vector.
constexpr const char* kVectorMd5 = "1B35ABE38AA54F2931B0C58646FD1321";
// 2011-05-04T20:38:01+04:00, the instant of the protocol's sample answer.
constexpr int64_t kNowMs = 1304527081000;
constexpr const char* kXmlHead = R"(<?xml version="1.0" encoding="UTF-8"?>)";

// The form helpers sign with md5Hex (checked against the published vectors in form_digest_test.cpp).
using testing::yoomoney::Fields;
using testing::yoomoney::formBody;
using testing::yoomoney::get;
using testing::yoomoney::kPassword;
using testing::yoomoney::set;
using testing::yoomoney::sign;

// The vector's request, with the unsigned fields a real checkOrder carries.
Fields vectorFields(const std::string& action = "checkOrder", const std::string& md5 = kVectorMd5) {
  Fields f = testing::yoomoney::vectorForm(action);
  set(&f, "md5", md5);
  return f;
}

void erase(Fields* f, const std::string& name) {
  std::erase_if(*f, [&](const auto& p) { return p.first == name; });
}

http::Request post(std::string body, const std::string& path = "/yoomoney/check") {
  http::Request r;
  r.method = "POST";
  r.path = path;
  r.headers = {{"content-type", "application/x-www-form-urlencoded"}};
  r.body = std::move(body);
  return r;
}

YooMoneyHandler handler(const std::string& shop_id = "13", const std::string& password = kPassword) {
  return YooMoneyHandler("shop", shop_id, Secret(password));
}

// The exact body of an answer, built by hand from the protocol's sample.
std::string answer(const std::string& element, int code, const std::string& attrs) {
  return std::string(kXmlHead) + "<" + element +
         R"( performedDatetime="2011-05-04T16:38:01.000+00:00" code=")" + std::to_string(code) + "\"" +
         attrs + "/>";
}

void expectXml(const http::Response& r, const std::string& body) {
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/xml; charset=utf-8");
  EXPECT_TRUE(r.headers.empty());
  EXPECT_EQ(r.body, body);
}

// A copy, so a test can hold it past the verdict's full expression.
Reject expectReject(const Verdict& v) {
  const auto* r = std::get_if<Reject>(&v);
  EXPECT_NE(r, nullptr) << "expected a Reject";
  return r ? *r : Reject{};
}

TEST(YooMoney, EndpointsAreCheckThenAviso) {
  auto h = handler();
  auto eps = h.endpoints();
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[YooMoneyHandler::kCheck].suffix, "/check");
  EXPECT_EQ(eps[YooMoneyHandler::kAviso].suffix, "/aviso");
  EXPECT_EQ(eps[0].methods, std::vector<std::string>{"POST"});
  EXPECT_EQ(eps[1].methods, std::vector<std::string>{"POST"});
}

TEST(YooMoney, PublishedVectorThroughHandleIsADecide) {
  auto v = handler().handle(YooMoneyHandler::kCheck, post(formBody(vectorFields())), kNowMs);
  const auto* d = std::get_if<Decide>(&v);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->event.type, "yoomoney.check_order");
  EXPECT_EQ(d->event.route, "shop");
  EXPECT_EQ(d->event.provider, "yoomoney");
  EXPECT_TRUE(d->event.verified);
  EXPECT_EQ(d->event.idempotency_key, "checkOrder:55");
  EXPECT_TRUE(d->event.id.empty());
  EXPECT_TRUE(d->event.raw.body.empty());
  auto data = nlohmann::json::parse(d->event.data_json);
  EXPECT_EQ(data["payment"], nlohmann::json::parse(R"({"outcome": "pending", "amount": "87.10",
    "amount_minor": 8710, "currency": "RUB", "order_id": null, "provider_payment_id": "55", "test": false,
    "warnings": [], "unsigned": []})"));
  data.erase("payment");
  // What the md5 covers at the top level, everything else under "unsigned".
  EXPECT_EQ(data, nlohmann::json::parse(R"({
    "action": "checkOrder", "shop_id": "13", "invoice_id": "55", "customer_number": "8123294469",
    "order_sum_amount": "87.10", "order_sum_currency_paycash": "643", "order_sum_bank_paycash": "1001",
    "unsigned": {"request_datetime": "2011-05-04T20:38:00.000+04:00", "shop_article_id": "456",
    "order_created_datetime": "2011-05-04T20:38:00.000+04:00", "shop_sum_amount": "86.23",
    "shop_sum_currency_paycash": "643", "shop_sum_bank_paycash": "1001", "payment_payer_code": "42007148320",
    "payment_type": "AC", "custom": {}}})"));
  EXPECT_EQ(d->event.data_json.find("md5"), std::string::npos);
  EXPECT_EQ(d->event.data_json.find(kVectorMd5), std::string::npos);
}

TEST(YooMoney, PublishedVectorIsTheMd5Computed) {
  // The same vector, checked independently of the handler's string building.
  EXPECT_EQ(md5Hex(std::string("checkOrder;87.10;643;1001;13;55;8123294469;") + kPassword, HexCase::kUpper),
            kVectorMd5);
}

TEST(YooMoney, LowerCaseMd5IsAccepted) {
  std::string lower = kVectorMd5;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto v =
      handler().handle(YooMoneyHandler::kCheck, post(formBody(vectorFields("checkOrder", lower))), kNowMs);
  EXPECT_TRUE(std::holds_alternative<Decide>(v));
}

TEST(YooMoney, OneByteChangedAmountIsCode1) {
  auto f = vectorFields();
  set(&f, "orderSumAmount", "87.11");
  const auto& r = expectReject(handler().handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs));
  EXPECT_EQ(r.outcome, "forged");
  expectXml(r.reply, answer("checkOrderResponse", 1,
                            R"( invoiceId="55" shopId="13" techMessage="md5 does not match")"));
}

TEST(YooMoney, OneByteChangedInvoiceIdIsCode1) {
  auto f = vectorFields();
  set(&f, "invoiceId", "56");
  const auto& r = expectReject(handler().handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs));
  EXPECT_EQ(r.outcome, "forged");
  // The answer repeats the request's invoiceId, whatever it is.
  expectXml(r.reply, answer("checkOrderResponse", 1,
                            R"( invoiceId="56" shopId="13" techMessage="md5 does not match")"));
}

TEST(YooMoney, OneByteChangedPasswordIsCode1) {
  const auto& r = expectReject(handler("13", "s<kY23653f,{9fcnshwr")
                                   .handle(YooMoneyHandler::kCheck, post(formBody(vectorFields())), kNowMs));
  EXPECT_EQ(r.outcome, "forged");
  expectXml(r.reply, answer("checkOrderResponse", 1,
                            R"( invoiceId="55" shopId="13" techMessage="md5 does not match")"));
  EXPECT_EQ(r.reason.find("s<kY"), std::string::npos);
  EXPECT_EQ(r.reply.body.find("s<kY"), std::string::npos);
}

TEST(YooMoney, OneByteChangedMd5IsCode1) {
  auto f = vectorFields("checkOrder", "1B35ABE38AA54F2931B0C58646FD1320");
  const auto& r = expectReject(handler().handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs));
  expectXml(r.reply, answer("checkOrderResponse", 1,
                            R"( invoiceId="55" shopId="13" techMessage="md5 does not match")"));
  for (const char* bad : {"", "1B35ABE38AA54F2931B0C58646FD132", "1B35ABE38AA54F2931B0C58646FD13211",
                          "1B35ABE38AA54F2931B0C58646FD132G"}) {
    auto g = vectorFields("checkOrder", bad);
    const auto& r2 = expectReject(handler().handle(YooMoneyHandler::kCheck, post(formBody(g)), kNowMs));
    EXPECT_NE(r2.reply.body.find(" code=\"1\" "), std::string::npos) << bad;
  }
}

TEST(YooMoney, AvisoIsAcceptedWithTheCode0Answer) {
  auto f = vectorFields("paymentAviso");
  set(&f, "paymentDatetime", "2011-05-04T20:38:10.000+04:00");
  set(&f, "md5", "79512CBC0AE0112D029E9CCFA4BBDA88");  // md5 of the vector with action paymentAviso (Python)
  auto v = handler().handle(YooMoneyHandler::kAviso, post(formBody(f), "/yoomoney/aviso"), kNowMs);
  const auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr);
  expectXml(a->ack, answer("paymentAvisoResponse", 0, R"( invoiceId="55" shopId="13")"));
  EXPECT_EQ(
      a->ack.body,
      R"(<?xml version="1.0" encoding="UTF-8"?><paymentAvisoResponse performedDatetime="2011-05-04T16:38:01.000+00:00" code="0" invoiceId="55" shopId="13"/>)");
  EXPECT_EQ(a->event.type, "yoomoney.payment_aviso");
  EXPECT_EQ(a->event.idempotency_key, "paymentAviso:55");
  EXPECT_TRUE(a->event.verified);
  auto data = nlohmann::json::parse(a->event.data_json);
  EXPECT_EQ(data["unsigned"]["payment_datetime"], "2011-05-04T20:38:10.000+04:00");
  EXPECT_EQ(data["action"], "paymentAviso");
  EXPECT_FALSE(data.contains("md5"));
  testing::expectListing(a->event, {"55"}, "87.10", "RUB", "paymentAviso", "succeeded");
}

// An operator finds the payment by the shop's order number first, then by YooMoney's invoiceId.
TEST(YooMoney, TheOrderNumberAndTheInvoiceIdAreTheKeys) {
  auto f = vectorFields("paymentAviso");
  set(&f, "md5", "79512CBC0AE0112D029E9CCFA4BBDA88");
  set(&f, "orderNumber", "2003");
  auto v = handler().handle(YooMoneyHandler::kAviso, post(formBody(f), "/yoomoney/aviso"), kNowMs);
  const auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr);
  testing::expectListing(a->event, {"2003", "55"}, "87.10", "RUB", "paymentAviso", "succeeded");
}

TEST(YooMoney, ActionMustMatchTheEndpoint) {
  // A validly signed checkOrder sent to the aviso URL, and the reverse.
  auto v = handler().handle(YooMoneyHandler::kAviso, post(formBody(vectorFields())), kNowMs);
  const auto& r = expectReject(v);
  EXPECT_EQ(r.outcome, "malformed");
  expectXml(r.reply,
            answer("paymentAvisoResponse", 200,
                   R"( invoiceId="55" shopId="13" techMessage="action does not match the endpoint")"));
  auto f = vectorFields("paymentAviso");
  sign(&f);
  const auto& r2 = expectReject(handler().handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs));
  expectXml(r2.reply,
            answer("checkOrderResponse", 200,
                   R"( invoiceId="55" shopId="13" techMessage="action does not match the endpoint")"));
  auto g = vectorFields("somethingElse");
  sign(&g);
  EXPECT_NE(expectReject(handler().handle(YooMoneyHandler::kCheck, post(formBody(g)), kNowMs))
                .reply.body.find(" code=\"200\" "),
            std::string::npos);
}

TEST(YooMoney, WrongShopIdIsCode1EvenWhenTheMd5Matches) {
  // The vector is signed for shopId 13; this route is shop 14.
  const auto& r =
      expectReject(handler("14").handle(YooMoneyHandler::kCheck, post(formBody(vectorFields())), kNowMs));
  EXPECT_EQ(r.outcome, "forged");
  expectXml(r.reply, answer("checkOrderResponse", 1,
                            R"( invoiceId="55" shopId="13" techMessage="shopId does not match this route")"));
}

TEST(YooMoney, EverySignedFieldIsRequired) {
  for (const char* name : {"action", "shopId", "invoiceId", "customerNumber", "orderSumAmount",
                           "orderSumCurrencyPaycash", "orderSumBankPaycash", "md5"}) {
    auto f = vectorFields();
    erase(&f, name);
    const auto& r = expectReject(handler().handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs));
    EXPECT_EQ(r.outcome, "malformed") << name;
    const std::string ids = std::string(name) == "invoiceId" ? R"( shopId="13")"
                            : std::string(name) == "shopId"  ? R"( invoiceId="55")"
                                                             : R"( invoiceId="55" shopId="13")";
    expectXml(r.reply,
              answer("checkOrderResponse", 200, ids + " techMessage=\"missing field " + name + "\""));
  }
}

TEST(YooMoney, UnsignedFieldsAreOptional) {
  Fields f;
  for (const auto& [k, v] : vectorFields())
    if (k == "action" || k == "md5" || k == "shopId" || k == "invoiceId" || k == "customerNumber" ||
        k.starts_with("orderSum"))
      f.emplace_back(k, v);
  auto v = handler().handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Decide>(v));
  auto data = nlohmann::json::parse(std::get<Decide>(v).event.data_json);
  EXPECT_EQ(data.size(), 9u);  // the seven signed fields, "custom" and "payment"
}

TEST(YooMoney, BadNumbersAreCode200) {
  struct Case {
    const char* field;
    const char* value;
  };
  for (const Case& c :
       {Case{"orderSumAmount", "87,10"}, Case{"orderSumAmount", "-87.10"}, Case{"orderSumAmount", "87."},
        Case{"orderSumAmount", ".10"}, Case{"orderSumAmount", ""}, Case{"orderSumAmount", "1e3"},
        Case{"orderSumAmount", " 87.10"}, Case{"orderSumCurrencyPaycash", "RUB"},
        Case{"orderSumBankPaycash", "10.01"}, Case{"shopId", "13a"}, Case{"shopId", ""},
        Case{"invoiceId", "+55"}, Case{"invoiceId", "123456789012345678901"}}) {
    auto f = vectorFields();
    set(&f, c.field, c.value);
    sign(&f);  // well signed, so only the number check can refuse it
    const auto& r = expectReject(handler().handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs));
    EXPECT_EQ(r.outcome, "malformed") << c.field << "=" << c.value;
    EXPECT_NE(r.reply.body.find(" code=\"200\" "), std::string::npos) << c.field << "=" << c.value;
    EXPECT_NE(r.reply.body.find(std::string("techMessage=\"bad number in ") + c.field + "\""),
              std::string::npos)
        << r.reply.body;
  }
  // A bad id is not echoed back: the attribute is left out.
  auto f = vectorFields();
  set(&f, "invoiceId", "5<5");
  const auto& r = expectReject(handler().handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs));
  expectXml(r.reply,
            answer("checkOrderResponse", 200, R"( shopId="13" techMessage="bad number in invoiceId")"));
}

TEST(YooMoney, NumbersOfOtherShapesAreAccepted) {
  for (const char* amount : {"87", "0.5", "100.00", "123456789012345678.12345678"}) {
    auto f = vectorFields();
    set(&f, "orderSumAmount", amount);
    sign(&f);
    auto v = handler().handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs);
    ASSERT_TRUE(std::holds_alternative<Decide>(v)) << amount;
    EXPECT_EQ(nlohmann::json::parse(std::get<Decide>(v).event.data_json)["order_sum_amount"], amount);
  }
}

TEST(YooMoney, ABodyThatIsNotAFormIsCode200WithoutIds) {
  for (const char* body : {"invoiceId=55&shopId=13&x=%zz", "invoiceId=55&shopId=13&x=%4"}) {
    const auto& r = expectReject(handler().handle(YooMoneyHandler::kCheck, post(body), kNowMs));
    EXPECT_EQ(r.outcome, "malformed");
    expectXml(r.reply, answer("checkOrderResponse", 200, R"( techMessage="the body is not a form")"));
  }
  // An empty or JSON body parses as a form that lacks every field.
  for (const char* body : {"", R"({"action":"checkOrder"})"}) {
    const auto& r = expectReject(handler().handle(YooMoneyHandler::kCheck, post(body), kNowMs));
    expectXml(r.reply, answer("checkOrderResponse", 200, R"( techMessage="missing field action")"));
  }
}

TEST(YooMoney, CustomFieldsAreKeptAsSentUnderCustom) {
  auto f = vectorFields();
  f.emplace_back("orderDetails", "2 × чай, <1> & \"2\"");
  f.emplace_back("cps_email", "user@example.com");
  f.emplace_back("shop_id", "999");  // a custom field spelled like a snake_case documented one
  f.emplace_back("orderNumber", "A-17");
  f.emplace_back("paymentDatetime", "2011-05-04T20:38:10.000+04:00");
  auto v = handler().handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Decide>(v));
  auto data = nlohmann::json::parse(std::get<Decide>(v).event.data_json);
  EXPECT_EQ(data["shop_id"], "13");
  EXPECT_EQ(data["unsigned"]["order_number"], "A-17");
  EXPECT_EQ(data["unsigned"]["payment_datetime"], "2011-05-04T20:38:10.000+04:00");
  EXPECT_FALSE(data.contains("order_number"));
  EXPECT_EQ(data["unsigned"]["custom"], nlohmann::json::parse(R"({"orderDetails": "2 × чай, <1> & \"2\"",
    "cps_email": "user@example.com", "shop_id": "999"})"));
}

TEST(YooMoney, CyrillicCustomerNumberIsSignedAsDecodedUtf8) {
  auto f = vectorFields();
  set(&f, "customerNumber", "значение из обязательного параметра customerNumber");
  sign(&f);
  auto v = handler().handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Decide>(v));
  EXPECT_EQ(nlohmann::json::parse(std::get<Decide>(v).event.data_json)["customer_number"],
            "значение из обязательного параметра customerNumber");
}

TEST(YooMoney, PlusInAFormValueIsASpace) {
  // requestDatetime sent with a literal '+' arrives as a space, exactly as a form decoder must read it.
  std::string body = formBody(vectorFields());
  body += "&requestTz=20:38:00.000+04:00";
  auto v = handler().handle(YooMoneyHandler::kCheck, post(body), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Decide>(v));
  EXPECT_EQ(nlohmann::json::parse(std::get<Decide>(v).event.data_json)["unsigned"]["custom"]["requestTz"],
            "20:38:00.000 04:00");
}

Event checkEvent() {
  auto v = handler().handle(YooMoneyHandler::kCheck, post(formBody(vectorFields())), kNowMs);
  Event ev = std::get<Decide>(v).event;
  ev.id = "0190a6c4-0000-7000-8000-000000000000";
  ev.received_at_ms = kNowMs;
  return ev;
}

TEST(YooMoney, DecidedAcceptIsCode0) {
  Decision d;
  d.kind = Decision::Kind::kAccept;
  expectXml(
      handler().decided(checkEvent(), d),
      R"(<?xml version="1.0" encoding="UTF-8"?><checkOrderResponse performedDatetime="2011-05-04T16:38:01.000+00:00" code="0" invoiceId="55" shopId="13"/>)");
}

TEST(YooMoney, DecidedRefuseIsCode100WithTheAppsMessageEscaped) {
  Decision d;
  d.kind = Decision::Kind::kRefuse;
  d.code = 42;
  d.message = R"(order <&"> gone)";
  expectXml(handler().decided(checkEvent(), d),
            answer("checkOrderResponse", 100,
                   R"( invoiceId="55" shopId="13" message="order &lt;&amp;&quot;&gt; gone")"));
  d.message.clear();
  expectXml(handler().decided(checkEvent(), d),
            answer("checkOrderResponse", 100,
                   R"( invoiceId="55" shopId="13" message="the shop refused the order")"));
}

TEST(YooMoney, DecidedFailedIsCode100WithAGenericMessage) {
  Decision d;
  d.kind = Decision::Kind::kFailed;
  d.message = "connect to http://10.0.0.5:9000 refused";  // internal detail: never shown to the payer
  auto r = handler().decided(checkEvent(), d);
  expectXml(r, answer("checkOrderResponse", 100,
                      R"( invoiceId="55" shopId="13" message="the shop did not confirm the order in time")"));
}

TEST(YooMoney, DecidedLongMessageIsCutAt255Characters) {
  Decision d;
  d.kind = Decision::Kind::kRefuse;
  std::string cyr;
  for (int i = 0; i < 300; ++i) cyr += "ж";
  d.message = cyr;
  auto r = handler().decided(checkEvent(), d);
  std::string expected;
  for (int i = 0; i < 255; ++i) expected += "ж";
  EXPECT_NE(r.body.find("message=\"" + expected + "\"/>"), std::string::npos);
}

TEST(YooMoney, DecidedWithoutReadableIdsLeavesThemOut) {
  Event ev;
  ev.type = "yoomoney.check_order";
  ev.received_at_ms = 0;
  ev.data_json = R"({"invoice_id": "5\"5", "shop_id": 13})";
  Decision d;
  d.kind = Decision::Kind::kAccept;
  expectXml(handler().decided(ev, d),
            std::string(kXmlHead) +
                R"(<checkOrderResponse performedDatetime="1970-01-01T00:00:00.000+00:00" code="0"/>)");
  ev.data_json = "not json";
  EXPECT_EQ(handler().decided(ev, d).body,
            std::string(kXmlHead) +
                R"(<checkOrderResponse performedDatetime="1970-01-01T00:00:00.000+00:00" code="0"/>)");
}

TEST(YooMoney, PerformedDatetimeIsXsDateTimeWithMillisecondsAndOffset) {
  EXPECT_EQ(yoomoney::performedDatetime(0), "1970-01-01T00:00:00.000+00:00");
  EXPECT_EQ(yoomoney::performedDatetime(kNowMs), "2011-05-04T16:38:01.000+00:00");
  EXPECT_EQ(yoomoney::performedDatetime(kNowMs + 7), "2011-05-04T16:38:01.007+00:00");
  EXPECT_EQ(yoomoney::performedDatetime(951782399999), "2000-02-28T23:59:59.999+00:00");
  EXPECT_EQ(yoomoney::performedDatetime(951782400000), "2000-02-29T00:00:00.000+00:00");
  EXPECT_EQ(yoomoney::performedDatetime(1798761599123), "2026-12-31T23:59:59.123+00:00");
  EXPECT_EQ(yoomoney::performedDatetime(-1), "1970-01-01T00:00:00.000+00:00");
  EXPECT_EQ(yoomoney::performedDatetime(INT64_MAX), "9999-12-31T23:59:59.999+00:00");
}

TEST(YooMoney, XmlAttributeEscapesAndSanitises) {
  EXPECT_EQ(xmlEscaped(R"(<&">')", 255), "&lt;&amp;&quot;&gt;&apos;");
  EXPECT_EQ(xmlEscaped("a\tb\nc\rd", 255), "a&#9;b&#10;c&#13;d");
  EXPECT_EQ(xmlEscaped(std::string("a\0b\x01", 4), 255),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  EXPECT_EQ(xmlEscaped("\xC3\x28", 255), "\xEF\xBF\xBD(");             // broken 2-byte sequence
  EXPECT_EQ(xmlEscaped("\xC0\xAF", 255), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(xmlEscaped("\xED\xA0\x80", 255),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");           // surrogate
  EXPECT_EQ(xmlEscaped("\xEF\xBF\xBF", 255), "\xEF\xBF\xBD");  // U+FFFF is not an XML Char
  EXPECT_EQ(xmlEscaped("\xF0\x9F\x92\xB3 ok", 255), "\xF0\x9F\x92\xB3 ok");
  EXPECT_EQ(xmlEscaped("жжж", 2), "жж");
  EXPECT_EQ(xmlEscaped("&&&", 2), "&amp;&amp;");  // the limit counts characters, not escapes
}

TEST(YooMoney, AnswerXmlCarriesMessageAndTechMessage) {
  EXPECT_EQ(
      yoomoney::answerXml("checkOrderResponse", kNowMs, 100, "55", "13", "нет такого заказа", "no order"),
      answer("checkOrderResponse", 100,
             R"( invoiceId="55" shopId="13" message="нет такого заказа" techMessage="no order")"));
  std::string tech(100, 'x');
  EXPECT_EQ(yoomoney::answerXml("paymentAvisoResponse", kNowMs, 0, "", "", "", tech),
            answer("paymentAvisoResponse", 0, " techMessage=\"" + std::string(64, 'x') + "\""));
}

TEST(YooMoney, FactoryValidatesTheRoute) {
  config::RouteConfig route;
  route.name = "shop";
  route.provider = "yoomoney";
  auto settings = std::make_shared<yoomoney::Settings>();
  route.settings = settings;
  settings->shop_id = "13";
  settings->shop_password = Secret(kPassword);
  auto ok = makeYooMoneyHandler(route);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->endpoints().size(), 2u);
  auto v = (*ok)->handle(YooMoneyHandler::kCheck, post(formBody(vectorFields())), kNowMs);
  EXPECT_TRUE(std::holds_alternative<Decide>(v));

  settings->shop_id = "shop-13";
  auto bad = makeYooMoneyHandler(route);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("shop_id: ", 0), 0u);
  settings->shop_id = "13";
  settings->shop_password = Secret();
  auto empty = makeYooMoneyHandler(route);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message.rfind("shop_password_file: ", 0), 0u);
}

}  // namespace
}  // namespace payhook::handlers

namespace payhook::handlers {
namespace {

TEST(YooMoneyStoredBody, Md5IsBlankedAndNothingElseChanges) {
  config::RouteConfig rc;
  rc.name = "shop";
  rc.provider = "yoomoney";
  auto settings = std::make_shared<yoomoney::Settings>();
  settings->shop_id = "13";
  settings->shop_password = Secret(std::string("s<kY23653f,{9fcnshwq"));
  rc.settings = settings;
  auto h = makeYooMoneyHandler(rc);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ((*h)->storedBody("action=paymentAviso&md5=1B35ABE38AA54F2931B0C58646FD1321&shopId=13"),
            "action=paymentAviso&md5=&shopId=13");
  EXPECT_EQ((*h)->storedBody("md5=ABC"), "md5=");
  EXPECT_EQ((*h)->storedBody("xmd5=keep&md5x=keep"), "xmd5=keep&md5x=keep");
}

}  // namespace
}  // namespace payhook::handlers

namespace payhook::handlers {
namespace {

Fields aviso(const std::string& invoice_id = "55") {
  Fields f = vectorFields();
  set(&f, "action", "paymentAviso");
  set(&f, "invoiceId", invoice_id);
  return f;
}

nlohmann::json dataOf(const Verdict& v) {
  if (const auto* a = std::get_if<Accept>(&v)) return nlohmann::json::parse(a->event.data_json);
  if (const auto* d = std::get_if<Decide>(&v)) return nlohmann::json::parse(d->event.data_json);
  ADD_FAILURE() << "refused: " << std::get<Reject>(v).reason;
  return {};
}

Verdict sendAviso(Fields f, const std::string& content_type = "application/x-www-form-urlencoded") {
  sign(&f);
  http::Request r = post(formBody(f), "/yoomoney/aviso");
  r.headers = {{"content-type", content_type}};
  return handler().handle(YooMoneyHandler::kAviso, r, kNowMs);
}

TEST(YooMoneyPayment, AnAvisoIsAPaymentThatSucceeded) {
  auto f = aviso();
  f.emplace_back("orderNumber", "2003");
  auto p = dataOf(sendAviso(f))["payment"];
  EXPECT_EQ(p, nlohmann::json::parse(R"({"outcome": "succeeded", "amount": "87.10", "amount_minor": 8710,
    "currency": "RUB", "order_id": "2003", "provider_payment_id": "55", "test": false, "warnings": [],
    "unsigned": ["order_id"]})"));
}

TEST(YooMoneyPayment, TheDemoCurrencyIsATestPayment) {
  auto f = aviso();
  set(&f, "orderSumCurrencyPaycash", "10643");
  auto p = dataOf(sendAviso(f))["payment"];
  EXPECT_EQ(p["test"], true);
  EXPECT_EQ(p["currency"], "RUB");
  EXPECT_EQ(p["outcome"], "succeeded");
}

TEST(YooMoneyPayment, AZeroAvisoIsNotAPayment) {
  for (const char* zero : {"0.00", "0", "0.0"}) {
    auto f = aviso();
    set(&f, "orderSumAmount", zero);
    auto p = dataOf(sendAviso(f))["payment"];
    EXPECT_EQ(p["outcome"], "failed") << zero;
    EXPECT_EQ(p["warnings"], nlohmann::json::array({"zero_amount"})) << zero;
  }
}

TEST(YooMoneyRepeats, ARepeatedUnsignedFieldIsKeptAndARepeatedSignedOneRefused) {
  auto f = aviso();
  f.emplace_back("cps_phone", "1");
  f.emplace_back("cps_phone", "2");
  f.emplace_back("orderNumber", "A");
  f.emplace_back("orderNumber", "B");
  auto data = dataOf(sendAviso(f));
  EXPECT_EQ(data["unsigned"]["custom"]["cps_phone"], nlohmann::json::array({"1", "2"}));
  EXPECT_EQ(data["unsigned"]["order_number"], nlohmann::json::array({"A", "B"}));
  EXPECT_EQ(data["payment"]["order_id"], nullptr);  // two order numbers: neither is the order

  for (const char* name : {"invoiceId", "orderSumAmount", "shopId", "md5"}) {
    auto g = aviso();
    sign(&g);
    g.emplace_back(name, get(g, name));
    http::Request r = post(formBody(g), "/yoomoney/aviso");
    const auto& reject = expectReject(handler().handle(YooMoneyHandler::kAviso, r, kNowMs));
    EXPECT_EQ(reject.outcome, "malformed") << name;
    EXPECT_NE(reject.reply.body.find("code=\"200\""), std::string::npos) << name;
    EXPECT_NE(reject.reply.body.find(std::string("repeated field ") + name), std::string::npos) << name;
  }
}

TEST(YooMoneyIds, ShopAndInvoiceIdsCompareAsNumbers) {
  auto f = aviso("0092");
  set(&f, "shopId", "013");
  auto v = sendAviso(f);
  ASSERT_TRUE(std::holds_alternative<Accept>(v)) << std::get<Reject>(v).reason;
  const auto& a = std::get<Accept>(v);
  EXPECT_EQ(a.event.idempotency_key, "paymentAviso:92");  // one invoice with "92"
  EXPECT_EQ(nlohmann::json::parse(a.event.data_json)["payment"]["provider_payment_id"], "92");
  // The answer repeats the request's own spelling.
  EXPECT_NE(a.ack.body.find(R"(invoiceId="0092" shopId="013")"), std::string::npos) << a.ack.body;
  auto plain = sendAviso(aviso("92"));
  ASSERT_TRUE(std::holds_alternative<Accept>(plain));
  EXPECT_EQ(std::get<Accept>(plain).event.idempotency_key, "paymentAviso:92");
}

TEST(YooMoneyCharset, Cp1251ValuesReachDataAsUtf8AndTheMd5CoversTheBytesSent) {
  auto f = aviso();
  set(&f, "customerNumber", "\xC8\xE2\xE0\xED");           // "Иван" in windows-1251
  f.emplace_back("cps_name", "\xCF\xE5\xF2\xF0\xEE\xE2");  // "Петров"
  auto data = dataOf(sendAviso(f));
  EXPECT_EQ(data["customer_number"], "Иван");
  EXPECT_EQ(data["unsigned"]["custom"]["cps_name"], "Петров");
  // Said by the content-type, even where the bytes would also read as UTF-8 ("Рђ" is D0 A0 in cp1251).
  auto g = aviso();
  g.emplace_back("cps_name", "\xD0\xA0");
  EXPECT_EQ(
      dataOf(sendAviso(
          g, "application/x-www-form-urlencoded; charset=windows-1251"))["unsigned"]["custom"]["cps_name"],
      "Р\u00A0");
  EXPECT_EQ(dataOf(sendAviso(g))["unsigned"]["custom"]["cps_name"], "Р");  // UTF-8 by default
}

Event storedAviso(const std::string& invoice_id = "55") {
  auto v = sendAviso(aviso(invoice_id));
  EXPECT_TRUE(std::holds_alternative<Accept>(v));
  return std::holds_alternative<Accept>(v) ? std::get<Accept>(v).event : Event{};
}

TEST(YooMoneyNotes, ChecksAndAvisosOfOneInvoiceShareANote) {
  auto h = handler();
  Event check;
  check.idempotency_key = "checkOrder:92";
  Event ev;
  ev.idempotency_key = "paymentAviso:92";
  EXPECT_EQ(h.noteKey(check), "invoice:92");
  EXPECT_EQ(h.noteKey(ev), "invoice:92");
}

TEST(YooMoneyNotes, AnAvisoAfterARefusedCheckSaysSo) {
  Event ev = storedAviso();
  EXPECT_FALSE(handler().annotate(ev, "refuse 0190aaaa-0000-7000-8000-000000000001").empty());
  auto data = nlohmann::json::parse(ev.data_json);
  EXPECT_EQ(
      data["check_order"],
      nlohmann::json::parse(R"({"decision":"refuse","event_id":"0190aaaa-0000-7000-8000-000000000001"})"));
  EXPECT_EQ(data["payment"]["outcome"], "succeeded");  // the payer was charged all the same
  EXPECT_EQ(data["payment"]["warnings"], nlohmann::json::array({"check_refused"}));

  Event timed_out = storedAviso();
  EXPECT_FALSE(handler().annotate(timed_out, "failed 0190aaaa-0000-7000-8000-000000000002").empty());
  EXPECT_EQ(nlohmann::json::parse(timed_out.data_json)["payment"]["warnings"],
            nlohmann::json::array({"check_refused"}));

  Event accepted = storedAviso();
  const std::string before = accepted.data_json;
  EXPECT_TRUE(handler().annotate(accepted, "accept 0190aaaa-0000-7000-8000-000000000003").empty());
  EXPECT_EQ(accepted.data_json, before);
}

}  // namespace
}  // namespace payhook::handlers

namespace payhook::handlers {
namespace {

// What the md5 does not cover is what anyone holding a signed form could change or add.
TEST(YooMoneyUnsigned, OnlyTheSignedFieldsAreAtTheTopAndTheRestIsApart) {
  auto f = aviso();
  f.emplace_back("orderNumber", "2003");
  f.emplace_back("cps_email", "user@example.com");
  auto data = dataOf(sendAviso(f));
  for (const auto& item : data.items()) {
    static const std::set<std::string> kSignedOrOwn{"action",
                                                    "shop_id",
                                                    "invoice_id",
                                                    "customer_number",
                                                    "order_sum_amount",
                                                    "order_sum_currency_paycash",
                                                    "order_sum_bank_paycash",
                                                    "payment",
                                                    "unsigned"};
    EXPECT_EQ(kSignedOrOwn.count(item.key()), 1u) << item.key();
  }
  EXPECT_EQ(data["unsigned"]["order_number"], "2003");
  EXPECT_EQ(data["unsigned"]["custom"]["cps_email"], "user@example.com");
  // The order number reaches data.payment too, marked as unsigned there.
  EXPECT_EQ(data["payment"]["order_id"], "2003");
  EXPECT_EQ(data["payment"]["unsigned"], nlohmann::json::array({"order_id"}));
}

TEST(YooMoneyUnsigned, WhatUnsignedFieldsMayAddIsBounded) {
  YooMoneyHandler small("shop", "13", Secret(std::string(kPassword)), 64);
  auto send = [&](size_t endpoint, Fields f) {
    sign(&f);
    return small.handle(endpoint, post(formBody(f)), kNowMs);
  };
  // The published vector's own unsigned fields (requestDatetime, shopArticleId, ...) are 200 bytes or so.
  YooMoneyHandler fits("shop", "13", Secret(std::string(kPassword)), 512);
  auto f = vectorFields();
  sign(&f);
  EXPECT_TRUE(
      std::holds_alternative<Decide>(fits.handle(YooMoneyHandler::kCheck, post(formBody(f)), kNowMs)));
  auto big = vectorFields();
  big.emplace_back("note", std::string(400, 'x'));
  sign(&big);
  const auto& r = expectReject(fits.handle(YooMoneyHandler::kCheck, post(formBody(big)), kNowMs));
  EXPECT_EQ(r.outcome, "malformed");
  EXPECT_NE(r.reply.body.find(R"(code="200")"), std::string::npos) << r.reply.body;
  EXPECT_NE(r.reply.body.find("unsigned fields too large"), std::string::npos) << r.reply.body;
  EXPECT_NE(r.reason.find("max_unsigned (512)"), std::string::npos) << r.reason;
  // An aviso is held to the same bound; the signed fields never count.
  auto a = aviso();
  EXPECT_TRUE(std::holds_alternative<Reject>(send(YooMoneyHandler::kAviso, a)));
  Fields only_signed;
  for (const auto& [name, value] : a)
    if (name == "action" || name == "shopId" || name == "invoiceId" || name == "customerNumber" ||
        name == "orderSumAmount" || name == "orderSumCurrencyPaycash" || name == "orderSumBankPaycash" ||
        name == "md5")
      only_signed.emplace_back(name, value);
  only_signed.emplace_back("x", std::string(60, 'y'));  // 61 bytes with its name
  EXPECT_TRUE(std::holds_alternative<Accept>(send(YooMoneyHandler::kAviso, only_signed)));
  only_signed.emplace_back("z", "12");  // 64 bytes: still within
  EXPECT_TRUE(std::holds_alternative<Accept>(send(YooMoneyHandler::kAviso, only_signed)));
  only_signed.emplace_back("w", "");  // 65
  EXPECT_TRUE(std::holds_alternative<Reject>(send(YooMoneyHandler::kAviso, only_signed)));
}

}  // namespace
}  // namespace payhook::handlers
