// application/x-www-form-urlencoded and query strings, as the providers send them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/percent.h"
#include "common/result.h"

namespace payhook::handlers {

// Name/value pairs in the order received, percent-decoded ('+' is a space). Values stay exactly as sent
// otherwise (signatures are computed over them).
class Form {
 public:
  // Refuses malformed percent escapes, and any name given twice: a signed parameter repeated would let
  // an attacker choose which copy is checked and which is used.
  static Result<Form> parse(std::string_view text);

  // Null when absent.
  const std::string* get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name) != nullptr; }
  const std::vector<std::pair<std::string, std::string>>& pairs() const { return pairs_; }

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
};

// PHP's urlencode(): A-Za-z0-9 and "-_." stay, a space becomes "+", every other byte (including "~" and
// each byte of a UTF-8 sequence) becomes %XX with upper-case hex. Payin-payout signs with it, and Integra's
// API reads its `k` parameter through PHP.
std::string phpUrlencode(std::string_view bytes);

using payhook::percentDecode;  // common/percent.h; forms pass plus_is_space = true

}  // namespace payhook::handlers
