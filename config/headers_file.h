// Static delivery headers: the rules every header a target adds must follow, and the `headers_file` format
// that keeps bearer tokens out of a world-readable config. Messages name lines and header names, never a
// header's value: values are secrets as often as not.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace payhook::config {

// Why `name: value` cannot be added to a delivery, or empty when it can: the name must be an RFC 9110 token
// and not one payhook writes itself, the value free of control characters (HTAB aside).
std::string headerProblem(std::string_view name, std::string_view value);

struct HeaderLine {
  int line = 0;
  std::string name;
  std::string value;
};

struct HeadersFileProblem {
  int line = 0;
  std::string message;  // names the header, never its value
};

struct ParsedHeaders {
  std::vector<HeaderLine> headers;
  std::vector<HeadersFileProblem> problems;  // in file order
};

// One "Name: value" per line, white space around the value dropped; blank lines and lines whose first
// non-blank character is '#' are skipped. A CR anywhere is refused, CRLF line ends included: a header value
// must not be able to smuggle a line break into the request. A name given twice (in any case) is refused.
ParsedHeaders parseHeadersFile(std::string_view text);

}  // namespace payhook::config
