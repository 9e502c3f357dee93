// Structured log lines on stderr: one JSON object per line with `ts`, `level`, `msg` and fields.
//
// The process has one log sink, configured once by main() before the loop starts; components only
// write to it. Never pass a secret as a field: Secret has no conversion that would allow it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace payhook::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kJson, kText };

struct Field {
  std::string_view key;
  std::variant<std::string_view, int64_t, double, bool> value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, int v) : key(k), value(int64_t{v}) {}
  Field(std::string_view k, int64_t v) : key(k), value(v) {}
  Field(std::string_view k, uint64_t v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
};

void configure(Level level, Format format);

// A destination that takes a line's parts as they are (the journal's native fields) instead of a
// formatted line on stderr. It answers false when it could not take the line, which then goes to stderr.
using StructuredWriter = bool (*)(Level level, std::string_view msg, std::initializer_list<Field> fields);
void setStructuredWriter(StructuredWriter writer);

// Any one field (or message) longer than this is cut: whatever a caller forgot to clip, a client's text can
// bloat a line only so far. Structured writers cut at the same length.
constexpr size_t kMaxFieldBytes = 1024;
std::string bounded(std::string_view text);
const char* levelName(Level level);
// The text format's line without its time and level: msg key="value" key=42 ...
std::string textOf(std::string_view msg, std::initializer_list<Field> fields);
bool parseLevel(std::string_view text, Level* out);
bool enabled(Level level);
void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, msg, f);
}
inline void info(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, msg, f);
}
inline void warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, msg, f);
}
inline void error(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::kError, msg, f);
}

}  // namespace payhook::log
