// Writes validly signed Standard Webhooks requests for wrk, one per line as "id TAB timestamp TAB signature
// TAB body": distinct webhook-ids, so every request is a new event, signed for "now" so they stay inside the
// 5-minute tolerance during the run.
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "common/webhook_signature.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: gen_requests COUNT WHSEC_SECRET OUT.tsv\n");
    return 2;
  }
  if (sodium_init() < 0) return 1;
  long count = std::strtol(argv[1], nullptr, 10);
  auto key = payhook::swh::decodeSecret(argv[2]);
  if (!key) {
    std::fprintf(stderr, "gen_requests: %s\n", key.error().message.c_str());
    return 2;
  }
  FILE* out = std::fopen(argv[3], "w");
  if (!out) return 1;
  std::string ts = std::to_string(std::time(nullptr));
  unsigned run = randombytes_random();
  for (long i = 0; i < count; ++i) {
    std::string id = "msg_bench_" + std::to_string(run) + "_" + std::to_string(i);
    std::string body = R"({"type":"payment.succeeded","data":{"order":")" + std::to_string(i) +
                       R"(","amount":"1250.00","currency":"RUB"}})";
    std::string sig = payhook::swh::signV1(*key, id, ts, body);
    std::fprintf(out, "%s\t%s\t%s\t%s\n", id.c_str(), ts.c_str(), sig.c_str(), body.c_str());
  }
  std::fclose(out);
  return 0;
}
