// YooKassa's GET /v3/payments/{id} as a StatusSource: the API payhook asks about an expected payment whose
// notification did not come (README "Expected payments"), with the route's shop_id and secret key, the
// credentials of the re-check.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/event.h"
#include "config/config.h"
#include "handlers/status_source.h"

namespace payhook::handlers::yookassa {

// The business state a payment's status means, in the names every provider's expected orders share:
// "succeeded", "held" (waiting_for_capture) and "failed" (canceled); empty for pending and any status
// YooKassa may add: nothing final yet.
std::string outcomeOfPaymentStatus(std::string_view status);

// The expected payment a payment object of `status` speaks of: keyed by its id, final unless held. No
// state for pending, so such a notification neither closes nor marks anything.
OrderRef orderRefOfPayment(std::string_view id, std::string_view status, bool reconciliation);

class YooKassaStatusSource final : public StatusSource {
 public:
  struct Options {
    std::string api_base;       // without a trailing '/'
    std::string authorization;  // "Basic ...": secret, only ever a request header
    PollSettings poll;
  };
  explicit YooKassaStatusSource(Options options) : options_(std::move(options)) {}

  std::string eventType() const override { return "yookassa.payment_status"; }
  const PollSettings& settings() const override { return options_.poll; }
  std::string checkOrder(std::string_view order) const override;
  StatusRequest request(std::string_view order) const override;
  StatusAnswer answer(std::string_view route, std::string_view order, int http_status,
                      std::string_view body) const override;

 private:
  Options options_;
};

// The registry's factory: null when the route lacks the shop's credentials (its config was refused then).
std::shared_ptr<const StatusSource> makeStatusSource(const config::RouteConfig& route);

}  // namespace payhook::handlers::yookassa
