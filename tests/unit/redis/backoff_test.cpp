#include "redis/backoff.h"

#include <gtest/gtest.h>

namespace payhook::redis {
namespace {

TEST(Backoff, DoublesUpToTheCapAndStartsOverOnReset) {
  Backoff b(100, 500);
  EXPECT_EQ(b.next(), 100u);
  EXPECT_EQ(b.next(), 200u);
  EXPECT_EQ(b.next(), 400u);
  EXPECT_EQ(b.next(), 500u);
  EXPECT_EQ(b.next(), 500u);
  b.reset();
  EXPECT_EQ(b.next(), 100u);
}

TEST(Backoff, AnInitialDelayAboveTheCapStaysAndZeroIsOneMillisecond) {
  Backoff high(800, 500);
  EXPECT_EQ(high.next(), 800u);
  EXPECT_EQ(high.next(), 800u);
  Backoff zero(0, 4);
  EXPECT_EQ(zero.next(), 1u);
  EXPECT_EQ(zero.next(), 2u);
}

}  // namespace
}  // namespace payhook::redis
