#include "delivery/envelope.h"

#include <nlohmann/json.hpp>

#include "common/time_format.h"
#include "common/webhook_signature.h"

namespace payhook::delivery {
namespace {

using nlohmann::json;

void appendString(std::string& out, std::string_view s) {
  // Provider bodies are not always UTF-8 (legacy form posts); replacing keeps the envelope valid JSON.
  out += json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string envelopeJson(const Event& event, int attempt, std::string_view source) {
  std::string out;
  out.reserve(256 + event.data_json.size() + event.raw.body.size() * 2);
  out += "{\"id\":";
  appendString(out, event.id);
  out += ",\"type\":";
  appendString(out, event.type);
  out += ",\"route\":";
  appendString(out, event.route);
  out += ",\"provider\":";
  appendString(out, event.provider);
  out += ",\"received_at\":";
  appendString(out, formatIso8601Utc(event.received_at_ms));
  out += ",\"attempt\":";
  out += std::to_string(attempt);
  out += ",\"verified\":";
  out += event.verified ? "true" : "false";
  out += ",\"source\":";
  appendString(out, source);
  out += ",\"data\":";
  // Embedded as written: the handler produced it, and re-serialising would only cost time.
  if (!event.data_json.empty() && json::accept(event.data_json))
    out += event.data_json;
  else
    out += "null";
  out += ",\"raw\":{\"method\":";
  appendString(out, event.raw.method);
  out += ",\"path\":";
  appendString(out, event.raw.path);
  out += ",\"query\":";
  appendString(out, event.raw.query);
  out += ",\"content_type\":";
  appendString(out, event.raw.content_type);
  out += ",\"body\":";
  appendString(out, event.raw.body);
  out += "}}";
  return out;
}

SigningKeys decodeSigningKeys(const std::vector<Secret>& secrets, const Secret& signing_key) {
  SigningKeys keys;
  for (const auto& text : secrets)
    if (auto key = swh::decodeSecret(text.reveal())) keys.hmac.push_back(std::move(key).value());
  if (!signing_key.empty())
    if (auto key = swh::decodeSigningKey(signing_key.reveal())) keys.ed25519 = std::move(key).value();
  return keys;
}

std::vector<http::Header> signedHeaders(std::string_view event_id, int64_t timestamp_s, std::string_view body,
                                        const SigningKeys& keys) {
  const std::string ts = std::to_string(timestamp_s);
  std::string signature;
  auto add = [&](const std::string& entry) {
    if (!signature.empty()) signature += ' ';
    signature += entry;
  };
  for (const auto& key : keys.hmac) add(swh::signV1(key, event_id, ts, body));
  if (!keys.ed25519.empty()) add(swh::signV1a(keys.ed25519, event_id, ts, body));
  return {{"content-type", "application/json"},
          {"webhook-id", std::string(event_id)},
          {"webhook-timestamp", ts},
          {"webhook-signature", std::move(signature)}};
}

}  // namespace payhook::delivery
