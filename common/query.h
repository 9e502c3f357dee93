// The one reading of `name=value&name=value` text (URL queries, form bodies).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/percent.h"
#include "common/result.h"
#include "common/untrusted_text.h"

namespace payhook {

// Calls `each(part, name, value, has_value)` for every '&'-separated part of `query` (empty ones too, so a
// caller can rebuild the text byte for byte), split at its first '=', as raw text (not decoded), in order.
// `each` returns false to stop; so does the call then.
template <class Each>
bool forEachQueryPart(std::string_view query, Each&& each) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = part.find('=');
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    if (!each(part, part.substr(0, eq), value, eq != std::string_view::npos)) return false;
  }
  return true;
}

using QueryPairs = std::vector<std::pair<std::string, std::string>>;

// Every pair percent-decoded, '+' read as a space (forms, and the queries providers and operators send), in
// order, repeats kept. A malformed escape refuses the whole text; the error quotes the name, clipped.
inline Result<QueryPairs> parseQuery(std::string_view query) {
  QueryPairs pairs;
  std::string problem;
  forEachQueryPart(query, [&](std::string_view part, std::string_view name, std::string_view value, bool) {
    if (part.empty()) return true;
    std::string n, v;
    if (!percentDecode(name, &n, true)) {
      problem = "malformed percent escape in a parameter name";
      return false;
    }
    if (!percentDecode(value, &v, true)) {
      problem = "malformed percent escape in parameter " + quoteUntrusted(n);
      return false;
    }
    pairs.emplace_back(std::move(n), std::move(v));
    return true;
  });
  if (!problem.empty()) return Error{problem};
  return pairs;
}

}  // namespace payhook
