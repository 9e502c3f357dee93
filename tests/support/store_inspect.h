// Reading what payhookd stored, for integration tests: the assertions are about Redis' state.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "support/redis_server.h"

namespace payhook::testing {

// Keys matching a KEYS pattern, e.g. "{payhook}:ev:*".
size_t countKeys(RedisServer& redis, const std::string& pattern);
// A hash's fields; empty when the key is absent.
std::map<std::string, std::string> hash(RedisServer& redis, const std::string& key);
// An event hash's fields with its packed parts ("e") shown as the named fields they pack, so tests read
// either layout (queue/event_record.h) alike; "e" itself is left out, and "id" (a field of the older
// layout) is taken from the key.
std::map<std::string, std::string> eventHash(RedisServer& redis, const std::string& key);
// The event stored under a route's idempotency key, or an empty map.
std::map<std::string, std::string> storedEvent(RedisServer& redis, const std::string& route,
                                               const std::string& key);
// Delivery jobs not finished: the members of every {payhook}:due:<target> and {payhook}:leased, read by one
// script. The daemon's delivery engine moves a job from due to leased and back while a test looks, so due
// alone is racy.
RedisReply queuedJobs(RedisServer& redis);
long long queuedJobCount(RedisServer& redis);

}  // namespace payhook::testing
