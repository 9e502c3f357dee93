// Loader::RouteKeyReader: RouteKeys over one route's table. Internal to config/.
#pragma once

#include "config/loader.h"
#include "config/provider.h"

namespace payhook::config {

class Loader::RouteKeyReader final : public RouteKeys {
 public:
  RouteKeyReader(Loader& loader, TableReader& t) : loader_(loader), t_(t) {}

  bool has(std::string_view key) const override;
  void touch(std::string_view key) override;
  std::optional<std::string> string(std::string_view key, bool allow_empty) override;
  std::optional<std::string> identifier(std::string_view key) override;
  std::optional<std::string> choice(std::string_view key,
                                    std::initializer_list<std::string_view> allowed) override;
  std::optional<std::vector<std::string>> stringArray(
      std::string_view key, const std::function<std::string(std::string_view)>& check) override;
  std::optional<uint64_t> integer(std::string_view key, uint64_t min) override;
  std::optional<uint64_t> duration(std::string_view key, uint64_t min_ms) override;
  std::optional<uint64_t> size(std::string_view key, uint64_t min_bytes) override;
  std::optional<std::vector<std::string>> command(std::string_view key, std::string_view when_empty) override;
  std::optional<KeyText> keyText(std::string_view base, bool is_secret) override;
  std::optional<Secret> secret(std::string_view base) override;
  std::optional<std::vector<Secret>> secretLines(std::string_view base, std::string_view key_prefix,
                                                 size_t min_bytes, size_t max_bytes) override;
  bool tokenLongEnough(std::string_view base, const Secret& token) override;
  void missingSecret(std::string_view base, std::string_view why) override;
  void error(std::string_view key, std::string_view message) override;
  void warning(std::string_view key, std::string_view message) override;

 private:
  Loader& loader_;
  TableReader& t_;
};

}  // namespace payhook::config
