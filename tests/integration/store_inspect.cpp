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

}  // namespace payhook::testing
