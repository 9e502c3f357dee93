#include "common/webhook_signature.h"

#include <sodium.h>

#include <algorithm>
#include <charconv>

#include "common/base64.h"

namespace payhook::swh {
namespace {

constexpr size_t kMaxSignatureEntries = 8;

Result<std::string> base64Decode(std::string_view text) {
  auto out = decodeBase64(text);
  if (!out) return Error{"not valid base64"};
  return std::move(*out);
}

std::string base64Encode(const unsigned char* data, size_t len) {
  std::string out(sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, len, sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();  // the terminating NUL
  return out;
}

std::string_view stripPrefix(std::string_view text, std::string_view prefix) {
  if (text.substr(0, prefix.size()) == prefix) text.remove_prefix(prefix.size());
  return text;
}

void hmacContent(const Secret& key, std::string_view id, std::string_view ts, std::string_view body,
                 unsigned char out[crypto_auth_hmacsha256_BYTES]) {
  crypto_auth_hmacsha256_state st;
  auto k = key.reveal();
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(k.data()), k.size());
  auto update = [&](std::string_view s) {
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  update(id);
  update(".");
  update(ts);
  update(".");
  update(body);
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
}

std::string signedContent(std::string_view id, std::string_view ts, std::string_view body) {
  std::string s;
  s.reserve(id.size() + ts.size() + body.size() + 2);
  s.append(id).append(".").append(ts).append(".").append(body);
  return s;
}

}  // namespace

Result<Secret> decodeSecret(std::string_view text) {
  auto bytes = base64Decode(stripPrefix(text, "whsec_"));
  if (!bytes) return Error{"whsec_ secret is " + bytes.error().message};
  if (bytes->empty()) return Error{"whsec_ secret is empty"};
  Secret s(std::move(bytes.value()));
  return s;
}

Result<std::string> decodePublicKey(std::string_view text) {
  auto bytes = base64Decode(stripPrefix(text, "whpk_"));
  if (!bytes) return Error{"whpk_ key is " + bytes.error().message};
  if (bytes->size() != crypto_sign_PUBLICKEYBYTES) return Error{"whpk_ key must decode to 32 bytes"};
  return std::move(bytes.value());
}

Result<Secret> decodeSigningKey(std::string_view text) {
  auto bytes = base64Decode(stripPrefix(text, "whsk_"));
  if (!bytes) return Error{"whsk_ key is " + bytes.error().message};
  Secret raw(std::move(bytes.value()));
  if (raw.size() != crypto_sign_SEEDBYTES && raw.size() != crypto_sign_SECRETKEYBYTES)
    return Error{"whsk_ key must decode to a 32-byte seed or 64-byte key"};
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  std::string sk(crypto_sign_SECRETKEYBYTES, '\0');
  crypto_sign_seed_keypair(pk, reinterpret_cast<unsigned char*>(sk.data()),
                           reinterpret_cast<const unsigned char*>(raw.reveal().data()));
  Secret out(std::move(sk));
  // A 64-byte key is the seed followed by its public key, which ed25519 signing hashes in: with another
  // second half every signature would be invalid under every key, the published one included.
  if (raw.size() == crypto_sign_SECRETKEYBYTES &&
      sodium_memcmp(pk, raw.reveal().data() + crypto_sign_SEEDBYTES, sizeof pk) != 0)
    return Error{
        "whsk_ key's second half is not the public key of its first (a 64-byte key is the seed "
        "followed by its public key)"};
  return out;
}

std::string publicKeyOf(const Secret& signing_key) {
  // libsodium's 64-byte secret key is the seed followed by the public key.
  return std::string(signing_key.reveal().substr(crypto_sign_SEEDBYTES));
}

std::string signV1(const Secret& key, std::string_view id, std::string_view timestamp,
                   std::string_view body) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  hmacContent(key, id, timestamp, body, mac);
  return "v1," + base64Encode(mac, sizeof mac);
}

std::string signV1a(const Secret& signing_key, std::string_view id, std::string_view timestamp,
                    std::string_view body) {
  std::string content = signedContent(id, timestamp, body);
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(content.data()), content.size(),
                       reinterpret_cast<const unsigned char*>(signing_key.reveal().data()));
  return "v1a," + base64Encode(sig, sizeof sig);
}

VerifyResult verify(const VerifyKeys& keys, std::string_view id, std::string_view timestamp,
                    std::string_view signature_header, std::string_view body, int64_t now_ms,
                    int64_t tolerance_s) {
  int64_t ts = 0;
  auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
  if (ec != std::errc() || end != timestamp.data() + timestamp.size() || timestamp.empty())
    return VerifyResult::kBadTimestamp;
  int64_t now_s = now_ms / 1000;
  if (ts < now_s - tolerance_s || ts > now_s + tolerance_s) return VerifyResult::kStale;

  unsigned char expected[crypto_auth_hmacsha256_BYTES];
  std::vector<std::string> macs;  // computed lazily, once per key
  std::string content;            // for ed25519, built once

  // Each entry may cost an ed25519 verification per key: a header stuffed with entries must not buy an
  // unauthenticated sender that much loop time. Senders rotate through two or three keys at most.
  if (static_cast<size_t>(std::count(signature_header.begin(), signature_header.end(), ' ')) >=
      kMaxSignatureEntries)
    return VerifyResult::kBadSignature;
  std::string_view rest = signature_header;
  while (!rest.empty()) {
    size_t sp = rest.find(' ');
    std::string_view entry = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    size_t comma = entry.find(',');
    if (comma == std::string_view::npos) continue;
    std::string_view version = entry.substr(0, comma);
    auto sig = base64Decode(entry.substr(comma + 1));
    if (!sig) continue;
    if (version == "v1" && sig->size() == crypto_auth_hmacsha256_BYTES) {
      if (macs.empty()) {
        for (const auto& key : keys.hmac) {
          hmacContent(key, id, timestamp, body, expected);
          macs.emplace_back(reinterpret_cast<const char*>(expected), sizeof expected);
        }
      }
      for (const auto& mac : macs)
        if (constantTimeEqual(mac, *sig)) return VerifyResult::kOk;
    } else if (version == "v1a" && sig->size() == crypto_sign_BYTES) {
      if (content.empty()) content = signedContent(id, timestamp, body);
      for (const auto& pk : keys.ed25519)
        if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                        reinterpret_cast<const unsigned char*>(content.data()),
                                        content.size(),
                                        reinterpret_cast<const unsigned char*>(pk.data())) == 0)
          return VerifyResult::kOk;
    }
  }
  return VerifyResult::kBadSignature;
}

}  // namespace payhook::swh
