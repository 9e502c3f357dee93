// YooKassa: the route handler on fuzzed notification bodies, and the re-check's judgement of a fuzzed API
// answer to each notification it accepts.
//
// Input: body NUL status NUL answer: `status` is the API's HTTP status in decimal (200 when it is not a
// number from 0 to 999), `answer` the API's body.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "common/http_message.h"
#include "handlers/yookassa/yookassa.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace ph = payhook::handlers;
using Kind = ph::Recheck::Outcome::Kind;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = payhook::fuzz::asView(data, size);
  const auto fields = payhook::fuzz::splitFields(input, 3);
  int status = 200;
  if (int n = 0;
      std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), n).ec == std::errc() && n >= 0 &&
      n <= 999)
    status = n;

  payhook::http::Request request;
  request.method = "POST";
  request.path = "/yookassa";
  request.headers.push_back({"content-type", "application/json"});
  request.body = std::string(fields[0]);

  const ph::YooKassaHandler handler("yk");
  const auto verdict = handler.handle(0, request, 0);
  if (const auto* reject = std::get_if<ph::Reject>(&verdict)) {
    FUZZ_CHECK(reject->reply.status == 400 && reject->reply.body == "bad request\n");
    return 0;
  }
  const auto* accept = std::get_if<ph::Accept>(&verdict);
  FUZZ_CHECK(accept != nullptr);  // YooKassa never waits for a decision
  const payhook::Event& ev = accept->event;
  FUZZ_CHECK(accept->ack.status == 200 && !ev.verified);
  FUZZ_CHECK(ev.type.compare(0, 9, "yookassa.") == 0);
  const auto stored = nlohmann::json::parse(ev.data_json, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(stored.is_object() && stored.contains("payment") && stored.contains("object"));
  const std::string announced = stored["status"].get<std::string>();
  FUZZ_CHECK(ev.idempotency_key ==
             stored["event"].get<std::string>() + ":" + stored["id"].get<std::string>() + ":" + announced);
  auto path = ph::yookassa::apiPath(ev.data_json);
  FUZZ_CHECK(path.ok() && path->compare(0, 4, "/v3/") == 0);
  FUZZ_CHECK(path->find("..") == std::string::npos && path->find('?') == std::string::npos);

  const auto out = ph::yookassa::judge(ev, status, fields[2], 0);
  FUZZ_CHECK(!out.note.empty());
  if (out.kind == Kind::kConfirmed) {
    // Only the API's own answer, naming the same object in the announced status, is forwarded.
    FUZZ_CHECK(status >= 200 && status <= 299);
    const auto api = nlohmann::json::parse(fields[2], nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(api.is_object() && api["id"] == stored["id"] && api["status"] == announced);
    FUZZ_CHECK(out.event.verified && out.event.type == ev.type && out.event.id == ev.id &&
               out.event.idempotency_key == ev.idempotency_key);
    const auto forwarded = nlohmann::json::parse(out.event.data_json, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(forwarded.is_object() && forwarded["object"] == api && forwarded.contains("recheck"));
  }
  return 0;
}
