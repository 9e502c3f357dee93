// Timestamps as text.
#pragma once

#include <cstdint>
#include <string>

namespace payhook {

// "2026-11-26T10:00:00.123Z"
std::string formatIso8601Utc(int64_t unix_ms);

}  // namespace payhook
