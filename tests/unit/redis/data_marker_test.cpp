#include "redis/data_marker.h"

#include <gtest/gtest.h>

namespace payhook::redis {
namespace {

TEST(DataMarker, TheFirstValueIsTakenAndADifferentOneIsALoss) {
  DataMarker m("{p}:marker");
  EXPECT_EQ(m.check("a", true), nullptr);
  EXPECT_EQ(m.check("a", false), nullptr);
  EXPECT_NE(m.check("b", true), nullptr);
  EXPECT_EQ(m.losses(), 1u);
  // Forgotten after the loss: the value a fresh SET NX leaves is taken as it is.
  EXPECT_TRUE(m.forget());
  EXPECT_EQ(m.check("c", true), nullptr);
  EXPECT_EQ(m.losses(), 1u);
}

TEST(DataMarker, AMarkerGoneIsALossOnlyBetweenHandshakes) {
  DataMarker m("{p}:marker");
  EXPECT_EQ(m.check(std::nullopt, true), nullptr);
  EXPECT_FALSE(m.forget());
  EXPECT_EQ(m.check("a", true), nullptr);
  EXPECT_NE(m.check(std::nullopt, false), nullptr);
  EXPECT_EQ(m.losses(), 1u);
}

TEST(DataMarker, CandidatesAreFreshHex) {
  const std::string a = DataMarker::candidate(), b = DataMarker::candidate();
  EXPECT_EQ(a.size(), 24u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

}  // namespace
}  // namespace payhook::redis
