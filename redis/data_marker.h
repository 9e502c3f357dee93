// The data marker: a random value a Connection sets, when absent, on every connection and reads back then
// and on every heartbeat. A value other than the one this process saw last means Redis lost payhook's
// data in between (restarted without persistence, flushed, failed over to an empty replica). Its key is
// described with the others in docs/architecture.md ("The Redis schema").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace payhook::redis {

class DataMarker {
 public:
  explicit DataMarker(std::string key) : key_(std::move(key)) {}

  const std::string& key() const { return key_; }
  // A fresh random value, for the SET NX that creates the marker.
  static std::string candidate();

  // The marker as read (nullopt: there is none), right after its SET NX or by a heartbeat. Returns what
  // was lost, counted in losses(), or null.
  const char* check(std::optional<std::string_view> value, bool after_set);
  // After a loss: forgets the value, so the next read, after a fresh SET NX, is taken as it is and the
  // loss counted once. False when there was no value to forget.
  bool forget();

  uint64_t losses() const { return losses_; }

 private:
  std::string key_;
  std::string value_;  // last read; empty before the first
  uint64_t losses_ = 0;
};

}  // namespace payhook::redis
