// Durations and sizes as written in the config, with the reason when a value is refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace payhook::config {

// Like parseDuration()/parseSize() in config.h, but an invalid value comes back with a sentence that says why
// and what would be accepted, for "FILE:LINE: key: message" errors.
Result<uint64_t> parseDurationExplained(std::string_view text);
Result<uint64_t> parseSizeExplained(std::string_view text);

// Milliseconds back into the config's own notation ("1h30m", "250ms", "0s"), so messages echo what users
// write.
std::string formatDuration(uint64_t ms);

}  // namespace payhook::config
