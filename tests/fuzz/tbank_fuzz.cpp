// T-Bank: the notification parser, the Token, the stored body's blanking and the route handler on fuzzed
// JSON bodies.
//
// Input: flags NUL body. Flag bit 1 has the driver sign the body (a "Token" field inserted after its first
// "{"), so the accepted path is fuzzed too, not only the refusals a fuzzer cannot sign its way past.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "common/http_message.h"
#include "handlers/tbank/notification.h"
#include "handlers/tbank/tbank.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace ph = payhook::handlers;

constexpr const char* kTerminalKey = "1321054611234DEMO";
constexpr const char* kPassword = "Dfsfh56dgKl";  // the documentation's

enum Flags : uint8_t {
  kSign = 1,
};

const payhook::Secret& password() {
  static const payhook::Secret p{std::string(kPassword)};
  return p;
}

// The blanked body reads as the same fields, with the top-level Token (when a string) emptied.
void checkBlanking(const std::string& body, const ph::tbank::Notification& before) {
  const std::string stored = ph::tbank::withBlankedToken(body);
  auto after = ph::tbank::parseNotification(stored);
  FUZZ_CHECK(after.ok());
  FUZZ_CHECK(after->fields.size() == before.fields.size());
  for (size_t i = 0; i < before.fields.size(); ++i) {
    const auto& a = before.fields[i];
    const auto& b = after->fields[i];
    FUZZ_CHECK(a.key == b.key && a.kind == b.kind);
    if (a.key == "Token" && a.kind == ph::tbank::Field::Kind::kString)
      FUZZ_CHECK(b.text.empty());
    else
      FUZZ_CHECK(a.text == b.text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = payhook::fuzz::asView(data, size);
  const auto fields = payhook::fuzz::splitFields(input, 2);
  const uint8_t flags = fields[0].empty() ? 0 : static_cast<uint8_t>(fields[0][0]);
  std::string body(fields[1]);

  auto parsed = ph::tbank::parseNotification(body);
  if (parsed.ok()) {
    checkBlanking(body, *parsed);
    if ((flags & kSign) && !parsed->find("Token")) {
      const size_t brace = body.find('{');
      const std::string token = ph::tbank::token(*parsed, password());
      const bool empty_object = body.find_first_not_of(" \t\r\n", brace + 1) == body.find('}', brace + 1);
      body.insert(brace + 1, "\"Token\":\"" + token + "\"" + (empty_object ? "" : ","));
      // Adding the Token must not change what it covers.
      auto again = ph::tbank::parseNotification(body);
      FUZZ_CHECK(again.ok() && ph::tbank::token(*again, password()) == token);
    }
  }

  payhook::http::Request request;
  request.method = "POST";
  request.path = "/tbank/notify";
  request.headers.push_back({"content-type", "application/json"});
  request.body = body;

  const ph::TBankHandler handler("tb", kTerminalKey, password());
  const auto verdict = handler.handle(0, request, 0);
  if (const auto* accept = std::get_if<ph::Accept>(&verdict)) {
    FUZZ_CHECK(accept->ack.status == 200 && accept->ack.body == "OK");
    const std::string& key = accept->event.idempotency_key;
    FUZZ_CHECK(key.compare(0, 8, "payment:") == 0 || key.compare(0, 7, "notice:") == 0);
    FUZZ_CHECK(accept->event.type.compare(0, 6, "tbank.") == 0);
    const auto data_json =
        nlohmann::json::parse(accept->event.data_json, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(data_json.is_object() && !data_json.contains("token") && data_json.contains("payment"));
    FUZZ_CHECK(
        ph::tbank::parseNotification(handler.storedBody(std::string(body)))->find("Token")->text.empty());
  } else if (const auto* reject = std::get_if<ph::Reject>(&verdict)) {
    FUZZ_CHECK((reject->reply.status == 400 && reject->reply.body == "bad request\n") ||
               (reject->reply.status == 403 && reject->reply.body == "bad token\n"));
    if (!parsed.ok()) FUZZ_CHECK(reject->reply.status == 400);
  } else {
    FUZZ_CHECK(false);  // T-Bank never waits for a decision
  }
  return 0;
}
