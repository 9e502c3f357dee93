#include "cli/table.h"

#include <cstdio>

#include "common/time_format.h"

namespace payhook::cli {
namespace {

size_t codePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0.
size_t utf8Length(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || i + len > s.size() || (len == 2 && c < 0xC2)) return 0;
  for (size_t k = 1; k < len; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return len;
}

std::string escapeByte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "\\x%02x", c);
  return buf;
}

}  // namespace

std::string terminalSafe(std::string_view s, bool keep_newlines) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (keep_newlines && (c == '\n' || c == '\t')) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      out += c == '\n' ? std::string("\\n") : c == '\t' ? std::string("\\t") : escapeByte(c);
      ++i;
      continue;
    }
    size_t len = utf8Length(s, i);
    if (len == 0) {
      out += escapeByte(c);
      ++i;
      continue;
    }
    // C1 controls (U+0080..U+009F) are terminal escapes too.
    if (len == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) {
      out += escapeByte(c) + escapeByte(static_cast<unsigned char>(s[i + 1]));
      i += 2;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

Table::Table(std::vector<std::string> headers)
    : headers_(std::move(headers)), right_(headers_.size(), false) {}

void Table::alignRight(size_t column) {
  if (column < right_.size()) right_[column] = true;
}

void Table::add(std::vector<std::string> row) {
  row.resize(headers_.size());
  for (auto& cell : row) cell = terminalSafe(cell);
  rows_.push_back(std::move(row));
}

std::string Table::render() const {
  std::vector<size_t> width(headers_.size(), 0);
  for (size_t c = 0; c < headers_.size(); ++c) width[c] = codePoints(headers_[c]);
  for (const auto& row : rows_)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], codePoints(row[c]));
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t c = 0; c < cells.size(); ++c) {
      const size_t pad = width[c] - codePoints(cells[c]);
      if (c > 0) l += "  ";
      if (right_[c]) l.append(pad, ' ');
      l += cells[c];
      if (!right_[c] && c + 1 < cells.size()) l.append(pad, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l;
    out += '\n';
  };
  line(headers_);
  for (const auto& row : rows_) line(row);
  return out;
}

std::string relativeTime(int64_t at_ms, int64_t now_ms) {
  const int64_t d = now_ms - at_ms;
  const int64_t a = (d < 0 ? -d : d) / 1000;
  if (a < 1) return "now";
  std::string n = a < 60       ? std::to_string(a) + "s"
                  : a < 3600   ? std::to_string(a / 60) + "m"
                  : a < 86'400 ? std::to_string(a / 3600) + "h"
                               : std::to_string(a / 86'400) + "d";
  return d < 0 ? "in " + n : n + " ago";
}

std::string timeCell(int64_t at_ms, int64_t now_ms) {
  if (at_ms <= 0) return "-";
  std::string iso = formatIso8601Utc(at_ms);  // 2026-11-26T10:00:00.123Z
  if (iso.size() >= 19) iso = iso.substr(0, 10) + " " + iso.substr(11, 8) + "Z";
  return iso + " (" + relativeTime(at_ms, now_ms) + ")";
}

std::string ellipsize(std::string_view s, size_t max) {
  if (codePoints(s) <= max) return std::string(s);
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {
      if (n + 1 >= max) break;
      ++n;
    }
    out += static_cast<char>(c);
  }
  return out + "…";
}

}  // namespace payhook::cli
