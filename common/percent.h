// Percent-decoding for URLs (Redis URLs) and form/query strings (provider callbacks).
#pragma once

#include <string>
#include <string_view>

namespace payhook {

// Decodes `%XX` escapes (either case); with `plus_is_space`, '+' becomes a space (forms and queries).
// False on a malformed escape; *out then holds a partial result.
bool percentDecode(std::string_view in, std::string* out, bool plus_is_space = false);

}  // namespace payhook
