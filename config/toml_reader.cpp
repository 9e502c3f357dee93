#include "config/toml_reader.h"

#include <algorithm>
#include <cmath>

#include "config/units.h"

namespace payhook::config {
namespace {

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

void Diagnostics::error(int line, std::string_view key, std::string_view message) {
  errors_.push_back({line, format(line, key, message)});
}

void Diagnostics::warning(int line, std::string_view key, std::string_view message) {
  warnings_.push_back({line, format(line, key, message)});
}

void Diagnostics::fileError(int line, std::string_view message) {
  errors_.push_back({line, file_ + ":" + std::to_string(line) + ": " + std::string(message)});
}

std::string Diagnostics::format(int line, std::string_view key, std::string_view message) const {
  return file_ + ":" + std::to_string(line) + ": " + std::string(key) + ": " + std::string(message);
}

std::vector<std::string> Diagnostics::sorted(std::vector<Entry> entries) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.line < b.line; });
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (auto& entry : entries) out.push_back(std::move(entry.text));
  return out;
}

int lineOf(const toml::node& node) {
  return static_cast<int>(node.source().begin.line);
}

std::string describeType(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string unknownKeyMessage(std::string_view key, const std::vector<std::string_view>& candidates,
                              std::string_view what) {
  std::string_view best;
  size_t best_distance = 3;  // a typo is at most two edits away
  for (std::string_view candidate : candidates) {
    const size_t distance = editDistance(key, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  std::string message(what);
  if (!best.empty()) message += "; did you mean \"" + std::string(best) + "\"?";
  return message;
}

std::string quote(std::string_view value) {
  constexpr size_t kMax = 60;
  std::string out = "\"";
  out += value.substr(0, kMax);
  if (value.size() > kMax) out += "...";
  out += '"';
  return out;
}

std::string TableReader::keyPath(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

const toml::node* TableReader::find(std::string_view key) {
  const toml::node* node = table_.get(key);
  if (node != nullptr) read_.emplace(key);
  return node;
}

int TableReader::lineOf(std::string_view key) const {
  const toml::node* node = table_.get(key);
  return node != nullptr ? config::lineOf(*node) : line();
}

void TableReader::wrongType(std::string_view key, const toml::node& node, std::string_view expected) {
  diag_.error(config::lineOf(node), keyPath(key),
              "expected " + std::string(expected) + ", got " + describeType(node));
}

std::optional<std::string> TableReader::string(std::string_view key, bool allow_empty) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  const auto* value = node->as_string();
  if (value == nullptr) {
    wrongType(key, *node, "a string");
    return std::nullopt;
  }
  if (!allow_empty && value->get().empty()) {
    error(key, "must not be empty");
    return std::nullopt;
  }
  return value->get();
}

std::optional<std::string> TableReader::choice(std::string_view key,
                                               std::initializer_list<std::string_view> allowed) {
  auto value = string(key, true);
  if (!value) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *value) != allowed.end()) return value;
  std::string list;
  for (std::string_view option : allowed) {
    if (!list.empty()) list += ", ";
    list += "\"" + std::string(option) + "\"";
  }
  error(key, quote(*value) + " is not one of " + list);
  return std::nullopt;
}

std::optional<std::vector<std::string>> TableReader::stringArray(
    std::string_view key, const std::function<std::string(std::string_view)>& check) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  const auto* array = node->as_array();
  if (array == nullptr) {
    wrongType(key, *node, "an array of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const std::string element_key = keyPath(key) + "[" + std::to_string(i) + "]";
    const auto* value = element.as_string();
    if (value == nullptr) {
      diag_.error(config::lineOf(element), element_key, "expected a string, got " + describeType(element));
      ok = false;
      continue;
    }
    if (check) {
      const std::string problem = check(value->get());
      if (!problem.empty()) {
        diag_.error(config::lineOf(element), element_key, problem);
        ok = false;
        continue;
      }
    }
    out.push_back(value->get());
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<uint64_t> TableReader::integer(std::string_view key, uint64_t min) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  const auto* value = node->as_integer();
  if (value == nullptr) {
    wrongType(key, *node, "an integer");
    return std::nullopt;
  }
  if (value->get() < 0 || static_cast<uint64_t>(value->get()) < min) {
    error(key, min == 0   ? std::string("must not be negative")
               : min == 1 ? std::string("must be positive")
                          : "must be at least " + std::to_string(min));
    return std::nullopt;
  }
  return static_cast<uint64_t>(value->get());
}

std::optional<double> TableReader::number(std::string_view key, double min, double max) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  double value = 0;
  if (const auto* f = node->as_floating_point()) {
    value = f->get();
  } else if (const auto* i = node->as_integer()) {
    value = static_cast<double>(i->get());
  } else {
    wrongType(key, *node, "a number");
    return std::nullopt;
  }
  if (!std::isfinite(value) || value < min || value > max) {
    auto show = [](double d) {
      std::string s = std::to_string(d);
      while (s.size() > 1 && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
      return s;
    };
    error(key, std::isfinite(max) ? "must be from " + show(min) + " to " + show(max)
                                  : "must be at least " + show(min));
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> TableReader::duration(std::string_view key, uint64_t min_ms) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  const auto* value = node->as_string();
  if (value == nullptr) {
    if (const auto* number = node->as_integer()) {
      error(key, "expected a duration string, got the bare number " + std::to_string(number->get()) +
                     "; units are required (e.g. \"" + std::to_string(number->get()) + "s\")");
    } else {
      wrongType(key, *node, "a duration string such as \"10s\"");
    }
    return std::nullopt;
  }
  auto parsed = parseDurationExplained(value->get());
  if (!parsed) {
    error(key, parsed.error().message);
    return std::nullopt;
  }
  if (*parsed < min_ms) {
    error(key, min_ms <= 1 ? "must be positive" : "must be at least " + formatDuration(min_ms));
    return std::nullopt;
  }
  return *parsed;
}

std::optional<uint64_t> TableReader::size(std::string_view key, uint64_t min_bytes) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  uint64_t bytes = 0;
  if (const auto* number = node->as_integer()) {
    if (number->get() < 0) {
      error(key, "must not be negative");
      return std::nullopt;
    }
    bytes = static_cast<uint64_t>(number->get());
  } else if (const auto* text = node->as_string()) {
    auto parsed = parseSizeExplained(text->get());
    if (!parsed) {
      error(key, parsed.error().message);
      return std::nullopt;
    }
    bytes = *parsed;
  } else {
    wrongType(key, *node, "a size (bytes, or a string such as \"64KiB\")");
    return std::nullopt;
  }
  if (bytes < min_bytes) {
    error(key,
          min_bytes <= 1 ? "must be positive" : "must be at least " + std::to_string(min_bytes) + " bytes");
    return std::nullopt;
  }
  return bytes;
}

const toml::table* TableReader::subtable(std::string_view key) {
  const toml::node* node = find(key);
  if (node == nullptr) return nullptr;
  const auto* table = node->as_table();
  if (table == nullptr) wrongType(key, *node, "a table");
  return table;
}

std::vector<std::string_view> TableReader::unread() const {
  std::vector<std::string_view> keys;
  for (auto&& [key, node] : table_) {
    if (!read_.contains(key.str())) keys.push_back(key.str());
  }
  return keys;
}

void TableReader::reportUnread(const std::function<std::string(std::string_view)>& explain) {
  for (std::string_view key : unread()) {
    // An empty explanation means the key is already covered by another message.
    if (std::string message = explain(key); !message.empty()) error(key, message);
    read_.emplace(key);
  }
}

std::map<std::string, int> TableReader::keyLines() const {
  std::map<std::string, int> lines;
  for (auto&& [key, node] : table_) lines.emplace(std::string(key.str()), config::lineOf(node));
  return lines;
}

}  // namespace payhook::config
