#include "daemon/refusal_log.h"

#include <algorithm>

namespace payhook::daemon {

void RefusalLog::setLimits(Limits limits) {
  limits_ = limits;
  if (limits_.burst == 0) limits_.burst = 1;
  for (auto& [route, bucket] : buckets_)
    bucket.tokens = std::min(bucket.tokens, static_cast<double>(limits_.burst));
}

void RefusalLog::refill(Bucket& bucket, int64_t now_ms) const {
  // A clock stepped back refills nothing, and is not held against the route either.
  const int64_t elapsed = std::max<int64_t>(now_ms - bucket.refilled_ms, 0);
  bucket.tokens = std::min(
      static_cast<double>(limits_.burst),
      bucket.tokens + static_cast<double>(elapsed) * static_cast<double>(limits_.per_second) / 1000.0);
  bucket.refilled_ms = now_ms;
}

bool RefusalLog::admit(std::string_view route, int64_t now_ms) {
  if (limits_.per_second == 0) return true;
  auto it = buckets_.find(route);
  if (it == buckets_.end()) {
    it = buckets_.emplace(std::string(route), Bucket{}).first;
    it->second.tokens = static_cast<double>(limits_.burst);
    it->second.refilled_ms = now_ms;
  }
  Bucket& bucket = it->second;
  refill(bucket, now_ms);
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return true;
  }
  if (bucket.not_logged++ == 0) bucket.since_ms = now_ms;
  return false;
}

std::vector<RefusalLog::Summary> RefusalLog::summaries(int64_t now_ms) {
  std::vector<Summary> out;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    Bucket& bucket = it->second;
    if (bucket.not_logged > 0) {
      out.push_back({it->first, bucket.not_logged, bucket.since_ms});
      bucket.not_logged = 0;
      bucket.since_ms = 0;
    }
    refill(bucket, now_ms);
    if (bucket.tokens >= static_cast<double>(limits_.burst)) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

}  // namespace payhook::daemon
