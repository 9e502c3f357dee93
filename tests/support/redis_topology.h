// Test fixtures for Redis high availability: a master with replicas watched by three Sentinels
// (SentinelSet), and a Redis Cluster of three masters with one replica each (ClusterSet). Every node is a
// RedisServer (redis_server.h) in its own temp dir on a free loopback port, with the same persistence
// defaults, so data acknowledged before a SIGKILL is in the killed node's AOF.
//
// They exist for the failover tests: a master is failed over or killed on demand, and the moment a new
// master became visible is reported as a client would notice it (a Sentinel naming a new address whose ROLE
// says master; a node's slot map naming a new owner that says master). Every wait is bounded and throws
// std::runtime_error with the tails of the servers' logs. All methods are blocking and meant for the test
// thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "support/redis_server.h"

namespace payhook::testing {

using SteadyTime = std::chrono::steady_clock::time_point;

// A new master and the first poll that saw it as such.
struct Promotion {
  int port = 0;
  SteadyTime seen{};
};

// The node's own answer to ROLE: "master", "slave" or "sentinel"; "" when it does not answer.
std::string redisRole(const RedisServer& server);

// A master, `replicas` replicas and three Sentinels with quorum 2. The constructor returns once every
// replica is in sync and the Sentinels agree (waitUntilSentinelsAgree), within 30 s (about 2.5 s).
class SentinelSet {
 public:
  struct Options {
    std::string master_name = "payhook-ha";
    int replicas = 2;
    int down_after_ms = 1'000;
    // Also how long a Sentinel that voted waits before it may lead a failover of its own (twice this), so
    // a failed election is retried sooner than with Redis' 3 minutes.
    int failover_timeout_ms = 3'000;
    bool appendonly = true;         // false: "appendonly no", nothing persisted
    std::string password;           // data nodes' requirepass and masterauth; the Sentinels' auth-pass
    std::string sentinel_password;  // the Sentinels' own requirepass (and sentinel-pass among themselves)
  };

  explicit SentinelSet(Options options);
  SentinelSet();  // Same as SentinelSet(Options{}), see RedisServer().
  ~SentinelSet();
  SentinelSet(const SentinelSet&) = delete;
  SentinelSet& operator=(const SentinelSet&) = delete;

  // "redis+sentinel://[:PASSWORD@]127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/MASTER_NAME", the data password
  // percent-encoded.
  std::string url() const;
  const Options& options() const { return options_; }
  std::vector<int> dataPorts() const;      // the master and the replicas, in start order
  std::vector<int> sentinelPorts() const;  // in start order

  // The master as the first Sentinel that answers names it (SENTINEL get-master-addr-by-name); throws when
  // none does.
  int masterPort() const;
  // The running data nodes other than masterPort().
  std::vector<int> replicaPorts() const;

  // Until the master has at least n replicas online (INFO replication) and each of them reports
  // master_link_status:up towards it.
  void waitForReplicas(int n, std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // Until every Sentinel names the same master, which says master, lists every other running data node as
  // a replica that is neither down nor disconnected, and knows the other two Sentinels. The Sentinels' view
  // only: a replica may not follow yet (a former master turns into a replica 8 to 20 s after the
  // Sentinels made it one), which waitForReplicas() waits for.
  void waitUntilSentinelsAgree(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // SENTINEL FAILOVER on a Sentinel (retried while one is still in progress), then waitForNewMaster();
  // returns when the new master was seen. The old master is not demoted by the failover itself: it stays a
  // writable master until a Sentinel reconfigures it, 8 to 20 s later (see restart()).
  SteadyTime failover(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGKILL of the current master; returns the moment it was sent.
  SteadyTime killMaster();
  // Until a Sentinel names a master other than old_port and that node's ROLE says master. Does not wait
  // for the other Sentinels or the replicas: see waitUntilSentinelsAgree() and waitForReplicas().
  Promotion waitForNewMaster(int old_port,
                             std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // Starts a killed or stopped node again (data node or Sentinel) with the config it last had. A former
  // master comes back as a master, writable, and stays one until a Sentinel turns it into a replica: a
  // Sentinel waits 8 s after an instance reports an unexpected role, and polls a replica's INFO every 10 s,
  // so 8 to 20 s. waitForReplicas() sees the end of that.
  void restart(int port);

  // The data node or Sentinel on `port`; throws std::out_of_range for another port.
  RedisServer& node(int port);
  const RedisServer& node(int port) const;
  RedisReply command(int port, const std::vector<std::string>& argv) const;
  std::string role(int port) const { return redisRole(node(port)); }

 private:
  std::string describe() const;

  Options options_;
  std::vector<std::unique_ptr<RedisServer>> data_;  // [0] the first master
  std::vector<std::unique_ptr<RedisServer>> sentinels_;
};

// Three masters and three replicas with cluster-enabled, made by `redis-cli --cluster create
// --cluster-replicas 1`. The constructor returns once every node says cluster_state:ok, all agree on the
// slot map and every master has its replica in sync, within 30 s (about 2.5 s).
class ClusterSet {
 public:
  struct Options {
    int node_timeout_ms = 1'000;
    bool appendonly = true;  // false: "appendonly no", nothing persisted
    std::string password;    // every node's requirepass and masterauth
  };

  explicit ClusterSet(Options options);
  ClusterSet();  // Same as ClusterSet(Options{}), see RedisServer().
  ~ClusterSet();
  ClusterSet(const ClusterSet&) = delete;
  ClusterSet& operator=(const ClusterSet&) = delete;

  // "redis+cluster://[:PASSWORD@]127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3": three seed nodes.
  std::string url() const;
  const Options& options() const { return options_; }
  std::vector<int> ports() const;  // all six nodes

  int slotOf(const std::string& key) const;  // CLUSTER KEYSLOT
  // The master of `slot` and a replica of `master_port` in the slot map that most running nodes report
  // (from CLUSTER NODES, without replicas flagged fail); 0 when there is none.
  int masterPortForSlot(int slot) const;
  int replicaPortOf(int master_port) const;

  // Until every running node says cluster_state:ok and all report the same slot map.
  void waitUntilConsistent(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // Until the node on `port` is a master with at least n replicas online (INFO replication), each
  // reporting master_link_status:up towards it.
  void waitForReplicasOf(int port, int n, std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // CLUSTER FAILOVER on a replica of the slot's master, then until every running node's slot map names
  // that replica as the slot's master and its ROLE says master; returns when a node first showed it.
  SteadyTime failover(int slot, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGKILL of the slot's master; returns the moment it was sent.
  SteadyTime killMasterOf(int slot);
  // Until a running node's slot map names a master of `slot` other than old_port whose ROLE says master
  // (`seen`), then until every running node's map agrees.
  Promotion waitForNewMasterOfSlot(int slot, int old_port,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // Starts a killed or stopped node again, with its AOF and nodes.conf: a former master learns that its
  // slots moved and turns into a replica of their new owner (waitForReplicasOf sees the end of that).
  void restart(int port);

  // The node on `port`; throws std::out_of_range for another port.
  RedisServer& node(int port);
  const RedisServer& node(int port) const;
  RedisReply command(int port, const std::vector<std::string>& argv) const;
  std::string role(int port) const { return redisRole(node(port)); }

 private:
  void create();
  Promotion waitForMasterOfSlot(int slot, const std::function<bool(int)>& wanted,
                                std::chrono::milliseconds timeout) const;
  std::string describe() const;

  Options options_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

}  // namespace payhook::testing
