#include "common/log.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/time_format.h"
#include "common/untrusted_text.h"

namespace payhook::log {
namespace {

// Any one field (or message) longer than this is cut: whatever a caller forgot to clip, a client's text can
// bloat a line only so far.
constexpr size_t kMaxFieldBytes = 1024;

Level g_level = Level::kInfo;
Format g_format = Format::kJson;

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

template <typename T>
T bounded(T value) {
  return value;
}
std::string bounded(std::string_view text) {
  return text.size() <= kMaxFieldBytes ? std::string(text) : truncateUtf8(text, kMaxFieldBytes);
}

}  // namespace

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

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
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
    line = ts + " " + levelName(level) + " " + bounded(msg);
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
