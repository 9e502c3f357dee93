// CPU of the hot path's pure parts, per callback, without sockets or Redis: each provider handler's
// parse + verify + normalise for a validly signed callback, the event id, and the envelope a delivery sends.
// `build/bench/bench_handlers` (Google Benchmark). The end-to-end figures are bench/run.sh's.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <ctime>
#include <string>

#include "common/http_message.h"
#include "common/secret.h"
#include "common/uuid.h"
#include "common/webhook_signature.h"
#include "config/config.h"
#include "delivery/envelope.h"
#include "handlers/digest.h"
#include "handlers/payinpayout/settings.h"
#include "handlers/rbs/settings.h"
#include "handlers/registry.h"
#include "handlers/standard_webhooks/settings.h"
#include "handlers/yoomoney/settings.h"

namespace {

using payhook::Secret;
using payhook::config::RouteConfig;
using payhook::http::Request;

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* kPassword = "s<kY23653f,{9fcnshwq";
constexpr const char* kRbsToken = "ooc7slpvc61k7sf7ma7p4hrefr";
constexpr const char* kPayinPayoutKey = "secret_key";

Request swhRequest() {
  const std::string body =
      R"({"type":"payment.succeeded","data":{"order":"1","amount":"1250.00","currency":"RUB"}})";
  const std::string id = "msg_bench_1";
  const std::string ts = std::to_string(std::time(nullptr));
  Request r;
  r.method = "POST";
  r.path = "/hooks/bench";
  r.headers = {
      {"host", "127.0.0.1"},
      {"content-type", "application/json"},
      {"webhook-id", id},
      {"webhook-timestamp", ts},
      {"webhook-signature", payhook::swh::signV1(*payhook::swh::decodeSecret(kSecret), id, ts, body)}};
  r.body = body;
  return r;
}

Request avisoRequest() {
  const std::string invoice = "1000001";
  const std::string md5 =
      payhook::handlers::md5Hex("paymentAviso;1250.00;643;1001;13;" + invoice + ";8123294469;" + kPassword,
                                payhook::handlers::HexCase::kUpper);
  Request r;
  r.method = "POST";
  r.path = "/yoomoney/aviso";
  r.headers = {{"host", "127.0.0.1"}, {"content-type", "application/x-www-form-urlencoded"}};
  r.body =
      "requestDatetime=2026-11-26T10%3A00%3A00.000%2B03%3A00&action=paymentAviso&md5=" + md5 +
      "&shopId=13&shopArticleId=456&invoiceId=" + invoice +
      "&customerNumber=8123294469&orderCreatedDatetime=2026-11-26T10%3A00%3A00.000%2B03%3A00&orderSumAmount="
      "1250.00&orderSumCurrencyPaycash=643&orderSumBankPaycash=1001&shopSumAmount=1231.25"
      "&shopSumCurrencyPaycash=643&shopSumBankPaycash=1001&paymentPayerCode=42007148320&paymentType=AC";
  return r;
}

// An RBS deposit callback (GET), checksummed with the published token.
Request rbsRequest() {
  const std::string pairs =
      "amount=125000&mdOrder=06cf5599-3f17-7c86-bdbc-bd7d00a8b38b&operation=deposited"
      "&orderNumber=2003&status=1";
  const std::string signed_string =
      "amount;125000;mdOrder;06cf5599-3f17-7c86-bdbc-bd7d00a8b38b;operation;deposited;orderNumber;2003;"
      "status;1;";
  Request r;
  r.method = "GET";
  r.path = "/rbs/callback";
  r.headers = {{"host", "127.0.0.1"}};
  r.query =
      pairs + "&checksum=" +
      payhook::handlers::hmacSha256Hex(Secret(kRbsToken), signed_string, payhook::handlers::HexCase::kUpper);
  return r;
}

// A Payin-payout invoice result, its fields signed in request order.
Request payinPayoutRequest() {
  const std::string ts = std::to_string(std::time(nullptr));
  const std::string message =
      "external_id=123457&service_id=111&status=1&payment_in_id=011111-000082"
      "&payment_out_id=022222-001244&timestamp=" +
      ts;
  Request r;
  r.method = "POST";
  r.path = "/payinpayout/callback";
  r.headers = {{"host", "127.0.0.1"}, {"content-type", "application/json"}};
  r.body =
      R"({"external_id":"123457","service_id":111,"status":1,"tracker":" gid_5ce3b1d8",)"
      R"("payment_in_id":"011111-000082","payment_out_id":"022222-001244","timestamp":")" +
      ts + R"(","hash":")" +
      payhook::handlers::hmacMd5Hex(Secret(kPayinPayoutKey), message, payhook::handlers::HexCase::kLower) +
      R"("})";
  return r;
}

void handle(benchmark::State& state, const RouteConfig& rc, size_t endpoint, const Request& request) {
  auto handler = payhook::handlers::makeHandler(rc);
  if (!handler) {
    state.SkipWithError(handler.error().message.c_str());
    return;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr)) * 1000;
  for (auto _ : state) {
    auto verdict = (*handler)->handle(endpoint, request, now);
    benchmark::DoNotOptimize(verdict);
  }
}

void StandardWebhooks(benchmark::State& state) {
  RouteConfig rc;
  rc.name = "bench";
  rc.provider = "standard-webhooks";
  rc.path = "/hooks/bench";
  auto settings = std::make_shared<payhook::handlers::standard_webhooks::Settings>();
  settings->secret.push_back(Secret(kSecret));
  rc.settings = settings;
  handle(state, rc, 0, swhRequest());
}
BENCHMARK(StandardWebhooks);

void YooMoneyAviso(benchmark::State& state) {
  RouteConfig rc;
  rc.name = "shop";
  rc.provider = "yoomoney";
  rc.path = "/yoomoney";
  auto settings = std::make_shared<payhook::handlers::yoomoney::Settings>();
  settings->shop_id = "13";
  settings->shop_password = Secret(kPassword);
  rc.settings = settings;
  rc.decision = "orders";
  handle(state, rc, 1, avisoRequest());
}
BENCHMARK(YooMoneyAviso);

void RbsDeposit(benchmark::State& state) {
  RouteConfig rc;
  rc.name = "bank";
  rc.provider = "rbs";
  rc.path = "/rbs";
  auto settings = std::make_shared<payhook::handlers::rbs::Settings>();
  settings->checksum = "hmac-sha256";
  settings->secret.push_back(Secret(kRbsToken));
  rc.settings = settings;
  handle(state, rc, 0, rbsRequest());
}
BENCHMARK(RbsDeposit);

void PayinPayoutInvoice(benchmark::State& state) {
  RouteConfig rc;
  rc.name = "pp";
  rc.provider = "payinpayout";
  rc.path = "/payinpayout";
  auto settings = std::make_shared<payhook::handlers::payinpayout::Settings>();
  settings->secret.push_back(Secret(kPayinPayoutKey));
  settings->timestamp_tolerance_ms = 600'000;
  rc.settings = settings;
  handle(state, rc, 0, payinPayoutRequest());
}
BENCHMARK(PayinPayoutInvoice);

void EventId(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(payhook::uuidV7(1'790'000'000'000));
}
BENCHMARK(EventId);

void DeliveryEnvelopeAndSignature(benchmark::State& state) {
  payhook::Event e;
  e.id = payhook::uuidV7(1'790'000'000'000);
  e.type = "standard_webhooks.payment.succeeded";
  e.route = "bench";
  e.provider = "standard-webhooks";
  e.received_at_ms = 1'790'000'000'000;
  e.verified = true;
  e.data_json = R"({"type":"payment.succeeded","data":{"order":"1","amount":"1250.00","currency":"RUB"}})";
  e.raw.method = "POST";
  e.raw.path = "/hooks/bench";
  e.raw.content_type = "application/json";
  e.raw.body = e.data_json;
  const auto keys = payhook::delivery::decodeSigningKeys({Secret(kSecret)}, Secret());
  for (auto _ : state) {
    std::string body = payhook::delivery::envelopeJson(e, 1);
    auto headers = payhook::delivery::signedHeaders(e.id, 1'790'000'000, body, keys);
    benchmark::DoNotOptimize(headers);
  }
}
BENCHMARK(DeliveryEnvelopeAndSignature);

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
