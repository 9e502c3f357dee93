// Fatal checks of calls that must not fail: libuv's loop and timer set-up, for one. Their failure means a
// bug or a host out of memory or descriptors, with nothing sensible to go on with; and they run inside C
// callbacks too, where no exception may pass. So the check says what failed on stderr and aborts.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace payhook::detail {

[[noreturn]] inline void checkFailed(const char* condition, const char* message, const char* file,
                                     int line) noexcept {
  std::fprintf(stderr, "payhook: fatal: %s (%s) at %s:%d\n", message, condition, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace payhook::detail

#define PAYHOOK_CHECK(cond, msg)                                                   \
  do {                                                                             \
    if (!(cond)) ::payhook::detail::checkFailed(#cond, (msg), __FILE__, __LINE__); \
  } while (0)
