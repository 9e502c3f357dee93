#include "handlers/integra/integra.h"
#include "handlers/integra/settings.h"
#include "support/listing_expect.h"

#include <gtest/gtest.h>

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace payhook::handlers {
namespace {

constexpr const char* kToken = "tok-3f9a1c77e2b54d08";
constexpr const char* kId = "0123456789abcdef0123456789abcdef";  // 32 characters, as documented
constexpr int64_t kNowMs = 1'700'000'000'000;

IntegraOptions options() {
  IntegraOptions o;
  o.route = "integra";
  o.url_token = Secret(std::string(kToken));
  return o;
}

http::Request get(std::string query) {
  http::Request r;
  r.method = "GET";
  r.path = "/integra/notify";
  r.query = std::move(query);
  return r;
}

std::string validQuery(const std::string& token = kToken) {
  return "token=" + token + "&transaction_id=" + kId + "&amount=100.50&user=9f86d081884c7d65";
}

// Copies, so that a verdict returned by value may be inspected in one expression.
Reject rejected(const Verdict& v) {
  EXPECT_TRUE(std::holds_alternative<Reject>(v));
  return std::holds_alternative<Reject>(v) ? std::get<Reject>(v) : Reject{};
}

// Byte for byte the daemon's answer to a path it does not serve.
void expectNotFound(const Verdict& v) {
  const Reject r = rejected(v);
  EXPECT_EQ(r.reply.status, 404);
  EXPECT_EQ(r.reply.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.reply.body, "not found\n");
  EXPECT_TRUE(r.reply.headers.empty());
  EXPECT_EQ(r.outcome, "forged");  // counted like a bad signature
  EXPECT_EQ(r.reason.find(kToken), std::string::npos);
}

void expectBadRequest(const Verdict& v) {
  const Reject r = rejected(v);
  EXPECT_EQ(r.reply.status, 400);
  EXPECT_EQ(r.reply.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.reply.body.rfind("bad request: ", 0), 0u) << r.reply.body;
  EXPECT_EQ(r.outcome, "malformed");
}

Accept accepted(const Verdict& v) {
  EXPECT_TRUE(std::holds_alternative<Accept>(v))
      << (std::holds_alternative<Reject>(v) ? rejected(v).reason : "");
  return std::holds_alternative<Accept>(v) ? std::get<Accept>(v) : Accept{};
}

TEST(IntegraHandler, NotifyIsAcceptedWithOk) {
  IntegraHandler h(options());
  const Accept a = accepted(h.handle(0, get(validQuery() + "&lang=ru"), kNowMs));
  EXPECT_EQ(a.ack.status, 200);
  EXPECT_EQ(a.ack.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(a.ack.body, "OK");
  EXPECT_TRUE(a.ack.headers.empty());
  EXPECT_EQ(a.event.type, "integra.payment_notify");
  EXPECT_EQ(a.event.route, "integra");
  EXPECT_EQ(a.event.provider, "integra");
  EXPECT_TRUE(a.event.verified);
  EXPECT_EQ(a.event.idempotency_key, kId);
  EXPECT_TRUE(a.event.raw.query.empty());
  // Everything confirmPayment / declinePayment need, the token nowhere.
  auto data = nlohmann::json::parse(a.event.data_json);
  data.erase("payment");
  EXPECT_EQ(data.dump(), std::string(R"({"amount":"100.50","lang":"ru","transaction_id":")") + kId +
                             R"(","user":"9f86d081884c7d65"})");
  EXPECT_EQ(a.event.data_json.find(kToken), std::string::npos);
  testing::expectListing(a.event, {kId}, "100.50", "", "", "pending");
}

// The notify settles nothing: the shop's decision and confirmPayment do. Integra names no currency.
TEST(IntegraHandler, NotifyCarriesAPendingNormalisedPayment) {
  IntegraHandler h(options());
  const Accept a = accepted(h.handle(0, get(validQuery()), kNowMs));
  const auto data = nlohmann::json::parse(a.event.data_json);
  EXPECT_EQ(data["payment"], nlohmann::json::parse(std::string(R"({"outcome":"pending","amount":"100.50",
      "amount_minor":null,"currency":null,"order_id":null,"provider_payment_id":")") +
                                                   kId + R"(","test":false,"warnings":[],"unsigned":[]})"));
  // The provider's own fields stay as they were.
  EXPECT_EQ(data["amount"], "100.50");
  EXPECT_EQ(data["transaction_id"], kId);
  EXPECT_EQ(data["user"], "9f86d081884c7d65");
  // A query parameter may not pass for the normalised payment.
  expectBadRequest(h.handle(0, get(validQuery() + "&payment=paid"), kNowMs));
}

TEST(IntegraHandler, WrongOrMissingTokenLooksLikeAnUnknownPath) {
  IntegraHandler h(options());
  std::string one_byte = kToken;
  one_byte.back() = '9';
  expectNotFound(h.handle(0, get(validQuery(one_byte)), kNowMs));
  expectNotFound(h.handle(0, get(validQuery(std::string(kToken).substr(1))), kNowMs));
  expectNotFound(h.handle(0, get(validQuery(std::string(kToken) + "0")), kNowMs));
  expectNotFound(h.handle(0, get(validQuery("")), kNowMs));
  expectNotFound(h.handle(0, get(std::string("transaction_id=") + kId + "&amount=1&user=u"), kNowMs));
  expectNotFound(h.handle(0, get(""), kNowMs));
  // A query we cannot read cannot prove the token either: still the unknown path.
  expectNotFound(h.handle(0, get(validQuery() + "&token=" + kToken), kNowMs));
  expectNotFound(h.handle(0, get(validQuery() + "&x=%zz"), kNowMs));
  // The wrong token wins over anything else that is wrong.
  expectNotFound(h.handle(0, get("token=nope"), kNowMs));
  // A percent-encoded token is the same token.
  accepted(h.handle(0, get(validQuery("tok%2D3f9a1c77e2b54d08")), kNowMs));
}

TEST(IntegraHandler, IdAndUserMustBeUnreservedCharacters) {
  IntegraHandler h(options());
  const std::string base = std::string("token=") + kToken + "&amount=1";
  expectBadRequest(h.handle(0, get(base + "&user=u"), kNowMs));
  expectBadRequest(h.handle(0, get(base + "&transaction_id=&user=u"), kNowMs));
  expectBadRequest(h.handle(0, get(base + "&transaction_id=a+b&user=u"), kNowMs));
  expectBadRequest(
      h.handle(0, get(base + "&transaction_id=%7Bid%7D&user=u"), kNowMs));  // "{id}" unsubstituted
  expectBadRequest(h.handle(0, get(base + "&transaction_id=a%26b&user=u"), kNowMs));
  expectBadRequest(h.handle(0, get(base + "&transaction_id=" + std::string(129, 'a') + "&user=u"), kNowMs));
  accepted(h.handle(0, get(base + "&transaction_id=" + std::string(128, 'a') + "&user=u"), kNowMs));
  accepted(h.handle(0, get(base + "&transaction_id=short-id_1.2~3&user=u"), kNowMs));  // 32 is not enforced
  expectBadRequest(h.handle(0, get(base + "&transaction_id=1"), kNowMs));
  expectBadRequest(h.handle(0, get(base + "&transaction_id=1&user="), kNowMs));
  expectBadRequest(h.handle(0, get(base + "&transaction_id=1&user=%D1%8F"), kNowMs));
}

// Integra's user hashes may be base64: '+', '/' and '=' arrive percent-encoded (a raw '+' is a space in a
// query, and a space is no hash character). The id stays restricted to unreserved characters.
TEST(IntegraHandler, UserHashMayBeBase64) {
  IntegraHandler h(options());
  const std::string base = std::string("token=") + kToken + "&amount=1&transaction_id=1";
  auto user_of = [](const Verdict& v) {
    return nlohmann::json::parse(accepted(v).event.data_json)["user"].get<std::string>();
  };
  EXPECT_EQ(
      user_of(h.handle(0, get(base + "&user=n4bQgYhMfWWaL%2BqgxVrQFaO%2FTxsrC4Is0V1sFbDwCgg%3D"), kNowMs)),
      "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=");
  EXPECT_EQ(user_of(h.handle(0, get(base + "&user=ab%2Bc%2Fd%3D%3D"), kNowMs)), "ab+c/d==");
  EXPECT_EQ(user_of(h.handle(0, get(base + "&user=abcd=="), kNowMs)), "abcd==");  // '=' needs no escape
  EXPECT_EQ(user_of(h.handle(0, get(base + "&user=9f86d081884c7d65"), kNowMs)), "9f86d081884c7d65");
  expectBadRequest(h.handle(0, get(base + "&user=ab+c"), kNowMs));  // "ab c"
  expectBadRequest(h.handle(0, get(base + "&user=ab%20c"), kNowMs));
  expectBadRequest(h.handle(0, get(base + "&user=ab%26c"), kNowMs));
  expectBadRequest(h.handle(0, get(base + "&user=ab%0Ac"), kNowMs));
  expectBadRequest(h.handle(0, get(base + "&user=" + std::string(129, 'a')), kNowMs));
  // The id keeps its unreserved characters only.
  const std::string with_user = std::string("token=") + kToken + "&amount=1&user=u";
  for (const char* id : {"a%2Bb", "a%2Fb", "a%3Db", "a=b"}) {
    SCOPED_TRACE(id);
    expectBadRequest(h.handle(0, get(with_user + "&transaction_id=" + id), kNowMs));
  }
}

TEST(IntegraHandler, AmountIsAPlainDecimal) {
  IntegraHandler h(options());
  auto with = [&](const std::string& amount) {
    return h.handle(0, get(std::string("token=") + kToken + "&transaction_id=1&user=u&amount=" + amount),
                    kNowMs);
  };
  for (const char* good : {"100", "100.50", "0.01", "0", "007.5", "12345678901234567890.12"}) {
    SCOPED_TRACE(good);
    EXPECT_EQ(nlohmann::json::parse(accepted(with(good)).event.data_json)["amount"], good);
  }
  // A decimal comma, as Integra may send it: kept as sent in `amount`, a point in the normalised payment.
  for (const auto& [sent, query, normalised] : std::vector<std::array<std::string, 3>>{
           {"100,50", "100,50", "100.50"}, {"100,50", "100%2C50", "100.50"}, {"0,5", "0,5", "0.5"}}) {
    SCOPED_TRACE(query);
    const auto data = nlohmann::json::parse(accepted(with(query)).event.data_json);
    EXPECT_EQ(data["amount"], sent);
    EXPECT_EQ(data["payment"]["amount"], normalised);
  }
  for (const char* bad : {"", "-1", "+5", "%2B5", "1e3", ",5", "5,", "1,2,3", "1.2,3", "1,2.3", ".5", "5.",
                          "1.2.3", "%205", "5%20", "0x10", "NaN", "123456789012345678901234567890123"}) {
    SCOPED_TRACE(bad);
    expectBadRequest(with(bad));
  }
  expectBadRequest(h.handle(0, get(std::string("token=") + kToken + "&transaction_id=1&user=u"), kNowMs));
}

TEST(IntegraHandler, KnownUsersAllowList) {
  IntegraOptions o = options();
  o.known_users = {"someone", "9f86d081884c7d65"};
  IntegraHandler h(std::move(o));
  accepted(h.handle(0, get(validQuery()), kNowMs));
  const Reject r = rejected(h.handle(
      0, get(std::string("token=") + kToken + "&transaction_id=1&amount=1&user=9f86d081884c7d66"), kNowMs));
  EXPECT_EQ(r.reply.status, 403);
  EXPECT_EQ(r.reply.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.reply.body, "forbidden\n");
  EXPECT_EQ(r.outcome, "forbidden");
}

TEST(IntegraHandler, RenamedParameters) {
  IntegraOptions o = options();
  o.id_param = "id";
  o.amount_param = "sum";
  o.user_param = "hash";
  IntegraHandler h(std::move(o));
  const Accept a = accepted(
      h.handle(0, get(std::string("id=abc&sum=5.00&hash=h1&token=") + kToken + "&order=42"), kNowMs));
  EXPECT_EQ(a.event.idempotency_key, "abc");
  auto data = nlohmann::json::parse(a.event.data_json);
  EXPECT_EQ(data["payment"]["amount"], "5.00");
  EXPECT_EQ(data["payment"]["provider_payment_id"], "abc");
  data.erase("payment");
  EXPECT_EQ(data.dump(), R"({"amount":"5.00","order":"42","transaction_id":"abc","user":"h1"})");
  // The default names are ordinary parameters now, and must not pass for the normalised fields.
  expectBadRequest(
      h.handle(0, get(std::string("id=abc&sum=5.00&hash=h1&token=") + kToken + "&amount=9"), kNowMs));
  expectBadRequest(
      h.handle(0, get(std::string("transaction_id=abc&amount=5.00&user=h1&token=") + kToken), kNowMs));
}

TEST(IntegraHandler, SameNotifyRepeatedIsTheSameKey) {
  IntegraHandler h(options());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(accepted(h.handle(0, get(validQuery()), kNowMs + i)).event.idempotency_key, kId);
}

TEST(IntegraHandler, WithoutTokenKeepsEverythingElseByteForByte) {
  using integra::withoutToken;
  EXPECT_EQ(withoutToken(validQuery() + "&lang=ru"),
            std::string("transaction_id=") + kId + "&amount=100.50&user=9f86d081884c7d65&lang=ru");
  EXPECT_EQ(withoutToken("a=1&tok%65n=x&b=%20+&token&c"), "a=1&b=%20+&c");
  EXPECT_EQ(withoutToken("token=x"), "");
  EXPECT_EQ(withoutToken(""), "");
  EXPECT_EQ(withoutToken("tokens=1&x=%zz"), "tokens=1&x=%zz");
}

TEST(IntegraHandler, EndpointsAndFactory) {
  IntegraHandler h(options());
  auto eps = h.endpoints();
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].suffix, "/notify");
  EXPECT_EQ(eps[0].methods, std::vector<std::string>{"GET"});

  config::RouteConfig route;
  route.name = "integra";
  route.provider = "integra";
  auto settings = std::make_shared<integra::Settings>();
  route.settings = settings;
  EXPECT_FALSE(makeIntegraHandler(route).ok());
  settings->url_token = Secret(std::string(kToken));
  auto made = makeIntegraHandler(route);
  ASSERT_TRUE(made.ok());
  accepted((*made)->handle(0, get(validQuery()), kNowMs));

  settings->amount_param = "token";
  EXPECT_FALSE(makeIntegraHandler(route).ok());
  settings->amount_param = "transaction_id";
  auto clash = makeIntegraHandler(route);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().message, "amount_param: \"transaction_id\" is already id_param");
  settings->amount_param = "";
  EXPECT_FALSE(makeIntegraHandler(route).ok());
}

}  // namespace
}  // namespace payhook::handlers
