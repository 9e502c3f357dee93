// The `integra` route's own keys (README "Configuration").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/secret.h"
#include "config/config.h"

namespace payhook::handlers::integra {

struct Settings final : config::ProviderSettings {
  Secret url_token;  // url_token_file
  std::string id_param = "transaction_id";
  std::string amount_param = "amount";
  std::string user_param = "user";
  std::vector<std::string> known_users;
  std::string api_base;
  // How `k` is encrypted, exactly one of the two when api_base is set. `crypt` names a built-in cipher
  // ("base64": Integra's public example, not its real encryption); `crypt_command` runs the partner's own
  // encryptor (argv, the program's path made absolute): the JSON on its stdin, `k` from its stdout.
  std::string crypt;
  std::vector<std::string> crypt_command;
  uint64_t crypt_timeout_ms = 5'000;
  std::string crypt_key_file;  // absolute path, passed to crypt_command as CRYPT_KEY_FILE; empty: none
  // declinePayment's errorCode and errorMessage when the decision target's 2xx answer is no clear decision,
  // or a refusal without its code or message.
  int64_t decline_code = 1;
  std::string decline_message = "declined by the shop";

  std::optional<Preparation> preparation() const override {
    if (crypt_command.empty()) return std::nullopt;
    return Preparation{crypt_timeout_ms, "crypt_timeout"};
  }
};

config::ProviderConfig providerConfig();

}  // namespace payhook::handlers::integra
