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
  enum class Repeats {
    kRefuse,  // any name given twice is an error: a repeated signed parameter would let an attacker choose
              // which copy is checked and which is used
    kKeep,    // repeats are kept, in order; the protocol decides which names may repeat (repeated())
  };
  // Refuses malformed percent escapes, and repeated names unless asked to keep them.
  static Result<Form> parse(std::string_view text, Repeats repeats = Repeats::kRefuse);

  // The first value given for `name`; null when absent.
  const std::string* get(std::string_view name) const;
  // How many times `name` was given.
  size_t count(std::string_view name) const;
  // The names given more than once, each once, in byte order.
  const std::vector<std::string>& repeated() const { return repeated_; }
  bool has(std::string_view name) const { return get(name) != nullptr; }
  const std::vector<std::pair<std::string, std::string>>& pairs() const { return pairs_; }

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
  std::vector<std::string> repeated_;
};

// `text` (a query string or form body) with the value of every `name=` pair emptied, every other byte kept:
// for a stored request whose signature is a plain digest over public fields and a password, which would let
// anyone who reads events test password guesses offline. `name` is matched as sent, not percent-decoded.
std::string withBlankedValue(std::string text, std::string_view name);

// PHP's urlencode(): A-Za-z0-9 and "-_." stay, a space becomes "+", every other byte (including "~" and
// each byte of a UTF-8 sequence) becomes %XX with upper-case hex. Payin-payout signs with it, and Integra's
// API reads its `k` parameter through PHP.
std::string phpUrlencode(std::string_view bytes);

using payhook::percentDecode;  // common/percent.h; forms pass plus_is_space = true

}  // namespace payhook::handlers
