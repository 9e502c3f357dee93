// Checks an event's listing (common/event.h) as a handler built it, and that payhookctl reindex, which
// computes it again from the stored data, would index the same keys and show the same row.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/event.h"
#include "handlers/listing.h"

namespace payhook::testing {

inline void expectListing(const Event& ev, const std::vector<std::string>& keys, const std::string& amount,
                          const std::string& currency, const std::string& status,
                          const std::string& outcome) {
  EXPECT_EQ(ev.listing.keys, keys);
  EXPECT_EQ(ev.listing.amount, amount);
  EXPECT_EQ(ev.listing.currency, currency);
  EXPECT_EQ(ev.listing.status, status);
  EXPECT_EQ(ev.listing.outcome, outcome);
  const EventListing again = handlers::listingOf(ev.provider, nlohmann::json::parse(ev.data_json));
  EXPECT_EQ(again.keys, ev.listing.keys) << "reindex would index other keys";
  EXPECT_EQ(again.amount, ev.listing.amount);
  EXPECT_EQ(again.currency, ev.listing.currency);
  EXPECT_EQ(again.status, ev.listing.status);
  EXPECT_EQ(again.outcome, ev.listing.outcome);
}

}  // namespace payhook::testing
