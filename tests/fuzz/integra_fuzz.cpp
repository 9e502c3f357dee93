// Integra: the notify handler on fuzzed query strings.
//
// Input: flags NUL query. Flag bit 1 has the driver put the right token first, so the checks behind the
// token are fuzzed too; bit 2 turns on a known_users list; bit 4 renames the parameters.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "common/http_message.h"
#include "handlers/integra/integra.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace ph = payhook::handlers;

constexpr std::string_view kToken = "tok-3f9a1c77e2b54d08";

enum Flags : uint8_t {
  kWithToken = 1,
  kKnownUsers = 2,
  kRenamed = 4,
};

// Whether any string (key or value) inside `j` contains `text`.
bool holdsText(const nlohmann::json& j, std::string_view text) {
  if (j.is_string()) return j.get_ref<const std::string&>().find(text) != std::string::npos;
  if (j.is_object()) {
    for (const auto& [key, value] : j.items())
      if (key.find(text) != std::string::npos || holdsText(value, text)) return true;
    return false;
  }
  if (j.is_array())
    for (const auto& value : j)
      if (holdsText(value, text)) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = payhook::fuzz::asView(data, size);
  const auto fields = payhook::fuzz::splitFields(input, 2);
  const uint8_t flags = fields[0].empty() ? 0 : static_cast<uint8_t>(fields[0][0]);

  ph::IntegraOptions options;
  options.route = "integra";
  options.url_token = payhook::Secret(std::string(kToken));
  if (flags & kKnownUsers) options.known_users = {"9f86d081884c7d65", "u"};
  if (flags & kRenamed) {
    options.id_param = "id";
    options.amount_param = "sum";
    options.user_param = "hash";
  }
  const ph::IntegraHandler handler(options);

  payhook::http::Request request;
  request.method = "GET";
  request.path = "/integra/notify";
  request.query = (flags & kWithToken) ? "token=" + std::string(kToken) + "&" + std::string(fields[1])
                                       : std::string(fields[1]);

  const auto verdict = handler.handle(0, request, 0);
  if (const auto* accept = std::get_if<ph::Accept>(&verdict)) {
    FUZZ_CHECK(accept->ack.status == 200 && accept->ack.body == "OK");
    FUZZ_CHECK(!accept->event.idempotency_key.empty());
    const auto data_json =
        nlohmann::json::parse(accept->event.data_json, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(data_json.is_object() && !data_json.contains("token"));
    FUZZ_CHECK(data_json["transaction_id"] == accept->event.idempotency_key);
    FUZZ_CHECK(data_json["amount"].is_string() && data_json["user"].is_string());
    // In the stored values, not the JSON text: an escape such as \t before "ok-3f9a…" spells the token
    // in the text without any value holding it (the first long run stopped on exactly that).
    FUZZ_CHECK(!holdsText(data_json, kToken) ||
               input.find(kToken) != std::string_view::npos);  // only if the fuzzer wrote it elsewhere
    if (flags & kKnownUsers) FUZZ_CHECK(data_json["user"] == "9f86d081884c7d65" || data_json["user"] == "u");
  } else if (const auto* reject = std::get_if<ph::Reject>(&verdict)) {
    const int status = reject->reply.status;
    FUZZ_CHECK(status == 400 || status == 403 || status == 404);
    if (status == 404) FUZZ_CHECK(reject->reply.body == "not found\n");
    if (status == 403) FUZZ_CHECK(flags & kKnownUsers);
    FUZZ_CHECK(reject->reply.body.find(kToken) == std::string::npos);
  } else {
    FUZZ_CHECK(false);  // the decision is asked asynchronously, after the notify is stored
  }
  return 0;
}
