#include "handlers/registry.h"

#include <functional>
#include <map>

#include "handlers/allpay.h"
#include "handlers/integra.h"
#include "handlers/payinpayout.h"
#include "handlers/rbs.h"
#include "handlers/standard_webhooks.h"
#include "handlers/yoomoney.h"

namespace payhook::handlers {
namespace {

Result<std::unique_ptr<Handler>> makeStandardWebhooks(const config::RouteConfig& route) {
  swh::VerifyKeys keys;
  for (const auto& line : route.secret) {
    auto key = swh::decodeSecret(line.reveal());
    if (!key) return Error{"secret_file: " + key.error().message};
    keys.hmac.push_back(std::move(key.value()));
  }
  for (const auto& line : splitKeyLines(route.public_key)) {
    auto key = swh::decodePublicKey(line.reveal());
    if (!key) return Error{"public_key_file: " + key.error().message};
    keys.ed25519.push_back(std::move(key.value()));
  }
  if (keys.hmac.empty() && keys.ed25519.empty())
    return Error{"secret_file: a standard-webhooks route needs a whsec_ secret or a whpk_ public key"};
  return std::unique_ptr<Handler>(std::make_unique<StandardWebhooksHandler>(route.name, std::move(keys)));
}

using Factory = std::function<Result<std::unique_ptr<Handler>>(const config::RouteConfig&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> kFactories = {
      {"rbs", makeRbsHandler},           {"standard-webhooks", makeStandardWebhooks},
      {"integra", makeIntegraHandler},   {"payinpayout", makePayinPayoutHandler},
      {"yoomoney", makeYooMoneyHandler}, {"allpay", makeAllpayHandler},
  };
  return kFactories;
}

}  // namespace

Result<std::unique_ptr<Handler>> makeHandler(const config::RouteConfig& route) {
  auto it = factories().find(route.provider);
  if (it == factories().end()) return Error{"provider: \"" + route.provider + "\" is not implemented yet"};
  return it->second(route);
}

std::vector<std::string> providerNames() {
  std::vector<std::string> names;
  for (const auto& [name, _] : factories()) names.push_back(name);
  return names;
}

}  // namespace payhook::handlers
