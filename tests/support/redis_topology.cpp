#include "support/redis_topology.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace payhook::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kRedisCliPath = "/usr/bin/redis-cli";
constexpr int kSentinels = 3;
constexpr int kClusterMasters = 3;
constexpr int kClusterNodes = 6;
constexpr auto kSetUpTimeout = std::chrono::seconds(30);
constexpr auto kCreateTimeout = std::chrono::seconds(30);
constexpr size_t kLogTailChars = 1000;
// Fast enough to time a promotion to a few tens of ms; each poll is a fresh connection per node.
constexpr auto kSeenPoll = milliseconds(20);
constexpr auto kStatePoll = milliseconds(50);

// Polls `check` until it returns "" or `timeout` passed. `check` returns what is still wrong; that and
// `describe()` make the message of the std::runtime_error thrown at the deadline. A node that does not
// answer counts as "not yet": `check` may throw.
void pollUntil(const std::string& what, milliseconds timeout, milliseconds period,
               const std::function<std::string()>& check, const std::function<std::string()>& describe) {
  const auto deadline = Clock::now() + timeout;
  std::string last;
  for (;;) {
    try {
      last = check();
    } catch (const std::exception& e) {
      last = e.what();
    }
    if (last.empty()) return;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(period);
  }
  throw std::runtime_error(what + ": not within " + std::to_string(timeout.count()) + " ms (" + last + ")\n" +
                           describe());
}

std::map<std::string, std::string> parseInfo(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (auto colon = line.find(':'); colon != std::string::npos)
      out[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return out;
}

// "ip=127.0.0.1,port=7001,state=online" (an INFO replication slaveN value) as a map.
std::map<std::string, std::string> parseFields(const std::string& value) {
  std::map<std::string, std::string> out;
  std::istringstream in(value);
  std::string item;
  while (std::getline(in, item, ','))
    if (auto eq = item.find('='); eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
  return out;
}

// A flat [key, value, key, value...] reply (SENTINEL MASTER and the entries of SENTINEL REPLICAS) as a map.
std::map<std::string, std::string> parsePairs(const RedisReply& r) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) out[r.elements[i].str] = r.elements[i + 1].str;
  return out;
}

std::map<std::string, std::string> infoOf(const RedisServer& server, const std::string& section) {
  RedisReply r = server.command({"INFO", section});
  if (r.type != RedisReply::kString) throw std::runtime_error("INFO " + section + ": " + r.str);
  return parseInfo(r.str);
}

int toPort(const std::string& s) {
  try {
    return std::stoi(s);
  } catch (const std::exception&) {
    return 0;
  }
}

std::string nodeName(int port) {
  return "127.0.0.1:" + std::to_string(port);
}

// What keeps the master on `master_port` from having n replicas online that report their link to it up;
// "" when nothing does. `find` maps a port to its server (nullptr when not ours).
std::string replicasMissing(const std::function<const RedisServer*(int)>& find, int master_port, int n) {
  const RedisServer* master = find(master_port);
  if (!master || !master->running()) return nodeName(master_port) + " is not running";
  auto info = infoOf(*master, "replication");
  if (info["role"] != "master") return nodeName(master_port) + " has role " + info["role"];
  int ready = 0;
  std::string missing;
  for (const auto& [key, value] : info) {
    if (key.rfind("slave", 0) != 0 || key.find_first_not_of("0123456789", 5) != std::string::npos) continue;
    auto fields = parseFields(value);
    const int port = toPort(fields["port"]);
    if (fields["state"] != "online") {
      missing += " " + nodeName(port) + " state=" + fields["state"];
      continue;
    }
    const RedisServer* replica = find(port);
    if (!replica) continue;
    auto rinfo = infoOf(*replica, "replication");
    if (rinfo["master_link_status"] != "up" || toPort(rinfo["master_port"]) != master_port) {
      missing += " " + nodeName(port) + " master_port=" + rinfo["master_port"] +
                 " link=" + rinfo["master_link_status"];
      continue;
    }
    ++ready;
  }
  if (ready >= n) return "";
  return nodeName(master_port) + " has " + std::to_string(ready) + " of " + std::to_string(n) +
         " replicas in sync;" + missing;
}

const RedisServer* findNode(const std::vector<std::unique_ptr<RedisServer>>& nodes, int port) {
  for (const auto& n : nodes)
    if (n->port() == port) return n.get();
  return nullptr;
}

std::string describeNodes(const std::vector<std::pair<std::string, const RedisServer*>>& nodes) {
  std::string out;
  for (const auto& [label, server] : nodes) {
    std::string tail = server->logTail(kLogTailChars);
    if (auto nl = tail.find('\n'); nl != std::string::npos && nl + 1 < tail.size()) tail.erase(0, nl + 1);
    out += "--- " + label + " " + nodeName(server->port()) + (server->running() ? "" : " (not running)") +
           ", log tail:\n" + tail;
  }
  return out;
}

// Runs redis-cli with `args` (and the password in its environment, where no `ps` shows it), its output in a
// file of a temp dir; the exit status and the output. Killed at `timeout`.
std::pair<int, std::string> runRedisCli(const std::vector<std::string>& args, const std::string& password,
                                        milliseconds timeout) {
  TempDir dir;
  const std::string out_path = dir.path() + "/redis-cli.out";
  std::vector<std::string> arg_storage{kRedisCliPath};
  arg_storage.insert(arg_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : arg_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Built before fork: the child only calls async-signal-safe functions.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "REDISCLI_AUTH=", 14) != 0) env_storage.emplace_back(*e);
  if (!password.empty()) env_storage.push_back("REDISCLI_AUTH=" + password);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execve(kRedisCliPath, argv.data(), envp.data());
    ::_exit(127);
  }
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  bool timed_out = false;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::ifstream in(out_path);
  std::stringstream output;
  output << in.rdbuf();
  if (timed_out) return {-1, "timed out after " + std::to_string(timeout.count()) + " ms\n" + output.str()};
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), output.str()};
}

// One slot range of the slot map: its master and replicas by port.
struct SlotRange {
  int start = 0;
  int end = 0;
  int master = 0;
  std::vector<int> replicas;  // sorted, so that equal maps compare equal
  bool operator==(const SlotRange&) const = default;
};
using SlotMap = std::vector<SlotRange>;  // sorted by start

// From CLUSTER NODES rather than CLUSTER SLOTS: Redis 7.0 leaves a replica out of CLUSTER SLOTS until it
// has a non-zero replication offset, which in a fresh, empty cluster takes up to the 10 s replication ping.
// Replicas flagged "fail" are left out as CLUSTER SLOTS would; "fail?" is one node's suspicion only.
SlotMap slotMapOf(const RedisServer& server) {
  RedisReply r = server.command({"CLUSTER", "NODES"});
  if (r.type != RedisReply::kString) throw std::runtime_error("CLUSTER NODES: " + r.str);
  struct Node {
    int port = 0;
    std::string master_id;  // replicas
    bool replica = false;
    bool failed = false;
    std::vector<std::pair<int, int>> ranges;
  };
  std::map<std::string, Node> nodes;
  std::istringstream lines(r.str);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::vector<std::string> f;
    for (std::string word; in >> word;) f.push_back(word);
    if (f.size() < 8) continue;
    Node n;
    const auto colon = f[1].find(':');
    if (colon == std::string::npos) continue;
    n.port = toPort(f[1].substr(colon + 1, f[1].find_first_of("@,", colon) - colon - 1));
    const std::string flags = "," + f[2] + ",";
    n.replica = flags.find(",slave,") != std::string::npos;
    n.failed = flags.find(",fail,") != std::string::npos;
    if (n.port == 0 || flags.find(",noaddr,") != std::string::npos ||
        flags.find(",handshake,") != std::string::npos)
      continue;
    n.master_id = f[3];
    for (size_t i = 8; i < f.size(); ++i) {
      if (f[i].empty() || f[i][0] == '[') continue;  // a slot being migrated or imported
      const auto dash = f[i].find('-');
      const int first = toPort(f[i].substr(0, dash));
      n.ranges.emplace_back(first, dash == std::string::npos ? first : toPort(f[i].substr(dash + 1)));
    }
    nodes[f[0]] = std::move(n);
  }
  SlotMap map;
  for (const auto& [id, n] : nodes) {
    for (const auto& [first, last] : n.ranges) {
      SlotRange range;
      range.start = first;
      range.end = last;
      range.master = n.port;
      for (const auto& [rid, replica] : nodes)
        if (replica.replica && !replica.failed && replica.master_id == id)
          range.replicas.push_back(replica.port);
      std::sort(range.replicas.begin(), range.replicas.end());
      map.push_back(std::move(range));
    }
  }
  std::sort(map.begin(), map.end(), [](const SlotRange& a, const SlotRange& b) { return a.start < b.start; });
  return map;
}

std::string renderSlotMap(const SlotMap& map) {
  std::string out;
  for (const auto& r : map) {
    out += (out.empty() ? "" : " ") + std::to_string(r.start) + "-" + std::to_string(r.end) + ":" +
           std::to_string(r.master) + "[";
    for (size_t i = 0; i < r.replicas.size(); ++i) out += (i ? "," : "") + std::to_string(r.replicas[i]);
    out += "]";
  }
  return out.empty() ? "(no slots)" : out;
}

int masterInMap(const SlotMap& map, int slot) {
  for (const auto& r : map)
    if (slot >= r.start && slot <= r.end) return r.master;
  return 0;
}

}  // namespace

std::string redisRole(const RedisServer& server) {
  if (!server.running()) return "";
  try {
    RedisReply r = server.command({"ROLE"});
    if (r.type == RedisReply::kArray && !r.elements.empty()) return r.elements[0].str;
  } catch (const std::exception&) {
  }
  return "";
}

// ---------------------------------------------------------------------------------------------------------
// SentinelSet

SentinelSet::SentinelSet(Options options) : options_(std::move(options)) {
  auto dataOptions = [this](int master_port) {
    RedisServer::Options o;
    o.password = options_.password;
    // A full sync starts at once, not after Redis' 5 s wait for more replicas to share it.
    o.extra_config.push_back("repl-diskless-sync-delay 0");
    if (!options_.appendonly) o.extra_config.push_back("appendonly no");
    if (!options_.password.empty())
      o.extra_config.push_back("masterauth " + quoteRedisConfig(options_.password));
    if (master_port) o.extra_config.push_back("replicaof 127.0.0.1 " + std::to_string(master_port));
    return o;
  };
  data_.push_back(std::make_unique<RedisServer>(dataOptions(0)));
  const int master = data_[0]->port();
  for (int i = 0; i < options_.replicas; ++i)
    data_.push_back(std::make_unique<RedisServer>(dataOptions(master)));
  // The Sentinels learn the replicas from the master's INFO, so they start once the replicas are attached.
  pollUntil(
      "SentinelSet: replicas in sync", kSetUpTimeout, kStatePoll,
      [&] {
        return replicasMissing([this](int port) { return findNode(data_, port); }, master, options_.replicas);
      },
      [this] { return describe(); });

  const std::string& name = options_.master_name;
  for (int i = 0; i < kSentinels; ++i) {
    RedisServer::Options o;
    o.sentinel = true;
    o.password = options_.sentinel_password;
    o.extra_config = {
        "sentinel resolve-hostnames no",
        "sentinel monitor " + name + " 127.0.0.1 " + std::to_string(master) + " 2",
        "sentinel down-after-milliseconds " + name + " " + std::to_string(options_.down_after_ms),
        "sentinel failover-timeout " + name + " " + std::to_string(options_.failover_timeout_ms),
        // All replicas resync with the new master at once: a test waits for them, no client reads them.
        "sentinel parallel-syncs " + name + " " + std::to_string(std::max(1, options_.replicas)),
    };
    if (!options_.password.empty())
      o.extra_config.push_back("sentinel auth-pass " + name + " " + quoteRedisConfig(options_.password));
    if (!options_.sentinel_password.empty())
      o.extra_config.push_back("sentinel sentinel-pass " + quoteRedisConfig(options_.sentinel_password));
    sentinels_.push_back(std::make_unique<RedisServer>(o));
  }
  waitUntilSentinelsAgree(kSetUpTimeout);
}

SentinelSet::SentinelSet() : SentinelSet(Options{}) {}

SentinelSet::~SentinelSet() {
  // Sentinels first, so that none of them reconfigures the data nodes while those go down.
  sentinels_.clear();
  data_.clear();
}

std::string SentinelSet::url() const {
  std::string u = "redis+sentinel://";
  if (!options_.password.empty()) u += ":" + percentEncode(options_.password) + "@";
  for (size_t i = 0; i < sentinels_.size(); ++i) u += (i ? "," : "") + nodeName(sentinels_[i]->port());
  return u + "/" + options_.master_name;
}

std::vector<int> SentinelSet::dataPorts() const {
  std::vector<int> out;
  for (const auto& n : data_) out.push_back(n->port());
  return out;
}

std::vector<int> SentinelSet::sentinelPorts() const {
  std::vector<int> out;
  for (const auto& n : sentinels_) out.push_back(n->port());
  return out;
}

RedisServer& SentinelSet::node(int port) {
  return const_cast<RedisServer&>(static_cast<const SentinelSet*>(this)->node(port));
}

const RedisServer& SentinelSet::node(int port) const {
  if (const RedisServer* n = findNode(data_, port)) return *n;
  if (const RedisServer* n = findNode(sentinels_, port)) return *n;
  throw std::out_of_range("SentinelSet: no node on port " + std::to_string(port));
}

RedisReply SentinelSet::command(int port, const std::vector<std::string>& argv) const {
  return node(port).command(argv);
}

int SentinelSet::masterPort() const {
  std::string errors;
  for (const auto& s : sentinels_) {
    if (!s->running()) continue;
    try {
      RedisReply r = s->command({"SENTINEL", "get-master-addr-by-name", options_.master_name});
      if (r.type == RedisReply::kArray && r.elements.size() == 2) return toPort(r.elements[1].str);
      errors += " " + nodeName(s->port()) + ": " + (r.str.empty() ? "no address" : r.str);
    } catch (const std::exception& e) {
      errors += " " + nodeName(s->port()) + ": " + e.what();
    }
  }
  throw std::runtime_error("SentinelSet: no Sentinel names the master:" + errors);
}

std::vector<int> SentinelSet::replicaPorts() const {
  const int master = masterPort();
  std::vector<int> out;
  for (const auto& n : data_)
    if (n->running() && n->port() != master) out.push_back(n->port());
  return out;
}

void SentinelSet::waitForReplicas(int n, milliseconds timeout) const {
  pollUntil(
      "SentinelSet: " + std::to_string(n) + " replicas in sync", timeout, kStatePoll,
      [&] { return replicasMissing([this](int port) { return findNode(data_, port); }, masterPort(), n); },
      [this] { return describe(); });
}

void SentinelSet::waitUntilSentinelsAgree(milliseconds timeout) const {
  const std::string& name = options_.master_name;
  auto check = [&]() -> std::string {
    int master = 0;
    for (const auto& s : sentinels_) {
      if (!s->running()) continue;
      const std::string who = "Sentinel " + nodeName(s->port());
      RedisReply addr = s->command({"SENTINEL", "get-master-addr-by-name", name});
      if (addr.type != RedisReply::kArray || addr.elements.size() != 2) return who + " names no master";
      const int port = toPort(addr.elements[1].str);
      if (master && port != master) return who + " names " + nodeName(port) + ", another " + nodeName(master);
      master = port;

      auto m = parsePairs(s->command({"SENTINEL", "MASTER", name}));
      if (m["flags"] != "master") return who + ": master flags " + m["flags"];

      std::map<int, std::map<std::string, std::string>> replicas;
      for (const auto& e : s->command({"SENTINEL", "REPLICAS", name}).elements) {
        auto fields = parsePairs(e);
        replicas[toPort(fields["port"])] = fields;
      }
      for (const auto& d : data_) {
        if (!d->running() || d->port() == port) continue;
        auto it = replicas.find(d->port());
        if (it == replicas.end()) return who + " does not know replica " + nodeName(d->port());
        // Its own view (role-reported, master-link-status) may lag: a demoted master follows many
        // seconds later. waitForReplicas() waits for that.
        if (const std::string& flags = it->second["flags"]; flags != "slave")
          return who + ": replica " + nodeName(d->port()) + " flags " + flags;
      }

      int peers = 0;
      for (const auto& e : s->command({"SENTINEL", "SENTINELS", name}).elements)
        if (parsePairs(e)["flags"] == "sentinel") ++peers;
      if (peers < kSentinels - 1) return who + " knows " + std::to_string(peers) + " other Sentinels";
    }
    if (!master) return "no Sentinel runs";
    if (redisRole(node(master)) != "master") return "the named master " + nodeName(master) + " is no master";
    return "";
  };
  pollUntil("SentinelSet: Sentinels agree", timeout, kStatePoll, check, [this] { return describe(); });
}

SteadyTime SentinelSet::failover(milliseconds timeout) {
  const auto start = Clock::now();
  const int old = masterPort();
  pollUntil(
      "SentinelSet: SENTINEL FAILOVER accepted", timeout, milliseconds(100),
      [&]() -> std::string {
        for (const auto& s : sentinels_) {
          if (!s->running()) continue;
          RedisReply r = s->command({"SENTINEL", "FAILOVER", options_.master_name});
          if (r.type == RedisReply::kStatus) return "";
          // INPROG: the previous failover still reconfigures replicas; NOGOODSLAVE: no replica is fresh
          // enough yet. Both pass.
          return "SENTINEL FAILOVER: " + r.str;
        }
        return "no Sentinel runs";
      },
      [this] { return describe(); });
  const auto left =
      std::max(milliseconds(0), timeout - std::chrono::duration_cast<milliseconds>(Clock::now() - start));
  return waitForNewMaster(old, left).seen;
}

SteadyTime SentinelSet::killMaster() {
  RedisServer& master = node(masterPort());
  const auto at = Clock::now();
  master.kill();
  return at;
}

Promotion SentinelSet::waitForNewMaster(int old_port, milliseconds timeout) const {
  Promotion p;
  pollUntil(
      "SentinelSet: a master other than " + nodeName(old_port), timeout, kSeenPoll,
      [&]() -> std::string {
        std::string seen;
        for (const auto& s : sentinels_) {
          if (!s->running()) continue;
          try {
            RedisReply r = s->command({"SENTINEL", "get-master-addr-by-name", options_.master_name});
            if (r.type != RedisReply::kArray || r.elements.size() != 2) continue;
            const int port = toPort(r.elements[1].str);
            if (port == old_port) continue;
            const std::string role = redisRole(node(port));
            if (role == "master") {
              p = Promotion{port, Clock::now()};
              return "";
            }
            seen = "Sentinel " + nodeName(s->port()) + " names " + nodeName(port) + ", role " + role;
          } catch (const std::exception& e) {
            seen = e.what();
          }
        }
        return seen.empty() ? "every Sentinel names the old master" : seen;
      },
      [this] { return describe(); });
  return p;
}

void SentinelSet::restart(int port) {
  node(port).start();
}

std::string SentinelSet::describe() const {
  std::vector<std::pair<std::string, const RedisServer*>> nodes;
  for (const auto& d : data_) nodes.emplace_back("data node", d.get());
  for (const auto& s : sentinels_) nodes.emplace_back("Sentinel", s.get());
  return describeNodes(nodes);
}

// ---------------------------------------------------------------------------------------------------------
// ClusterSet

ClusterSet::ClusterSet(Options options) : options_(std::move(options)) {
  for (int i = 0; i < kClusterNodes; ++i) {
    RedisServer::Options o;
    o.password = options_.password;
    // The bus port is chosen like the client port: Redis' default, port + 10000, could fall in the
    // ephemeral range or on a port in use.
    o.port = freeTcpPort();
    int bus = freeTcpPort();
    while (bus == o.port) bus = freeTcpPort();
    o.extra_config = {
        "cluster-enabled yes",
        "cluster-config-file nodes.conf",  // in the node's dir, the working directory Redis moves to
        "cluster-node-timeout " + std::to_string(options_.node_timeout_ms),
        "cluster-port " + std::to_string(bus),
        "repl-diskless-sync-delay 0",  // see SentinelSet
    };
    if (!options_.appendonly) o.extra_config.push_back("appendonly no");
    if (!options_.password.empty())
      o.extra_config.push_back("masterauth " + quoteRedisConfig(options_.password));
    nodes_.push_back(std::make_unique<RedisServer>(o));
  }
  create();
}

ClusterSet::ClusterSet() : ClusterSet(Options{}) {}

ClusterSet::~ClusterSet() = default;

void ClusterSet::create() {
  std::vector<std::string> args{"--cluster", "create"};
  for (const auto& n : nodes_) args.push_back(nodeName(n->port()));
  args.insert(args.end(), {"--cluster-replicas", "1", "--cluster-yes"});
  auto [status, output] = runRedisCli(args, options_.password, kCreateTimeout);
  if (status != 0)
    throw std::runtime_error("ClusterSet: redis-cli --cluster create failed (status " +
                             std::to_string(status) + "):\n" + output + "\n" + describe());
  waitUntilConsistent(kSetUpTimeout);
  std::vector<int> masters;
  for (int p : ports()) {
    RedisReply r = command(p, {"ROLE"});
    if (!r.elements.empty() && r.elements[0].str == "master") masters.push_back(p);
  }
  if (masters.size() != kClusterMasters)
    throw std::runtime_error("ClusterSet: " + std::to_string(masters.size()) + " masters after create\n" +
                             output + "\n" + describe());
  for (int m : masters) waitForReplicasOf(m, 1, kSetUpTimeout);
}

std::string ClusterSet::url() const {
  std::string u = "redis+cluster://";
  if (!options_.password.empty()) u += ":" + percentEncode(options_.password) + "@";
  for (int i = 0; i < kClusterMasters; ++i) u += (i ? "," : "") + nodeName(nodes_[i]->port());
  return u;
}

std::vector<int> ClusterSet::ports() const {
  std::vector<int> out;
  for (const auto& n : nodes_) out.push_back(n->port());
  return out;
}

RedisServer& ClusterSet::node(int port) {
  return const_cast<RedisServer&>(static_cast<const ClusterSet*>(this)->node(port));
}

const RedisServer& ClusterSet::node(int port) const {
  if (const RedisServer* n = findNode(nodes_, port)) return *n;
  throw std::out_of_range("ClusterSet: no node on port " + std::to_string(port));
}

RedisReply ClusterSet::command(int port, const std::vector<std::string>& argv) const {
  return node(port).command(argv);
}

int ClusterSet::slotOf(const std::string& key) const {
  for (const auto& n : nodes_) {
    if (!n->running()) continue;
    RedisReply r = n->command({"CLUSTER", "KEYSLOT", key});
    if (r.type == RedisReply::kInteger) return static_cast<int>(r.integer);
    throw std::runtime_error("CLUSTER KEYSLOT: " + r.str);
  }
  throw std::runtime_error("ClusterSet: no node runs");
}

namespace {

// The slot map that most running nodes report; empty when none answers.
SlotMap majorityMap(const std::vector<std::unique_ptr<RedisServer>>& nodes) {
  std::vector<std::pair<SlotMap, int>> votes;
  for (const auto& n : nodes) {
    if (!n->running()) continue;
    SlotMap map;
    try {
      map = slotMapOf(*n);
    } catch (const std::exception&) {
      continue;
    }
    auto it = std::find_if(votes.begin(), votes.end(), [&](const auto& v) { return v.first == map; });
    if (it == votes.end())
      votes.emplace_back(std::move(map), 1);
    else
      ++it->second;
  }
  auto best = std::max_element(votes.begin(), votes.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  return best == votes.end() ? SlotMap{} : best->first;
}

}  // namespace

int ClusterSet::masterPortForSlot(int slot) const {
  return masterInMap(majorityMap(nodes_), slot);
}

int ClusterSet::replicaPortOf(int master_port) const {
  for (const auto& r : majorityMap(nodes_))
    if (r.master == master_port && !r.replicas.empty()) return r.replicas.front();
  return 0;
}

void ClusterSet::waitUntilConsistent(milliseconds timeout) const {
  auto check = [&]() -> std::string {
    SlotMap first;
    int first_port = 0;
    for (const auto& n : nodes_) {
      if (!n->running()) continue;
      RedisReply r = n->command({"CLUSTER", "INFO"});
      auto info = parseInfo(r.str);
      if (info["cluster_state"] != "ok")
        return nodeName(n->port()) + " says cluster_state:" + info["cluster_state"];
      SlotMap map = slotMapOf(*n);
      if (!first_port) {
        first = std::move(map);
        first_port = n->port();
      } else if (map != first) {
        return nodeName(first_port) + " reports " + renderSlotMap(first) + ", " + nodeName(n->port()) +
               " reports " + renderSlotMap(map);
      }
    }
    return first_port ? "" : "no node runs";
  };
  pollUntil("ClusterSet: consistent", timeout, kStatePoll, check, [this] { return describe(); });
}

void ClusterSet::waitForReplicasOf(int port, int n, milliseconds timeout) const {
  pollUntil(
      "ClusterSet: " + std::to_string(n) + " replicas of " + nodeName(port) + " in sync", timeout, kStatePoll,
      [&] { return replicasMissing([this](int p) { return findNode(nodes_, p); }, port, n); },
      [this] { return describe(); });
}

Promotion ClusterSet::waitForMasterOfSlot(int slot, const std::function<bool(int)>& wanted,
                                          milliseconds timeout) const {
  const auto start = Clock::now();
  Promotion p;
  pollUntil(
      "ClusterSet: a new master of slot " + std::to_string(slot), timeout, kSeenPoll,
      [&]() -> std::string {
        std::string last = "no node names a new master";
        for (const auto& n : nodes_) {
          if (!n->running()) continue;
          try {
            const int port = masterInMap(slotMapOf(*n), slot);
            if (!wanted(port)) continue;
            const std::string role = redisRole(node(port));
            if (role == "master") {
              p = Promotion{port, Clock::now()};
              return "";
            }
            last = nodeName(n->port()) + " names " + nodeName(port) + ", role " + role;
          } catch (const std::exception& e) {
            last = e.what();
          }
        }
        return last;
      },
      [this] { return describe(); });
  const auto left =
      std::max(milliseconds(0), timeout - std::chrono::duration_cast<milliseconds>(Clock::now() - start));
  pollUntil(
      "ClusterSet: every node names " + nodeName(p.port) + " master of slot " + std::to_string(slot), left,
      kStatePoll,
      [&]() -> std::string {
        for (const auto& n : nodes_) {
          if (!n->running()) continue;
          const int port = masterInMap(slotMapOf(*n), slot);
          if (port != p.port) return nodeName(n->port()) + " names " + nodeName(port);
        }
        return "";
      },
      [this] { return describe(); });
  return p;
}

SteadyTime ClusterSet::failover(int slot, milliseconds timeout) {
  const int master = masterPortForSlot(slot);
  const int replica = master ? replicaPortOf(master) : 0;
  if (!replica)
    throw std::runtime_error("ClusterSet::failover: slot " + std::to_string(slot) + " has master " +
                             std::to_string(master) + " and no replica\n" + describe());
  RedisReply r = command(replica, {"CLUSTER", "FAILOVER"});
  if (r.type != RedisReply::kStatus)
    throw std::runtime_error("CLUSTER FAILOVER on " + nodeName(replica) + ": " + r.str + "\n" + describe());
  return waitForMasterOfSlot(
             slot, [replica](int port) { return port == replica; }, timeout)
      .seen;
}

SteadyTime ClusterSet::killMasterOf(int slot) {
  const int master = masterPortForSlot(slot);
  if (!master)
    throw std::runtime_error("ClusterSet::killMasterOf: slot " + std::to_string(slot) + " has no master");
  RedisServer& server = node(master);
  const auto at = Clock::now();
  server.kill();
  return at;
}

Promotion ClusterSet::waitForNewMasterOfSlot(int slot, int old_port, milliseconds timeout) const {
  return waitForMasterOfSlot(
      slot, [old_port](int port) { return port != 0 && port != old_port; }, timeout);
}

void ClusterSet::restart(int port) {
  node(port).start();
}

std::string ClusterSet::describe() const {
  std::vector<std::pair<std::string, const RedisServer*>> nodes;
  for (const auto& n : nodes_) nodes.emplace_back("cluster node", n.get());
  return describeNodes(nodes);
}

}  // namespace payhook::testing
