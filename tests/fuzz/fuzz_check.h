// Shared by the libFuzzer drivers: an invariant check that survives NDEBUG, and field splitting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

// A broken invariant must stop the run the way a sanitizer does, so libFuzzer saves the input; assert()
// would vanish in the RelWithDebInfo build the fuzzers use.
#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

namespace payhook::fuzz {

inline std::string_view asView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits at NUL bytes into exactly `n` fields; the last one takes the rest, NULs included, so a body can
// still carry any byte. Missing fields are empty.
inline std::vector<std::string_view> splitFields(std::string_view input, size_t n) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < n) {
    const size_t nul = input.find('\0');
    if (nul == std::string_view::npos) break;
    out.push_back(input.substr(0, nul));
    input.remove_prefix(nul + 1);
  }
  out.push_back(input);
  out.resize(n);
  return out;
}

}  // namespace payhook::fuzz
