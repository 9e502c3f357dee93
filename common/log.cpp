#include "common/log.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/time_format.h"
#include "common/untrusted_text.h"

namespace payhook::log {
namespace {

Level g_level = Level::kInfo;
Format g_format = Format::kJson;
StructuredWriter g_structured = nullptr;

template <typename T>
T bounded(T value) {
  return value;
}

}  // namespace

const char* levelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string bounded(std::string_view text) {
  return text.size() <= kMaxFieldBytes ? std::string(text) : truncateUtf8(text, kMaxFieldBytes);
}

void setStructuredWriter(StructuredWriter writer) {
  g_structured = writer;
}

void configure(Level level, Format format) {
  g_level = level;
  g_format = format;
}

bool parseLevel(std::string_view text, Level* out) {
  static constexpr std::pair<std::string_view, Level> kNames[] = {
      {"debug", Level::kDebug}, {"info", Level::kInfo}, {"warn", Level::kWarn}, {"error", Level::kError}};
  for (auto [name, level] : kNames)
    if (name == text) {
      *out = level;
      return true;
    }
  return false;
}

bool enabled(Level level) {
  return level >= g_level;
}

std::string textOf(std::string_view msg, std::initializer_list<Field> fields) {
  std::string line = bounded(msg);
  for (const auto& f : fields) {
    line += " ";
    line += f.key;
    line += "=";
    std::visit(
        [&](const auto& v) {
          nlohmann::json j = bounded(v);
          line += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        },
        f.value);
  }
  return line;
}

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  if (g_structured != nullptr && g_structured(level, msg, fields)) return;
  std::string ts = formatIso8601Utc(SystemClock().nowMs());
  std::string line;
  if (g_format == Format::kJson) {
    nlohmann::json j;
    j["ts"] = ts;
    j["level"] = levelName(level);
    j["msg"] = bounded(msg);
    for (const auto& f : fields) {
      std::visit([&](const auto& v) { j[std::string(f.key)] = bounded(v); }, f.value);
    }
    // Replace invalid UTF-8 from untrusted input instead of throwing from a log call.
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = ts + " " + levelName(level) + " " + textOf(msg, fields);
  }
  line += '\n';
  // One write per line so lines from concurrent writers never interleave.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace payhook::log
