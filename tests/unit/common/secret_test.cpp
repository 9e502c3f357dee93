#include "common/secret.h"

#include <gtest/gtest.h>

#include <string>

namespace payhook {
namespace {

TEST(Secret, MovesAndCopiesKeepTheBytes) {
  Secret a(std::string("short"));
  Secret b(std::string(200, 'k'));
  Secret c = a;
  Secret d = std::move(b);
  EXPECT_EQ(c.reveal(), "short");
  EXPECT_EQ(d.reveal(), std::string(200, 'k'));
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state is the point
  c = std::move(d);
  EXPECT_EQ(c.reveal(), std::string(200, 'k'));
  EXPECT_TRUE(d.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(Secret, ShortSecretsLiveOnTheHeapSoAMoveLeavesNoCopy) {
  Secret a(std::string("tiny"));
  const char* where = a.reveal().data();
  Secret b(std::move(a));
  // The same buffer changed hands: nothing was copied into the moved-from object.
  EXPECT_EQ(b.reveal().data(), where);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(Secret, SplitKeyLinesSkipsBlanksAndNotes) {
  std::vector<int> lines;
  auto keys = splitKeyLines("# current\n  whsec_a  \r\n\n#old\nwhsec_b", &lines);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].reveal(), "whsec_a");
  EXPECT_EQ(keys[1].reveal(), "whsec_b");
  EXPECT_EQ(lines, (std::vector<int>{2, 5}));
  EXPECT_TRUE(splitKeyLines("\n # only a note\n").empty());
}

TEST(Secret, ConstantTimeEqual) {
  EXPECT_TRUE(constantTimeEqual("abc", "abc"));
  EXPECT_FALSE(constantTimeEqual("abc", "abd"));
  EXPECT_FALSE(constantTimeEqual("abc", "abcd"));
  EXPECT_TRUE(constantTimeEqual("", ""));
}

}  // namespace
}  // namespace payhook
