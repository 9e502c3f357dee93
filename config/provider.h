// What config/ knows of providers: nothing by name. A provider (handlers/<provider>/) describes its own
// route keys with a ProviderConfig, and reads and validates them through RouteKeys, which reports every
// problem as "FILE:LINE: routes[N].key: message" like the rest of the loader. The loader is given the list
// of providers; what a provider reads stays opaque to it (ProviderSettings).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.h"

namespace payhook::config {

struct RouteConfig;

// A provider's own settings: each provider derives its struct from this one. The virtual functions are the
// facts the loader's cross checks need.
struct ProviderSettings {
  virtual ~ProviderSettings() = default;

  // A signed callback stays acceptable while its timestamp is within `tolerance_ms` of the clock; the
  // idempotency record must outlive twice that.
  struct ReplayWindow {
    uint64_t tolerance_ms = 0;
    std::string key;            // the route key that sets it; empty: the protocol fixes it
    std::string fixed_by = {};  // for an empty `key`: whose tolerance it is ("Standard Webhooks'")
  };
  virtual std::optional<ReplayWindow> replayWindow() const { return std::nullopt; }

  // A step that runs before the provider's follow-up call under the same delivery lease (an external
  // program): the lease must leave the call the other half.
  struct Preparation {
    uint64_t timeout_ms = 0;
    std::string key;  // the route key that sets it
  };
  virtual std::optional<Preparation> preparation() const { return std::nullopt; }
};

// A route's provider keys, read the way the loader reads its own: each getter reports a wrong type or value
// under the key's file and line, and returns nothing then (or when the key is absent). Keys read here count
// as known; any other key of the route is reported as unknown.
class RouteKeys {
 public:
  virtual ~RouteKeys() = default;

  virtual bool has(std::string_view key) const = 0;
  // Marks a key read without reading it (one that is refused by another key's message).
  virtual void touch(std::string_view key) = 0;

  virtual std::optional<std::string> string(std::string_view key, bool allow_empty = false) = 0;
  // A non-empty string, or a non-negative integer written as one (an id a provider prints as a number).
  virtual std::optional<std::string> identifier(std::string_view key) = 0;
  virtual std::optional<std::string> choice(std::string_view key,
                                            std::initializer_list<std::string_view> allowed) = 0;
  virtual std::optional<std::vector<std::string>> stringArray(
      std::string_view key, const std::function<std::string(std::string_view)>& check = {}) = 0;
  virtual std::optional<uint64_t> integer(std::string_view key, uint64_t min) = 0;
  virtual std::optional<uint64_t> duration(std::string_view key, uint64_t min_ms) = 0;
  virtual std::optional<uint64_t> size(std::string_view key, uint64_t min_bytes) = 0;
  // A command line: an array of strings whose first is an executable, found beside the config when
  // relative and returned absolute. `when_empty` is the complaint about an empty array.
  virtual std::optional<std::vector<std::string>> command(std::string_view key,
                                                          std::string_view when_empty) = 0;

  // Secrets: `<base>_file`, or `<base>` inline (warned about). The file's name is never in a message with
  // its contents.
  struct KeyText {
    Secret text;
    std::string origin;  // the file's absolute path; empty for an inline value
  };
  // Whichever of the two keys is present; `is_secret` false for public keys (no warning when inline).
  virtual std::optional<KeyText> keyText(std::string_view base, bool is_secret = true) = 0;
  // One secret (the file's content, trimmed).
  virtual std::optional<Secret> secret(std::string_view base) = 0;
  // Non-empty trimmed lines; `key_prefix` (e.g. "whsec_") checks each line's form and decoded length.
  virtual std::optional<std::vector<Secret>> secretLines(std::string_view base,
                                                         std::string_view key_prefix = {},
                                                         size_t min_bytes = 0, size_t max_bytes = 0) = 0;
  // Reports a token too short to stand alone as a credential; false when it did.
  virtual bool tokenLongEnough(std::string_view base, const Secret& token) = 0;
  // Reports that neither `<base>_file` nor `<base>` is given, under the key the file would be read from.
  virtual void missingSecret(std::string_view base, std::string_view why) = 0;

  virtual void error(std::string_view key, std::string_view message) = 0;
  virtual void warning(std::string_view key, std::string_view message) = 0;
};

// A provider, as the loader sees it.
struct ProviderConfig {
  std::string_view name;
  // Every key the provider reads; a `*_file` key is listed with its inline spelling too.
  std::vector<std::string_view> keys;
  // Reads and checks the keys; `route` holds the keys every route shares, already read. Null settings (or
  // errors reported through `keys`) fail the load.
  std::function<std::shared_ptr<const ProviderSettings>(RouteKeys& keys, const RouteConfig& route)> read;
};

using ProviderCatalog = std::vector<ProviderConfig>;

}  // namespace payhook::config
