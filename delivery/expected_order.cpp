#include "delivery/expected_order.h"

#include "config/config.h"
#include "handlers/registry.h"
#include "queue/expectations.h"

namespace payhook::delivery {
namespace {

bool isDecimal(const std::string& s) {
  if (s.empty() || s.size() > 30) return false;
  size_t dots = 0, digits = 0;
  for (char c : s) {
    if (c == '.')
      ++dots;
    else if (c >= '0' && c <= '9')
      ++digits;
    else
      return false;
  }
  return dots <= 1 && digits > 0 && s.front() != '.' && s.back() != '.';
}

}  // namespace

Result<ExpectedOrder> checkExpectedOrder(const config::Config& config, const std::string& route,
                                         const std::string& order, const std::string& amount,
                                         const std::optional<std::string>& deadline) {
  if (route.empty()) return Error{"route: is required"};
  const config::RouteConfig* rc = nullptr;
  for (const auto& r : config.routes)
    if (r.name == route) rc = &r;
  if (rc == nullptr) return Error{"route: no route is named \"" + route.substr(0, 100) + "\""};
  auto source = handlers::makeStatusSource(*rc);
  if (!source)
    return Error{"route: \"" + route + "\" has no status API to ask (provider \"" + rc->provider +
                 "\"; for rbs, set api_base and its credentials)"};
  if (order.empty()) return Error{"order: is required (the provider's order id or the shop's order number)"};
  if (!queue::isExpectationName(order)) return Error{"order: 1 to 200 characters without control characters"};
  if (std::string why = source->checkOrder(order); !why.empty()) return Error{"order: " + why};
  if (!amount.empty() && !isDecimal(amount))
    return Error{"amount: must be a non-negative decimal such as \"100.50\""};
  ExpectedOrder out{route, order, amount, kDefaultExpectDeadlineMs};
  if (deadline) {
    if (!deadline->empty() && deadline->front() == '-') return Error{"deadline: must not be negative"};
    auto ms = config::parseDuration(*deadline);
    if (!ms) return Error{"deadline: must be a duration such as \"90s\" or \"2h\""};
    out.deadline_ms = *ms;
  }
  return out;
}

}  // namespace payhook::delivery
