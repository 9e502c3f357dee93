#include "tests/integration/store_inspect.h"

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

std::map<std::string, std::string> storedEvent(RedisServer& redis, const std::string& route,
                                               const std::string& key) {
  auto id = redis.command({"GET", "{payhook}:idem:" + route + ":" + key});
  if (id.type != RedisReply::kString) return {};
  return hash(redis, "{payhook}:ev:" + id.str);
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
