#include "handlers/payment.h"

#include <gtest/gtest.h>

namespace payhook::handlers {
namespace {

TEST(Money, CurrencyCodesBecomeLetters) {
  EXPECT_EQ(money::currencyAlpha("643"), "RUB");
  EXPECT_EQ(money::currencyAlpha("398"), "KZT");
  EXPECT_EQ(money::currencyAlpha("51"), "AMD");  // "051" without its leading zero
  EXPECT_EQ(money::currencyAlpha("rub"), "RUB");
  EXPECT_EQ(money::currencyAlpha("KZT"), "KZT");
  EXPECT_EQ(money::currencyAlpha("999"), std::nullopt);
  EXPECT_EQ(money::currencyAlpha("10643"), std::nullopt);
  EXPECT_EQ(money::currencyAlpha("R1B"), std::nullopt);
  EXPECT_EQ(money::currencyAlpha(""), std::nullopt);
}

TEST(Money, DecimalsToMinorUnitsAreExactOrNothing) {
  EXPECT_EQ(money::toMinor("87.10", 2), 8710);
  EXPECT_EQ(money::toMinor("87.1", 2), 8710);
  EXPECT_EQ(money::toMinor("100", 2), 10000);
  EXPECT_EQ(money::toMinor("100,50", 2), 10050);
  EXPECT_EQ(money::toMinor("0.5", 2), 50);
  EXPECT_EQ(money::toMinor("87.100", 2), 8710);
  EXPECT_EQ(money::toMinor("1.234", 2), std::nullopt);
  EXPECT_EQ(money::toMinor("5", 0), 5);
  EXPECT_EQ(money::toMinor("5.5", 0), std::nullopt);
  for (const char* bad : {"", ".5", "5.", "-5", "+5", "1e3", "1.2.3", " 5", "5 ", "0x10", "1,2,3"})
    EXPECT_EQ(money::toMinor(bad, 2), std::nullopt) << bad;
  EXPECT_EQ(money::toMinor("999999999999999999", 2), std::nullopt);  // does not fit in minor units
  EXPECT_EQ(money::toMinor("92233720368547758", 2), 9223372036854775800);
}

TEST(Money, MinorUnitsBecomeDecimals) {
  EXPECT_EQ(money::fromMinor(8710, 2), "87.10");
  EXPECT_EQ(money::fromMinor(5, 2), "0.05");
  EXPECT_EQ(money::fromMinor(0, 2), "0.00");
  EXPECT_EQ(money::fromMinor(123456, 2), "1234.56");
  EXPECT_EQ(money::fromMinor(7, 0), "7");
}

TEST(Payment, AMajorAmountKeepsItsTextAndGainsMinorUnits) {
  Payment p;
  p.currency = "RUB";
  p.setMajorAmount("87.10");
  EXPECT_EQ(p.amount, "87.10");
  EXPECT_EQ(p.amount_minor, 8710);
  p.setMajorAmount("100,50");
  EXPECT_EQ(p.amount, "100.50");
  EXPECT_EQ(p.amount_minor, 10050);
  p.setMajorAmount("1.234");  // exact as text, not in kopecks
  EXPECT_EQ(p.amount, "1.234");
  EXPECT_EQ(p.amount_minor, std::nullopt);
  p.setMajorAmount("12 rub");
  EXPECT_EQ(p.amount, std::nullopt);
  EXPECT_EQ(p.amount_minor, std::nullopt);
}

TEST(Payment, WithoutAKnownCurrencyThereAreNoMinorUnitsToInvent) {
  Payment p;
  p.setMajorAmount("87.10");
  EXPECT_EQ(p.amount, "87.10");
  EXPECT_EQ(p.amount_minor, std::nullopt);
  p.setMinorAmount(8710);
  EXPECT_EQ(p.amount, std::nullopt);
  EXPECT_EQ(p.amount_minor, 8710);
  p.currency = "KZT";
  p.setMinorAmount(8710);
  EXPECT_EQ(p.amount, "87.10");
}

TEST(Payment, EveryKeyIsPresentAndUnknownsAreNull) {
  Payment p;
  p.outcome = Outcome::kHeld;
  p.provider_payment_id = "abc";
  p.warnings.push_back("zero_amount");
  EXPECT_EQ(p.toJson().dump(),
            R"({"amount":null,"amount_minor":null,"currency":null,"order_id":null,"outcome":"held",)"
            R"("provider_payment_id":"abc","test":false,"unsigned":[],"warnings":["zero_amount"]})");
}

TEST(Payment, ItJoinsTheDataTextAsItsLastMember) {
  Payment p;
  p.outcome = Outcome::kSucceeded;
  p.amount = "1\"0";
  p.warnings = {"a", "b"};
  std::string data = R"({"x":1})";
  p.addTo(data);
  EXPECT_EQ(
      data,
      R"({"x":1,"payment":{"outcome":"succeeded","amount":"1\"0","amount_minor":null,)"
      R"("currency":null,"order_id":null,"provider_payment_id":null,"test":false,"warnings":["a","b"],"unsigned":[]}})");
  std::string empty = "{}";
  p.addTo(empty);
  EXPECT_TRUE(nlohmann::json::parse(empty)["payment"].is_object()) << empty;
  EXPECT_EQ(nlohmann::json::parse(empty)["payment"], p.toJson());
  std::string bytes = "{}";
  p.order_id = std::string("\xff\x01");  // not UTF-8, a control character: still valid JSON
  p.addTo(bytes);
  EXPECT_EQ(nlohmann::json::parse(bytes)["payment"]["order_id"], "\xEF\xBF\xBD\u0001");
}

TEST(Payment, OutcomeNamesAreTheDocumentedSix) {
  EXPECT_STREQ(outcomeName(Outcome::kSucceeded), "succeeded");
  EXPECT_STREQ(outcomeName(Outcome::kHeld), "held");
  EXPECT_STREQ(outcomeName(Outcome::kFailed), "failed");
  EXPECT_STREQ(outcomeName(Outcome::kRefunded), "refunded");
  EXPECT_STREQ(outcomeName(Outcome::kReversed), "reversed");
  EXPECT_STREQ(outcomeName(Outcome::kPending), "pending");
}

}  // namespace
}  // namespace payhook::handlers
