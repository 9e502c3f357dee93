#include "common/uuid.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace payhook {
namespace {

TEST(UuidV7, LayoutVersionVariantAndTimestamp) {
  const std::string id = uuidV7(0x0190a0b1c2d3LL);
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id.substr(0, 8), "0190a0b1");
  EXPECT_EQ(id.substr(9, 4), "c2d3");
  EXPECT_EQ(id[8], '-');
  EXPECT_EQ(id[13], '-');
  EXPECT_EQ(id[18], '-');
  EXPECT_EQ(id[23], '-');
  EXPECT_EQ(id[14], '7');                                          // version
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // RFC 9562 variant
  for (char c : id) EXPECT_NE(std::string("0123456789abcdef-").find(c), std::string::npos) << id;
}

TEST(UuidV7, RandomPartsNeverRepeatAcrossManyPoolRefills) {
  std::set<std::string> seen;
  for (int i = 0; i < 20'000; ++i) ASSERT_TRUE(seen.insert(uuidV7(1'790'000'000'000)).second) << i;
}

TEST(UuidV7, OrderedByMillisecond) {
  EXPECT_LT(uuidV7(1'790'000'000'000), uuidV7(1'790'000'000'001));
}

}  // namespace
}  // namespace payhook
