// The normalised payment: what one callback says about the money, in one vocabulary for every provider, so
// an app can act on `data.payment` without knowing the provider's statuses, operations or currency codes.
// The provider's own fields stay beside it in `data`, unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace payhook::handlers {

// The state of the money that this callback reports. Every provider maps onto these six (README, "The
// normalised payment"); when a callback does not settle anything (a check before payment, a notice awaiting
// the shop's decision, a refund that failed and so changed nothing) it is kPending.
enum class Outcome {
  kSucceeded,  // the payer's money is the shop's
  kHeld,       // authorised and held on the payer's side, not yet captured (two-stage payments)
  kFailed,     // no money was taken
  kRefunded,   // money captured earlier went back to the payer (whole or part: see the amount)
  kReversed,   // a hold was released without capture
  kPending,    // nothing final: keep what was known before
};

const char* outcomeName(Outcome outcome);

struct Payment {
  Outcome outcome = Outcome::kPending;
  std::optional<std::string> amount;    // major units as a decimal string, e.g. "87.10"
  std::optional<int64_t> amount_minor;  // the same in minor units (kopecks, tiyn), when exact
  std::optional<std::string> currency;  // ISO 4217 letters, e.g. "RUB"
  std::optional<std::string> order_id;  // the shop's own order number, when the provider carries it
  std::optional<std::string> provider_payment_id;
  bool test = false;                  // a test-mode or demo payment: no real money moved
  std::vector<std::string> warnings;  // what the app must know before it trusts the outcome
  // The keys above whose value came from a field the provider's signature does not cover (YooMoney's
  // orderNumber as order_id): true as far as the request goes, but anyone who saw it could have changed it.
  std::vector<std::string> unsigned_keys;

  // Sets `amount` from a decimal in major units as the provider wrote it ("87.10", "100", "100,50": a
  // decimal comma is written as a point) and `amount_minor` when the currency's minor digits are known and
  // the amount is exact in them. Text that is not a decimal leaves both unset.
  void setMajorAmount(std::string_view decimal);
  // Sets `amount_minor`, and `amount` when the currency's minor digits are known.
  void setMinorAmount(int64_t minor);

  // {"outcome","amount","amount_minor","currency","order_id","provider_payment_id","test","warnings",
  // "unsigned"} in that order, compact; an unknown value is null, so every event has the same keys.
  void appendJson(std::string& out) const;
  nlohmann::json toJson() const;
  // Adds "payment" to `object`, the compact JSON text of the event's data, as its last member: written
  // straight into the text, since building it as a JSON value would cost the hot path more than the rest
  // of the data.
  void addTo(std::string& object) const;
};

namespace money {

// An ISO 4217 code as letters: "643" → "RUB", "rub" → "RUB"; a numeric code not in payhook's table, or text
// that is neither, → nullopt.
std::optional<std::string> currencyAlpha(std::string_view code);
// The number of minor-unit digits of a currency given by letters (2 for RUB and KZT, 0 for JPY); nullopt
// when the currency is not in the table.
std::optional<int> minorDigits(std::string_view alpha);

// "87.10" at 2 digits → 8710; "0.5" → 50; "100" → 10000. Nullopt when the text is not a plain decimal
// (digits, one optional point or comma, no sign), has more fraction digits than `digits` that are not
// zeros, or does not fit.
std::optional<int64_t> toMinor(std::string_view decimal, int digits);
// 8710 at 2 digits → "87.10"; 5 at 0 → "5". `minor` must not be negative.
std::string fromMinor(int64_t minor, int digits);
// Digits only, at most 18 of them (an int64 holds them).
bool isUnsignedInteger(std::string_view s);
// A plain decimal: isUnsignedInteger(), optionally followed by one '.' or ',' and 1 to 18 digits.
bool isDecimal(std::string_view s);

}  // namespace money
}  // namespace payhook::handlers
