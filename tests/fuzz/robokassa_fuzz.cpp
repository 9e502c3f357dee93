// Robokassa: the ResultURL handler on fuzzed query strings and form bodies.
//
// Input: flags NUL parameters. Flag bit 1 has the driver sign the parameters (SignatureValue appended,
// md5 over OutSum, InvId, Password #2 and the Shp_ pairs), so the accepted path is fuzzed too, not only the
// refusals a fuzzer cannot sign its way past; bit 2 sends them as a GET query instead of a POST form.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "common/http_message.h"
#include "handlers/digest.h"
#include "handlers/form.h"
#include "handlers/robokassa/robokassa.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace ph = payhook::handlers;

constexpr const char* kPassword2 = "test_password2";  // the published ResultURL vector's

enum Flags : uint8_t {
  kSign = 1,
  kGet = 2,
};

bool isShp(std::string_view name) {
  return name.size() > 4 && (name[0] == 'S' || name[0] == 's') && (name[1] == 'H' || name[1] == 'h') &&
         (name[2] == 'P' || name[2] == 'p') && name[3] == '_';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = payhook::fuzz::asView(data, size);
  const auto fields = payhook::fuzz::splitFields(input, 2);
  const uint8_t flags = fields[0].empty() ? 0 : static_cast<uint8_t>(fields[0][0]);
  std::string params(fields[1]);

  if (flags & kSign) {
    auto form = ph::Form::parse(params);
    if (form.ok() && form->get("OutSum") && form->get("InvId") && !form->get("SignatureValue")) {
      ph::robokassa::Pairs shp;
      for (const auto& pair : form->pairs())
        if (isShp(pair.first)) shp.push_back(pair);
      const std::string text = ph::robokassa::signedText(*form->get("OutSum"), *form->get("InvId"),
                                                         kPassword2, shp, ph::robokassa::ShpOrder::kByName);
      params += std::string(params.empty() ? "" : "&") +
                "SignatureValue=" + ph::hashHex(ph::HashAlgorithm::kMd5, text, ph::HexCase::kUpper);
    }
  }

  payhook::http::Request request;
  request.path = "/robokassa/result";
  if (flags & kGet) {
    request.method = "GET";
    request.query = params;
  } else {
    request.method = "POST";
    request.headers.push_back({"content-type", "application/x-www-form-urlencoded"});
    request.body = params;
  }

  const ph::RobokassaHandler handler("robo", payhook::Secret(std::string(kPassword2)),
                                     ph::HashAlgorithm::kMd5, "RUB");
  const auto verdict = handler.handle(0, request, 0);
  if (const auto* accept = std::get_if<ph::Accept>(&verdict)) {
    FUZZ_CHECK(accept->ack.status == 200 && accept->ack.body.compare(0, 2, "OK") == 0);
    const std::string inv_id = accept->ack.body.substr(2);
    FUZZ_CHECK(!inv_id.empty() && inv_id.find_first_not_of("0123456789") == std::string::npos);
    FUZZ_CHECK(accept->event.idempotency_key == "result:" + inv_id);
    FUZZ_CHECK(accept->event.type == "robokassa.result");
    const auto data_json =
        nlohmann::json::parse(accept->event.data_json, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(data_json.is_object() && data_json["inv_id"] == inv_id && data_json.contains("payment"));
    // Neither the stored query nor the stored body keeps a signature.
    const std::string stored =
        (flags & kGet) ? handler.storedQuery(params) : handler.storedBody(std::string(params));
    auto form = ph::Form::parse(stored);
    FUZZ_CHECK(form.ok() && form->get("SignatureValue") && form->get("SignatureValue")->empty());
  } else if (const auto* reject = std::get_if<ph::Reject>(&verdict)) {
    FUZZ_CHECK((reject->reply.status == 400 && reject->reply.body == "bad request\n") ||
               (reject->reply.status == 403 && reject->reply.body == "bad sign\n"));
    // The reason may quote the request, but never the password the request did not hold.
    if (params.find(kPassword2) == std::string::npos)
      FUZZ_CHECK(reject->reason.find(kPassword2) == std::string::npos);
  } else {
    FUZZ_CHECK(false);  // Robokassa never waits for a decision
  }
  return 0;
}
