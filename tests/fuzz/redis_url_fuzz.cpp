// parseRedisUrl and redactRedisUrl on arbitrary text. Beyond not crashing, redaction must hide the
// password, keep everything parseRedisUrl reads, and be idempotent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "queue/redis_event_store.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

size_t occurrences(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos; at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view url = payhook::fuzz::asView(data, size);
  const auto parsed = payhook::queue::parseRedisUrl(url);
  const std::string redacted = payhook::queue::redactRedisUrl(url);
  // Redacting twice changes nothing, for anything that looks like a Redis URL. (Not for arbitrary text: a
  // "://" inside a redacted query value moves where the user information is looked for, and the second
  // pass then hides more, which is harmless.)
  if (url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix:") ||
      url.starts_with("redis+sentinel://") || url.starts_with("redis+cluster://"))
    FUZZ_CHECK(payhook::queue::redactRedisUrl(redacted) == redacted);
  if (!parsed) return 0;

  const std::string& password = parsed->password;
  // The password must not survive redaction. Only checked where the answer is unambiguous: a password
  // long enough not to turn up by chance, written once and verbatim (no %-escapes anywhere, no '*' that
  // could straddle the "***" placeholder), so any copy in the output could only have come from it.
  if (password.size() >= 6 && url.find('%') == std::string_view::npos &&
      password.find('*') == std::string::npos && occurrences(url, password) == 1) {
    FUZZ_CHECK(redacted.find(password) == std::string::npos);
  }

  // The redacted URL still names the same server, database and user; only the password is a placeholder.
  const auto again = payhook::queue::parseRedisUrl(redacted);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->unix_socket == parsed->unix_socket);
  FUZZ_CHECK(again->host == parsed->host);
  FUZZ_CHECK(again->port == parsed->port);
  FUZZ_CHECK(again->db == parsed->db);
  FUZZ_CHECK(again->username == parsed->username);
  FUZZ_CHECK(again->mode == parsed->mode);
  FUZZ_CHECK(again->master_name == parsed->master_name);
  FUZZ_CHECK(again->seeds.size() == parsed->seeds.size());
  for (size_t i = 0; i < parsed->seeds.size() && i < again->seeds.size(); ++i) {
    FUZZ_CHECK(again->seeds[i].host == parsed->seeds[i].host);
    FUZZ_CHECK(again->seeds[i].port == parsed->seeds[i].port);
  }
  if (!password.empty()) FUZZ_CHECK(again->password == "***");
  return 0;
}
