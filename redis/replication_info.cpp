#include "redis/replication_info.h"

#include <charconv>

namespace payhook::redis {

ReplicationInfo parseReplicationInfo(std::string_view info) {
  ReplicationInfo r;
  while (!info.empty()) {
    auto nl = info.find('\n');
    std::string_view line = info.substr(0, nl);
    info.remove_prefix(nl == std::string_view::npos ? info.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with("role:")) {
      r.role = std::string(line.substr(5));
    } else if (line.starts_with("connected_slaves:")) {
      std::string_view v = line.substr(17);
      int64_t n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc() && end == v.data() + v.size()) r.connected = n;
    } else if (line.starts_with("slave") && line.find(":ip=") != std::string_view::npos) {
      // slave0:ip=127.0.0.1,port=7001,state=online,offset=123,lag=0
      if (r.online < 0) r.online = 0;
      if (line.find(",state=online,") != std::string_view::npos) ++r.online;
    }
  }
  if (r.online < 0 && r.connected >= 0) r.online = 0;
  return r;
}

std::string ackLossReason(std::string_view appendonly, std::string_view appendfsync, uint32_t min_replicas) {
  if (appendonly != "yes")
    return "appendonly is off: a Redis restarted after a crash comes back with its last snapshot only";
  if (appendfsync != "always" && min_replicas == 0)
    return "appendfsync is " + std::string(appendfsync) +
           " and min_replicas is 0: the last writes are on no disk and no replica when the host fails";
  return {};
}

}  // namespace payhook::redis
