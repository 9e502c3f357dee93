// Cidr::parse/contains, parseIp, and the config's parseCidr/parseListenAddress on arbitrary text.
// Input: range NUL address; the whole input is also tried as a listen address.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/cidr.h"
#include "config/address.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = payhook::fuzz::asView(data, size);
  const auto fields = payhook::fuzz::splitFields(input, 2);
  const std::string_view range = fields[0], address = fields[1];

  const auto cidr = payhook::Cidr::parse(range);
  // The config validates with the same parser the daemon matches with: they must agree.
  FUZZ_CHECK(payhook::config::parseCidr(range).ok() == cidr.has_value());
  if (cidr) {
    const bool inside = cidr->contains(address);
    if (inside) FUZZ_CHECK(payhook::parseIp(address).has_value());
    // A bare address is a one-host range that holds itself.
    if (range.find('/') == std::string_view::npos) FUZZ_CHECK(cidr->contains(range));
    // "/0" holds every address of its family; a v4 range ("no ':'") holds every v4 address.
    if (range.ends_with("/0") && range.find(':') == std::string_view::npos)
      FUZZ_CHECK(cidr->contains("203.0.113.7"));
    if (range.ends_with("/0") && range.find(':') != std::string_view::npos)
      FUZZ_CHECK(cidr->contains("2001:db8::1"));
  }
  // Only without NUL bytes: parseIp() stops at the first one (inet_pton takes a C string), so
  // "10.0.0.1\0/x" is an address but not a range. Peer addresses come from the kernel and never hold one.
  if (payhook::parseIp(address) && address.find('\0') == std::string_view::npos) {
    // Every address lies in its own host range.
    auto host = payhook::Cidr::parse(address);
    FUZZ_CHECK(host.has_value());
    FUZZ_CHECK(host->contains(address));
  }

  if (auto listen = payhook::config::parseListenAddress(input)) {
    using Kind = payhook::config::ListenAddress::Kind;
    if (listen->kind == Kind::kUnix) {
      FUZZ_CHECK(!listen->path.empty() && listen->path.front() == '/');
      FUZZ_CHECK(listen->host.empty());
    } else {
      FUZZ_CHECK(listen->path.empty());
      FUZZ_CHECK(payhook::parseIp(listen->host).has_value());
    }
  }
  return 0;
}
