#include "config/headers_file.h"

#include <algorithm>
#include <map>

#include "common/text.h"

namespace payhook::config {
namespace {

// Headers payhook itself writes on every delivery; a static header must not replace them.
constexpr std::string_view kReservedHeaders[] = {
    "content-type",      "content-length",    "host",
    "transfer-encoding", "connection",        "user-agent",
    "webhook-id",        "webhook-timestamp", "webhook-signature"};

bool isTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

std::string headerProblem(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), isTokenChar))
    return "is not a valid header name";
  const std::string lowered = lowerAscii(name);
  if (std::find(std::begin(kReservedHeaders), std::end(kReservedHeaders), lowered) !=
      std::end(kReservedHeaders))
    return "is set by payhook on every delivery and cannot be replaced";
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
    return "value must not contain CR, LF or NUL";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return "value must not contain control characters";
  }
  return {};
}

ParsedHeaders parseHeadersFile(std::string_view text) {
  ParsedHeaders out;
  std::map<std::string, int, std::less<>> seen;  // lower-case name → line
  int number = 0;
  while (!text.empty()) {
    ++number;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.find('\r') != std::string_view::npos) {
      out.problems.push_back(
          {number, "contains a carriage return (CR); save the file with plain LF line ends"});
      continue;
    }
    const std::string_view content = trim(line);
    if (content.empty() || content.front() == '#') continue;
    const size_t colon = content.find(':');
    if (colon == std::string_view::npos) {
      out.problems.push_back({number, "is not \"Name: value\""});
      continue;
    }
    const std::string_view name = content.substr(0, colon);
    const std::string_view value = trim(content.substr(colon + 1));
    // The name is the operator's own text, so it may be shown; a bad one is described, not echoed.
    if (std::string problem = headerProblem(name, value); !problem.empty()) {
      if (problem == "is not a valid header name")
        problem = "the header name is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)";
      else
        problem = std::string(name) + " " + problem;
      out.problems.push_back({number, std::move(problem)});
      continue;
    }
    if (auto [it, inserted] = seen.emplace(lowerAscii(name), number); !inserted) {
      out.problems.push_back(
          {number, std::string(name) + " is already set on line " + std::to_string(it->second)});
      continue;
    }
    out.headers.push_back({number, std::string(name), std::string(value)});
  }
  return out;
}

}  // namespace payhook::config
