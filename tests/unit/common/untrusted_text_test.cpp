#include "common/untrusted_text.h"

#include <gtest/gtest.h>

#include <string>

namespace payhook {
namespace {

TEST(UntrustedText, ShortPrintableTextIsKept) {
  EXPECT_EQ(clipUntrusted("orderNumber"), "orderNumber");
  EXPECT_EQ(quoteUntrusted("заказ"), "\"заказ\"");
}

TEST(UntrustedText, LongTextIsCutAndMarkedWithWhatWasLeftOut) {
  const std::string name(60 * 1024, 'a');
  const std::string clipped = clipUntrusted(name);
  EXPECT_EQ(clipped, std::string(64, 'a') + "\u2026(+" + std::to_string(name.size() - 64) + " bytes)");
  EXPECT_LT(quoteUntrusted(name).size(), 100u);
}

TEST(UntrustedText, ControlBytesQuotesAndInvalidUtf8AreEscaped) {
  EXPECT_EQ(clipUntrusted(std::string("a\r\nb\0c\x7f", 7)), "a\\x0d\\x0ab\\x00c\\x7f");
  EXPECT_EQ(clipUntrusted("say \"hi\\\""), "say \\\"hi\\\\\\\"");
  EXPECT_EQ(clipUntrusted("\xff\xc3\x28 \xed\xa0\x80"), "\\xff\\xc3( \\xed\\xa0\\x80");
  // Never more than 4 output bytes per input byte, plus the marker.
  const std::string hostile(10'000, '\x01');
  EXPECT_LT(clipUntrusted(hostile).size(), 4u * kMaxQuotedBytes + 32);
}

TEST(UntrustedText, ACutNeverSplitsACharacter) {
  // 63 ASCII bytes, then a two-byte letter that would end at byte 65.
  const std::string text = std::string(63, 'x') + "жz";
  EXPECT_EQ(clipUntrusted(text), std::string(63, 'x') + "\u2026(+3 bytes)");
  EXPECT_EQ(truncateUtf8(text, 64), std::string(63, 'x') + "\u2026(+3 bytes)");
  EXPECT_EQ(truncateUtf8("short", 64), "short");
}

}  // namespace
}  // namespace payhook
