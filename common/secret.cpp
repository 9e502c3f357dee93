#include "common/secret.h"

namespace payhook {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

}  // namespace

std::vector<Secret> splitKeyLines(std::string_view text, std::vector<int>* line_numbers) {
  std::vector<Secret> lines;
  size_t pos = 0;
  int number = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    ++number;
    std::string_view line = text.substr(pos, end - pos);
    while (!line.empty() && isSpace(line.front())) line.remove_prefix(1);
    while (!line.empty() && isSpace(line.back())) line.remove_suffix(1);
    // "# ..." lines are notes ("# current key, rotated 2026-11"), never keys.
    if (!line.empty() && line.front() != '#') {
      lines.emplace_back(std::string(line));
      if (line_numbers != nullptr) line_numbers->push_back(number);
    }
    pos = end + 1;
  }
  return lines;
}

}  // namespace payhook
