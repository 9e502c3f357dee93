#include <gtest/gtest.h>

#include "handlers/digest.h"
#include "handlers/form.h"

namespace payhook::handlers {
namespace {

TEST(Form, DecodesInOrder) {
  auto f =
      Form::parse("action=checkOrder&orderSumAmount=87.10&name=%D0%98%D0%B2%D0%B0%D0%BD+%D0%9F&empty=&flag");
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->pairs().size(), 5u);
  EXPECT_EQ(*f->get("action"), "checkOrder");
  EXPECT_EQ(*f->get("orderSumAmount"), "87.10");
  EXPECT_EQ(*f->get("name"), "Иван П");
  EXPECT_EQ(*f->get("empty"), "");
  EXPECT_EQ(*f->get("flag"), "");
  EXPECT_EQ(f->get("missing"), nullptr);
  EXPECT_EQ(f->pairs()[0].first, "action");
}

TEST(Form, RefusesRepeatsAndBadEscapes) {
  EXPECT_FALSE(Form::parse("md5=A&md5=B").ok());
  EXPECT_FALSE(Form::parse("a=1&b=2&a=1").ok());
  EXPECT_FALSE(Form::parse("a=%4").ok());
  EXPECT_FALSE(Form::parse("a=%").ok());
  EXPECT_FALSE(Form::parse("a=%zz").ok());
  EXPECT_TRUE(Form::parse("a=%41&b=%4a").ok());
}

TEST(Form, TenThousandParametersParseQuickly) {
  std::string text;
  for (int i = 0; i < 10'000; ++i) text += "p" + std::to_string(i) + "=v&";
  auto f = Form::parse(text);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->pairs().size(), 10'000u);
  EXPECT_FALSE(Form::parse(text + "p9999=x").ok());
}

TEST(Digest, Md5PublishedYooMoneyVector) {
  // YooMoney's published checkOrder example.
  EXPECT_EQ(md5Hex("checkOrder;87.10;643;1001;13;55;8123294469;s<kY23653f,{9fcnshwq", HexCase::kUpper),
            "1B35ABE38AA54F2931B0C58646FD1321");
}

TEST(Digest, HmacSha256PublishedRbsVector) {
  Secret token(std::string("ooc7slpvc61k7sf7ma7p4hrefr"));
  EXPECT_EQ(
      hmacSha256Hex(
          token, "mdOrder;06cf5599-3f17-7c86-bdbc-bd7d00a8b38b;operation;approved;orderNumber;2003;status;1;",
          HexCase::kUpper),
      "EAF2FB72CAB99FD5067F4BA493DD84F4D79C1589FDE8ED29622F0F07215AA972");
}

TEST(Digest, HmacMd5PayinPayoutVector) {
  Secret key(std::string("secret_key"));
  EXPECT_EQ(
      hmacMd5Hex(key,
                 "external_id=123457&payment_in_id=011111-000082&payment_out_id=022222-001244&service_id=111&"
                 "status=1&timestamp=1558429736",
                 HexCase::kLower),
      "d79d53d02f3447b33fd6323ef83c4932");
}

TEST(Digest, HexHelpers) {
  EXPECT_EQ(toHex("\x01\xab", HexCase::kUpper), "01AB");
  EXPECT_EQ(fromHex("01ab").value(), "\x01\xab");
  EXPECT_FALSE(fromHex("0").ok());
  EXPECT_FALSE(fromHex("zz").ok());
  EXPECT_TRUE(hexEqualsIgnoreCase("1b35abe3", "1B35ABE3"));
  EXPECT_FALSE(hexEqualsIgnoreCase("1b35abe3", "1B35ABE4"));
  EXPECT_FALSE(hexEqualsIgnoreCase("", ""));
  EXPECT_FALSE(hexEqualsIgnoreCase("ab", "abc"));
}

}  // namespace
}  // namespace payhook::handlers

namespace payhook::handlers {
namespace {

TEST(FormRepeats, KeptInOrderWhenAskedAndNamedOnce) {
  auto form = Form::parse("a=1&b=2&a=3&c=4&b=5&a=6", Form::Repeats::kKeep);
  ASSERT_TRUE(form.ok());
  EXPECT_EQ(form->pairs().size(), 6u);
  EXPECT_EQ(*form->get("a"), "1");
  EXPECT_EQ(form->count("a"), 3u);
  EXPECT_EQ(form->count("c"), 1u);
  EXPECT_EQ(form->count("z"), 0u);
  EXPECT_EQ(form->repeated(), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(Form::parse("a=1&b=2&a=3").ok());  // refused by default
  EXPECT_TRUE(Form::parse("a=1&b=2", Form::Repeats::kKeep)->repeated().empty());
}

}  // namespace
}  // namespace payhook::handlers
