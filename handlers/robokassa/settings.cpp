#include "handlers/robokassa/settings.h"

#include <algorithm>

namespace payhook::handlers::robokassa {

namespace {

std::shared_ptr<const config::ProviderSettings> read(config::RouteKeys& keys, const config::RouteConfig&) {
  auto settings = std::make_shared<Settings>();
  if (auto password = keys.secret("password2")) {
    settings->password2 = std::move(*password);
  } else if (!keys.has("password2_file") && !keys.has("password2")) {
    keys.missingSecret("password2", "is required for provider \"robokassa\" (the shop's Password #2)");
  }
  // The callback does not say which algorithm signed it, so a default would only turn a forgotten setting
  // into refused payments.
  if (auto name = keys.choice("hash", {"md5", "ripemd160", "sha1", "sha256", "sha384", "sha512"})) {
    settings->hash = *hashAlgorithmNamed(*name);
    if (!hashAvailable(settings->hash))
      keys.error("hash", "\"" + *name +
                             "\" is not available in this OpenSSL (its default provider lacks it): choose "
                             "another algorithm in Robokassa's technical settings");
  } else if (!keys.has("hash")) {
    keys.error("hash",
               "is required for provider \"robokassa\": the algorithm chosen in Robokassa's technical "
               "settings (\"md5\", \"ripemd160\", \"sha1\", \"sha256\", \"sha384\" or \"sha512\")");
  }
  if (auto currency = keys.string("currency", /*allow_empty=*/true)) {
    std::string letters = *currency;
    for (char& c : letters)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (letters.size() == 3 &&
        std::all_of(letters.begin(), letters.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
      settings->currency = std::move(letters);
    else
      keys.error("currency", "\"" + *currency + "\" is not an ISO 4217 letter code such as \"RUB\"");
  }
  return settings;
}

}  // namespace

config::ProviderConfig providerConfig() {
  return {"robokassa", {"password2_file", "password2", "hash", "currency"}, read};
}

}  // namespace payhook::handlers::robokassa
