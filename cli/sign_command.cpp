#include <sodium.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/uuid.h"
#include "common/webhook_signature.h"

namespace payhook::cli {
namespace {

constexpr const char* kSignUsage =
    "usage: payhookctl sign (--secret-file FILE | --secret whsec_...) [--signing-key-file FILE]\n"
    "                       [--id ID] [--timestamp UNIX] [--body TEXT | --body-file FILE] [--curl URL]\n"
    "\n"
    "Signs a payload the Standard Webhooks way and prints the three webhook-* headers, or with --curl a\n"
    "ready curl command that posts it. Without --body or --body-file the body is read from stdin.\n"
    "The secret is never printed. Prefer --secret-file: a --secret argument is visible to other users.\n";

constexpr const char* kVerifyUsage =
    "usage: payhookctl verify (--secret-file FILE | --secret whsec_... | --public-key whpk_...)\n"
    "                         --id ID --timestamp UNIX --signature SIG [--body TEXT | --body-file FILE]\n"
    "                         [--tolerance SECONDS]\n"
    "\n"
    "Checks a Standard Webhooks signature. Exit 0 when valid, 1 when not, 2 on a usage error.\n";

bool readFile(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct Options {
  std::string secret, secret_file, signing_key_file, public_key, id, timestamp, body, body_file, curl,
      signature;
  bool has_body = false;
  long tolerance = 300;
};

// Parses "--name value" pairs; returns false (after printing why) on anything unknown.
bool parse(const std::vector<std::string>& args, Options* o, const char* usage) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (i + 1 >= args.size()) {
      std::fprintf(stderr, "payhookctl: %s needs a value\n%s", a.c_str(), usage);
      return false;
    }
    const std::string& v = args[++i];
    if (a == "--secret")
      o->secret = v;
    else if (a == "--secret-file")
      o->secret_file = v;
    else if (a == "--signing-key-file")
      o->signing_key_file = v;
    else if (a == "--public-key")
      o->public_key = v;
    else if (a == "--id")
      o->id = v;
    else if (a == "--timestamp")
      o->timestamp = v;
    else if (a == "--body")
      o->body = v, o->has_body = true;
    else if (a == "--body-file")
      o->body_file = v;
    else if (a == "--curl")
      o->curl = v;
    else if (a == "--signature")
      o->signature = v;
    else if (a == "--tolerance")
      o->tolerance = std::strtol(v.c_str(), nullptr, 10);
    else {
      std::fprintf(stderr, "payhookctl: unknown option %s\n%s", a.c_str(), usage);
      return false;
    }
  }
  return true;
}

bool loadBody(Options* o) {
  if (o->has_body) return true;
  if (!o->body_file.empty()) {
    if (!readFile(o->body_file, &o->body)) {
      std::fprintf(stderr, "payhookctl: cannot read %s\n", o->body_file.c_str());
      return false;
    }
    return true;
  }
  o->body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  return true;
}

// Reads the whsec_ secrets; a file may hold several lines (rotation): all are used.
bool loadSecrets(const Options& o, std::vector<Secret>* out) {
  std::string text = o.secret;
  if (!o.secret_file.empty() && !readFile(o.secret_file, &text)) {
    std::fprintf(stderr, "payhookctl: cannot read the secret file %s\n", o.secret_file.c_str());
    return false;
  }
  for (const auto& line : splitKeyLines(text)) {
    auto key = swh::decodeSecret(line.reveal());
    if (!key) {
      std::fprintf(stderr, "payhookctl: the secret is not usable: %s\n", key.error().message.c_str());
      return false;
    }
    out->push_back(std::move(key.value()));
  }
  return true;
}

}  // namespace

int signCommand(const std::vector<std::string>& args) {
  Options o;
  if (!parse(args, &o, kSignUsage)) return 2;
  std::vector<Secret> keys;
  if (!loadSecrets(o, &keys)) return 2;
  Secret signing_key;
  if (!o.signing_key_file.empty()) {
    std::string text;
    if (!readFile(o.signing_key_file, &text)) {
      std::fprintf(stderr, "payhookctl: cannot read %s\n", o.signing_key_file.c_str());
      return 2;
    }
    auto lines = splitKeyLines(text);
    auto sk = swh::decodeSigningKey(lines.empty() ? std::string_view() : lines.front().reveal());
    if (!sk) {
      std::fprintf(stderr, "payhookctl: the signing key is not usable: %s\n", sk.error().message.c_str());
      return 2;
    }
    signing_key = std::move(sk.value());
  }
  if (keys.empty() && signing_key.empty()) {
    std::fprintf(stderr, "payhookctl: give --secret-file, --secret or --signing-key-file\n%s", kSignUsage);
    return 2;
  }
  if (!loadBody(&o)) return 2;
  if (o.id.empty()) o.id = "msg_" + uuidV7(static_cast<int64_t>(std::time(nullptr)) * 1000);
  if (o.timestamp.empty()) o.timestamp = std::to_string(std::time(nullptr));

  std::string signature;
  for (const auto& k : keys)
    signature += (signature.empty() ? "" : " ") + swh::signV1(k, o.id, o.timestamp, o.body);
  if (!signing_key.empty())
    signature += (signature.empty() ? "" : " ") + swh::signV1a(signing_key, o.id, o.timestamp, o.body);

  if (!o.curl.empty()) {
    std::printf(
        "curl -sS -i -X POST %s -H %s -H %s -H %s -H 'content-type: application/json' --data-binary %s\n",
        shellQuote(o.curl).c_str(), shellQuote("webhook-id: " + o.id).c_str(),
        shellQuote("webhook-timestamp: " + o.timestamp).c_str(),
        shellQuote("webhook-signature: " + signature).c_str(), shellQuote(o.body).c_str());
  } else {
    std::printf("webhook-id: %s\nwebhook-timestamp: %s\nwebhook-signature: %s\n", o.id.c_str(),
                o.timestamp.c_str(), signature.c_str());
  }
  return 0;
}

int verifyCommand(const std::vector<std::string>& args) {
  Options o;
  if (!parse(args, &o, kVerifyUsage)) return 2;
  swh::VerifyKeys keys;
  if (!loadSecrets(o, &keys.hmac)) return 2;
  if (!o.public_key.empty()) {
    auto pk = swh::decodePublicKey(o.public_key);
    if (!pk) {
      std::fprintf(stderr, "payhookctl: %s\n", pk.error().message.c_str());
      return 2;
    }
    keys.ed25519.push_back(std::move(pk.value()));
  }
  if ((keys.hmac.empty() && keys.ed25519.empty()) || o.id.empty() || o.timestamp.empty() ||
      o.signature.empty()) {
    std::fputs(kVerifyUsage, stderr);
    return 2;
  }
  if (!loadBody(&o)) return 2;
  auto now_ms = static_cast<int64_t>(std::time(nullptr)) * 1000;
  switch (swh::verify(keys, o.id, o.timestamp, o.signature, o.body, now_ms, o.tolerance)) {
    case swh::VerifyResult::kOk:
      std::puts("valid");
      return 0;
    case swh::VerifyResult::kBadTimestamp:
      std::puts("invalid: webhook-timestamp is not a number");
      return 1;
    case swh::VerifyResult::kStale:
      std::puts("invalid: webhook-timestamp outside the tolerance");
      return 1;
    case swh::VerifyResult::kBadSignature:
      std::puts("invalid: no signature matches");
      return 1;
  }
  return 1;
}

}  // namespace payhook::cli
