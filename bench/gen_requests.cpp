// Writes validly signed requests for wrk, one per line, so every request of a run is a new event (never the
// cheaper duplicate path):
//   swh (default)  "id TAB timestamp TAB signature TAB body": Standard Webhooks, signed for "now" so they
//                  stay inside the 5-minute tolerance during the run; SECRET is a whsec_ secret.
//   yoomoney       "invoiceId TAB body": YooMoney paymentAviso forms with their MD5; SECRET is the shop
//                  password, shopId 13.
//   hmac           "signature TAB body": a JSON body and the hex HMAC-SHA256 of it under SECRET, for
//                  adnanh/webhook's payload-hmac-sha256 trigger rule.
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>

#include "common/secret.h"
#include "common/webhook_signature.h"
#include "handlers/digest.h"

namespace {

std::string aviso(const std::string& invoice, const std::string& password) {
  const std::string amount = "1250.00";
  const std::string signed_text = "paymentAviso;" + amount + ";643;1001;13;" + invoice + ";8123294469;";
  const std::string md5 =
      payhook::handlers::md5Hex(signed_text + password, payhook::handlers::HexCase::kUpper);
  return "requestDatetime=2026-11-26T10%3A00%3A00.000%2B03%3A00&action=paymentAviso&md5=" + md5 +
         "&shopId=13&shopArticleId=456&invoiceId=" + invoice +
         "&customerNumber=8123294469&orderCreatedDatetime=2026-11-26T10%3A00%3A00.000%2B03%3A00&"
         "orderSumAmount=" +
         amount + "&orderSumCurrencyPaycash=643&orderSumBankPaycash=1001&shopSumAmount=1231.25" +
         "&shopSumCurrencyPaycash=643&shopSumBankPaycash=1001&paymentPayerCode=42007148320&paymentType=AC";
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view format = "swh";
  int a = 1;
  if (argc == 6 && std::string_view(argv[1]) == "--format") {
    format = argv[2];
    a = 3;
  }
  if (argc - a != 3 || (format != "swh" && format != "yoomoney" && format != "hmac")) {
    std::fprintf(stderr, "usage: gen_requests [--format swh|yoomoney|hmac] COUNT SECRET OUT.tsv\n");
    return 2;
  }
  if (sodium_init() < 0) return 1;
  const long count = std::strtol(argv[a], nullptr, 10);
  const std::string secret = argv[a + 1];
  FILE* out = std::fopen(argv[a + 2], "w");
  if (!out) return 1;
  const std::string ts = std::to_string(std::time(nullptr));
  const unsigned run = randombytes_random();
  if (format == "swh") {
    auto key = payhook::swh::decodeSecret(secret);
    if (!key) {
      std::fprintf(stderr, "gen_requests: %s\n", key.error().message.c_str());
      return 2;
    }
    for (long i = 0; i < count; ++i) {
      std::string id = "msg_bench_" + std::to_string(run) + "_" + std::to_string(i);
      std::string body = R"({"type":"payment.succeeded","data":{"order":")" + std::to_string(i) +
                         R"(","amount":"1250.00","currency":"RUB"}})";
      std::string sig = payhook::swh::signV1(*key, id, ts, body);
      std::fprintf(out, "%s\t%s\t%s\t%s\n", id.c_str(), ts.c_str(), sig.c_str(), body.c_str());
    }
  } else if (format == "yoomoney") {
    for (long i = 0; i < count; ++i) {
      const std::string invoice = std::to_string(run % 100000) + std::to_string(1000000 + i);
      std::fprintf(out, "%s\t%s\n", invoice.c_str(), aviso(invoice, secret).c_str());
    }
  } else {
    const payhook::Secret key(secret);
    for (long i = 0; i < count; ++i) {
      std::string body = R"({"type":"payment.succeeded","data":{"order":")" + std::to_string(run) + "_" +
                         std::to_string(i) + R"(","amount":"1250.00","currency":"RUB"}})";
      std::string sig = payhook::handlers::hmacSha256Hex(key, body, payhook::handlers::HexCase::kLower);
      std::fprintf(out, "sha256=%s\t%s\n", sig.c_str(), body.c_str());
    }
  }
  std::fclose(out);
  return 0;
}
