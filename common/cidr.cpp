#include "common/cidr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>

namespace payhook {

std::optional<std::array<uint8_t, 16>> parseIp(std::string_view address) {
  // inet_pton reads a C string: an embedded NUL would hide whatever follows it.
  if (address.find('\0') != std::string_view::npos) return std::nullopt;
  std::string text(address);
  std::array<uint8_t, 16> out{};
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(&out[12], &v4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.data()) == 1) return out;
  return std::nullopt;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  std::string_view addr = text;
  int bits = -1;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    std::string_view len = text.substr(slash + 1);
    if (len.empty() || len.front() < '0' || len.front() > '9') return std::nullopt;
    auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
    if (ec != std::errc() || end != len.data() + len.size() || len.empty()) return std::nullopt;
  }
  auto ip = parseIp(addr);
  if (!ip) return std::nullopt;
  bool v4 = addr.find(':') == std::string_view::npos;
  int max = v4 ? 32 : 128;
  if (bits < 0) bits = max;
  if (bits > max) return std::nullopt;
  Cidr c;
  c.bits_ = v4 ? bits + 96 : bits;
  c.net_ = *ip;
  // Clear host bits so contains() compares whole bytes cheaply.
  for (int i = 0; i < 16; ++i) {
    int keep = std::max(0, std::min(8, c.bits_ - 8 * i));
    c.net_[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return c;
}

bool Cidr::contains(std::string_view address) const {
  auto ip = parseIp(address);
  if (!ip) return false;
  for (int i = 0; i < 16; ++i) {
    int keep = std::max(0, std::min(8, bits_ - 8 * i));
    if (keep == 0) break;
    auto mask = static_cast<uint8_t>(0xff << (8 - keep));
    if (((*ip)[i] & mask) != net_[i]) return false;
  }
  return true;
}

bool anyContains(const std::vector<Cidr>& ranges, std::string_view address) {
  for (const auto& r : ranges)
    if (r.contains(address)) return true;
  return false;
}

}  // namespace payhook
