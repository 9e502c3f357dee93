// A T-Bank notification's top level as its Token sees it, and the Token itself (README "T-Bank").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"

namespace payhook::handlers::tbank {

// One top-level field, in the order it came.
struct Field {
  enum class Kind { kString, kNumber, kBool, kNull, kNested };
  std::string key;
  Kind kind = Kind::kString;
  // A string's value (unescaped); a number as the body writes it; "true"/"false"; empty for null and for a
  // nested object or array, which the Token leaves out.
  std::string text;
};

struct Notification {
  std::vector<Field> fields;
  const Field* find(std::string_view key) const;
};

// Nesting deeper than this is refused: T-Bank's DATA and Receipt are shallow, and a bound keeps a hostile
// body from costing the DOM parse of the nested values anything.
inline constexpr int kMaxDepth = 32;

// The top level of a JSON object. An error (answered 400) when the body is not a JSON object, repeats a
// key, or nests deeper than kMaxDepth.
Result<Notification> parseNotification(std::string_view body);

// How a null field enters the Token. T-Bank's documentation does not say; its Java sample skips nulls, and a
// sender that prints every value would write "null". Both are tried.
enum class Nulls { kSkipped, kAsText };

// The text the Token hashes: the values of the top-level scalars but Token, with {"Password": password}
// added, sorted by key (bytes), concatenated with nothing between them. Nested objects and arrays are left
// out (T-Bank's rule); nulls per `nulls`.
std::string tokenText(const Notification& notification, std::string_view password,
                      Nulls nulls = Nulls::kSkipped);
// SHA-256 of tokenText() as lower-case hex.
std::string token(const Notification& notification, const Secret& password, Nulls nulls = Nulls::kSkipped);
bool hasNull(const Notification& notification);

// `body` (a JSON object) with the string value of its top-level "Token" emptied, every other byte kept.
std::string withBlankedToken(std::string body);

}  // namespace payhook::handlers::tbank
