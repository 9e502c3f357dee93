#include "handlers/key_files.h"

namespace payhook::handlers {

std::optional<std::string> readPemPublicKey(config::RouteKeys& keys) {
  auto source = keys.keyText("public_key", /*is_secret=*/false);
  if (!source) return std::nullopt;
  std::string text(source->text.reveal());
  if (text.find("-----BEGIN ") == std::string::npos) {
    const std::string key = source->origin.empty() ? "public_key" : "public_key_file";
    const std::string where = source->origin.empty() ? std::string("the value") : source->origin;
    keys.error(key, where + " does not hold a PEM public key or certificate (\"-----BEGIN ...\")");
    return std::nullopt;
  }
  return text;
}

}  // namespace payhook::handlers
