#include "common/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace payhook::metrics {
namespace {

TEST(Metrics, CountersRenderWithHelpTypeAndEscapedLabels) {
  Registry r;
  auto& f = r.counter("payhook_callbacks_total", "Callbacks\nanswered", {"route", "outcome"});
  Counter& stored = f.with({"shop", "stored"});
  stored.inc();
  stored.inc(2);
  f.with({"we\"ird\\route\n", "forged"}).inc();
  // The same labels give the same child.
  EXPECT_EQ(&f.with({"shop", "stored"}), &stored);
  EXPECT_EQ(r.render(),
            "# HELP payhook_callbacks_total Callbacks\\nanswered\n"
            "# TYPE payhook_callbacks_total counter\n"
            "payhook_callbacks_total{route=\"shop\",outcome=\"stored\"} 3\n"
            "payhook_callbacks_total{route=\"we\\\"ird\\\\route\\n\",outcome=\"forged\"} 1\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto& f = r.histogram("lat_seconds", "Latency", {"route"}, {0.1, 0.01, 1});
  Histogram& h = f.with({"a"});
  h.observe(0.005);
  h.observe(0.01);  // on a bound: counted in that bucket (le is "less or equal")
  h.observe(0.5);
  h.observe(7);
  EXPECT_EQ(r.render(),
            "# HELP lat_seconds Latency\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{route=\"a\",le=\"0.01\"} 2\n"
            "lat_seconds_bucket{route=\"a\",le=\"0.1\"} 2\n"
            "lat_seconds_bucket{route=\"a\",le=\"1\"} 3\n"
            "lat_seconds_bucket{route=\"a\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{route=\"a\"} 7.515\n"
            "lat_seconds_count{route=\"a\"} 4\n");
}

TEST(Metrics, GaugesAndOwnedCountersAreReadAtScrapeTime) {
  Registry r;
  double depth = 3;
  r.gauge("q", "Queue", {"state"}, [&](const GaugeSample& s) {
    s({"due"}, depth);
    s({"dead"}, 0.25);
  });
  r.counterFrom("losses_total", "Losses", {}, [](const GaugeSample& s) { s({}, 2); });
  depth = 5;
  EXPECT_EQ(r.render(),
            "# HELP q Queue\n# TYPE q gauge\nq{state=\"due\"} 5\nq{state=\"dead\"} 0.25\n"
            "# HELP losses_total Losses\n# TYPE losses_total counter\nlosses_total 2\n");
}

TEST(Metrics, LatencyBucketsAreSorted) {
  auto b = Registry::latencyBuckets();
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  EXPECT_EQ(b.front(), 0.001);
  EXPECT_EQ(b.back(), 30);
}

}  // namespace
}  // namespace payhook::metrics
