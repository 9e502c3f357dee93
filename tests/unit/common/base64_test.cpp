#include "common/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace payhook {
namespace {

TEST(Base64, DecodesTheStandardAlphabetWithPadding) {
  EXPECT_EQ(decodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(decodeBase64("+/8="), std::string("\xfb\xff", 2));
  EXPECT_EQ(decodeBase64(""), "");
  EXPECT_EQ(decodeBase64("aGVs\r\nbG8=", " \r\n"), "hello");
}

TEST(Base64, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(decodeBase64("aGVsbG8"));    // unpadded
  EXPECT_FALSE(decodeBase64("aGVs bG8="));  // a space, not ignored here
  EXPECT_FALSE(decodeBase64("aGVs-G8="));   // the URL-safe alphabet
  EXPECT_FALSE(decodeBase64("aGVsbG8=="));
}

// libsodium 1.0.18 (Debian 12) takes every byte from 0x80 up for a base64 digit.
TEST(Base64, RefusesEveryByteFromTheHighHalf) {
  for (int c = 0x80; c <= 0xff; ++c) {
    std::string text = "aGVs";
    text += static_cast<char>(c);
    text += "G8=";
    EXPECT_FALSE(decodeBase64(text)) << "byte " << c;
    EXPECT_FALSE(decodeBase64(std::string(4, static_cast<char>(c)))) << "byte " << c;
  }
}

}  // namespace
}  // namespace payhook
