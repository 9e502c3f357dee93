// Command-line parsing for payhookctl's commands: "--name value", "--name=value", flags, positionals,
// "--" to end options, and -h/--help. Pure: no printing, no exits, so it is unit-tested.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace payhook::cli {

struct OptionSpec {
  std::string name;          // "--state"
  bool takes_value = false;  // false: a flag
  std::string alias;         // e.g. "-c"; empty when none
};

struct ParsedArgs {
  std::map<std::string, std::string> values;  // by spec name; the last one wins
  std::set<std::string> flags;
  std::vector<std::string> positional;
  bool help = false;

  bool flag(const std::string& name) const { return flags.count(name) > 0; }
  std::string value(const std::string& name, std::string fallback = {}) const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
  bool has(const std::string& name) const { return values.count(name) > 0; }
};

// An Error names the offending argument: unknown option, missing value, a value given to a flag.
Result<ParsedArgs> parseArgs(const std::vector<std::string>& args, const std::vector<OptionSpec>& spec);

// "50" → 50 within [min, max]; nullopt otherwise.
std::optional<int64_t> parseCount(std::string_view text, int64_t min, int64_t max);

// A point in time for --since/--until: a duration before `now_ms` ("90s", "2h", "7d"), an ISO 8601 UTC
// time ("2026-11-26T10:00:00Z", with optional ".mmm"), a date ("2026-11-26", midnight UTC) or Unix
// milliseconds (13 digits or more). nullopt when it is none of these.
std::optional<int64_t> parseTimeArg(std::string_view text, int64_t now_ms);

}  // namespace payhook::cli
