// Listen addresses and CIDR ranges as written in the config, validated with the same parsers the daemon
// binds and matches with, so both agree on what a string means.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/cidr.h"
#include "common/listen_address.h"
#include "common/result.h"

namespace payhook::config {

// Parsed by common/listen_address.h, which the server binds with.
using payhook::ListenAddress;
using payhook::parseListenAddress;

// Validates with the same parser the daemon matches with (common/cidr.h); the error explains the form.
Result<payhook::Cidr> parseCidr(std::string_view text);

}  // namespace payhook::config
