#include <gtest/gtest.h>

#include "queue/event_store.h"

namespace payhook::queue {
namespace {

TEST(StoreOutcome, Names) {
  EXPECT_STREQ(outcomeName(StoreOutcome::kStored), "stored");
  EXPECT_STREQ(outcomeName(StoreOutcome::kDuplicate), "duplicate");
  EXPECT_STREQ(outcomeName(StoreOutcome::kUnavailable), "unavailable");
  EXPECT_STREQ(outcomeName(StoreOutcome::kTimeout), "timeout");
  EXPECT_STREQ(outcomeName(StoreOutcome::kError), "error");
}

}  // namespace
}  // namespace payhook::queue
