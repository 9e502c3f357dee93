// How many refused callbacks are logged, per route. A flood of forged or malformed callbacks would otherwise
// write a warning each, and under journald's rate limit push out the lines operators rely on ("callback
// stored", Redis errors). Each route gets a token bucket: `burst` lines at once, then `per_second`; what it
// refuses to log is counted and reported in one summary line per route and interval. Metrics still count
// every refusal: only the log lines are limited.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace payhook::daemon {

class RefusalLog {
 public:
  struct Limits {
    uint64_t per_second = 5;  // 0: every refusal is logged
    uint64_t burst = 20;
  };
  struct Summary {
    std::string route;
    uint64_t not_logged = 0;
    int64_t since_ms = 0;  // the first refusal not logged
  };

  // Takes effect at once; buckets keep what they hold, up to the new burst.
  void setLimits(Limits limits);
  const Limits& limits() const { return limits_; }

  // True when a refusal of `route` at `now_ms` may be logged; otherwise it is counted for summaries().
  bool admit(std::string_view route, int64_t now_ms);

  // The routes with refusals not logged since the last call, then forgotten; routes whose bucket is full
  // again are dropped, so routes removed by a reload do not stay forever.
  std::vector<Summary> summaries(int64_t now_ms);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t refilled_ms = 0;
    uint64_t not_logged = 0;
    int64_t since_ms = 0;
  };
  void refill(Bucket& bucket, int64_t now_ms) const;

  Limits limits_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

}  // namespace payhook::daemon
