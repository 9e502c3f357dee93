#include "redis/script.h"

#include <hiredis/hiredis.h>

#include <utility>

namespace payhook::redis {

Script::Script(std::string text) : state_(std::make_shared<State>()) {
  state_->text = std::move(text);
}

const std::string& Script::text() const {
  return state_->text;
}

ScriptValue copyReply(const redisReply& r) {
  ScriptValue v;
  switch (r.type) {
    case REDIS_REPLY_INTEGER:
      v.type = ScriptValue::Type::kInteger;
      v.integer = r.integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      v.type = r.type == REDIS_REPLY_STRING   ? ScriptValue::Type::kString
               : r.type == REDIS_REPLY_STATUS ? ScriptValue::Type::kStatus
                                              : ScriptValue::Type::kError;
      v.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ARRAY:
      v.type = ScriptValue::Type::kArray;
      v.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) v.elements.push_back(copyReply(*r.element[i]));
      break;
    default:
      break;  // nil
  }
  return v;
}

}  // namespace payhook::redis
