// The loader's reading tools: a collector of "FILE:LINE: key: message" problems, and a reader over one TOML
// table whose typed accessors report wrong types and remember which keys were read, so every key nobody asked
// for can be reported as unknown. Internal to config/.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace payhook::config {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void error(int line, std::string_view key, std::string_view message);
  void warning(int line, std::string_view key, std::string_view message);
  // For problems that belong to no key (TOML syntax, unreadable file): "FILE:LINE: message".
  void fileError(int line, std::string_view message);

  bool hasErrors() const { return !errors_.empty(); }
  size_t errorCount() const { return errors_.size(); }
  const std::string& file() const { return file_; }
  // In line order, so the list reads top to bottom like the file.
  std::vector<std::string> errors() const { return sorted(errors_); }
  std::vector<std::string> warnings() const { return sorted(warnings_); }

 private:
  struct Entry {
    int line;
    std::string text;
  };
  static std::vector<std::string> sorted(std::vector<Entry> entries);
  std::string format(int line, std::string_view key, std::string_view message) const;

  std::string file_;
  std::vector<Entry> errors_;
  std::vector<Entry> warnings_;
};

int lineOf(const toml::node& node);
// "a string", "an integer", ... as used in "expected X, got Y".
std::string describeType(const toml::node& node);
// `key` followed by "; did you mean "x"?" when one candidate is a likely typo of it.
std::string unknownKeyMessage(std::string_view key, const std::vector<std::string_view>& candidates,
                              std::string_view what = "unknown key");
// The value cut short in quotes, for echoing non-secret values in messages.
std::string quote(std::string_view value);

class TableReader {
 public:
  TableReader(Diagnostics& diag, const toml::table& table, std::string path)
      : diag_(diag), table_(table), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  int line() const { return config::lineOf(table_); }
  const toml::table& table() const { return table_; }
  Diagnostics& diag() { return diag_; }
  std::string keyPath(std::string_view key) const;

  bool has(std::string_view key) const { return table_.contains(key); }
  // The node (marking the key as read), or nullptr when absent.
  const toml::node* find(std::string_view key);
  // Line of the key's value, or of this table when the key is absent.
  int lineOf(std::string_view key) const;

  void error(std::string_view key, std::string_view message) {
    diag_.error(lineOf(key), keyPath(key), message);
  }
  void warning(std::string_view key, std::string_view message) {
    diag_.warning(lineOf(key), keyPath(key), message);
  }
  void wrongType(std::string_view key, const toml::node& node, std::string_view expected);

  // Typed accessors: nullopt when the key is absent or its value was refused (the refusal is reported).
  std::optional<std::string> string(std::string_view key, bool allow_empty = false);
  std::optional<std::string> choice(std::string_view key, std::initializer_list<std::string_view> allowed);
  // Each element is checked by `check` (error text or empty); elements are reported as "key[i]".
  std::optional<std::vector<std::string>> stringArray(
      std::string_view key, const std::function<std::string(std::string_view)>& check = {});
  std::optional<uint64_t> integer(std::string_view key, uint64_t min);
  std::optional<double> number(std::string_view key, double min, double max);
  std::optional<uint64_t> duration(std::string_view key, uint64_t min_ms);
  std::optional<uint64_t> size(std::string_view key, uint64_t min_bytes);
  const toml::table* subtable(std::string_view key);

  // Reports every key not read so far with the message `explain` gives for it (none when that is empty).
  void reportUnread(const std::function<std::string(std::string_view)>& explain);
  std::vector<std::string_view> unread() const;
  std::map<std::string, int> keyLines() const;

 private:
  Diagnostics& diag_;
  const toml::table& table_;
  std::string path_;
  std::set<std::string, std::less<>> read_;
};

}  // namespace payhook::config
