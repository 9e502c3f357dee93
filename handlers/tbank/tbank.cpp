#include "handlers/tbank/tbank.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/text.h"
#include "common/untrusted_text.h"
#include "handlers/digest.h"
#include "handlers/listing.h"
#include "handlers/payment.h"

namespace payhook::handlers {
namespace {

using Json = nlohmann::json;
using tbank::Field;

constexpr size_t kMaxName = 64;  // a Status or NotificationType: it becomes part of the event type

Reject malformed(std::string reason) {
  return Reject{http::Response::text(400, "bad request\n"), std::move(reason), "malformed"};
}

Reject forged(std::string reason) {
  return Reject{http::Response::text(403, "bad token\n"), std::move(reason), "forged"};
}

bool isUpper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool isLowerOrDigit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Letters, digits and '_': a status goes into the event type as it is (lower-cased).
bool isName(std::string_view s) {
  return !s.empty() && s.size() <= kMaxName &&
         std::all_of(s.begin(), s.end(), [](char c) { return isUpper(c) || isLowerOrDigit(c) || c == '_'; });
}

// An id as text: a non-empty string or a number.
const std::string* idText(const tbank::Notification& n, std::string_view key) {
  const Field* f = n.find(key);
  if (f == nullptr || (f->kind != Field::Kind::kString && f->kind != Field::Kind::kNumber) || f->text.empty())
    return nullptr;
  return &f->text;
}

// `text` with '%' and ':' percent-encoded, for a segment of the idempotency key.
std::string keySegment(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '%')
      out += "%25";
    else if (c == ':')
      out += "%3A";
    else
      out.push_back(c);
  }
  return out;
}

// data.payment (README, "The normalised payment"). T-Bank's acquiring works in roubles and sends kopecks.
Payment paymentOf(const tbank::Notification& n, const std::string& status, bool is_payment) {
  Payment p;
  p.currency = "RUB";
  if (is_payment) {
    if (status == "AUTHORIZED")
      p.outcome = Outcome::kHeld;
    else if (status == "CONFIRMED")
      p.outcome = Outcome::kSucceeded;
    else if (status == "REVERSED" || status == "PARTIAL_REVERSED")
      p.outcome = Outcome::kReversed;
    else if (status == "REFUNDED" || status == "PARTIAL_REFUNDED")
      p.outcome = Outcome::kRefunded;
    else if (status == "REJECTED" || status == "DEADLINE_EXPIRED")
      p.outcome = Outcome::kFailed;
    // An operation T-Bank reports as unsuccessful changed nothing, whatever its status says.
    const Field* success = n.find("Success");
    if (success && success->kind == Field::Kind::kBool && success->text == "false" &&
        p.outcome != Outcome::kFailed && p.outcome != Outcome::kPending) {
      p.outcome = Outcome::kPending;
      p.warnings.emplace_back("operation_failed");
    }
  }
  if (const Field* amount = n.find("Amount"); amount && money::isUnsignedInteger(amount->text)) {
    const auto minor = money::toMinor(amount->text, 0);
    if (minor) p.setMinorAmount(*minor);
  }
  if (const std::string* order = idText(n, "OrderId")) p.order_id = *order;
  if (const std::string* id = idText(n, "PaymentId")) p.provider_payment_id = *id;
  return p;
}

}  // namespace

namespace tbank {

std::string snakeCase(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 4);
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (isUpper(c)) {
      // A word starts at an upper-case letter after a lower-case one or a digit, or at the last capital of
      // an acronym that a lower-case letter follows ("HTTPCode" → "http_code").
      const bool after_word = i > 0 && isLowerOrDigit(name[i - 1]);
      const bool acronym_end =
          i > 0 && isUpper(name[i - 1]) && i + 1 < name.size() && name[i + 1] >= 'a' && name[i + 1] <= 'z';
      if (after_word || acronym_end) out.push_back('_');
      out.push_back(lowerAscii(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace tbank

TBankHandler::TBankHandler(std::string route, std::string terminal_key, Secret password)
    : route_(std::move(route)), terminal_key_(std::move(terminal_key)), password_(std::move(password)) {}

std::vector<Endpoint> TBankHandler::endpoints() const {
  return {{"/notify", {"POST"}}};
}

Verdict TBankHandler::handle(size_t /*endpoint*/, const http::Request& request, int64_t /*now_ms*/) const {
  auto n = tbank::parseNotification(request.body);
  if (!n) return malformed(n.error().message);
  // The password takes the key "Password" in the Token's sorted fields: a body field of that name would
  // stand beside it.
  if (n->find("Password")) return malformed("a field is named Password");
  const Field* token = n->find("Token");
  if (token == nullptr || token->kind != Field::Kind::kString || token->text.empty())
    return forged("no Token");
  // A null covered by the Token (written "null") is a signed value; a skipped one is not, and anyone could
  // add one, so it goes under "unsigned".
  bool nulls_signed = false;
  if (!hexEqualsIgnoreCase(tbank::token(*n, password_), token->text)) {
    nulls_signed = tbank::hasNull(*n) &&
                   hexEqualsIgnoreCase(tbank::token(*n, password_, tbank::Nulls::kAsText), token->text);
    if (!nulls_signed) return forged("Token mismatch");
  }
  // One password may serve several terminals; the Token then proves the sender, not the terminal.
  const Field* terminal = n->find("TerminalKey");
  if (terminal == nullptr || terminal->kind != Field::Kind::kString || terminal->text != terminal_key_)
    return forged("TerminalKey is not the route's terminal_key");

  const Field* status = n->find("Status");
  if (status == nullptr || status->kind != Field::Kind::kString || !isName(status->text))
    return malformed("Status missing or not a name");
  const std::string* payment_id = idText(*n, "PaymentId");
  const Field* notification_type = n->find("NotificationType");
  const bool is_payment = payment_id != nullptr;
  if (!is_payment && (notification_type == nullptr || notification_type->kind != Field::Kind::kString ||
                      !isName(notification_type->text)))
    return malformed("neither PaymentId nor NotificationType");

  Event ev;
  if (is_payment) {
    ev.type = "tbank." + lowerAscii(status->text);
    ev.idempotency_key = "payment:" + keySegment(*payment_id) + ":" + status->text;
    if (status->text == "PARTIAL_REFUNDED")
      if (const Field* amount = n->find("Amount"); amount && amount->kind != Field::Kind::kNested)
        ev.idempotency_key += ":" + keySegment(amount->text);
  } else {
    ev.type = "tbank." + lowerAscii(notification_type->text) + "." + lowerAscii(status->text);
    ev.idempotency_key = "notice:" + lowerAscii(token->text);
  }

  const Json dom = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);  // for nested values
  Json data = Json::object();
  Json unsigned_fields = Json::object();
  for (const Field& f : n->fields) {
    if (f.key == "Token") continue;
    const std::string name = tbank::snakeCase(f.key);
    if (name == "payment" || name == "unsigned")
      return malformed("a field name is reserved: " + quoteUntrusted(f.key));
    const bool is_signed = f.kind != Field::Kind::kNested && (f.kind != Field::Kind::kNull || nulls_signed);
    Json& into = is_signed ? data : unsigned_fields;
    if (into.contains(name)) return malformed("two fields share the name " + quoteUntrusted(name));
    switch (f.kind) {
      case Field::Kind::kBool:
        into[name] = f.text == "true";
        break;
      case Field::Kind::kNull:
        into[name] = nullptr;
        break;
      case Field::Kind::kNested:
        into[name] = dom.is_object() && dom.contains(f.key) ? dom.at(f.key) : Json();
        break;
      default:
        into[name] = f.text;
    }
  }
  data["unsigned"] = std::move(unsigned_fields);

  const Payment payment = paymentOf(*n, status->text, is_payment);
  ev.route = route_;
  ev.provider = "tbank";
  ev.verified = true;
  ev.listing = listingOf(ev.provider, data, payment);
  ev.data_json = data.dump(-1, ' ', false, Json::error_handler_t::replace);
  payment.addTo(ev.data_json);
  return Accept{std::move(ev), http::Response::text(200, "OK")};
}

// The Token is SHA-256 over public values and the password: kept, it would let anyone who reads events test
// guesses of the password offline.
std::string TBankHandler::storedBody(std::string&& body) const {
  return tbank::withBlankedToken(std::move(body));
}

Result<std::unique_ptr<Handler>> makeTBankHandler(const config::RouteConfig& route) {
  const auto* settings = route.settingsAs<tbank::Settings>();
  if (settings == nullptr) return Error{"provider: the route's settings are not tbank's"};
  if (settings->terminal_key.empty()) return Error{"terminal_key: must not be empty"};
  if (settings->password.empty()) return Error{"password_file: the terminal password must not be empty"};
  return std::unique_ptr<Handler>(
      std::make_unique<TBankHandler>(route.name, settings->terminal_key, settings->password));
}

Provider tbank::provider() {
  return {tbank::providerConfig(), makeTBankHandler};
}

}  // namespace payhook::handlers
