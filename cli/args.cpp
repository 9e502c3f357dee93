#include "cli/args.h"

#include <charconv>
#include <ctime>

#include "config/config.h"

namespace payhook::cli {

Result<ParsedArgs> parseArgs(const std::vector<std::string>& args, const std::vector<OptionSpec>& spec) {
  ParsedArgs out;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      out.help = true;
      continue;
    }
    std::string name = a;
    std::optional<std::string> inline_value;
    if (size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = a.substr(0, eq);
      inline_value = a.substr(eq + 1);
    }
    const OptionSpec* found = nullptr;
    for (const auto& s : spec)
      if (s.name == name || (!s.alias.empty() && s.alias == name)) found = &s;
    if (!found) return Error{"unknown option " + name};
    if (!found->takes_value) {
      if (inline_value) return Error{found->name + " takes no value"};
      out.flags.insert(found->name);
      continue;
    }
    if (inline_value) {
      out.values[found->name] = *inline_value;
    } else {
      if (i + 1 >= args.size()) return Error{found->name + " needs a value"};
      out.values[found->name] = args[++i];
    }
  }
  return out;
}

std::optional<int64_t> parseCount(std::string_view text, int64_t min, int64_t max) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v < min || v > max)
    return std::nullopt;
  return v;
}

namespace {

bool digits(std::string_view s, size_t n, int& out) {
  if (s.size() < n) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<int64_t> parseTimeArg(std::string_view text, int64_t now_ms) {
  if (text.empty()) return std::nullopt;
  if (text.size() >= 13 && text.find_first_not_of("0123456789") == std::string_view::npos)
    return parseCount(text, 0, INT64_MAX);
  if (auto d = config::parseDuration(text)) {
    if (static_cast<int64_t>(*d) > now_ms) return std::nullopt;
    return now_ms - static_cast<int64_t>(*d);
  }
  // YYYY-MM-DD[THH:MM:SS[.mmm]Z]
  int year, month, day, hour = 0, minute = 0, second = 0, milli = 0;
  if (!digits(text, 4, year) || text.size() < 10 || text[4] != '-' || !digits(text.substr(5), 2, month) ||
      text[7] != '-' || !digits(text.substr(8), 2, day))
    return std::nullopt;
  std::string_view rest = text.substr(10);
  if (!rest.empty()) {
    if (rest.size() < 10 || (rest[0] != 'T' && rest[0] != ' ') || !digits(rest.substr(1), 2, hour) ||
        rest[3] != ':' || !digits(rest.substr(4), 2, minute) || rest[6] != ':' ||
        !digits(rest.substr(7), 2, second))
      return std::nullopt;
    rest = rest.substr(9);
    if (!rest.empty() && rest[0] == '.') {
      if (!digits(rest.substr(1), 3, milli)) return std::nullopt;
      rest = rest.substr(4);
    }
    if (rest != "Z") return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const time_t t = timegm(&tm);
  if (t < 0) return std::nullopt;
  return static_cast<int64_t>(t) * 1000 + milli;
}

}  // namespace payhook::cli
