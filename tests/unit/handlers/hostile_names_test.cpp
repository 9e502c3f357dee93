// A client chooses the names it sends: a refusal that quotes one must stay short and printable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "handlers/form.h"
#include "handlers/payinpayout/payinpayout.h"
#include "handlers/tbank/tbank.h"

namespace payhook::handlers {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(HostileNames, ARepeatedSixtyKilobyteNameIsQuotedClipped) {
  const std::string name(60 * 1024, 'n');
  auto form = Form::parse(name + "=1&" + name + "=2");
  ASSERT_FALSE(form.ok());
  EXPECT_LT(form.error().message.size(), 160u) << form.error().message;
  EXPECT_THAT(form.error().message, HasSubstr("(+61376 bytes)"));
}

TEST(HostileNames, ALineBreakInANameCannotStartALogLineOfItsOwn) {
  auto form = Form::parse("a%0D%0Afake%20line%3Dx=1&a%0D%0Afake%20line%3Dx=2");
  ASSERT_FALSE(form.ok());
  EXPECT_THAT(form.error().message, Not(HasSubstr("\n")));
  EXPECT_THAT(form.error().message, HasSubstr("\"a\\x0d\\x0afake line=x\""));
  form = Form::parse(std::string(70'000, 'x') + "=%zz");
  ASSERT_FALSE(form.ok());
  EXPECT_LT(form.error().message.size(), 160u);
}

TEST(HostileNames, APayinPayoutRefusalReasonAndAnswerStayShort) {
  PayinPayoutHandler handler("pp", Secret(std::string("secret_key")), 600'000);
  http::Request request;
  request.method = "POST";
  request.path = "/pp/callback";
  request.headers.push_back({"content-type", "application/x-www-form-urlencoded"});
  const std::string name(60 * 1024, 'n');
  request.body = name + "=1&" + name + "=2";
  auto verdict = handler.handle(0, request, 1'700'000'000'000);
  auto* reject = std::get_if<Reject>(&verdict);
  ASSERT_NE(reject, nullptr);
  EXPECT_LT(reject->reason.size(), 256u) << reject->reason;
  EXPECT_LT(reject->reply.body.size(), 256u);
}

TEST(HostileNames, ATBankRefusalQuotesALongFieldNameClipped) {
  // "nn…nX" and "nn…n_x" both become "nn…n_x" in data.
  const std::string name(60 * 1024, 'n');
  const std::string body = R"({"TerminalKey":"T","Status":"CONFIRMED","PaymentId":1,")" + name +
                           R"(X":"a",")" + name + R"(_x":"b"})";
  auto n = tbank::parseNotification(body);
  ASSERT_TRUE(n.ok());
  const Secret password(std::string("pw"));
  const std::string signed_body =
      body.substr(0, body.size() - 1) + R"(,"Token":")" + tbank::token(*n, password) + "\"}";
  TBankHandler handler("tb", "T", password);
  http::Request request;
  request.method = "POST";
  request.path = "/tbank/notify";
  request.body = signed_body;
  const Verdict v = handler.handle(0, request, 0);
  ASSERT_TRUE(std::holds_alternative<Reject>(v));
  const Reject& r = std::get<Reject>(v);
  EXPECT_THAT(r.reason, HasSubstr("two fields share the name"));
  EXPECT_LT(r.reason.size(), 200u) << r.reason.size();
  EXPECT_EQ(r.reply.body, "bad request\n");
}

}  // namespace
}  // namespace payhook::handlers
