#include "redis/data_marker.h"

#include <sodium.h>

namespace payhook::redis {

std::string DataMarker::candidate() {
  unsigned char bytes[12];
  randombytes_buf(bytes, sizeof(bytes));
  char hex[2 * sizeof(bytes) + 1];
  sodium_bin2hex(hex, sizeof(hex), bytes, sizeof(bytes));
  return hex;
}

const char* DataMarker::check(std::optional<std::string_view> value, bool after_set) {
  if (!value) {
    // Gone while connected (FLUSHALL, FLUSHDB, an operator's DEL): the next SET NX sets it again.
    if (after_set) return nullptr;
    ++losses_;
    return "the data marker disappeared while connected";
  }
  if (!value_.empty() && *value != value_) {
    value_ = *value;
    ++losses_;
    return "Redis came back without payhook's data";
  }
  value_ = *value;
  return nullptr;
}

bool DataMarker::forget() {
  if (value_.empty()) return false;
  value_.clear();
  return true;
}

}  // namespace payhook::redis
