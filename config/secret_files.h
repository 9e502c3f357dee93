// Reading `*_file` secrets: where a relative path is looked up, and how a file becomes secret values.
// Nothing here ever puts file content into an error message.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "config/config.h"

namespace payhook::config {

struct SecretFile {
  std::string path;   // the path actually read, for messages
  Secret text;        // the whole file
  unsigned mode = 0;  // st_mode's permission bits when it was read
};

// An absolute path is used as is. A relative one is taken from env.credentials_directory when that is set and
// the file exists there, by its path or by its bare file name (systemd's LoadCredential=), otherwise from
// `config_dir`. The error names the path(s)
// tried and the reason, never the content.
Result<SecretFile> readSecretFile(std::string_view written, const std::string& config_dir,
                                  const Environment& env);

// Why a secret file others may read deserves a warning ("... is readable by group or others (mode 0644)
// ..."), or empty. systemd's credentials are exempt: systemd copies them in with its own restrictive modes,
// and the copy is what payhookd reads.
std::string exposureWarning(const SecretFile& file, const Environment& env);

// Key files are split by common/secret.h's splitKeyLines, the same rule the handlers and payhookctl use.
using payhook::splitKeyLines;

// True when `value` is `prefix` followed by standard base64 that decodes to between min and max bytes
// (Standard Webhooks keys: whsec_, whpk_, whsk_). The decoded bytes are wiped before returning.
bool isPrefixedBase64Key(std::string_view value, std::string_view prefix, size_t min_bytes, size_t max_bytes);

}  // namespace payhook::config
