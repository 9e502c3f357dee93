#include "handlers/rbs/rbs.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <span>

#include "common/untrusted_text.h"
#include "handlers/digest.h"
#include "handlers/listing.h"
#include "handlers/openssl_ptr.h"
#include "handlers/payment.h"
#include "handlers/rbs/status.h"

namespace payhook::handlers {
namespace rbs {
namespace {

using openssl::BioPtr;
using openssl::MdCtxPtr;
using openssl::X509Ptr;
template <class T>
using OpensslPtr = openssl::Ptr<T>;

// OpenSSL reports failures on a per-thread error queue; what parsing or verifying leaves there must not
// surface later as someone else's error.
struct ClearErrorsOnExit {
  ~ClearErrorsOnExit() { ERR_clear_error(); }
};

// Below this an RSA key is breakable in practice; the banks' keys are 2048 bits.
constexpr int kMinRsaBits = 1024;

}  // namespace

void RsaPublicKeys::Free::operator()(evp_pkey_st* key) const {
  EVP_PKEY_free(key);
}

Result<RsaPublicKeys> RsaPublicKeys::parse(std::string_view pem) {
  ClearErrorsOnExit clear;
  ERR_clear_error();
  if (pem.size() > static_cast<size_t>(INT32_MAX)) return Error{"the key file is too large"};
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Error{"out of memory reading the key"};
  RsaPublicKeys out;
  // PEM_read_bio() and the d2i_* decoders instead of PEM_read_bio_PUBKEY/_X509: one file may hold several
  // blocks of either kind (a key change), and a private key pasted by mistake is named as such.
  for (int block = 1;; ++block) {
    char* name_raw = nullptr;
    char* header_raw = nullptr;
    unsigned char* data_raw = nullptr;
    long len = 0;
    const int read = PEM_read_bio(bio.get(), &name_raw, &header_raw, &data_raw, &len);
    OpensslPtr<char> name(name_raw);
    OpensslPtr<char> header(header_raw);
    OpensslPtr<unsigned char> data(data_raw);
    if (read != 1) {
      const unsigned long err = ERR_peek_last_error();
      const bool at_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
      if (!at_end)
        return Error{"PEM block " + std::to_string(block) + " is malformed (bad base64 or no END line)"};
      break;
    }
    const std::string label(name.get());
    const std::string where = "PEM block " + std::to_string(block) + " (\"" + label + "\")";
    if (label.find("PRIVATE KEY") != std::string::npos)
      return Error{where + " is a private key: give the bank's public key or certificate"};
    const unsigned char* p = data.get();
    std::unique_ptr<evp_pkey_st, Free> key;
    if (label == "PUBLIC KEY") {
      key.reset(d2i_PUBKEY(nullptr, &p, len));
    } else if (label == "RSA PUBLIC KEY") {
      key.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, len));
    } else if (label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE") {
      X509Ptr cert(label == "TRUSTED CERTIFICATE" ? d2i_X509_AUX(nullptr, &p, len)
                                                  : d2i_X509(nullptr, &p, len));
      if (cert) key.reset(X509_get_pubkey(cert.get()));
    } else {
      return Error{where + " is neither a public key nor a certificate"};
    }
    if (!key || p != data.get() + len) return Error{where + " does not decode"};
    if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return Error{where + " is not an RSA key"};
    if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits)
      return Error{where + " is an RSA key of " + std::to_string(EVP_PKEY_get_bits(key.get())) +
                   " bits; at least " + std::to_string(kMinRsaBits) + " are required"};
    out.keys_.push_back(std::move(key));
  }
  if (out.keys_.empty()) return Error{"holds no PEM public key or certificate"};
  return out;
}

bool RsaPublicKeys::verify(std::string_view message, std::string_view signature, RsaHash hash) const {
  ClearErrorsOnExit clear;
  const EVP_MD* md = hash == RsaHash::kSha512 ? EVP_sha512() : EVP_sha256();
  for (const auto& key : keys_) {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.get()) != 1) continue;
    // PKCS#1 v1.5 is OpenSSL's default for RSA; said explicitly so a changed default cannot switch to PSS.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) continue;
    if (EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                         signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                         message.size()) == 1)
      return true;
  }
  return false;
}

std::string signedString(const Form& form) {
  return signedString(form.pairs());
}

std::string signedString(const Pairs& all) {
  std::vector<const std::pair<std::string, std::string>*> pairs;
  pairs.reserve(all.size());
  for (const auto& p : all)
    if (p.first != "checksum" && p.first != "sign_alias") pairs.push_back(&p);
  // std::string's operator< compares bytes as unsigned char (char_traits<char>::lt): byte order.
  std::sort(pairs.begin(), pairs.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  std::string out;
  for (const auto* p : pairs) {
    out += p->first;
    out += ';';
    out += p->second;
    out += ';';
  }
  return out;
}

std::string semicolonProblem(const Pairs& pairs) {
  const std::span<const std::string_view> documented(rbs::kBankParams, rbs::kSignedParamCount);
  auto isDocumented = [&](std::string_view name) {
    return std::find(documented.begin(), documented.end(), name) != documented.end();
  };
  auto isSigned = [](std::string_view name) { return name != "checksum" && name != "sign_alias"; };
  bool any = false;
  for (const auto& [name, value] : pairs) {
    if (!isSigned(name)) continue;
    if (name.find(';') != std::string::npos) return "a parameter name holds ';'";
    if (value.find(';') == std::string::npos) continue;
    if (isDocumented(name)) return name + " holds ';'";
    any = true;
  }
  // Without a ';' in any value the signed string cuts one way only.
  if (!any) return {};
  static const std::vector<std::string> cuts = [&] {
    std::vector<std::string> out;
    for (std::string_view d : documented) out.push_back(";" + std::string(d) + ";");
    return out;
  }();
  std::string framed;
  for (const auto& [name, value] : pairs) {
    if (!isSigned(name)) continue;
    // The value as it stands in the signed string, between the ';' that end its name and itself.
    framed.assign(1, ';');
    framed += value;
    framed += ';';
    for (const std::string& cut : cuts)
      if (framed.find(cut) != std::string::npos) return "a value would cut the signed string at " + cut;
  }
  return {};
}

std::string snakeCase(std::string_view name) {
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::string out;
  out.reserve(name.size() + 4);
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!upper(c)) {
      out.push_back(c);
      continue;
    }
    // A word starts at an upper-case letter after a lower-case one or a digit ("mdOrder"), or at the last
    // capital of an acronym followed by a lower-case letter ("PANCode" → "pan_code").
    const bool after_word = i > 0 && (lower(name[i - 1]) || digit(name[i - 1]));
    const bool acronym_end = i > 0 && upper(name[i - 1]) && i + 1 < name.size() && lower(name[i + 1]);
    if (after_word || acronym_end) out.push_back('_');
    out.push_back(static_cast<char>(c - 'A' + 'a'));
  }
  return out;
}

}  // namespace rbs

namespace {

// Untrusted text quoted in a log reason stays short and printable.
std::string clip(std::string_view s) {
  return quoteUntrusted(s);
}

bool allOf(std::string_view s, bool (*ok)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), ok);
}

bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isAlnum(char c) {
  return isAlpha(c) || (c >= '0' && c <= '9');
}

// The operation names the event type, so it stays a plain word; the bank's are camelCase words.
constexpr size_t kMaxOperation = 64;

Reject malformed(std::string reply, std::string reason) {
  return Reject{http::Response::text(400, std::move(reply)), std::move(reason), "malformed"};
}

Reject forged(std::string reason) {
  return Reject{http::Response::text(403, "invalid checksum\n"), std::move(reason), "forged"};
}

// The media type of a content-type value, lower-cased, without parameters or surrounding blanks.
std::string mediaType(std::string_view value) {
  value = value.substr(0, value.find(';'));
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  std::string out(value);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
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

// The value of `name` among `pairs`, null when absent.
const std::string* valueOf(const rbs::Pairs& pairs, std::string_view name) {
  for (const auto& [k, v] : pairs)
    if (k == name) return &v;
  return nullptr;
}

// data.payment (README, "The normalised payment"), from the bank's pairs only.
Payment paymentOf(const rbs::Pairs& bank, const std::string& md_order, const std::string& operation,
                  const std::string& status, const std::string& route_currency) {
  Payment p;
  // Any status but "1" (the operation succeeded) or "0" (it failed) settles nothing.
  const bool done = status == "1";
  if (done || status == "0") {
    if (operation == "approved") {
      p.outcome = done ? Outcome::kHeld : Outcome::kFailed;
    } else if (operation == "deposited") {
      p.outcome = done ? Outcome::kSucceeded : Outcome::kFailed;
    } else if (operation == "reversed" || operation == "refunded") {
      // A failed reversal or refund changed nothing: the money is where it was.
      p.outcome = !done                     ? Outcome::kPending
                  : operation == "reversed" ? Outcome::kReversed
                                            : Outcome::kRefunded;
      if (!done) p.warnings.emplace_back("operation_failed");
    } else if (operation == "declinedByTimeout" || operation == "declinedCardPresent") {
      p.outcome = done ? Outcome::kFailed : Outcome::kPending;
    }
  }
  // The currency first: it decides whether the minor units can be written in major ones.
  if (const std::string* currency = valueOf(bank, "currency"))
    p.currency = money::currencyAlpha(*currency);  // unreadable: null, never the route's
  else
    p.currency = route_currency;
  if (const std::string* amount = valueOf(bank, "amount"); amount && money::isUnsignedInteger(*amount)) {
    int64_t minor = 0;
    std::from_chars(amount->data(), amount->data() + amount->size(), minor);  // at most 18 digits: fits
    p.setMinorAmount(minor);
  }
  if (const std::string* order = valueOf(bank, "orderNumber"); order && !order->empty()) p.order_id = *order;
  p.provider_payment_id = md_order;
  p.test = false;
  return p;
}

// The expected order a callback speaks of: by mdOrder or orderNumber, whichever the shop registered, and the
// state its operation reached, named as the payment's outcome so the status API's states compare with it.
// A failed operation (status 0) changes no state and settles nothing.
OrderRef orderRefOf(const rbs::Pairs& bank, const std::string& md_order, const Payment& payment) {
  OrderRef ref;
  ref.keys.push_back(md_order);
  if (const std::string* order = valueOf(bank, "orderNumber"); order && !order->empty() && *order != md_order)
    ref.keys.push_back(*order);
  const std::string* status = valueOf(bank, "status");
  if (status && *status == "1" && payment.outcome != Outcome::kPending) {
    ref.state = outcomeName(payment.outcome);
    ref.final = payment.outcome != Outcome::kHeld;
  }
  return ref;
}

}  // namespace

RbsHandler::RbsHandler(Options options) : options_(std::move(options)) {}

std::vector<Endpoint> RbsHandler::endpoints() const {
  return {{"/callback", {"GET", "POST"}}};
}

bool RbsHandler::checksumValid(const std::string& checksum, const std::string& signed_string) const {
  switch (options_.checksum) {
    case rbs::Checksum::kHmacSha256: {
      bool ok = false;
      for (const auto& token : options_.tokens)
        ok |= hexEqualsIgnoreCase(checksum, hmacSha256Hex(token, signed_string, HexCase::kUpper));
      return ok;
    }
    case rbs::Checksum::kRsa: {
      auto signature = fromHex(checksum);
      return signature.ok() && options_.rsa_keys.verify(signed_string, *signature, options_.rsa_hash);
    }
    case rbs::Checksum::kNone:
      return false;  // never asked: a checksum on a "none" route is refused before this
  }
  return false;
}

Verdict RbsHandler::handle(size_t /*endpoint*/, const http::Request& request, int64_t /*now_ms*/) const {
  // Whose pairs are whose (the header's comment): a form body is the bank's and the query the shop's;
  // without a body the query is the bank's but for the route's own_params.
  rbs::Pairs bank;
  rbs::Pairs own;
  if (!request.body.empty()) {
    if (const std::string* ct = request.header("content-type");
        ct && mediaType(*ct) != "application/x-www-form-urlencoded")
      return malformed("the body must be application/x-www-form-urlencoded\n", "content-type " + clip(*ct));
    auto body = Form::parse(request.body);
    if (!body) return malformed("malformed parameters\n", body.error().message);
    auto query = Form::parse(request.query);
    if (!query) return malformed("malformed parameters in the query string\n", query.error().message);
    bank = body->pairs();
    own = query->pairs();
  } else {
    auto form = Form::parse(request.query);
    if (!form) return malformed("malformed parameters\n", form.error().message);
    for (const auto& pair : form->pairs()) {
      const bool is_own = std::find(options_.own_params.begin(), options_.own_params.end(), pair.first) !=
                          options_.own_params.end();
      (is_own ? own : bank).push_back(pair);
    }
  }

  const std::string* md_order = valueOf(bank, "mdOrder");
  const std::string* operation = valueOf(bank, "operation");
  const std::string* status = valueOf(bank, "status");
  if (!md_order || !operation || !status || md_order->empty() || operation->empty() || status->empty())
    return malformed("mdOrder, operation and status are required\n", "missing mdOrder, operation or status");
  if (operation->size() > kMaxOperation || !allOf(*operation, isAlpha))
    return malformed("operation must be letters only\n", "bad operation " + clip(*operation));
  if (!allOf(*status, isAlnum))
    return malformed("status must be letters or digits\n", "bad status " + clip(*status));

  // Any name is signed like any other, but an empty one is no parameter; and a ';' must never move the
  // boundaries of the signed string (the header's comment).
  for (const auto& pair : bank)
    if (pair.first.empty()) return malformed("a parameter has no name\n", "empty parameter name");
  if (std::string problem = rbs::semicolonProblem(bank); !problem.empty())
    return malformed("a ';' would move the fields of the signed string\n", problem);

  const std::string* checksum = valueOf(bank, "checksum");
  if (options_.checksum == rbs::Checksum::kNone) {
    // The route says the bank sends none; one arriving means the cabinet and the config disagree, and an
    // unchecked checksum would look verified to whoever reads the event.
    if (checksum) return forged("checksum sent to a route with checksum = \"none\"");
  } else {
    if (!checksum) return forged("missing checksum");
    if (!checksumValid(*checksum, rbs::signedString(bank))) return forged("bad checksum");
  }

  // Everything the checksum covers, under snake_case names. checksum and sign_alias are not covered (the
  // raw request keeps them). Two names that meet in one snake_case name would lose a field: refused.
  nlohmann::json data = nlohmann::json::object();
  std::map<std::string, const std::string*> seen;  // snake_case → the name as received
  for (const auto& [name, value] : bank) {
    if (name == "checksum" || name == "sign_alias") continue;
    std::string key = rbs::snakeCase(name);
    // "Checksum" or "sign_Alias" are signed like any other field, but stored as "checksum" they would read
    // as the unsigned ones that data promises never to hold; "payment" and "unsigned" are payhook's.
    if (key == "checksum" || key == "sign_alias" || key == "payment" || key == "unsigned")
      return malformed("a parameter name is reserved\n",
                       "parameter " + clip(name) + " would be stored as " + key);
    auto [it, inserted] = seen.emplace(key, &name);
    if (!inserted)
      return malformed("two parameters have the same snake_case name\n",
                       "parameters " + clip(*it->second) + " and " + clip(name) + " collide as " + clip(key));
    data[key] = value;
  }
  const Payment payment = paymentOf(bank, *md_order, *operation, *status, options_.currency);
  // The shop's own parameters, as sent and apart under "unsigned": the bank never signs them.
  nlohmann::json unsigned_fields = nlohmann::json::object();
  if (!own.empty()) {
    nlohmann::json shop = nlohmann::json::object();
    for (const auto& [name, value] : own) shop[name] = value;
    unsigned_fields["shop_params"] = std::move(shop);
  }
  data["unsigned"] = std::move(unsigned_fields);

  Event ev;
  ev.route = options_.route;
  ev.provider = "rbs";
  ev.type = "rbs." + *operation;
  // With checksum = "none" nothing was verified: the source address was the only check (allow_ips).
  ev.verified = options_.checksum != rbs::Checksum::kNone;
  // Not only mdOrder + operation + status: a second partial refund or deposit of one
  // order has the same three, and would be dropped as a duplicate of the first. The cumulative amount the
  // bank reports tells them apart, and is the same in the bank's retries of one callback.
  // The bank's amounts are digits; in one that is not, ':' is escaped so that the key still reads back.
  ev.idempotency_key = *md_order + ":" + *operation + ":" + *status;
  if (const std::string* refunded = valueOf(bank, "refundedAmount"); refunded && *operation == "refunded")
    ev.idempotency_key += ":" + keySegment(*refunded);
  else if (const std::string* deposited = valueOf(bank, "depositedAmount");
           deposited && *operation == "deposited")
    ev.idempotency_key += ":" + keySegment(*deposited);
  ev.listing = listingOf(ev.provider, data, payment);
  ev.order = orderRefOf(bank, *md_order, payment);
  ev.data_json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  payment.addTo(ev.data_json);
  return Accept{std::move(ev), http::Response::text(200, "OK")};
}

Result<std::unique_ptr<Handler>> makeRbsHandler(const config::RouteConfig& route) {
  const auto* settings = route.settingsAs<rbs::Settings>();
  if (settings == nullptr) return Error{"provider: the route's settings are not rbs's"};
  RbsHandler::Options options;
  options.route = route.name;
  if (settings->checksum == "hmac-sha256") {
    options.checksum = rbs::Checksum::kHmacSha256;
    if (settings->secret.empty()) return Error{"secret_file: holds no token"};
    options.tokens = settings->secret;
  } else if (settings->checksum == "rsa") {
    options.checksum = rbs::Checksum::kRsa;
    auto keys = rbs::RsaPublicKeys::parse(settings->public_key);
    if (!keys) return Error{"public_key_file: " + keys.error().message};
    options.rsa_keys = std::move(keys.value());
    if (settings->rsa_hash == "sha512") {
      options.rsa_hash = rbs::RsaHash::kSha512;
    } else if (settings->rsa_hash == "sha256") {
      options.rsa_hash = rbs::RsaHash::kSha256;
    } else {
      return Error{"rsa_hash: \"" + settings->rsa_hash + "\" is not \"sha512\" or \"sha256\""};
    }
  } else if (settings->checksum == "none") {
    options.checksum = rbs::Checksum::kNone;
  } else {
    return Error{"checksum: must be \"hmac-sha256\", \"rsa\" or \"none\""};
  }
  options.own_params = settings->own_params;
  options.currency = settings->currency;
  return std::unique_ptr<Handler>(std::make_unique<RbsHandler>(std::move(options)));
}

Provider rbs::provider() {
  Provider p{rbs::providerConfig(), makeRbsHandler};
  p.status_source = rbs::makeRbsStatusSource;
  return p;
}

}  // namespace payhook::handlers
