// Human output of payhookctl: aligned tables, relative times, and text made safe for a terminal. Stored
// events hold bytes chosen by whoever sent the callback, so nothing from Redis reaches the terminal raw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace payhook::cli {

// Columns separated by two spaces, each as wide as its widest cell (counted in UTF-8 code points); numeric
// columns (see alignRight) right-aligned; no trailing spaces. Cells pass through terminalSafe() with
// newlines escaped too.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void alignRight(size_t column);
  void add(std::vector<std::string> row);  // shorter rows are padded with empty cells
  size_t rows() const { return rows_.size(); }
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// Control characters (and DEL) become "\xNN" escapes, invalid UTF-8 bytes too; with keep_newlines, '\n'
// and '\t' stay as they are (multi-line blocks such as a request body).
std::string terminalSafe(std::string_view s, bool keep_newlines = false);

// "now", "42s ago", "3m ago", "in 5m", "2h ago", "3d ago": `at_ms` relative to `now_ms`.
std::string relativeTime(int64_t at_ms, int64_t now_ms);
// "2026-11-26 10:00:00Z (3m ago)", or "-" for 0.
std::string timeCell(int64_t at_ms, int64_t now_ms);

// Cuts to `max` code points, ending in "…" when cut.
std::string ellipsize(std::string_view s, size_t max);

}  // namespace payhook::cli
