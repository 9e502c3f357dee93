// Key files several providers read the same way.
#pragma once

#include <optional>
#include <string>

#include "config/config.h"

namespace payhook::handlers {

// `public_key_file` (or inline `public_key`): a PEM public key or certificate, several allowed in one file.
// Reports a file that holds no PEM block; nothing when neither key is given.
std::optional<std::string> readPemPublicKey(config::RouteKeys& keys);

}  // namespace payhook::handlers
