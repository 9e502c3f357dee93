// Checks against configs that work but invite trouble: guessable tokens, an idempotency record that expires
// while a captured callback is still accepted, secret files others can read. Also `headers_file`, read like
// the other secret files.
#include <algorithm>
#include <map>

#include "common/text.h"
#include "config/headers_file.h"
#include "config/loader.h"
#include "config/secret_files.h"
#include "config/units.h"

namespace payhook::config {
namespace {

// Tokens compared with what a client sends (the admin API's bearer token, a provider's URL token) stand
// alone, with no signature behind them: short ones can be guessed or brute-forced over the network.
constexpr size_t kMinTokenBytes = 16;

}  // namespace

void Loader::warnIfExposed(TableReader& t, std::string_view key, const SecretFile& file) {
  if (std::string warning = exposureWarning(file, env_); !warning.empty()) t.warning(key, warning);
}

bool Loader::checkTokenLength(TableReader& t, std::string_view base, const Secret& token) {
  const size_t size = token.reveal().size();
  if (size >= kMinTokenBytes) return true;
  const std::string file_key = std::string(base) + "_file";
  const bool from_file = t.has(file_key);
  t.error(from_file ? file_key : base,
          std::string(from_file ? "the token in the file" : "the token") + " is " + std::to_string(size) +
              " characters long; it must be at least " + std::to_string(kMinTokenBytes) +
              " (a random one: openssl rand -hex 24)");
  return false;
}

void Loader::checkReplayWindow(TableReader& t, const RouteConfig& route) {
  // A signed callback is accepted while its timestamp is within the tolerance of the clock, on either side,
  // and the idempotency record is what turns a later copy into a duplicate. The first copy may arrive at the
  // window's start and a replay at its end: the record must outlive twice the tolerance.
  const auto window = route.settings ? route.settings->replayWindow() : std::nullopt;
  if (!window) return;
  const uint64_t tolerance_ms = window->tolerance_ms;
  const std::string& tolerance_key = window->key;
  const uint64_t window_ms = 2 * tolerance_ms;
  const uint64_t ttl_ms = route.idempotency_ttl_s * 1'000;
  if (ttl_ms >= window_ms) return;
  const std::string tolerance =
      tolerance_key.empty() ? formatDuration(tolerance_ms) + " (" + window->fixed_by + " fixed tolerance)"
                            : tolerance_key + " (" + formatDuration(tolerance_ms) + ")";
  const std::string why = "a callback is accepted while its timestamp is within " + tolerance +
                          " of the clock, either way, so a copy replayed up to " + formatDuration(window_ms) +
                          " after the first would be stored and delivered again";
  if (t.has("idempotency_ttl") || tolerance_key.empty()) {
    t.error("idempotency_ttl", formatDuration(ttl_ms) + " is shorter than the replay window: " + why +
                                   "; idempotency_ttl must be at least " + formatDuration(window_ms));
  } else {
    t.error(tolerance_key, "is longer than half of idempotency_ttl (" + formatDuration(ttl_ms) +
                               ", the default): " + why + "; raise idempotency_ttl to at least " +
                               formatDuration(window_ms));
  }
}

void Loader::readHeadersFile(TableReader& t, TargetConfig& target) {
  auto written = t.string("headers_file");
  if (!written) return;
  auto file = readSecretFile(*written, config_.dir, env_);
  if (!file) {
    t.error("headers_file", file.error().message);
    return;
  }
  warnIfExposed(t, "headers_file", *file);
  const ParsedHeaders parsed = parseHeadersFile(file->text.reveal());
  for (const HeadersFileProblem& problem : parsed.problems)
    t.error("headers_file",
            "line " + std::to_string(problem.line) + " of " + file->path + ": " + problem.message);
  if (!parsed.problems.empty()) return;
  if (parsed.headers.empty()) {
    t.error("headers_file", file->path + " holds no header (it is empty, blank or only comments)");
    return;
  }
  // A header both inline and in the file: which one the operator meant is a guess either way.
  std::map<std::string, std::string, std::less<>> inline_names;
  for (const auto& [name, value] : target.headers) inline_names.emplace(lowerAscii(name), name);
  bool ok = true;
  for (const HeaderLine& header : parsed.headers) {
    if (inline_names.contains(lowerAscii(header.name))) {
      t.error("headers_file", "line " + std::to_string(header.line) + " of " + file->path + ": " +
                                  header.name + " is also set in " + t.keyPath("headers") +
                                  "; set it in one place");
      ok = false;
    }
  }
  if (!ok) return;
  for (const HeaderLine& header : parsed.headers) target.headers.emplace_back(header.name, header.value);
}

}  // namespace payhook::config
