#include "cli/table.h"

#include <gtest/gtest.h>

namespace payhook::cli {
namespace {

TEST(Table, AlignsColumnsAndRightAlignsNumbers) {
  Table t({"TARGET", "DUE", "STATE"});
  t.alignRight(1);
  t.add({"orders", "3", "ok"});
  t.add({"crm", "120", ""});
  EXPECT_EQ(t.render(),
            "TARGET  DUE  STATE\n"
            "orders    3  ok\n"
            "crm     120\n");
}

TEST(Table, CountsCodePointsNotBytes) {
  Table t({"A", "B"});
  t.add({"ключ", "x"});
  t.add({"ab", "y"});
  EXPECT_EQ(t.render(),
            "A     B\n"
            "ключ  x\n"
            "ab    y\n");
}

TEST(Table, ShortRowsArePaddedAndCellsMadeSafe) {
  Table t({"A", "B"});
  t.add({"a\nb\x1b[31m"});
  EXPECT_EQ(t.render(), "A             B\na\\nb\\x1b[31m\n");
}

TEST(TerminalSafe, EscapesControlsAndInvalidUtf8) {
  EXPECT_EQ(terminalSafe("ok ключ"), "ok ключ");
  EXPECT_EQ(terminalSafe("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
  EXPECT_EQ(terminalSafe("a\tb\nc"), "a\\tb\\nc");
  EXPECT_EQ(terminalSafe("a\tb\nc", true), "a\tb\nc");
  EXPECT_EQ(terminalSafe("\xff\xc3"), "\\xff\\xc3");
  EXPECT_EQ(terminalSafe("\xc2\x9b"), "\\xc2\\x9b");  // C1 CSI
  EXPECT_EQ(terminalSafe(std::string("a\0b", 3)), "a\\x00b");
}

TEST(RelativeTime, PastAndFuture) {
  const int64_t now = 1'000'000'000;
  EXPECT_EQ(relativeTime(now, now), "now");
  EXPECT_EQ(relativeTime(now - 42'000, now), "42s ago");
  EXPECT_EQ(relativeTime(now - 180'000, now), "3m ago");
  EXPECT_EQ(relativeTime(now + 300'000, now), "in 5m");
  EXPECT_EQ(relativeTime(now - 7'200'000, now), "2h ago");
  EXPECT_EQ(relativeTime(now - 3 * 86'400'000ll, now), "3d ago");
  EXPECT_EQ(timeCell(0, now), "-");
  EXPECT_EQ(timeCell(1'795'687'200'123, 1'795'687'260'123), "2026-11-26 10:00:00Z (1m ago)");
}

TEST(Ellipsize, CutsOnCodePoints) {
  EXPECT_EQ(ellipsize("short", 10), "short");
  EXPECT_EQ(ellipsize("abcdefghij", 5), "abcd…");
  EXPECT_EQ(ellipsize("ключключ", 4), "клю…");
}

}  // namespace
}  // namespace payhook::cli
