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

// Why a crash of the Redis host can take acknowledged callbacks with it, or empty when it cannot:
//   appendonly off: a master restarted before a failover comes back empty, and its replicas copy that;
//   appendfsync not "always" with min_replicas 0: the last second or so was in no disk and no replica.
std::string ackLossReason(std::string_view appendonly, std::string_view appendfsync, uint32_t min_replicas);
inline bool ackLossPossible(std::string_view appendonly, std::string_view appendfsync,
                            uint32_t min_replicas) {
  return !ackLossReason(appendonly, appendfsync, min_replicas).empty();
}

}  // namespace payhook::redis
