#include "handlers/registry.h"

#include "handlers/allpay/allpay.h"
#include "handlers/cloudpayments/cloudpayments.h"
#include "handlers/integra/integra.h"
#include "handlers/payinpayout/payinpayout.h"
#include "handlers/rbs/rbs.h"
#include "handlers/robokassa/robokassa.h"
#include "handlers/standard_webhooks/standard_webhooks.h"
#include "handlers/tbank/tbank.h"
#include "handlers/yookassa/yookassa.h"
#include "handlers/yoomoney/yoomoney.h"

namespace payhook::handlers {

const std::vector<Provider>& providers() {
  static const std::vector<Provider> kProviders = {
      yoomoney::provider(),      rbs::provider(),       integra::provider(),
      payinpayout::provider(),   allpay::provider(),    standard_webhooks::provider(),
      cloudpayments::provider(), robokassa::provider(), tbank::provider(),
      yookassa::provider(),
  };
  return kProviders;
}

const config::ProviderCatalog& providerCatalog() {
  static const config::ProviderCatalog kCatalog = [] {
    config::ProviderCatalog catalog;
    for (const Provider& provider : providers()) catalog.push_back(provider.config);
    return catalog;
  }();
  return kCatalog;
}

namespace {

const Provider* find(const std::string& name) {
  for (const Provider& provider : providers()) {
    if (provider.config.name == name) return &provider;
  }
  return nullptr;
}

}  // namespace

Result<std::unique_ptr<Handler>> makeHandler(const config::RouteConfig& route) {
  const Provider* provider = find(route.provider);
  if (provider == nullptr) return Error{"provider: \"" + route.provider + "\" is not a known provider"};
  return provider->handler(route);
}

std::shared_ptr<const FollowUp> makeFollowUp(const config::RouteConfig& route) {
  const Provider* provider = find(route.provider);
  if (provider == nullptr || !provider->follow_up) return nullptr;
  return provider->follow_up(route);
}

std::shared_ptr<const Recheck> makeRecheck(const config::RouteConfig& route) {
  const Provider* provider = find(route.provider);
  if (provider == nullptr || !provider->recheck) return nullptr;
  return provider->recheck(route);
}

std::shared_ptr<const StatusSource> makeStatusSource(const config::RouteConfig& route) {
  const Provider* provider = find(route.provider);
  if (provider == nullptr || !provider->status_source) return nullptr;
  return provider->status_source(route);
}

std::vector<std::string> providerNames() {
  std::vector<std::string> names;
  for (const Provider& provider : providers()) names.emplace_back(provider.config.name);
  return names;
}

}  // namespace payhook::handlers
