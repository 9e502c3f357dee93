// payhookctl listen: a local receiver for integrators. It answers payhook's deliveries (or anything Standard
// Webhooks) on a port, checks each signature with the keys given, and prints each event with the verdict.
#include <signal.h>
#include <uv.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/time_format.h"
#include "common/webhook_signature.h"
#include "http/server.h"
#include "uv/handle.h"
#include "uv/loop.h"

namespace payhook::cli {
namespace {

constexpr const char* kListenUsage =
    "usage: payhookctl listen [--port 9000] [--host 127.0.0.1] [--secret whsec_... | --secret-file FILE]\n"
    "                         [--public-key whpk_...] [--tolerance SECONDS] [--count N] [--json]\n"
    "\n"
    "A local receiver for integrators: answers every request, checks its Standard Webhooks signature with\n"
    "the keys given (204 when valid, 401 when not; 204 unchecked without keys) and prints each event with\n"
    "the verdict; --json prints one JSON object per line. Stops on Ctrl-C, or after N requests with "
    "--count.\n"
    "Port 0 picks a free port. Secrets are never printed.\n";

std::string header(const http::Request& r, std::string_view name) {
  const std::string* v = r.header(name);
  return v ? *v : std::string();
}

const char* verdictText(swh::VerifyResult v) {
  switch (v) {
    case swh::VerifyResult::kOk:
      return "valid";
    case swh::VerifyResult::kBadTimestamp:
      return "invalid: webhook-timestamp is not a number";
    case swh::VerifyResult::kStale:
      return "invalid: webhook-timestamp outside the tolerance";
    case swh::VerifyResult::kBadSignature:
      return "invalid: no signature matches";
  }
  return "invalid";
}

}  // namespace

int listenCommand(const std::vector<std::string>& args) {
  auto parsed = parseArgs(args, {{"--port", true, "-p"},
                                 {"--host", true, ""},
                                 {"--secret", true, ""},
                                 {"--secret-file", true, ""},
                                 {"--public-key", true, ""},
                                 {"--tolerance", true, ""},
                                 {"--count", true, ""},
                                 {"--json", false, ""}});
  if (!parsed) {
    std::fprintf(stderr, "payhookctl: %s\n%s", parsed.error().message.c_str(), kListenUsage);
    return 2;
  }
  const ParsedArgs& a = *parsed;
  if (a.help) {
    std::fputs(kListenUsage, stdout);
    return 0;
  }
  auto usage = [](const std::string& why) {
    std::fprintf(stderr, "payhookctl: %s\n%s", why.c_str(), kListenUsage);
    return 2;
  };
  if (!a.positional.empty()) return usage("listen takes no arguments");
  auto port = parseCount(a.value("--port", "9000"), 0, 65535);
  if (!port) return usage("--port must be 0 to 65535");
  auto tolerance = parseCount(a.value("--tolerance", "300"), 0, 86'400 * 365);
  if (!tolerance) return usage("--tolerance takes seconds");
  auto count = parseCount(a.value("--count", "0"), 0, INT32_MAX);
  if (!count) return usage("--count takes a number");

  swh::VerifyKeys keys;
  std::string secret_text = a.value("--secret");
  if (a.has("--secret-file")) {
    std::ifstream f(a.value("--secret-file"), std::ios::binary);
    if (!f) return usage("cannot read " + a.value("--secret-file"));
    secret_text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  for (const auto& line : splitKeyLines(secret_text)) {
    auto key = swh::decodeSecret(line.reveal());
    if (!key) return usage("the secret is not usable: " + key.error().message);
    keys.hmac.push_back(std::move(key.value()));
  }
  if (a.has("--public-key")) {
    auto pk = swh::decodePublicKey(a.value("--public-key"));
    if (!pk) return usage(pk.error().message);
    keys.ed25519.push_back(std::move(pk.value()));
  }
  const bool check = !keys.hmac.empty() || !keys.ed25519.empty();
  const bool json = a.flag("--json");
  const std::string host = a.value("--host", "127.0.0.1");
  std::string address = host.find(':') != std::string::npos && host.front() != '['
                            ? "[" + host + "]:" + std::to_string(*port)
                            : host + ":" + std::to_string(*port);

  uv::Loop loop;
  int code = 0;
  {
    SystemClock clock;
    int64_t seen = 0;
    bool stopping = false;
    uv::Signal sigint, sigterm;
    std::unique_ptr<http::Server> server;
    auto stop = [&] {
      if (stopping) return;
      stopping = true;
      sigint.close();
      sigterm.close();
      server->shutdown([] {});
    };
    server = std::make_unique<http::Server>(
        loop.get(), http::ServerLimits{}, [&](http::Request&& r, http::Responder resp) {
          const int64_t now = clock.nowMs();
          const std::string id = header(r, "webhook-id"), ts = header(r, "webhook-timestamp"),
                            sig = header(r, "webhook-signature");
          std::string verdict = "not checked (no --secret or --public-key given)";
          bool ok = true;
          if (check) {
            if (id.empty() || ts.empty() || sig.empty()) {
              verdict = "invalid: webhook-id, webhook-timestamp or webhook-signature missing";
              ok = false;
            } else {
              auto v = swh::verify(keys, id, ts, sig, r.body, now, *tolerance);
              verdict = verdictText(v);
              ok = v == swh::VerifyResult::kOk;
            }
          }
          resp.send(ok ? http::Response::empty(204) : http::Response::text(401, verdict + "\n"));
          nlohmann::ordered_json body = nlohmann::ordered_json::parse(r.body, nullptr, false);
          if (json) {
            nlohmann::ordered_json line{{"received_at", formatIso8601Utc(now)},
                                        {"method", r.method},
                                        {"path", r.path},
                                        {"webhook_id", id},
                                        {"verified", check && ok},
                                        {"verdict", verdict}};
            line["body"] = body.is_discarded() ? nlohmann::ordered_json(r.body) : body;
            std::string s = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            std::printf("%s\n", s.c_str());
          } else {
            std::string text = body.is_discarded()
                                   ? r.body
                                   : body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
            std::printf("%s  %s %s  webhook-id %s  %s\n%s\n\n", formatIso8601Utc(now).c_str(),
                        terminalSafe(r.method).c_str(), terminalSafe(r.path).c_str(),
                        id.empty() ? "-" : terminalSafe(id).c_str(), verdict.c_str(),
                        terminalSafe(text, true).c_str());
          }
          std::fflush(stdout);
          if (*count > 0 && ++seen >= *count) stop();
        });
    if (auto st = server->listen(address); !st) {
      std::fprintf(stderr, "payhookctl: cannot listen on %s: %s\n", address.c_str(),
                   st.error().message.c_str());
      server->closeAll();
      code = 2;
    } else {
      sigint = uv::Signal(loop.get(), SIGINT, [&](int) { stop(); });
      sigterm = uv::Signal(loop.get(), SIGTERM, [&](int) { stop(); });
      std::fprintf(stderr, "payhookctl: listening on http://%s/ (%s)\n",
                   server->boundAddresses().at(0).c_str(),
                   check ? "checking signatures" : "not checking signatures");
      loop.run();
    }
    server.reset();
    sigint.close();
    sigterm.close();
  }
  loop.close();
  return code;
}

}  // namespace payhook::cli
