// allpay.kz: the route handler on fuzzed bodies, through base64 decoding, the form fallback, libxml2 (no
// DTDs) and xmlsec1's signature check.
//
// Input: one flags byte, then the rest. By default the rest is an XML document, which the driver base64-
// encodes as allpay does, so the fuzzer works on XML rather than on base64 it would rarely get right.
// kRawBody sends the rest as the body itself (the base64 decoder and the form fallback); kForm labels the
// body a form. The corpus holds documents signed by tests/fixtures/allpay/make-fixtures.sh with the key
// below, so mutations that keep the signature valid (comments, whitespace, a moved Signature) reach the
// accepted path and the structural checks, not only the refusals.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "common/http_message.h"
#include "handlers/allpay/allpay.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using payhook::handlers::AllpayHandler;

// The public half of tests/fixtures/allpay/test-allpay.pub.pem (test key; re-copy it when the fixtures
// are made again).
constexpr std::string_view kPublicKey = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA5pseJAYc2tyt2zln/HW5
/MvjHZjJP4TNQOBKIUSXxHQc0GF4MF5Mourt1HRpxe4VvqXuMhbQgFC5Xxf3V0xj
4eoeeOAR9r3xw0LSv2EWP7iCILJYtWbYzU4+d4LIQa092khxt2W2qVOTxmnGf0jf
BtVuGUs6n5rG8QCBW48jZ7U727P28nvWZnjgGVeILrM95CoS8lJxGFVRFgHcQMOd
VsGRKsK2vHUJzuA3UoQ2AzIphj0z5YsYlqxOuTyg1GWX17u7GMSXop1EAPkSuLdx
conB7cCho3+jFHaPlQYSCFlA3s9dQX3WIe2AYGNzUf6ORaXrkAbnLMaISa9Irx2n
iwIDAQAB
-----END PUBLIC KEY-----
)";

enum Flags : uint8_t {
  kRawBody = 1,
  kForm = 2,  // content-type application/x-www-form-urlencoded
  kV2 = 4,
};

const AllpayHandler& handler(bool v2) {
  static const auto make = [](AllpayHandler::Answer answer) {
    auto h = AllpayHandler::create("fuzz", kPublicKey, answer, AllpayHandler::StatusForm::kName);
    FUZZ_CHECK(h.ok());
    return std::move(*h);
  };
  static const auto v1_handler = make(AllpayHandler::Answer::kV1);
  static const auto v2_handler = make(AllpayHandler::Answer::kV2);
  return v2 ? *v2_handler : *v1_handler;
}

std::string base64(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();  // the terminating NUL
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = payhook::fuzz::asView(data, size);
  const uint8_t flags = input.empty() ? 0 : static_cast<uint8_t>(input[0]);
  const std::string_view rest = input.empty() ? input : input.substr(1);

  payhook::http::Request request;
  request.method = "POST";
  request.path = "/allpay/notify";
  request.headers.push_back(
      {"content-type", (flags & kForm) ? "application/x-www-form-urlencoded" : "application/xml"});
  request.body = (flags & kRawBody) ? std::string(rest) : base64(rest);

  const AllpayHandler& h = handler(flags & kV2);
  const auto verdict = h.handle(0, request, 0);
  if (const auto* accept = std::get_if<payhook::handlers::Accept>(&verdict)) {
    FUZZ_CHECK(accept->event.verified);
    FUZZ_CHECK(accept->event.type == "allpay.payment_result");
    FUZZ_CHECK(accept->event.provider == "allpay");
    FUZZ_CHECK(accept->ack.status == 200);
    FUZZ_CHECK(accept->ack.body == h.ack().body);
    // The stored data is JSON whatever the document held, and the key is made of its fields.
    const auto json = nlohmann::json::parse(accept->event.data_json, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(json.is_object());
    FUZZ_CHECK(json["invoice_number"].is_string() && json["transaction_id"].is_string() &&
               json["status"].is_string() && json["paid"].is_boolean());
    FUZZ_CHECK(!json["transaction_id"].get<std::string>().empty());
    const auto& inv = json["invoice_number"].get_ref<const std::string&>();
    const auto& tx = json["transaction_id"].get_ref<const std::string&>();
    FUZZ_CHECK(accept->event.idempotency_key == std::to_string(inv.size()) + ":" + inv + ":" +
                                                    std::to_string(tx.size()) + ":" + tx + ":" +
                                                    json["status"].get<std::string>());
  } else if (const auto* reject = std::get_if<payhook::handlers::Reject>(&verdict)) {
    FUZZ_CHECK(reject->reply.status == 400 || reject->reply.status == 403);
    FUZZ_CHECK((reject->reply.status == 403) == (reject->outcome == "forged"));
  } else {
    FUZZ_CHECK(false);  // this handler never asks for a decision
  }
  return 0;
}
