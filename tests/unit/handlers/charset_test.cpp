#include "handlers/charset.h"

#include <gtest/gtest.h>
#include <iconv.h>

#include <memory>

namespace payhook::handlers {
namespace {

// glibc's converter is the oracle for the table.
std::string iconvCp1251(std::string in) {
  iconv_t cd = iconv_open("UTF-8", "CP1251");
  if (cd == reinterpret_cast<iconv_t>(-1)) return "iconv_open failed";
  std::unique_ptr<void, int (*)(iconv_t)> closer(cd, iconv_close);
  std::string out(in.size() * 4, '\0');
  char* src = in.data();
  size_t src_left = in.size();
  char* dst = out.data();
  size_t dst_left = out.size();
  if (iconv(cd, &src, &src_left, &dst, &dst_left) == static_cast<size_t>(-1)) return "iconv failed";
  out.resize(out.size() - dst_left);
  return out;
}

TEST(Charset, EveryCp1251ByteMatchesGlibc) {
  for (int b = 0; b < 256; ++b) {
    if (b == 0x98) continue;  // undefined in the code page
    const std::string byte(1, static_cast<char>(b));
    EXPECT_EQ(cp1251ToUtf8(byte), iconvCp1251(byte)) << "byte " << b;
  }
  EXPECT_EQ(cp1251ToUtf8("\x98"), "\xEF\xBF\xBD");
  EXPECT_EQ(cp1251ToUtf8("\xC8\xE2\xE0\xED \xCF\xE5\xF2\xF0\xEE\xE2"), "Иван Петров");
}

TEST(Charset, Utf8IsRecognised) {
  EXPECT_TRUE(isUtf8(""));
  EXPECT_TRUE(isUtf8("plain ascii"));
  EXPECT_TRUE(isUtf8("Иван Петров"));
  EXPECT_TRUE(isUtf8("\xF0\x9F\x92\xB3"));
  EXPECT_FALSE(isUtf8("\xC8\xE2\xE0\xED"));  // Иван in cp1251
  EXPECT_FALSE(isUtf8("\xC0\x80"));          // overlong
  EXPECT_FALSE(isUtf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(isUtf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
  EXPECT_FALSE(isUtf8("\xD0"));              // truncated
}

TEST(Charset, ContentTypesNamingCp1251) {
  EXPECT_TRUE(namesCp1251("application/x-www-form-urlencoded; charset=windows-1251"));
  EXPECT_TRUE(namesCp1251("application/x-www-form-urlencoded; charset=Windows-1251"));
  EXPECT_TRUE(namesCp1251("application/x-www-form-urlencoded;charset=cp1251"));
  EXPECT_FALSE(namesCp1251("application/x-www-form-urlencoded; charset=utf-8"));
  EXPECT_FALSE(namesCp1251(""));
}

}  // namespace
}  // namespace payhook::handlers
