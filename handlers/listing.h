// What an operator finds and reads an event by (common/event.h, EventListing), from its data: the same
// function serves the handlers when they build an event and payhookctl reindex for events stored before
// listings were kept, so both index the same keys.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "common/event.h"
#include "handlers/payment.h"

namespace payhook::handlers {

// The listing of an event of `provider` whose data is `data`: the provider's identifying values (the order
// number first), its status, and amount, currency and outcome from data.payment when it is there. An
// unknown provider, or data without the fields, gives an empty listing.
EventListing listingOf(std::string_view provider, const nlohmann::json& data);

// listingOf() for a handler, whose data does not hold "payment" yet: the payment's values fill it.
EventListing listingOf(std::string_view provider, const nlohmann::json& data, const Payment& payment);

}  // namespace payhook::handlers
