#include "common/uuid.h"

#include <sodium.h>

#include <cstring>

namespace payhook {
namespace {

// libsodium's randombytes_buf() is one getrandom(2) per call: a system call per callback on the hot path.
// The same CSPRNG output, fetched 4 KiB at a time (per thread), costs one call per 409 ids.
void randomBytes(unsigned char* out, size_t n) {
  thread_local unsigned char pool[4096];
  thread_local size_t left = 0;
  if (n > sizeof pool) {
    randombytes_buf(out, n);
    return;
  }
  if (left < n) {
    randombytes_buf(pool, sizeof pool);
    left = sizeof pool;
  }
  unsigned char* from = pool + (sizeof pool - left);
  std::memcpy(out, from, n);
  sodium_memzero(from, n);  // each byte is handed out once
  left -= n;
}

}  // namespace

std::string uuidV7(int64_t unix_ms) {
  unsigned char b[16];
  randomBytes(b + 6, sizeof b - 6);
  auto ms = static_cast<uint64_t>(unix_ms);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0f));
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0f];
  }
  return out;
}

}  // namespace payhook
