#include "handlers/payment.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace payhook::handlers {
namespace {

struct Currency {
  std::string_view numeric;
  std::string_view alpha;
  int digits;
};

// The currencies a Russian or Central Asian shop meets, with ISO 4217's minor-unit digits. A code outside
// the table keeps its amount as sent, with no minor units.
constexpr std::array<Currency, 24> kCurrencies = {{
    {"643", "RUB", 2}, {"398", "KZT", 2}, {"840", "USD", 2}, {"978", "EUR", 2}, {"933", "BYN", 2},
    {"980", "UAH", 2}, {"860", "UZS", 2}, {"417", "KGS", 2}, {"051", "AMD", 2}, {"944", "AZN", 2},
    {"981", "GEL", 2}, {"972", "TJS", 2}, {"934", "TMT", 2}, {"498", "MDL", 2}, {"156", "CNY", 2},
    {"826", "GBP", 2}, {"756", "CHF", 2}, {"949", "TRY", 2}, {"784", "AED", 2}, {"356", "INR", 2},
    {"392", "JPY", 0}, {"410", "KRW", 0}, {"985", "PLN", 2}, {"203", "CZK", 2},
}};

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

const char* outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSucceeded:
      return "succeeded";
    case Outcome::kHeld:
      return "held";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kRefunded:
      return "refunded";
    case Outcome::kReversed:
      return "reversed";
    case Outcome::kPending:
      return "pending";
  }
  return "pending";
}

namespace money {

bool isUnsignedInteger(std::string_view s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), isDigit);
}

bool isDecimal(std::string_view s) {
  const size_t point = s.find_first_of(".,");
  if (point == std::string_view::npos) return isUnsignedInteger(s);
  const std::string_view fraction = s.substr(point + 1);
  return isUnsignedInteger(s.substr(0, point)) && isUnsignedInteger(fraction);
}

std::optional<std::string> currencyAlpha(std::string_view code) {
  if (code.size() == 3 && std::all_of(code.begin(), code.end(), isDigit)) {
    for (const auto& c : kCurrencies)
      if (c.numeric == code) return std::string(c.alpha);
    return std::nullopt;
  }
  // "43" is "043" (ISO's numeric codes are three digits, sometimes sent without their leading zeros).
  if (!code.empty() && code.size() < 3 && std::all_of(code.begin(), code.end(), isDigit))
    return currencyAlpha(std::string(3 - code.size(), '0') + std::string(code));
  if (code.size() != 3) return std::nullopt;
  std::string alpha;
  for (char c : code) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c < 'A' || c > 'Z') return std::nullopt;
    alpha.push_back(c);
  }
  return alpha;
}

std::optional<int> minorDigits(std::string_view alpha) {
  for (const auto& c : kCurrencies)
    if (c.alpha == alpha) return c.digits;
  return std::nullopt;
}

std::optional<int64_t> toMinor(std::string_view decimal, int digits) {
  const size_t point = decimal.find_first_of(".,");
  std::string_view whole = decimal.substr(0, point);
  std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : decimal.substr(point + 1);
  if (!isDecimal(decimal)) return std::nullopt;
  // Fraction digits beyond the currency's must be zeros, or the amount is not exact in minor units.
  if (static_cast<int>(fraction.size()) > digits) {
    if (!std::all_of(fraction.begin() + digits, fraction.end(), [](char c) { return c == '0'; }))
      return std::nullopt;
    fraction = fraction.substr(0, static_cast<size_t>(digits));
  }
  int64_t out = 0;
  auto push = [&](char c) {
    const int d = c - '0';
    if (out > (INT64_MAX - d) / 10) return false;
    out = out * 10 + d;
    return true;
  };
  for (char c : whole)
    if (!push(c)) return std::nullopt;
  for (int i = 0; i < digits; ++i)
    if (!push(static_cast<size_t>(i) < fraction.size() ? fraction[static_cast<size_t>(i)] : '0'))
      return std::nullopt;
  return out;
}

std::string fromMinor(int64_t minor, int digits) {
  std::string text = std::to_string(minor < 0 ? 0 : minor);
  if (digits <= 0) return text;
  const auto d = static_cast<size_t>(digits);
  if (text.size() <= d) text.insert(0, d + 1 - text.size(), '0');
  text.insert(text.size() - d, 1, '.');
  return text;
}

}  // namespace money

void Payment::setMajorAmount(std::string_view decimal) {
  amount.reset();
  amount_minor.reset();
  if (!money::isDecimal(decimal)) return;
  std::string text(decimal);
  std::replace(text.begin(), text.end(), ',', '.');
  if (currency)
    if (auto digits = money::minorDigits(*currency)) amount_minor = money::toMinor(text, *digits);
  amount = std::move(text);
}

void Payment::setMinorAmount(int64_t minor) {
  amount.reset();
  amount_minor = minor;
  if (currency)
    if (auto digits = money::minorDigits(*currency)) amount = money::fromMinor(minor, *digits);
}

namespace {

void appendString(std::string& out, std::string_view text) {
  // The providers' text may be any bytes; what JSON cannot carry becomes U+FFFD, as in the rest of data.
  out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void appendOptional(std::string& out, const std::optional<std::string>& text) {
  if (text)
    appendString(out, *text);
  else
    out += "null";
}

}  // namespace

void Payment::appendJson(std::string& out) const {
  out += R"({"outcome":")";
  out += outcomeName(outcome);
  out += R"(","amount":)";
  appendOptional(out, amount);
  out += R"(,"amount_minor":)";
  out += amount_minor ? std::to_string(*amount_minor) : std::string("null");
  out += R"(,"currency":)";
  appendOptional(out, currency);
  out += R"(,"order_id":)";
  appendOptional(out, order_id);
  out += R"(,"provider_payment_id":)";
  appendOptional(out, provider_payment_id);
  out += R"(,"test":)";
  out += test ? "true" : "false";
  auto appendList = [&out](const std::vector<std::string>& list) {
    out += '[';
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0) out += ',';
      appendString(out, list[i]);
    }
    out += ']';
  };
  out += R"(,"warnings":)";
  appendList(warnings);
  out += R"(,"unsigned":)";
  appendList(unsigned_keys);
  out += '}';
}

nlohmann::json Payment::toJson() const {
  std::string text;
  appendJson(text);
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

void Payment::addTo(std::string& object) const {
  if (object.size() < 2 || object.back() != '}') return;
  object.pop_back();
  if (object.size() > 1) object += ',';
  object += R"("payment":)";
  appendJson(object);
  object += '}';
}

}  // namespace payhook::handlers
