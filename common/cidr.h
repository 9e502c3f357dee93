// IPv4/IPv6 address ranges for allow_ips and trusted_proxies.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace payhook {

class Cidr {
 public:
  // "10.0.0.0/8", "2001:db8::/32", or a bare address (a single host). IPv4-mapped IPv6 addresses
  // ("::ffff:1.2.3.4") match IPv4 ranges.
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(std::string_view address) const;

 private:
  std::array<uint8_t, 16> net_{};
  int bits_ = 0;  // prefix length over the 16-byte (IPv6 or mapped IPv4) form
};

// Parses an address into its 16-byte IPv6 form (IPv4 becomes ::ffff:a.b.c.d).
std::optional<std::array<uint8_t, 16>> parseIp(std::string_view address);

bool anyContains(const std::vector<Cidr>& ranges, std::string_view address);

}  // namespace payhook
