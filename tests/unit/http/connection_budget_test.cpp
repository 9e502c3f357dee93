#include <gtest/gtest.h>

#include <cstdint>

#include "http/server.h"

namespace payhook::http {
namespace {

TEST(ConnectionBudgetTest, MaxConnectionsFitsTheOpenFileLimitLessTheReserve) {
  EXPECT_EQ(connectionBudget(10'000, 1'048'576, 512), 10'000u);  // room enough: unchanged
  EXPECT_EQ(connectionBudget(10'000, 1024, 512), 512u);
  EXPECT_EQ(connectionBudget(500, 1024, 512), 500u);
  EXPECT_EQ(connectionBudget(10'000, UINT64_MAX, 512), 10'000u);  // RLIM_INFINITY
}

TEST(ConnectionBudgetTest, AReserveLargerThanTheLimitStillLeavesAQuarter) {
  EXPECT_EQ(connectionBudget(10'000, 1024, 1000), 256u);
  EXPECT_EQ(connectionBudget(10'000, 1024, 5000), 256u);
  EXPECT_EQ(connectionBudget(10'000, 2, 64), 1u);  // never none
  EXPECT_EQ(connectionBudget(0, 1024, 64), 1u);
}

}  // namespace
}  // namespace payhook::http
