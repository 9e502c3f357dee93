// Lua scripts run on a Connection: the script, a copy of its reply, and how a call ended.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct redisReply;

namespace payhook::redis {

// A Lua script: its text, and the SHA1 Redis knows it by, learnt from the first SCRIPT LOAD and kept for
// every later call. Copies share that cache. Use it on one loop only.
class Script {
 public:
  explicit Script(std::string text);
  const std::string& text() const;

  // The state a Connection keeps about the script, shared by the copies.
  struct State {
    std::string text;
    std::string sha;       // empty until a SCRIPT LOAD answered
    bool loading = false;  // a SCRIPT LOAD is in flight
  };
  const std::shared_ptr<State>& state() const { return state_; }

 private:
  std::shared_ptr<State> state_;
};

// One value of a script's reply, copied out of hiredis so it outlives the callback. Lua's false is kNil,
// true is the integer 1, a table is kArray (cut at its first nil, as Redis does).
struct ScriptValue {
  enum class Type : uint8_t { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<ScriptValue> elements;
};

ScriptValue copyReply(const redisReply& r);

enum class ScriptOutcome {
  kOk,           // the script ran and `value` is its reply
  kUnavailable,  // not connected, or the connection broke before the answer: the script may have run
  kTimeout,      // no answer within the command timeout: the script may have run
  kError,        // Redis answered with an error (the script raised one, or its keys were wrong)
};

struct ScriptReply {
  ScriptOutcome outcome = ScriptOutcome::kError;
  ScriptValue value;  // kOk only
  std::string error;  // otherwise: a message without secrets
  bool ok() const { return outcome == ScriptOutcome::kOk; }
};

}  // namespace payhook::redis
