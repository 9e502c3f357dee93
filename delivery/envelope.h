// Envelope: what an internal app receives for one event (README "Delivery: what the shop's apps receive"),
// and the Standard Webhooks headers that let it check the envelope came from payhook. Used by delivery and by
// the synchronous decision request, so both look the same to the app.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/event.h"
#include "common/http_message.h"
#include "common/secret.h"

namespace payhook::delivery {

// The JSON body: {"id","type","route","provider","received_at","attempt","verified","source","data","raw"}
// in that order, compact. `source` is "callback" for what the provider sent, "reconciliation" for what
// payhook found by asking the provider's status API (README "Expected payments"). `data` is the event's
// data_json embedded as JSON (null when it is not valid JSON); raw text that is not UTF-8 has its invalid
// bytes replaced by U+FFFD, since JSON strings cannot carry them.
std::string envelopeJson(const Event& event, int attempt, std::string_view source = "callback");

// A target's keys, decoded once when its table is built rather than for every delivery.
struct SigningKeys {
  std::vector<Secret> hmac;  // the decoded whsec_ secrets, several during rotation
  Secret ed25519;            // the decoded whsk_ key; empty: no v1a signature
};

// Decodes a target's whsec_ lines and whsk_ key. Text that does not decode is skipped: the config loader
// has already refused it, with file, line and key.
SigningKeys decodeSigningKeys(const std::vector<Secret>& secrets, const Secret& signing_key);

// content-type, webhook-id (the event id), webhook-timestamp (Unix seconds) and webhook-signature: one
// "v1,..." entry per HMAC key (space-separated) and a "v1a,..." entry when there is an ed25519 key. Never
// logs or returns secret material.
std::vector<http::Header> signedHeaders(std::string_view event_id, int64_t timestamp_s, std::string_view body,
                                        const SigningKeys& keys);

}  // namespace payhook::delivery
