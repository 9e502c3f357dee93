#include "handlers/payinpayout/payinpayout.h"
#include "handlers/payinpayout/settings.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/digest.h"
#include "support/listing_expect.h"

namespace payhook::handlers {
namespace {

using payinpayout::FloatForm;
using payinpayout::Order;
using payinpayout::phpUrlencode;

// The message with the fields sorted, and as they appear in the body.
Result<std::string> sorted(std::string_view body, FloatForm floats = FloatForm::kAsSent) {
  return payinpayout::signedMessage(body, Order::kSorted, floats);
}
Result<std::string> asSent(std::string_view body, FloatForm floats = FloatForm::kAsSent) {
  return payinpayout::signedMessage(body, Order::kAsSent, floats);
}

// Payin-payout's published computed vectors (key "secret_key"). The tracker values start with a space.
constexpr const char* kKey = "secret_key";
constexpr const char* kInvoice =
    R"({"external_id":"123457","service_id":111,"status":1,"tracker":" gid_...","payment_in_id":"011111-000082",)"
    R"("payment_out_id":"022222-001244","timestamp":"1558429736","hash":"d79d53d02f3447b33fd6323ef83c4932"})";
constexpr const char* kInvoiceMessage =
    "external_id=123457&payment_in_id=011111-000082&payment_out_id=022222-001244&service_id=111&status=1&"
    "timestamp=1558429736";
constexpr int64_t kInvoiceNowMs = 1558429736LL * 1000;
constexpr const char* kTopup =
    R"({"payment_in_id":64522147743974,"payment_in_status":1,"timestamp":1563956853,"tracker":" gid_...",)"
    R"("hash":"9d9ef37a7b3ff4a1b1d4600de2db7c78"})";
constexpr int64_t kTopupNowMs = 1563956853LL * 1000;
constexpr uint64_t kTolerance = 600'000;

constexpr size_t kCallback = 0;
constexpr size_t kTopupEndpoint = 1;

PayinPayoutHandler handler() {
  return PayinPayoutHandler("pp", Secret(std::string(kKey)), kTolerance);
}

http::Request post(std::string body, const std::string& path = "/payinpayout/callback") {
  http::Request r;
  r.method = "POST";
  r.path = path;
  r.headers = {{"content-type", "application/json"}};
  r.body = std::move(body);
  return r;
}

// `body` without a hash, signed the way Payin-payout signs it: the hash goes in before the closing brace.
std::string signBody(const std::string& body) {
  auto message = asSent(body);
  EXPECT_TRUE(message.ok()) << body;
  std::string hash = hmacMd5Hex(Secret(std::string(kKey)), message.ok() ? *message : "", HexCase::kLower);
  std::string out = body.substr(0, body.rfind('}'));
  if (out.find(':') != std::string::npos) out += ',';
  return out + R"("hash":")" + hash + R"("})";
}

// The event's data without the normalised payment, which the tests below check on their own.
nlohmann::json providerFields(const Event& e) {
  auto data = nlohmann::json::parse(e.data_json);
  data.erase("payment");
  return data;
}

nlohmann::json paymentOf(const Verdict& v) {
  EXPECT_TRUE(std::holds_alternative<Accept>(v));
  if (!std::holds_alternative<Accept>(v)) return {};
  return nlohmann::json::parse(std::get<Accept>(v).event.data_json)["payment"];
}

// Copies, so that a verdict returned by value may be inspected in one expression.
Reject rejected(const Verdict& v) {
  EXPECT_TRUE(std::holds_alternative<Reject>(v));
  return std::holds_alternative<Reject>(v) ? std::get<Reject>(v) : Reject{};
}

void expectAnswer(const http::Response& r, int status, const char* body) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, body);
  EXPECT_TRUE(r.headers.empty());
}

void expectRefused(const Verdict& v, int status, const char* outcome) {
  const Reject r = rejected(v);
  expectAnswer(r.reply, status, R"({"result": false})");
  EXPECT_EQ(r.outcome, outcome) << r.reason;
  EXPECT_EQ(r.reason.find(kKey), std::string::npos);
}

// --- the signed message ---

TEST(PayinPayoutMessage, PublishedInvoiceVector) {
  auto message = sorted(kInvoice);
  ASSERT_TRUE(message.ok()) << message.error().message;
  EXPECT_EQ(*message, kInvoiceMessage);
  EXPECT_EQ(hmacMd5Hex(Secret(std::string(kKey)), *message, HexCase::kLower),
            "d79d53d02f3447b33fd6323ef83c4932");
}

TEST(PayinPayoutMessage, PublishedTopupVector) {
  auto message = sorted(kTopup);
  ASSERT_TRUE(message.ok()) << message.error().message;
  EXPECT_EQ(*message, "payment_in_id=64522147743974&payment_in_status=1&timestamp=1563956853");
  EXPECT_EQ(hmacMd5Hex(Secret(std::string(kKey)), *message, HexCase::kLower),
            "9d9ef37a7b3ff4a1b1d4600de2db7c78");
}

TEST(PayinPayoutMessage, PhpUrlencode) {
  EXPECT_EQ(phpUrlencode("AZaz09-_."), "AZaz09-_.");
  EXPECT_EQ(phpUrlencode(" "), "+");
  EXPECT_EQ(phpUrlencode("~"), "%7E");  // urlencode encodes it; only rawurlencode keeps it since PHP 5.3
  EXPECT_EQ(phpUrlencode("*"), "%2A");
  EXPECT_EQ(phpUrlencode("+"), "%2B");
  EXPECT_EQ(phpUrlencode("%"), "%25");
  EXPECT_EQ(phpUrlencode("&="), "%26%3D");
  EXPECT_EQ(phpUrlencode("/?#:@!$'()"), "%2F%3F%23%3A%40%21%24%27%28%29");
  EXPECT_EQ(phpUrlencode("\xd0\xbf\xd1\x80\xd0\xb8"), "%D0%BF%D1%80%D0%B8");  // "при", upper-case hex
  EXPECT_EQ(phpUrlencode(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(phpUrlencode("\xff"), "%FF");
  EXPECT_EQ(phpUrlencode(""), "");
}

TEST(PayinPayoutMessage, KeysAndValuesAreEncoded) {
  EXPECT_EQ(*sorted(R"({"a b":"c d","k~":"1+1=2%","u":"\u043f"})"), "a+b=c+d&k%7E=1%2B1%3D2%25&u=%D0%BF");
}

TEST(PayinPayoutMessage, KeysSortIgnoringAsciiCase) {
  // Binary order would put "Z" before "a" and "B" before "_"; PHP's SORT_FLAG_CASE compares lower-cased.
  EXPECT_EQ(*sorted(R"({"Z":"1","a":"2"})"), "a=2&Z=1");
  EXPECT_EQ(*sorted(R"({"B":"1","_":"2"})"), "_=2&B=1");
  // A prefix sorts first; "_" (0x5f) sorts before every lower-case letter.
  EXPECT_EQ(*sorted(R"({"a_":"3","b":"1","A":"2"})"), "A=2&a_=3&b=1");
  EXPECT_EQ(*sorted(R"({"_x":"1","a":"2"})"), "_x=1&a=2");
}

TEST(PayinPayoutMessage, CaseTwinsAndRepeatedKeysAreRefused) {
  EXPECT_FALSE(sorted(R"({"a":"1","A":"2"})").ok());
  EXPECT_FALSE(sorted(R"({"a":"1","a":"2"})").ok());
  EXPECT_FALSE(sorted(R"({"hash":"1","HASH":"2"})").ok());
  EXPECT_FALSE(sorted(R"({"Tracker":"1","tracker":"2"})").ok());
  EXPECT_EQ(*sorted(R"({"ab":"1","aB_":"2"})"), "ab=1&aB_=2");
}

TEST(PayinPayoutMessage, ScalarsPrintLikePhp) {
  EXPECT_EQ(*sorted(R"({"t":true,"f":false,"n":null,"s":""})"), "f=0&s=&t=1");
  EXPECT_EQ(*sorted(R"({"neg":-5,"zero":0,"big":18446744073709551615})"),
            "big=18446744073709551615&neg=-5&zero=0");
  EXPECT_EQ(*sorted(R"({"hash":"x","tracker":"y","a":"1"})"), "a=1");
}

TEST(PayinPayoutMessage, NestedValuesAndNonObjectsAreRefused) {
  EXPECT_FALSE(sorted(R"({"a":{"b":1}})").ok());
  EXPECT_FALSE(sorted(R"({"a":[1]})").ok());
  EXPECT_FALSE(sorted(R"({"a":[]})").ok());
  EXPECT_FALSE(sorted(R"({"tracker":{"nested":true},"a":"1"})").ok());  // unsigned, still refused
  EXPECT_FALSE(sorted(R"([{"a":1}])").ok());
  EXPECT_FALSE(sorted(R"("a")").ok());
  EXPECT_FALSE(sorted("").ok());
  EXPECT_FALSE(sorted("{").ok());
  EXPECT_FALSE(sorted("a=1&a=2").ok());
  EXPECT_FALSE(sorted("a=%zz").ok());
  EXPECT_FALSE(sorted(R"({"a":1} x)").ok());
  std::string deep(100'000, '[');
  EXPECT_FALSE(sorted(R"({"a":)" + deep).ok());
  EXPECT_FALSE(sorted(R"({"a":)" + deep + std::string(100'000, ']') + "}").ok());
  EXPECT_EQ(*sorted("{}"), "");
}

TEST(PayinPayoutMessage, RequestOrderIsTheDocumentedOrder) {
  auto message = asSent(kInvoice);
  ASSERT_TRUE(message.ok()) << message.error().message;
  EXPECT_EQ(*message,
            "external_id=123457&service_id=111&status=1&payment_in_id=011111-000082&"
            "payment_out_id=022222-001244&timestamp=1558429736");
  EXPECT_EQ(hmacMd5Hex(Secret(std::string(kKey)), *message, HexCase::kLower),
            "eed21e4ab83ab2d97b98a0f43cc8f585");
  EXPECT_EQ(*asSent(R"({"Z":"1","a":"2","hash":"h","tracker":"t","b":null})"), "Z=1&a=2");
}

TEST(PayinPayoutMessage, FloatsAreSignedAsWrittenOrAsPhpPrintsThem) {
  EXPECT_EQ(*asSent(R"({"amount":100.50,"status":1.0})"), "amount=100.50&status=1.0");
  EXPECT_EQ(*asSent(R"({"amount":100.50,"status":1.0})", FloatForm::kShortest), "amount=100.5&status=1");
  EXPECT_EQ(*asSent(R"({"amount":0.30000000000000004})", FloatForm::kShortest), "amount=0.30000000000000004");
  EXPECT_EQ(*asSent(R"({"amount":0.30000000000000004})", FloatForm::kPrecision14), "amount=0.3");
  EXPECT_EQ(*asSent(R"({"a":1e2})"), "a=1e2");
  EXPECT_EQ(*asSent(R"({"a":18446744073709551616})"), "a=18446744073709551616");  // beyond 64 bits
}

TEST(PayinPayoutMessage, FormBodiesSignTheirDecodedValues) {
  EXPECT_EQ(*asSent("external_id=12+3&status=1&note=%D0%BF&hash=x"), "external_id=12+3&status=1&note=%D0%BF");
  EXPECT_EQ(*sorted("status=1&external_id=123&hash=x"), "external_id=123&status=1");
}

// --- the handler ---

TEST(PayinPayoutHandler, PublishedInvoiceIsAcceptedAndNormalised) {
  auto v = handler().handle(kCallback, post(kInvoice), kInvoiceNowMs);
  ASSERT_TRUE(std::holds_alternative<Accept>(v)) << rejected(v).reason;
  const auto& a = std::get<Accept>(v);
  expectAnswer(a.ack, 200, R"({"result": true})");
  EXPECT_EQ(a.event.type, "payinpayout.invoice_result");
  EXPECT_EQ(a.event.route, "pp");
  EXPECT_EQ(a.event.provider, "payinpayout");
  EXPECT_TRUE(a.event.verified);
  EXPECT_EQ(a.event.idempotency_key, "invoice:123457:1");
  EXPECT_TRUE(a.event.id.empty());
  EXPECT_TRUE(a.event.raw.body.empty());
  EXPECT_EQ(providerFields(a.event), nlohmann::json::parse(R"({
    "external_id":"123457","service_id":"111","status":"1","unsigned":{"tracker":" gid_..."},
    "payment_in_id":"011111-000082","payment_out_id":"022222-001244","timestamp":"1558429736"})"));
  testing::expectListing(a.event, {"123457", "011111-000082", "022222-001244"}, "", "", "1", "succeeded");
}

TEST(PayinPayoutHandler, PublishedTopupIsAcceptedAndNormalised) {
  auto v = handler().handle(kTopupEndpoint, post(kTopup, "/payinpayout/topup"), kTopupNowMs);
  ASSERT_TRUE(std::holds_alternative<Accept>(v)) << rejected(v).reason;
  const auto& a = std::get<Accept>(v);
  expectAnswer(a.ack, 200, R"({"result": true})");
  EXPECT_EQ(a.event.type, "payinpayout.topup");
  EXPECT_EQ(a.event.idempotency_key, "topup:64522147743974");
  EXPECT_EQ(providerFields(a.event), nlohmann::json::parse(R"({
    "payment_in_id":"64522147743974","payment_in_status":"1","timestamp":"1563956853",
    "unsigned":{"tracker":" gid_..."}})"));
}

TEST(PayinPayoutHandler, OneByteChangedIsForged) {
  std::string invoice = kInvoice;
  invoice.replace(invoice.find("123457"), 6, "123458");
  expectRefused(handler().handle(kCallback, post(invoice), kInvoiceNowMs), 403, "forged");
  std::string hash = kInvoice;
  hash.replace(hash.find("4932\""), 4, "4933");
  expectRefused(handler().handle(kCallback, post(hash), kInvoiceNowMs), 403, "forged");

  std::string topup = kTopup;
  topup.replace(topup.find("64522147743974"), 14, "64522147743975");
  expectRefused(handler().handle(kTopupEndpoint, post(topup), kTopupNowMs), 403, "forged");
  std::string status = kTopup;
  status.replace(status.find("\"payment_in_status\":1"), 21, "\"payment_in_status\":3");
  expectRefused(handler().handle(kTopupEndpoint, post(status), kTopupNowMs), 403, "forged");
  // A string "1" and an integer 1 sign the same (PHP prints both as 1), so this one passes.
  std::string typed = kTopup;
  typed.replace(typed.find("\"payment_in_status\":1"), 21, "\"payment_in_status\":\"1\"");
  EXPECT_TRUE(std::holds_alternative<Accept>(handler().handle(kTopupEndpoint, post(typed), kTopupNowMs)));
  // An added field is signed too.
  std::string added = kTopup;
  added.insert(1, R"("extra":"x",)");
  expectRefused(handler().handle(kTopupEndpoint, post(added), kTopupNowMs), 403, "forged");
  // Another key signs differently.
  PayinPayoutHandler other("pp", Secret(std::string("secret_kez")), kTolerance);
  expectRefused(other.handle(kCallback, post(kInvoice), kInvoiceNowMs), 403, "forged");
}

TEST(PayinPayoutHandler, TrackerIsNotSignedButKept) {
  std::string invoice = kInvoice;
  invoice.replace(invoice.find(" gid_..."), 8, "gid_other");
  auto v = handler().handle(kCallback, post(invoice), kInvoiceNowMs);
  ASSERT_TRUE(std::holds_alternative<Accept>(v));
  EXPECT_EQ(nlohmann::json::parse(std::get<Accept>(v).event.data_json)["unsigned"]["tracker"], "gid_other");
}

TEST(PayinPayoutHandler, UpperCaseHashIsAccepted) {
  std::string invoice = kInvoice;
  invoice.replace(invoice.find("d79d53d02f3447b33fd6323ef83c4932"), 32, "D79D53D02F3447B33FD6323EF83C4932");
  EXPECT_TRUE(std::holds_alternative<Accept>(handler().handle(kCallback, post(invoice), kInvoiceNowMs)));
}

// Outside the window a callback is acknowledged only as a repeat of one already stored; the daemon looks
// it up and otherwise sends the refusal carried in unless_stored.
void expectOnlyIfStored(const Verdict& v) {
  ASSERT_TRUE(std::holds_alternative<Accept>(v)) << rejected(v).reason;
  const auto& a = std::get<Accept>(v);
  ASSERT_TRUE(a.unless_stored.has_value());
  expectAnswer(a.unless_stored->reply, 403, R"({"result": false})");
  EXPECT_EQ(a.unless_stored->outcome, "forged");
  expectAnswer(a.ack, 200, R"({"result": true})");
}

void expectFresh(const Verdict& v) {
  ASSERT_TRUE(std::holds_alternative<Accept>(v)) << rejected(v).reason;
  EXPECT_FALSE(std::get<Accept>(v).unless_stored.has_value());
}

TEST(PayinPayoutHandler, TimestampToleranceBothWaysInclusive) {
  auto h = handler();
  auto at = [&](int64_t now) { return h.handle(kCallback, post(kInvoice), now); };
  expectFresh(at(kInvoiceNowMs + 600'000));
  expectFresh(at(kInvoiceNowMs - 600'000));
  expectOnlyIfStored(at(kInvoiceNowMs + 600'001));
  expectOnlyIfStored(at(kInvoiceNowMs - 600'001));
  expectOnlyIfStored(at(0));
  // The route's tolerance applies.
  PayinPayoutHandler tight("pp", Secret(std::string(kKey)), 1'000);
  expectFresh(tight.handle(kCallback, post(kInvoice), kInvoiceNowMs + 1'000));
  expectOnlyIfStored(tight.handle(kCallback, post(kInvoice), kInvoiceNowMs + 1'001));
  // Integer timestamps (the top-up) count the same way.
  expectOnlyIfStored(h.handle(kTopupEndpoint, post(kTopup), kTopupNowMs + 600'001));
  // The hash is checked first: a forged stale callback is refused outright.
  std::string forged = kInvoice;
  forged.replace(forged.find("123457"), 6, "123458");
  expectRefused(h.handle(kCallback, post(forged), kInvoiceNowMs + 600'001), 403, "forged");
}

TEST(PayinPayoutHandler, SignedButMalformedTimestampIs400) {
  const int64_t now = kInvoiceNowMs;
  for (const char* body :
       {R"({"external_id":"1","status":1})", R"({"external_id":"1","status":1,"timestamp":""})",
        R"({"external_id":"1","status":1,"timestamp":"1558429736.5"})",
        R"({"external_id":"1","status":1,"timestamp":"-1558429736"})",
        R"({"external_id":"1","status":1,"timestamp":-1558429736})",
        R"({"external_id":"1","status":1,"timestamp":"99999999999999999999"})",
        R"({"external_id":"1","status":1,"timestamp":true})"}) {
    SCOPED_TRACE(body);
    expectRefused(handler().handle(kCallback, post(signBody(body)), now), 400, "malformed");
  }
}

TEST(PayinPayoutHandler, MalformedBodiesAre400) {
  auto h = handler();
  for (const char* body : {"", "not json", "[]", R"({"hash":1})", R"({"external_id":"1"})",
                           R"({"a":{"b":1},"hash":"d79d53d02f3447b33fd6323ef83c4932"})", "a=1&hash=x&a=2"}) {
    SCOPED_TRACE(body);
    expectRefused(h.handle(kCallback, post(body), kInvoiceNowMs), 400, "malformed");
  }
}

TEST(PayinPayoutHandler, SignedButMissingIdsAre400) {
  const std::string ts = R"("timestamp":"1558429736")";
  for (const std::string& body :
       {"{" + ts + R"(,"status":1})", "{" + ts + R"(,"external_id":"","status":1})",
        "{" + ts + R"(,"external_id":"1"})", "{" + ts + R"(,"external_id":"1","status":"paid"})",
        "{" + ts + R"(,"external_id":"1","status":-1})", "{" + ts + R"(,"external_id":true,"status":1})"}) {
    SCOPED_TRACE(body);
    expectRefused(handler().handle(kCallback, post(signBody(body)), kInvoiceNowMs), 400, "malformed");
  }
  expectRefused(handler().handle(kTopupEndpoint, post(signBody("{" + ts + "}")), kInvoiceNowMs), 400,
                "malformed");
}

TEST(PayinPayoutHandler, KindsNeverShareAnIdempotencyKey) {
  const std::string invoice = signBody(R"({"external_id":"5","status":"1","timestamp":1558429736})");
  const std::string topup = signBody(R"({"payment_in_id":5,"payment_in_status":1,"timestamp":1558429736})");
  auto a = handler().handle(kCallback, post(invoice), kInvoiceNowMs);
  auto b = handler().handle(kTopupEndpoint, post(topup), kInvoiceNowMs);
  ASSERT_TRUE(std::holds_alternative<Accept>(a));
  ASSERT_TRUE(std::holds_alternative<Accept>(b));
  EXPECT_EQ(std::get<Accept>(a).event.idempotency_key, "invoice:5:1");
  EXPECT_EQ(std::get<Accept>(b).event.idempotency_key, "topup:5");
  // The status is part of an invoice's key: a later status of the same invoice is a new event.
  auto c = handler().handle(
      kCallback, post(signBody(R"({"external_id":"5","status":3,"timestamp":1558429736})")), kInvoiceNowMs);
  ASSERT_TRUE(std::holds_alternative<Accept>(c));
  EXPECT_EQ(std::get<Accept>(c).event.idempotency_key, "invoice:5:3");
}

TEST(PayinPayoutHandler, UnknownFieldsBoolsAndNullsAreKept) {
  auto v = handler().handle(
      kCallback,
      post(signBody(
          R"({"external_id":7,"status":1,"timestamp":1558429736,"note":"a b","ok":true,"gone":null})")),
      kInvoiceNowMs);
  ASSERT_TRUE(std::holds_alternative<Accept>(v)) << rejected(v).reason;
  EXPECT_EQ(std::get<Accept>(v).event.idempotency_key, "invoice:7:1");
  EXPECT_EQ(
      providerFields(std::get<Accept>(v).event),
      nlohmann::json::parse(
          R"({"external_id":"7","status":"1","timestamp":"1558429736","note":"a b","ok":true,"gone":null,)"
          R"("unsigned":{}})"));
}

TEST(PayinPayoutHandler, EndpointsAndFactory) {
  auto eps = handler().endpoints();
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[0].suffix, "/callback");
  EXPECT_EQ(eps[1].suffix, "/topup");
  EXPECT_EQ(eps[0].methods, std::vector<std::string>{"POST"});
  EXPECT_EQ(eps[1].methods, std::vector<std::string>{"POST"});

  config::RouteConfig route;
  route.name = "pp";
  route.provider = "payinpayout";
  auto settings = std::make_shared<payinpayout::Settings>();
  route.settings = settings;
  EXPECT_FALSE(makePayinPayoutHandler(route).ok());
  settings->secret.emplace_back(std::string(kKey));
  settings->secret.emplace_back(std::string("ignored-second-line"));
  auto made = makePayinPayoutHandler(route);
  ASSERT_TRUE(made.ok());
  EXPECT_TRUE(std::holds_alternative<Accept>((*made)->handle(kCallback, post(kInvoice), kInvoiceNowMs)));
}

}  // namespace
}  // namespace payhook::handlers

namespace payhook::handlers {
namespace {

// A signed invoice result replayed at /topup must not become a second, fake top-up; nor the reverse.
TEST(PayinPayoutEndpointShape, BodiesOnlyCountAtTheirOwnEndpoint) {
  Secret key(std::string("secret_key"));
  PayinPayoutHandler h("pp", key, 600'000);
  const std::string invoice =
      R"({"external_id":"123457","service_id":111,"status":1,"tracker":" gid_x","payment_in_id":"011111-000082",)"
      R"("payment_out_id":"022222-001244","timestamp":"1558429736","hash":"d79d53d02f3447b33fd6323ef83c4932"})";
  http::Request r;
  r.method = "POST";
  r.body = invoice;
  const int64_t now = 1558429736LL * 1000;
  auto at_callback = h.handle(0, r, now);
  ASSERT_TRUE(std::holds_alternative<Accept>(at_callback));
  auto at_topup = h.handle(1, r, now);
  ASSERT_TRUE(std::holds_alternative<Reject>(at_topup));
  EXPECT_EQ(std::get<Reject>(at_topup).reply.status, 400);

  const std::string topup =
      R"({"payment_in_id":64522147743974,"payment_in_status":1,"timestamp":1563956853,"tracker":" gid_x",)"
      R"("hash":"9d9ef37a7b3ff4a1b1d4600de2db7c78"})";
  r.body = topup;
  const int64_t then = 1563956853LL * 1000;
  ASSERT_TRUE(std::holds_alternative<Accept>(h.handle(1, r, then)));
  auto topup_at_callback = h.handle(0, r, then);
  ASSERT_TRUE(std::holds_alternative<Reject>(topup_at_callback));
  EXPECT_EQ(std::get<Reject>(topup_at_callback).reply.status, 400);
}

}  // namespace
}  // namespace payhook::handlers

namespace payhook::handlers {
namespace {

// Payin-payout signs the fields in request order; its published vector was computed sorted. Both verify.
TEST(PayinPayoutHandler, RequestOrderAndSortedOrderBothVerify) {
  std::string as_sent = kInvoice;
  as_sent.replace(as_sent.find("d79d53d02f3447b33fd6323ef83c4932"), 32, "eed21e4ab83ab2d97b98a0f43cc8f585");
  expectFresh(handler().handle(kCallback, post(as_sent), kInvoiceNowMs));
  expectFresh(handler().handle(kCallback, post(kInvoice), kInvoiceNowMs));
}

TEST(PayinPayoutHandler, FloatsVerifyInEachSpellingAndStayAsWritten) {
  const std::string body = R"({"external_id":"9","status":1.0,"amount":100.50,"timestamp":1558429736})";
  for (FloatForm form : {FloatForm::kAsSent, FloatForm::kShortest, FloatForm::kPrecision14}) {
    auto message = asSent(body, form);
    ASSERT_TRUE(message.ok());
    const std::string hash = hmacMd5Hex(Secret(std::string(kKey)), *message, HexCase::kLower);
    const std::string signed_body = body.substr(0, body.size() - 1) + R"(,"hash":")" + hash + R"("})";
    auto v = handler().handle(kCallback, post(signed_body), kInvoiceNowMs);
    ASSERT_TRUE(std::holds_alternative<Accept>(v)) << rejected(v).reason;
    const auto& a = std::get<Accept>(v);
    EXPECT_EQ(a.event.idempotency_key, "invoice:9:1");  // status 1.0 is status 1
    auto data = nlohmann::json::parse(a.event.data_json);
    EXPECT_EQ(data["amount"], "100.50");
    EXPECT_EQ(data["payment"]["outcome"], "succeeded");
    EXPECT_EQ(data["payment"]["amount"], "100.50");
  }
}

TEST(PayinPayoutHandler, AFormBodyIsAcceptedLikeJson) {
  const std::string fields = "external_id=77&status=3&payment_in_id=011111-000082&timestamp=1558429736";
  const std::string hash = hmacMd5Hex(Secret(std::string(kKey)), fields, HexCase::kLower);
  http::Request r = post(fields + "&tracker=+gid&hash=" + hash);
  r.headers = {{"content-type", "application/x-www-form-urlencoded"}};
  auto v = handler().handle(kCallback, r, kInvoiceNowMs);
  ASSERT_TRUE(std::holds_alternative<Accept>(v)) << rejected(v).reason;
  EXPECT_EQ(std::get<Accept>(v).event.idempotency_key, "invoice:77:3");
  EXPECT_EQ(providerFields(std::get<Accept>(v).event),
            nlohmann::json::parse(R"({"external_id":"77","status":"3","payment_in_id":"011111-000082",)"
                                  R"("timestamp":"1558429736","unsigned":{"tracker":" gid"}})"));
}

TEST(PayinPayoutHandler, EachInvoiceStatusHasItsOwnOutcome) {
  auto outcome = [](const char* status) {
    const std::string body = std::string(R"({"external_id":"5","status":)") + status +
                             R"(,"payment_in_id":"011111-000082","timestamp":1558429736})";
    return paymentOf(handler().handle(kCallback, post(signBody(body)), kInvoiceNowMs));
  };
  EXPECT_EQ(outcome("1")["outcome"], "succeeded");
  EXPECT_EQ(outcome("3")["outcome"], "failed");
  EXPECT_EQ(outcome("4")["outcome"], "failed");
  EXPECT_EQ(outcome("\"4\"")["outcome"], "failed");
  EXPECT_EQ(outcome("2")["outcome"], "pending");
  EXPECT_EQ(outcome("1"), nlohmann::json::parse(R"({"outcome":"succeeded","amount":null,"amount_minor":null,)"
                                                R"("currency":null,"order_id":"5",)"
                                                R"("provider_payment_id":"011111-000082","test":false,)"
                                                R"("warnings":[],"unsigned":[]})"));
}

TEST(PayinPayoutHandler, ATopupIsSucceededOnlyOnStatusOne) {
  EXPECT_EQ(paymentOf(handler().handle(kTopupEndpoint, post(kTopup), kTopupNowMs))["outcome"], "succeeded");
  EXPECT_EQ(paymentOf(handler().handle(kTopupEndpoint, post(kTopup), kTopupNowMs))["provider_payment_id"],
            "64522147743974");
  const std::string other = signBody(
      R"({"payment_in_id":1,"payment_in_status":2,"timestamp":1563956853,"amount":"5","currency":"643"})");
  auto p = paymentOf(handler().handle(kTopupEndpoint, post(other), kTopupNowMs));
  EXPECT_EQ(p["outcome"], "pending");
  EXPECT_EQ(p["amount"], "5");
  EXPECT_EQ(p["amount_minor"], 500);
  EXPECT_EQ(p["currency"], "RUB");
}

}  // namespace
}  // namespace payhook::handlers

namespace payhook::handlers {
namespace {

TEST(PayinPayoutHandler, PayhooksOwnKeysCannotComeFromTheBody) {
  // A signed body with "payment" or "unsigned" would shadow the normalised payment or pass for the fields
  // the hash does not cover.
  for (const char* name : {"payment", "unsigned"}) {
    const std::string body = signBody(R"({"external_id":"5","status":"1","timestamp":1558429736,")" +
                                      std::string(name) + R"(":"x"})");
    expectRefused(handler().handle(kCallback, post(body), kInvoiceNowMs), 400, "malformed");
  }
}

}  // namespace
}  // namespace payhook::handlers
