// Reading a Lua script's reply (ScriptValue) and writing its numeric arguments, shared by the
// scripts' users. Redis replies are untrusted input: every accessor tolerates a value of the wrong type.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "redis/script.h"

namespace payhook::redis::lua {

// Decimal text of a script argument.
inline std::string number(int64_t v) {
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof(buf), v).ptr;
  return std::string(buf, end);
}

// The i-th element of an array reply; null when `v` is not an array or is shorter.
inline const ScriptValue* element(const ScriptValue& v, size_t i) {
  if (v.type != ScriptValue::Type::kArray || i >= v.elements.size()) return nullptr;
  return &v.elements[i];
}

inline bool isArray(const ScriptValue* v) {
  return v && v->type == ScriptValue::Type::kArray;
}

// A string or status reply's text; empty for anything else.
inline std::string text(const ScriptValue* v) {
  if (!v || (v->type != ScriptValue::Type::kString && v->type != ScriptValue::Type::kStatus)) return {};
  return v->str;
}

// An integer reply, or a string holding exactly a decimal integer.
inline bool integer(const ScriptValue* v, int64_t& out) {
  if (!v) return false;
  if (v->type == ScriptValue::Type::kInteger) {
    out = v->integer;
    return true;
  }
  if (v->type != ScriptValue::Type::kString) return false;
  auto [p, ec] = std::from_chars(v->str.data(), v->str.data() + v->str.size(), out);
  return ec == std::errc() && p == v->str.data() + v->str.size();
}

// A score or count that may be absent (""): 0 then.
inline int64_t integerOr0(const ScriptValue* v) {
  int64_t out = 0;
  return integer(v, out) ? out : 0;
}

// What failed, for a script whose reply is an error or not of the expected shape.
inline Error scriptError(const char* what, const ScriptReply& r) {
  return Error{std::string(what) + ": " + (r.error.empty() ? "unexpected reply" : r.error)};
}

}  // namespace payhook::redis::lua
