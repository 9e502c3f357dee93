// UUIDv7 event ids: time-ordered, so Redis listings by id follow arrival order.
#pragma once

#include <cstdint>
#include <string>

namespace payhook {

// RFC 9562 UUIDv7 text form from a Unix-millisecond time and libsodium randomness.
std::string uuidV7(int64_t unix_ms);

}  // namespace payhook
