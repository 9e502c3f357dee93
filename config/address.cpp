#include "config/address.h"

namespace payhook::config {
Result<payhook::Cidr> parseCidr(std::string_view text) {
  if (auto cidr = payhook::Cidr::parse(text)) return *cidr;
  const size_t slash = text.find('/');
  if (slash != std::string_view::npos && payhook::parseIp(text.substr(0, slash))) {
    const bool v6 = text.substr(0, slash).find(':') != std::string_view::npos;
    return Error{std::string("prefix length must be a number from 0 to ") + (v6 ? "128" : "32")};
  }
  return Error{"not an IPv4 or IPv6 address or range (expected e.g. \"10.0.0.0/8\" or \"2001:db8::/32\")"};
}

}  // namespace payhook::config
