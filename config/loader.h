// The loader behind loadConfigString(): walks the TOML document section by section into a Config, reporting
// every problem instead of stopping at the first. Internal to config/; split over config.cpp (sections,
// targets, cross checks) and routes.cpp (routes, provider keys, retry policies).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/secret_files.h"
#include "config/toml_reader.h"

namespace payhook::config {

class Loader {
 public:
  Loader(std::string file, const Environment& env, const ProviderCatalog& providers);
  LoadResult load(std::string_view text);

 private:
  // Sections (config.cpp).
  void readRoot(const toml::table& root);
  void readServer(TableReader& t);
  void readAdmin(TableReader& t);
  void readRedis(TableReader& t);
  void readLog(TableReader& t);
  void readDelivery(TableReader& t);
  void readTargets(const toml::node& node, int root_line);
  void readTarget(TableReader& t, TargetConfig& target);
  void checkLeaseTimeout();
  void checkRetention();

  // Routes (routes.cpp).
  void readRoutes(const toml::node& node);
  void readRoute(TableReader& t, RouteConfig& route);
  void readProviderKeys(TableReader& t, const ProviderConfig& provider, RouteConfig& route);
  void readRetry(TableReader& parent, RetryPolicy& policy);
  const ProviderConfig* findProvider(std::string_view name) const;
  std::string providerList() const;
  // Empty when `name` is a defined target, otherwise the complaint.
  std::string checkTargetName(std::string_view name) const;
  class RouteKeyReader;  // RouteKeys over a route's TableReader (route_keys.cpp)

  // Secrets: `<base>_file` or inline `<base>` (config.cpp).
  struct SecretText {
    Secret text;
    std::string origin;  // "/abs/path" for files, empty for inline values
  };
  // Reads whichever of the two keys is present; inline values are warned about when `is_secret`.
  std::optional<SecretText> readSecretKey(TableReader& t, std::string_view base, bool is_secret = true);
  // Non-empty trimmed lines; an empty result is reported. `key_prefix` (e.g. "whsec_") checks each line's
  // form.
  std::optional<std::vector<Secret>> readSecretLines(TableReader& t, std::string_view base,
                                                     std::string_view key_prefix = {}, size_t min_bytes = 0,
                                                     size_t max_bytes = 0);
  std::optional<Secret> readSingleSecret(TableReader& t, std::string_view base);
  void reportMissingSecret(TableReader& t, std::string_view base, std::string_view why);

  // Mistakes that work until they hurt (checks.cpp).
  void warnIfExposed(TableReader& t, std::string_view key, const SecretFile& file);
  // Reports a token shorter than the minimum under `base` or `base`_file; false when it did.
  bool checkTokenLength(TableReader& t, std::string_view base, const Secret& token);
  // idempotency_ttl must outlive the window in which the provider's signed callbacks are accepted.
  void checkReplayWindow(TableReader& t, const RouteConfig& route);
  // A target's `headers_file`, added to the inline `headers`.
  void readHeadersFile(TableReader& t, TargetConfig& target);

  Diagnostics diag_;
  Environment env_;
  const ProviderCatalog& providers_;
  Config config_;
  // Lines kept for checks made after a section was read.
  std::optional<int> lease_line_;
  std::optional<int> retention_line_;
  std::vector<int> target_timeout_lines_;
  std::map<std::string, size_t, std::less<>> target_index_;
  std::map<std::string, size_t, std::less<>> route_index_;
  std::map<std::string, size_t, std::less<>> path_index_;
};

}  // namespace payhook::config
