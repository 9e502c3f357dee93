#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/query.h"
#include "common/text.h"

namespace payhook {
namespace {

TEST(Text, CaseAndWhiteSpaceAreAsciiOnly) {
  EXPECT_EQ(lowerAscii("Content-Type: ÀB"), "content-type: Àb");  // bytes above 0x7f untouched
  EXPECT_TRUE(equalsIgnoreCase("Transfer-Encoding", "transfer-encoding"));
  EXPECT_FALSE(equalsIgnoreCase("close", "closed"));
  EXPECT_EQ(trim(" \t value \t"), "value");
  EXPECT_EQ(trim("  "), "");
  EXPECT_EQ(trim("x-y: 1\r\n", " \t\r\n"), "x-y: 1");
}

TEST(Query, PartsAreSplitRawAndInOrderEmptyOnesIncluded) {
  std::vector<std::string> seen;
  forEachQueryPart("a=1&&b&c=x%3D=y",
                   [&](std::string_view part, std::string_view name, std::string_view value, bool has_value) {
                     seen.push_back(std::string(part) + "|" + std::string(name) + "|" + std::string(value) +
                                    "|" + (has_value ? "=" : "-"));
                     return true;
                   });
  EXPECT_EQ(seen, (std::vector<std::string>{"a=1|a|1|=", "|||-", "b|b||-", "c=x%3D=y|c|x%3D=y|="}));
}

TEST(Query, ParsedPairsAreDecodedAndAMalformedEscapeRefusesTheWhole) {
  auto pairs = parseQuery("name=%D0%98+%D0%B2&name=2&&flag");
  ASSERT_TRUE(pairs.ok());
  EXPECT_EQ(*pairs, (QueryPairs{{"name", "И в"}, {"name", "2"}, {"flag", ""}}));
  auto bad = parseQuery("ok=1&x%zz=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "malformed percent escape in a parameter name");
  auto bad_value = parseQuery("ok=1&" + std::string(200, 'n') + "=%G1");
  ASSERT_FALSE(bad_value.ok());
  EXPECT_LT(bad_value.error().message.size(), 140u);  // the name is quoted clipped
}

}  // namespace
}  // namespace payhook
