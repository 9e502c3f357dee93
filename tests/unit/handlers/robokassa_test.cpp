#include "handlers/robokassa/robokassa.h"
#include "handlers/robokassa/settings.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "handlers/digest.h"
#include "support/listing_expect.h"

namespace payhook::handlers {
namespace {

using robokassa::Pairs;
using robokassa::ShpOrder;
using robokassa::signedText;

// django-robokassa's stored test (PROTOCOLS: published): Password #2 "test_password2", OutSum=100, InvId=58.
constexpr const char* kPassword2 = "test_password2";
constexpr const char* kResultSignature = "6E75B4F55BEFE22C8DB12778D8EF32C3";
// go-robokassa-sdk's test base string with two Shp_ parameters, and its digests in each algorithm.
constexpr const char* kShpBase = "100.000000:450009:password2:Shp_login=Vasya:Shp_oplata=1";
const Pairs kShp = {{"Shp_oplata", "1"}, {"Shp_login", "Vasya"}};

RobokassaHandler handler(const char* password = kPassword2, HashAlgorithm hash = HashAlgorithm::kMd5) {
  return RobokassaHandler("robo", Secret(std::string(password)), hash, "RUB");
}

http::Request get(std::string query) {
  http::Request r;
  r.method = "GET";
  r.path = "/robokassa/result";
  r.query = std::move(query);
  return r;
}

http::Request post(std::string body) {
  http::Request r;
  r.method = "POST";
  r.path = "/robokassa/result";
  r.headers = {{"content-type", "application/x-www-form-urlencoded"}};
  r.body = std::move(body);
  return r;
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
  EXPECT_EQ(r.reply.body, status == 403 ? "bad sign\n" : "bad request\n");
  EXPECT_EQ(r.outcome, outcome) << r.reason;
  EXPECT_EQ(r.reason.find(kPassword2), std::string::npos);
  EXPECT_EQ(r.reason.find("password2"), std::string::npos);
}

// --- the published and computed vectors ---

TEST(RobokassaVectors, ResultUrlVectorFromTheStoredTest) {
  const std::string text = signedText("100", "58", kPassword2, {}, ShpOrder::kByName);
  EXPECT_EQ(text, "100:58:test_password2");
  EXPECT_EQ(hashHex(HashAlgorithm::kMd5, text, HexCase::kUpper), kResultSignature);
}

TEST(RobokassaVectors, PaymentFormVectorsHashAsPublished) {
  // The payment form's signature (Password #1), which payhook does not check: the digests alone.
  EXPECT_EQ(hashHex(HashAlgorithm::kMd5, "test_login:100.0:58:test_password", HexCase::kUpper),
            "59506E1E5BBE937B31386DD981788C9B");
  EXPECT_EQ(hashHex(HashAlgorithm::kMd5, "test_login::5:test_password", HexCase::kUpper),
            "DCEDD9C5F84C1E6CB73AB52CA9FAA8B3");
}

TEST(RobokassaVectors, ShpPairsSortByNameIntoTheSdkBaseString) {
  EXPECT_EQ(signedText("100.000000", "450009", "password2", kShp, ShpOrder::kByName), kShpBase);
  EXPECT_EQ(signedText("100.000000", "450009", "password2", kShp, ShpOrder::kByPair), kShpBase);
}

TEST(RobokassaVectors, EveryAlgorithmOverTheShpBaseString) {
  EXPECT_EQ(hashHex(HashAlgorithm::kMd5, kShpBase, HexCase::kLower), "d48572ed7aabd3f676bb17a6e96f1de1");
  EXPECT_EQ(hashHex(HashAlgorithm::kSha256, kShpBase, HexCase::kLower),
            "6846c44b56bb724f82ec3bd1680acda5fe06dd4fc1462b45766a61b777cc24c3");
  EXPECT_EQ(
      hashHex(HashAlgorithm::kSha512, kShpBase, HexCase::kLower),
      "34c6593a7b3f2bd93024100f417d1750936b49eda2a19201edbcf3a59f298c1d8f6ee6f3da7e364e4cb0da44bf38b7e08"
      "88ab1524b8ac27c3401a4ebfe1ddda1");
  ASSERT_TRUE(hashAvailable(HashAlgorithm::kRipemd160)) << "Debian 12's OpenSSL 3 default provider has it";
  EXPECT_EQ(hashHex(HashAlgorithm::kRipemd160, kShpBase, HexCase::kLower),
            "e58b2b255d2c4a442213b156e3ee688d1e9540e6");
  // SuccessURL's Password #1 variant of the same parameters.
  EXPECT_EQ(hashHex(HashAlgorithm::kMd5, "100.000000:450009:password1:Shp_login=Vasya:Shp_oplata=1",
                    HexCase::kLower),
            "fe439c3e0f8854252ef14f7e8b89b444");
}

TEST(RobokassaVectors, AlgorithmNamesRoundTrip) {
  for (const char* name : {"md5", "ripemd160", "sha1", "sha256", "sha384", "sha512"}) {
    auto algorithm = hashAlgorithmNamed(name);
    ASSERT_TRUE(algorithm.has_value()) << name;
    EXPECT_EQ(hashAlgorithmName(*algorithm), name);
    EXPECT_TRUE(hashAvailable(*algorithm)) << name;
  }
  EXPECT_FALSE(hashAlgorithmNamed("MD5").has_value());
  EXPECT_FALSE(hashAlgorithmNamed("gost").has_value());
}

// --- the handler ---

TEST(RobokassaHandler, PublishedGetIsAcceptedAndAnsweredOkInvId) {
  const auto a = accepted(
      handler().handle(0, get("OutSum=100&InvId=58&SignatureValue=" + std::string(kResultSignature)), 0));
  EXPECT_EQ(a.ack.status, 200);
  EXPECT_EQ(a.ack.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(a.ack.body, "OK58");
  EXPECT_EQ(a.event.type, "robokassa.result");
  EXPECT_EQ(a.event.provider, "robokassa");
  EXPECT_EQ(a.event.route, "robo");
  EXPECT_TRUE(a.event.verified);
  EXPECT_EQ(a.event.idempotency_key, "result:58");
  EXPECT_FALSE(a.unless_stored.has_value());
  const auto data = nlohmann::json::parse(a.event.data_json);
  EXPECT_EQ(data, nlohmann::json::parse(R"({"out_sum":"100","inv_id":"58","shp":{},
      "unsigned":{"other":{}},
      "payment":{"outcome":"succeeded","amount":"100","amount_minor":10000,"currency":"RUB",
                 "order_id":"58","provider_payment_id":null,"test":false,"warnings":[],"unsigned":[]}})"));
  testing::expectListing(a.event, {"58"}, "100", "RUB", "", "succeeded");
}

TEST(RobokassaHandler, LowerCaseSignatureIsAccepted) {
  accepted(
      handler().handle(0, get("OutSum=100&InvId=58&SignatureValue=6e75b4f55befe22c8db12778d8ef32c3"), 0));
}

TEST(RobokassaHandler, EachAlgorithmVerifiesAPostedFormWithShpParameters) {
  struct Case {
    HashAlgorithm hash;
    const char* signature;
  };
  const Case cases[] = {
      {HashAlgorithm::kMd5, "D48572ED7AABD3F676BB17A6E96F1DE1"},
      {HashAlgorithm::kSha256, "6846c44b56bb724f82ec3bd1680acda5fe06dd4fc1462b45766a61b777cc24c3"},
      {HashAlgorithm::kSha512,
       "34c6593a7b3f2bd93024100f417d1750936b49eda2a19201edbcf3a59f298c1d8f6ee6f3da7e364e4cb0da44bf38b7e0888ab"
       "1524"
       "b8ac27c3401a4ebfe1ddda1"},
      {HashAlgorithm::kRipemd160, "e58b2b255d2c4a442213b156e3ee688d1e9540e6"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(hashAlgorithmName(c.hash)));
    // Robokassa's order of parameters is its own; the Shp_ pairs are signed sorted, whatever order they came.
    const std::string body =
        "OutSum=100.000000&InvId=450009&Fee=2.50&EMail=buyer%40example.com&Shp_oplata=1"
        "&PaymentMethod=BankCard&IncCurrLabel=BankCardPSR&Shp_login=Vasya&SignatureValue=" +
        std::string(c.signature);
    const auto a = accepted(handler("password2", c.hash).handle(0, post(body), 0));
    EXPECT_EQ(a.ack.body, "OK450009");
    auto data = nlohmann::json::parse(a.event.data_json);
    EXPECT_EQ(data["out_sum"], "100.000000");  // as sent, never reformatted
    EXPECT_EQ(data["shp"], nlohmann::json::parse(R"({"Shp_oplata":"1","Shp_login":"Vasya"})"));
    EXPECT_EQ(data["unsigned"], nlohmann::json::parse(R"({"fee":"2.50","email":"buyer@example.com",
        "payment_method":"BankCard","inc_curr_label":"BankCardPSR","other":{}})"));
    EXPECT_EQ(data["payment"]["amount"], "100.000000");
    EXPECT_EQ(data["payment"]["amount_minor"], 10000);
    // The other algorithm of the same length is a mismatch.
    const auto other = c.hash == HashAlgorithm::kMd5 ? HashAlgorithm::kSha256 : HashAlgorithm::kMd5;
    expectRefused(handler("password2", other).handle(0, post(body), 0), 403, "forged");
  }
}

TEST(RobokassaHandler, ShpNamesThatArePrefixesVerifyInEitherSdkOrder) {
  // "Shp_a" < "Shp_a1" by name, but "Shp_a1=..." < "Shp_a=..." as pairs ('1' sorts before '=').
  const Pairs shp = {{"Shp_a", "x"}, {"Shp_a1", "y"}};
  const std::string by_name = signedText("5", "7", kPassword2, shp, ShpOrder::kByName);
  const std::string by_pair = signedText("5", "7", kPassword2, shp, ShpOrder::kByPair);
  EXPECT_EQ(by_name, "5:7:test_password2:Shp_a=x:Shp_a1=y");
  EXPECT_EQ(by_pair, "5:7:test_password2:Shp_a1=y:Shp_a=x");
  for (const auto& text : {by_name, by_pair})
    accepted(handler().handle(0,
                              get("OutSum=5&InvId=7&Shp_a1=y&Shp_a=x&SignatureValue=" +
                                  hashHex(HashAlgorithm::kMd5, text, HexCase::kLower)),
                              0));
}

TEST(RobokassaHandler, OneByteChangedIsForgedAndNothingIsAccepted) {
  const std::string sig = "&SignatureValue=" + std::string(kResultSignature);
  expectRefused(handler().handle(0, get("OutSum=101&InvId=58" + sig), 0), 403, "forged");
  expectRefused(handler().handle(0, get("OutSum=100&InvId=59" + sig), 0), 403, "forged");
  expectRefused(handler().handle(0, get("OutSum=100.0&InvId=58" + sig), 0), 403, "forged");
  expectRefused(handler().handle(0, get("OutSum=100&InvId=58&Shp_x=1" + sig), 0), 403, "forged");
  expectRefused(
      handler().handle(0, get("OutSum=100&InvId=58&SignatureValue=6E75B4F55BEFE22C8DB12778D8EF32C4"), 0), 403,
      "forged");
  expectRefused(handler("other").handle(0, get("OutSum=100&InvId=58" + sig), 0), 403, "forged");
  // Missing or empty.
  expectRefused(handler().handle(0, get("OutSum=100&InvId=58"), 0), 403, "forged");
  expectRefused(handler().handle(0, get("OutSum=100&InvId=58&SignatureValue="), 0), 403, "forged");
  // A truncated digest is no match, even of its prefix.
  expectRefused(handler().handle(0, get("OutSum=100&InvId=58&SignatureValue=6E75B4F5"), 0), 403, "forged");
}

TEST(RobokassaHandler, UnsignedParametersCanChangeButTheSignedOnesCannot) {
  const auto a = accepted(handler().handle(
      0,
      get("OutSum=100&InvId=58&IsTest=1&Culture=ru&mine=7&SignatureValue=" + std::string(kResultSignature)),
      0));
  const auto data = nlohmann::json::parse(a.event.data_json);
  EXPECT_EQ(data["unsigned"],
            nlohmann::json::parse(R"({"is_test":"1","culture":"ru","other":{"mine":"7"}})"));
  EXPECT_FALSE(data.contains("signature_value"));
  EXPECT_EQ(a.event.data_json.find(kResultSignature), std::string::npos);
}

TEST(RobokassaHandler, MalformedRequestsAre400) {
  auto sign = [](const std::string& out_sum, const std::string& inv_id, const Pairs& shp = {}) {
    return hashHex(HashAlgorithm::kMd5, signedText(out_sum, inv_id, kPassword2, shp, ShpOrder::kByName),
                   HexCase::kLower);
  };
  const std::string sig = "&SignatureValue=" + std::string(kResultSignature);
  expectRefused(handler().handle(0, get("InvId=58" + sig), 0), 400, "malformed");
  expectRefused(handler().handle(0, get("OutSum=100" + sig), 0), 400, "malformed");
  expectRefused(handler().handle(0, get("OutSum=100&OutSum=100&InvId=58" + sig), 0), 400, "malformed");
  expectRefused(handler().handle(0, get("OutSum=100&InvId=58%ZZ" + sig), 0), 400, "malformed");
  expectRefused(handler().handle(0, get("OutSum=1e2&InvId=58&SignatureValue=" + sign("1e2", "58")), 0), 400,
                "malformed");
  expectRefused(handler().handle(0, get("OutSum=100&InvId=A58&SignatureValue=" + sign("100", "A58")), 0), 400,
                "malformed");
  expectRefused(handler().handle(0, get("OutSum=100&InvId=58:1&SignatureValue=" + sign("100", "58:1")), 0),
                400, "malformed");
  // A Shp_ value that would read as two signed pairs.
  const Pairs split = {{"Shp_a", "1:Shp_b=2"}};
  expectRefused(
      handler().handle(
          0, get("OutSum=100&InvId=58&Shp_a=1%3AShp_b%3D2&SignatureValue=" + sign("100", "58", split)), 0),
      400, "malformed");
  http::Request json = post(R"({"OutSum":"100","InvId":"58"})");
  json.headers = {{"content-type", "application/json"}};
  expectRefused(handler().handle(0, json, 0), 400, "malformed");
}

TEST(RobokassaHandler, AColonInAShpValueIsFineWhenItCannotStartAPair) {
  const Pairs shp = {{"Shp_time", "12:30"}};
  const std::string sig = hashHex(
      HashAlgorithm::kMd5, signedText("100", "58", kPassword2, shp, ShpOrder::kByName), HexCase::kLower);
  const auto a =
      accepted(handler().handle(0, post("OutSum=100&InvId=58&Shp_time=12%3A30&SignatureValue=" + sig), 0));
  EXPECT_EQ(nlohmann::json::parse(a.event.data_json)["shp"]["Shp_time"], "12:30");
}

TEST(RobokassaHandler, RepeatsShareTheirIdempotencyKey) {
  const std::string q = "OutSum=100&InvId=58&SignatureValue=" + std::string(kResultSignature);
  const auto first = accepted(handler().handle(0, get(q), 0));
  const auto again = accepted(handler().handle(0, post(q), 1'000));
  EXPECT_EQ(first.event.idempotency_key, again.event.idempotency_key);
  EXPECT_EQ(first.ack.body, again.ack.body);
}

TEST(RobokassaHandler, TheStoredRequestKeepsNoSignature) {
  const RobokassaHandler h = handler();
  EXPECT_EQ(h.storedQuery("OutSum=100&InvId=58&SignatureValue=6E75&Shp_a=1"),
            "OutSum=100&InvId=58&SignatureValue=&Shp_a=1");
  EXPECT_EQ(h.storedBody("SignatureValue=6E75"), "SignatureValue=");
  EXPECT_EQ(h.storedBody("OutSum=100&XSignatureValue=1"), "OutSum=100&XSignatureValue=1");
}

TEST(RobokassaHandler, EndpointsAndFactory) {
  const auto endpoints = handler().endpoints();
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0].suffix, "/result");
  EXPECT_EQ(endpoints[0].methods, (std::vector<std::string>{"GET", "POST"}));

  config::RouteConfig route;
  route.name = "robo";
  route.provider = "robokassa";
  auto settings = std::make_shared<robokassa::Settings>();
  route.settings = settings;
  EXPECT_FALSE(makeRobokassaHandler(route).ok());  // no password
  settings->password2 = Secret(std::string(kPassword2));
  settings->hash = HashAlgorithm::kMd5;
  auto made = makeRobokassaHandler(route);
  ASSERT_TRUE(made.ok()) << made.error().message;
  const Verdict v =
      (*made)->handle(0, get("OutSum=100&InvId=58&SignatureValue=" + std::string(kResultSignature)), 0);
  EXPECT_TRUE(std::holds_alternative<Accept>(v));
}

}  // namespace
}  // namespace payhook::handlers
