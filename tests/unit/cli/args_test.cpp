#include "cli/args.h"

#include <gtest/gtest.h>

namespace payhook::cli {
namespace {

const std::vector<OptionSpec> kSpec{{"--state", true, ""}, {"--json", false, ""}, {"--config", true, "-c"}};

TEST(ParseArgs, ValuesFlagsAndPositionals) {
  auto r = parseArgs({"id1", "--state", "dead", "--json", "-c", "f.toml", "id2"}, kSpec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->value("--state"), "dead");
  EXPECT_EQ(r->value("--config"), "f.toml");
  EXPECT_TRUE(r->flag("--json"));
  EXPECT_EQ(r->positional, (std::vector<std::string>{"id1", "id2"}));
  EXPECT_FALSE(r->help);
}

TEST(ParseArgs, EqualsFormAndLastOneWins) {
  auto r = parseArgs({"--state=dead", "--state=all"}, kSpec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value("--state"), "all");
}

TEST(ParseArgs, DoubleDashEndsOptions) {
  auto r = parseArgs({"--", "--json", "-x"}, kSpec);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->flag("--json"));
  EXPECT_EQ(r->positional, (std::vector<std::string>{"--json", "-x"}));
}

TEST(ParseArgs, Help) {
  EXPECT_TRUE(parseArgs({"--help"}, kSpec)->help);
  EXPECT_TRUE(parseArgs({"x", "-h"}, kSpec)->help);
}

TEST(ParseArgs, Errors) {
  EXPECT_EQ(parseArgs({"--bogus"}, kSpec).error().message, "unknown option --bogus");
  EXPECT_EQ(parseArgs({"--state"}, kSpec).error().message, "--state needs a value");
  EXPECT_EQ(parseArgs({"--json=1"}, kSpec).error().message, "--json takes no value");
  // A lone "-" is a positional (stdin by convention), not an option.
  EXPECT_EQ(parseArgs({"-"}, kSpec)->positional.size(), 1u);
}

TEST(ParseCount, Bounds) {
  EXPECT_EQ(parseCount("50", 1, 500), 50);
  EXPECT_FALSE(parseCount("0", 1, 500));
  EXPECT_FALSE(parseCount("501", 1, 500));
  EXPECT_FALSE(parseCount("5x", 1, 500));
  EXPECT_FALSE(parseCount("", 1, 500));
  EXPECT_FALSE(parseCount("-1", -5, 500) != -1);
}

TEST(ParseTimeArg, Forms) {
  const int64_t now = 1'790'000'000'000;
  EXPECT_EQ(parseTimeArg("2h", now), now - 7'200'000);
  EXPECT_EQ(parseTimeArg("7d", now), now - 7 * 86'400'000ll);
  EXPECT_EQ(parseTimeArg("2026-11-26T10:00:00Z", now), 1'795'687'200'000);
  EXPECT_EQ(parseTimeArg("2026-11-26T10:00:00.123Z", now), 1'795'687'200'123);
  EXPECT_EQ(parseTimeArg("2026-11-26", now), 1'795'651'200'000);
  EXPECT_EQ(parseTimeArg("1795687200000", now), 1'795'687'200'000);
  EXPECT_FALSE(parseTimeArg("yesterday", now));
  EXPECT_FALSE(parseTimeArg("2026-13-01", now));
  EXPECT_FALSE(parseTimeArg("2026-11-26T10:00:00", now));  // no zone: refused rather than guessed
  EXPECT_FALSE(parseTimeArg("", now));
}

}  // namespace
}  // namespace payhook::cli
