#include "support/store_inspect.h"

#include <gtest/gtest.h>

#include "queue/event_record.h"

namespace payhook::testing {

size_t countKeys(RedisServer& redis, const std::string& pattern) {
  return redis.command({"KEYS", pattern}).elements.size();
}

std::map<std::string, std::string> hash(RedisServer& redis, const std::string& key) {
  auto r = redis.command({"HGETALL", key});
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) out[r.elements[i].str] = r.elements[i + 1].str;
  return out;
}

std::map<std::string, std::string> eventHash(RedisServer& redis, const std::string& key) {
  auto out = hash(redis, key);
  auto packed = out.find(std::string(queue::record::kPackedField));
  if (packed == out.end()) return out;
  const size_t ev = key.rfind(":ev:");
  if (ev != std::string::npos) out["id"] = key.substr(ev + 4);
  const std::string blob = packed->second;
  out.erase(packed);
  auto parts = queue::record::unpack(blob);
  if (!parts) {
    ADD_FAILURE() << key << ": the packed field does not decode: " << blob;
    return out;
  }
  for (size_t i = 0; i < parts->size(); ++i) out[std::string(queue::record::kParts[i])] = (*parts)[i];
  return out;
}

std::map<std::string, std::string> storedEvent(RedisServer& redis, const std::string& route,
                                               const std::string& key) {
  auto id = redis.command({"GET", "{payhook}:idem:" + route + ":" + key});
  if (id.type != RedisReply::kString) return {};
  return eventHash(redis, "{payhook}:ev:" + id.str);
}

RedisReply queuedJobs(RedisServer& redis) {
  static const char* kScript =
      "local out = redis.call('ZRANGE', KEYS[2], 0, -1) "
      "for _, t in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
      "  for _, m in ipairs(redis.call('ZRANGE', '{payhook}:due:' .. t, 0, -1)) do table.insert(out, m) end "
      "end "
      "return out";
  return redis.command({"EVAL", kScript, "2", "{payhook}:targets", "{payhook}:leased"});
}

long long queuedJobCount(RedisServer& redis) {
  return static_cast<long long>(queuedJobs(redis).elements.size());
}

}  // namespace payhook::testing
