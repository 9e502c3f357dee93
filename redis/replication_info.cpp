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

bool ackLossPossible(std::string_view appendonly, uint32_t min_replicas) {
  return appendonly != "yes" && min_replicas == 0;
}

}  // namespace payhook::redis
