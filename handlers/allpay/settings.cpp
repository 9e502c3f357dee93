#include "handlers/allpay/settings.h"

#include "handlers/key_files.h"

namespace payhook::handlers::allpay {

namespace {

std::shared_ptr<const config::ProviderSettings> read(config::RouteKeys& keys, const config::RouteConfig&) {
  auto settings = std::make_shared<Settings>();
  if (auto key = readPemPublicKey(keys)) {
    settings->public_key = std::move(*key);
  } else if (!keys.has("public_key_file") && !keys.has("public_key")) {
    keys.error("public_key_file", "is required for provider \"allpay\" (allpay's PEM public key)");
  }
  if (auto v = keys.choice("answer", {"v1", "v2"})) settings->answer = *v;
  if (auto v = keys.choice("status_form", {"name", "digit"})) settings->status_form = *v;
  return settings;
}

}  // namespace

config::ProviderConfig providerConfig() {
  return {"allpay", {"public_key_file", "public_key", "answer", "status_form"}, read};
}

}  // namespace payhook::handlers::allpay
