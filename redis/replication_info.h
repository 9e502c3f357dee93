// What INFO replication and CONFIG GET say about how safe an acknowledged write is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace payhook::redis {

struct ReplicationInfo {
  std::string role;        // "master" or "slave"; empty when the text has none
  int64_t connected = -1;  // connected_slaves
  int64_t online = -1;     // replicas in state=online (the ones a WAIT can count on)
};

ReplicationInfo parseReplicationInfo(std::string_view info);

// A crash of the Redis host can take acknowledged callbacks with it: no AOF, and no replica must confirm a
// store. (With the AOF on, appendfsync decides how much: docs/reliability.md.)
bool ackLossPossible(std::string_view appendonly, uint32_t min_replicas);

}  // namespace payhook::redis
