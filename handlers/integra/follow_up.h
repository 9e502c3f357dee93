// Integra's follow-up: the shop's decision, carried out as confirmPayment or declinePayment (README
// "Integra's decision"). The delivery engine does the I/O; this says what to send and how to read answers.
#pragma once

#include <memory>

#include "config/config.h"
#include "handlers/provider.h"

namespace payhook::handlers::integra {

// Null when the route has no decision target or no api_base (nothing to carry out).
std::shared_ptr<const FollowUp> makeFollowUp(const config::RouteConfig& route);

}  // namespace payhook::handlers::integra
