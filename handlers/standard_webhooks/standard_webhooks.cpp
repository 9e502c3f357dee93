#include "handlers/standard_webhooks/standard_webhooks.h"

#include <nlohmann/json.hpp>

#include "handlers/listing.h"

namespace payhook::handlers {
namespace {

// nlohmann's parser keeps its own stack, but dump() recurses once per nesting level: a signed body of a few
// hundred thousand '[' overflows the loop thread's stack when the event is serialised. No provider nests a
// payload anywhere near this deep; a deeper body is stored raw only, like a body that is not JSON.
constexpr size_t kMaxJsonDepth = 512;

// Whether brackets outside strings nest deeper than `limit`. A cheap scan, not validation: the parser
// decides whether the text is JSON at all.
bool nestsDeeperThan(std::string_view text, size_t limit) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

}  // namespace

StandardWebhooksHandler::StandardWebhooksHandler(std::string route, swh::VerifyKeys keys)
    : route_(std::move(route)), keys_(std::move(keys)) {}

std::vector<Endpoint> StandardWebhooksHandler::endpoints() const {
  return {{"", {"POST"}}};
}

Verdict StandardWebhooksHandler::handle(size_t /*endpoint*/, const http::Request& request,
                                        int64_t now_ms) const {
  const std::string* id = request.header("webhook-id");
  const std::string* ts = request.header("webhook-timestamp");
  const std::string* sig = request.header("webhook-signature");
  if (!id || !ts || !sig || id->empty())
    return Reject{http::Response::text(400, "missing webhook-id, webhook-timestamp or webhook-signature\n"),
                  "missing header", "malformed"};
  // A repeated signed header would let an attacker choose which copy is checked.
  if (request.headerCount("webhook-id") > 1 || request.headerCount("webhook-timestamp") > 1 ||
      request.headerCount("webhook-signature") > 1)
    return Reject{http::Response::text(400, "repeated webhook-* header\n"), "repeated header", "malformed"};

  switch (swh::verify(keys_, *id, *ts, *sig, request.body, now_ms)) {
    case swh::VerifyResult::kOk:
      break;
    case swh::VerifyResult::kBadTimestamp:
      return Reject{http::Response::text(401, "invalid webhook-timestamp\n"), "bad timestamp", "forged"};
    case swh::VerifyResult::kStale:
      return Reject{http::Response::text(401, "webhook-timestamp outside the 5 minute tolerance\n"),
                    "stale timestamp", "forged"};
    case swh::VerifyResult::kBadSignature:
      return Reject{http::Response::text(401, "invalid signature\n"), "bad signature", "forged"};
  }

  Event ev;
  ev.route = route_;
  ev.provider = "standard-webhooks";
  ev.verified = true;
  ev.idempotency_key = *id;
  // The payload's own "type" names the event when it has one (the Standard Webhooks payload convention).
  nlohmann::json body(nlohmann::json::value_t::discarded);
  if (!nestsDeeperThan(request.body, kMaxJsonDepth))
    body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  std::string type = "webhook";
  if (body.is_object())
    if (auto it = body.find("type"); it != body.end() && it->is_string()) type = it->get<std::string>();
  ev.type = "standard_webhooks." + type;
  nlohmann::json data = nlohmann::json::object();
  data["webhook_id"] = *id;
  data["webhook_timestamp"] = *ts;
  data["payload"] = body.is_discarded() ? nlohmann::json(nullptr) : std::move(body);
  ev.listing = listingOf(ev.provider, data);
  ev.data_json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return Accept{std::move(ev), http::Response::empty(204)};
}

namespace {

Result<std::unique_ptr<Handler>> makeStandardWebhooks(const config::RouteConfig& route) {
  const auto* settings = route.settingsAs<standard_webhooks::Settings>();
  if (settings == nullptr) return Error{"provider: the route's settings are not standard-webhooks'"};
  swh::VerifyKeys keys;
  for (const auto& line : settings->secret) {
    auto key = swh::decodeSecret(line.reveal());
    if (!key) return Error{"secret_file: " + key.error().message};
    keys.hmac.push_back(std::move(key.value()));
  }
  for (const auto& line : splitKeyLines(settings->public_key)) {
    auto key = swh::decodePublicKey(line.reveal());
    if (!key) return Error{"public_key_file: " + key.error().message};
    keys.ed25519.push_back(std::move(key.value()));
  }
  if (keys.hmac.empty() && keys.ed25519.empty())
    return Error{"secret_file: a standard-webhooks route needs a whsec_ secret or a whpk_ public key"};
  return std::unique_ptr<Handler>(std::make_unique<StandardWebhooksHandler>(route.name, std::move(keys)));
}

}  // namespace

Provider standard_webhooks::provider() {
  return {standard_webhooks::providerConfig(), makeStandardWebhooks};
}

}  // namespace payhook::handlers
