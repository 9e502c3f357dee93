#include "handlers/standard_webhooks/settings.h"

#include <cstdint>

namespace payhook::handlers::standard_webhooks {

namespace {

// whpk_ lines, each checked; nothing when neither key is given or a line is wrong.
std::optional<std::string> readPublicKeys(config::RouteKeys& keys) {
  auto source = keys.keyText("public_key", /*is_secret=*/false);
  if (!source) return std::nullopt;
  const std::string key = source->origin.empty() ? "public_key" : "public_key_file";
  const std::string where = source->origin.empty() ? std::string("the value") : source->origin;
  std::string text(source->text.reveal());
  std::vector<int> line_numbers;
  const auto lines = splitKeyLines(text, &line_numbers);
  if (lines.empty()) {
    keys.error(key, where + " holds no key (it is empty, blank or only comments)");
    return std::nullopt;
  }
  bool ok = true;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!swh::decodePublicKey(lines[i].reveal())) {
      keys.error(key, "line " + std::to_string(line_numbers[i]) + " of " + where +
                          " is not whpk_<base64 of a 32-byte ed25519 public key>");
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return text;
}

std::shared_ptr<const config::ProviderSettings> read(config::RouteKeys& keys, const config::RouteConfig&) {
  auto settings = std::make_shared<Settings>();
  // Inbound secrets come from the sender, so any length it chose is accepted.
  if (auto secret = keys.secretLines("secret", "whsec_", 1, SIZE_MAX)) settings->secret = std::move(*secret);
  if (auto key = readPublicKeys(keys)) settings->public_key = std::move(*key);
  if (!keys.has("secret_file") && !keys.has("secret") && !keys.has("public_key_file") &&
      !keys.has("public_key")) {
    keys.missingSecret(
        "secret", "is required for provider \"standard-webhooks\" (or public_key_file for v1a signatures)");
  }
  return settings;
}

}  // namespace

config::ProviderConfig providerConfig() {
  return {"standard-webhooks", {"secret_file", "secret", "public_key_file", "public_key"}, read};
}

}  // namespace payhook::handlers::standard_webhooks
