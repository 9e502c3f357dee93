#include "handlers/integra/settings.h"

#include <climits>
#include <filesystem>

namespace payhook::handlers::integra {

namespace {

std::string quote(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// crypt, crypt_command, crypt_timeout and the key file only crypt_command may use.
void readCipher(config::RouteKeys& keys, Settings& settings) {
  if (auto crypt = keys.string("crypt")) {
    if (*crypt == "base64") {
      settings.crypt = *crypt;
    } else {
      keys.error("crypt",
                 quote(*crypt) +
                     " is not a built-in cipher; the only one is \"base64\" (Integra's public example): "
                     "run Integra's real one through crypt_command");
    }
  }
  if (auto argv =
          keys.command("crypt_command", "must name the encryptor, e.g. [\"/usr/local/bin/integra-encrypt\"]"))
    settings.crypt_command = std::move(*argv);
  if (auto v = keys.duration("crypt_timeout", 1)) {
    if (!keys.has("crypt_command")) {
      keys.error("crypt_timeout", "is only used with crypt_command");
    } else {
      settings.crypt_timeout_ms = *v;
    }
  }
  if (keys.has("crypt") && keys.has("crypt_command")) {
    keys.error("crypt_command", "give either crypt or crypt_command, not both");
  } else if (!keys.has("crypt") && !keys.has("crypt_command") && keys.has("api_base")) {
    keys.error("crypt",
               "is required with api_base: crypt = \"base64\" (Integra's public example, not its real "
               "encryption) or crypt_command = [\"/path/to/encryptor\", ...]");
  }

  // The key is the partner's encryptor's business: its file is passed to crypt_command as CRYPT_KEY_FILE,
  // and an inline key could reach nothing.
  if (keys.has("crypt_key")) {
    keys.touch("crypt_key");
    keys.touch("crypt_key_file");
    keys.error("crypt_key",
               "an inline key reaches nothing: put it in a file and give crypt_key_file, which crypt_command "
               "receives as CRYPT_KEY_FILE");
  } else if (keys.has("crypt_key_file")) {
    if (auto key = keys.keyText("crypt_key")) {
      if (key->text.reveal().empty()) {
        keys.error("crypt_key_file", key->origin + " holds no key (it is empty)");
      } else if (!keys.has("crypt_command")) {
        keys.error("crypt_key_file",
                   std::string("nothing would use it: ") +
                       (keys.has("crypt") ? "crypt = \"base64\" takes no key" : "there is no crypt_command") +
                       " (a key file is passed only to crypt_command, as CRYPT_KEY_FILE)");
      } else {
        std::error_code ec;
        settings.crypt_key_file = std::filesystem::absolute(key->origin, ec).lexically_normal().string();
      }
    }
  }
}

std::shared_ptr<const config::ProviderSettings> read(config::RouteKeys& keys, const config::RouteConfig&) {
  auto settings = std::make_shared<Settings>();
  if (auto token = keys.secret("url_token")) {
    if (keys.tokenLongEnough("url_token", *token)) settings->url_token = std::move(*token);
  } else if (!keys.has("url_token_file") && !keys.has("url_token")) {
    keys.missingSecret("url_token", "is required for provider \"integra\"");
  }
  if (auto v = keys.string("id_param")) settings->id_param = *v;
  if (auto v = keys.string("amount_param")) settings->amount_param = *v;
  if (auto v = keys.string("user_param")) settings->user_param = *v;
  if (auto v = keys.stringArray("known_users")) settings->known_users = std::move(*v);
  if (auto base = keys.string("api_base")) {
    if (!base->starts_with("http://") && !base->starts_with("https://")) {
      keys.error("api_base", quote(*base) + " must start with http:// or https://");
    }
    settings->api_base = *base;
  }
  readCipher(keys, *settings);
  if (auto code = keys.integer("decline_code", 1)) {
    // Integra's errorCode is a PHP integer; a 32-bit one is safe on every build of it.
    if (*code > static_cast<uint64_t>(INT32_MAX)) {
      keys.error("decline_code", "must be at most " + std::to_string(INT32_MAX));
    } else {
      settings->decline_code = static_cast<int64_t>(*code);
    }
  }
  if (auto message = keys.string("decline_message")) settings->decline_message = std::move(*message);
  if (!keys.has("decision")) {
    keys.error("decision",
               "is required for provider \"integra\": its answer decides between confirmPayment and "
               "declinePayment");
  } else if (!keys.has("api_base")) {
    keys.error("api_base",
               "is required for provider \"integra\": confirmPayment and declinePayment are sent there");
  }
  return settings;
}

}  // namespace

config::ProviderConfig providerConfig() {
  return {"integra",
          {"url_token_file", "url_token", "id_param", "amount_param", "user_param", "known_users", "api_base",
           "crypt", "crypt_command", "crypt_timeout", "crypt_key_file", "crypt_key", "decline_code",
           "decline_message"},
          read};
}

}  // namespace payhook::handlers::integra
