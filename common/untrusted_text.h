// Text a client chose (a parameter or element name, an address from X-Forwarded-For) on its way into a log
// line or a refusal. Unclipped, one 60 KB field name makes a 60 KB warning, and a few of those push the
// lines operators rely on out of journald's rate limit.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace payhook {

// How much of a client's text a refusal quotes: enough to recognise a name, too little to bloat a line.
inline constexpr size_t kMaxQuotedBytes = 64;

// At most `max_bytes` of `text`, cut before a UTF-8 sequence that would not fit, then "…(+N bytes)" for the
// N bytes left out. Control bytes, DEL, '"', '\\' and bytes that are not valid UTF-8 become "\xNN" (or
// "\\" and "\""), so the result is printable UTF-8 that cannot end a line or a quoted string.
std::string clipUntrusted(std::string_view text, size_t max_bytes = kMaxQuotedBytes);

// clipUntrusted() in double quotes, for "parameter \"...\" is given more than once".
std::string quoteUntrusted(std::string_view text, size_t max_bytes = kMaxQuotedBytes);

// The last line of defence in the logger: text longer than `max_bytes` is cut at a UTF-8 boundary and marked
// "…(+N bytes)"; shorter text is returned as is. No escaping (the log format does its own).
std::string truncateUtf8(std::string_view text, size_t max_bytes);

}  // namespace payhook
