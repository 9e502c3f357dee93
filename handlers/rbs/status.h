// The RBS gateway's getOrderStatusExtended.do as a StatusSource: the order-status API payhook asks about an
// expected order whose callback did not come (README "Expected payments").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/secret.h"
#include "config/config.h"
#include "handlers/status_source.h"

namespace payhook::handlers::rbs {

// orderStatus of getOrderStatusExtended.do: 0 registered, 1 held (two-stage), 2 deposited (paid), 3 reversed,
// 4 refunded, 5 3-DS authorisation under way, 6 declined. The payment outcome a state means ("succeeded",
// "held", "reversed", "refunded", "failed"), or empty for 0, 5 and unknown values: nothing final yet.
std::string outcomeOfOrderStatus(int order_status);
// "orderId" for the gateway's own order id (a UUID, the callbacks' mdOrder), "orderNumber" otherwise (the
// shop's number): the gateway takes either, and orderId wins when both are sent.
std::string_view orderParameter(std::string_view order);

class RbsStatusSource final : public StatusSource {
 public:
  struct Options {
    std::string api_base;  // e.g. "https://3dsec.sberbank.ru/payment/rest", without the method
    std::string user_name;
    Secret password;  // with user_name
    Secret token;     // instead of user_name and password
    std::string currency = "RUB";
    PollSettings poll;
  };
  explicit RbsStatusSource(Options options) : options_(std::move(options)) {}

  std::string eventType() const override { return "rbs.order_status"; }
  const PollSettings& settings() const override { return options_.poll; }
  StatusRequest request(std::string_view order) const override;
  StatusAnswer answer(std::string_view route, std::string_view order, int http_status,
                      std::string_view body) const override;

 private:
  Options options_;
};

// The registry's factory: null when the route has no api_base (no expected orders on it).
std::shared_ptr<const StatusSource> makeRbsStatusSource(const config::RouteConfig& route);

}  // namespace payhook::handlers::rbs
