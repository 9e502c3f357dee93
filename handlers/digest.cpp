#include "handlers/digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <array>
#include <iterator>
#include <memory>

#include "common/text.h"
#include "handlers/openssl_ptr.h"

namespace payhook::handlers {
namespace {

struct NamedAlgorithm {
  HashAlgorithm algorithm;
  std::string_view name;  // the config's spelling
  const char* fetch;      // OpenSSL's name
};

constexpr NamedAlgorithm kAlgorithms[] = {
    {HashAlgorithm::kMd5, "md5", "MD5"},          {HashAlgorithm::kRipemd160, "ripemd160", "RIPEMD160"},
    {HashAlgorithm::kSha1, "sha1", "SHA1"},       {HashAlgorithm::kSha256, "sha256", "SHA256"},
    {HashAlgorithm::kSha384, "sha384", "SHA384"}, {HashAlgorithm::kSha512, "sha512", "SHA512"},
};

// Indexed by the enum's value.
static_assert(kAlgorithms[static_cast<size_t>(HashAlgorithm::kMd5)].algorithm == HashAlgorithm::kMd5);
static_assert(kAlgorithms[static_cast<size_t>(HashAlgorithm::kSha512)].algorithm == HashAlgorithm::kSha512);
static_assert(std::size(kAlgorithms) == static_cast<size_t>(HashAlgorithm::kSha512) + 1);

// Fetched once: an explicit fetch is what tells whether the default provider has the algorithm (RIPEMD-160
// came back to it only in OpenSSL 3.0.7), and it spares every callback the implicit fetch's lookup. The
// fetched methods live as long as the process.
const EVP_MD* fetched(HashAlgorithm algorithm) {
  static const auto kFetched = [] {
    std::array<const EVP_MD*, std::size(kAlgorithms)> out{};
    for (size_t i = 0; i < std::size(kAlgorithms); ++i)
      out[i] = EVP_MD_fetch(nullptr, kAlgorithms[i].fetch, nullptr);
    return out;
  }();
  return kFetched[static_cast<size_t>(algorithm)];
}

}  // namespace

std::string toHex(std::string_view bytes, HexCase hex_case) {
  static constexpr char kLower[] = "0123456789abcdef";
  static constexpr char kUpper[] = "0123456789ABCDEF";
  const char* digits = hex_case == HexCase::kLower ? kLower : kUpper;
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 0x0f];
  }
  return out;
}

Result<std::string> fromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return Error{"hex text has an odd length"};
  std::string out(hex.size() / 2, '\0');
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(), hex.size(),
                     nullptr, &len, nullptr) != 0 ||
      len != out.size())
    return Error{"not hex"};
  return out;
}

std::string md5Hex(std::string_view data, HexCase hex_case) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  openssl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1)
    return {};  // never equal to a provider's 32 hex digits
  return toHex(std::string_view(reinterpret_cast<const char*>(digest), len), hex_case);
}

std::string hmacSha256Hex(const Secret& key, std::string_view data, HexCase hex_case) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  auto k = key.reveal();
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(k.data()), k.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof st);
  return toHex(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac), hex_case);
}

std::string hmacMd5Hex(const Secret& key, std::string_view data, HexCase hex_case) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  auto k = key.reveal();
  if (!HMAC(EVP_md5(), k.data(), static_cast<int>(k.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len))
    return {};
  return toHex(std::string_view(reinterpret_cast<const char*>(mac), len), hex_case);
}

std::optional<HashAlgorithm> hashAlgorithmNamed(std::string_view name) {
  for (const auto& a : kAlgorithms)
    if (a.name == name) return a.algorithm;
  return std::nullopt;
}

std::string_view hashAlgorithmName(HashAlgorithm algorithm) {
  return kAlgorithms[static_cast<size_t>(algorithm)].name;
}

bool hashAvailable(HashAlgorithm algorithm) {
  return fetched(algorithm) != nullptr;
}

std::string hashHex(HashAlgorithm algorithm, std::string_view data, HexCase hex_case) {
  const EVP_MD* md = fetched(algorithm);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  openssl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (md == nullptr || !ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1)
    return {};
  return toHex(std::string_view(reinterpret_cast<const char*>(digest), len), hex_case);
}

bool hexEqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(lowerAscii(a[i]) ^ lowerAscii(b[i]));
  return diff == 0;
}

}  // namespace payhook::handlers
