// The config loader on arbitrary text: it reports errors, it never crashes and never lets an exception out
// (an escaping exception aborts the fuzzer, which saves the input). Secret paths resolve against /tmp.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"
#include "handlers/registry.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = payhook::fuzz::asView(data, size);
  const payhook::config::LoadResult result =
      payhook::config::loadConfigString(text, "/tmp/fuzz.toml", {}, payhook::handlers::providerCatalog());
  // Either a config or the reasons there is none, never both and never neither.
  FUZZ_CHECK(result.config.has_value() == result.errors.empty());
  for (const auto& e : result.errors) FUZZ_CHECK(e.starts_with("/tmp/fuzz.toml"));
  if (result.config) {
    FUZZ_CHECK(!result.config->server.listen.empty());
    for (const auto& listen : result.config->server.listen)
      FUZZ_CHECK(payhook::config::parseListenAddress(listen).ok());
  }
  return 0;
}
