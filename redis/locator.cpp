#include "redis/locator.h"

#include <utility>

#include "redis/command.h"

namespace payhook::redis {
namespace {

std::optional<int> portOf(const ScriptValue& v) {
  int64_t n = -1;
  if (v.type == ScriptValue::Type::kInteger) n = v.integer;
  if (v.type == ScriptValue::Type::kString && !v.str.empty() && v.str.size() < 6) {
    n = 0;
    for (char c : v.str) n = c >= '0' && c <= '9' ? n * 10 + (c - '0') : -1'000'000;
  }
  if (n < 1 || n > 65535) return std::nullopt;
  return static_cast<int>(n);
}

}  // namespace

std::optional<RedisEndpoint> sentinelMaster(const ScriptValue& reply, std::string* error) {
  if (reply.type == ScriptValue::Type::kNil) {
    *error = "the sentinel does not monitor this master name";
    return std::nullopt;
  }
  if (reply.type == ScriptValue::Type::kError) {
    *error = reply.str;
    return std::nullopt;
  }
  if (reply.type != ScriptValue::Type::kArray || reply.elements.size() != 2 ||
      reply.elements[0].type != ScriptValue::Type::kString || reply.elements[0].str.empty()) {
    *error = "unexpected reply to SENTINEL GET-MASTER-ADDR-BY-NAME";
    return std::nullopt;
  }
  auto port = portOf(reply.elements[1]);
  if (!port) {
    *error = "the sentinel named a master without a valid port";
    return std::nullopt;
  }
  return RedisEndpoint{reply.elements[0].str, *port};
}

std::optional<RedisEndpoint> clusterSlotOwner(const ScriptValue& slots, int64_t slot,
                                              const std::string& asked, std::string* error) {
  if (slots.type == ScriptValue::Type::kError) {
    *error = slots.str;
    return std::nullopt;
  }
  if (slots.type != ScriptValue::Type::kArray) {
    *error = "unexpected reply to CLUSTER SLOTS";
    return std::nullopt;
  }
  // Each range: start, end, then the master [ip, port, id, ...], then its replicas.
  for (const ScriptValue& range : slots.elements) {
    if (range.type != ScriptValue::Type::kArray || range.elements.size() < 3) continue;
    const auto& e = range.elements;
    if (e[0].type != ScriptValue::Type::kInteger || e[1].type != ScriptValue::Type::kInteger) continue;
    if (slot < e[0].integer || slot > e[1].integer) continue;
    const ScriptValue& master = e[2];
    if (master.type != ScriptValue::Type::kArray || master.elements.size() < 2 ||
        master.elements[0].type != ScriptValue::Type::kString) {
      // A nil endpoint is cluster-preferred-endpoint-type unknown-endpoint.
      *error = "unexpected master entry in CLUSTER SLOTS";
      return std::nullopt;
    }
    auto port = portOf(master.elements[1]);
    if (!port) {
      *error = "CLUSTER SLOTS names a master without a valid port";
      return std::nullopt;
    }
    const std::string& host = master.elements[0].str;
    // "" is the node that answered; "?" an endpoint it does not know yet (cluster-preferred-endpoint-type).
    if (host == "?") {
      *error = "the cluster does not know the address of the master of hash slot " + std::to_string(slot);
      return std::nullopt;
    }
    return RedisEndpoint{host.empty() ? asked : host, *port};
  }
  *error = "no master serves hash slot " + std::to_string(slot) + " (the cluster is not fully covered)";
  return std::nullopt;
}

Locator::Locator(uv_loop_t* loop, RedisAddress address, Secret sentinel_password, std::string slot_key,
                 uint64_t timeout_ms)
    : address_(std::move(address)),
      sentinel_password_(std::move(sentinel_password)),
      slot_key_(std::move(slot_key)),
      timeout_ms_(timeout_ms),
      resolver_(loop),
      exchange_(loop),
      defer_(loop) {}

Locator::~Locator() {
  cancel();
  defer_.close();
}

void Locator::locate(Done done) {
  cancel();
  done_ = std::move(done);
  tried_ = 0;
  errors_.clear();
  tryNext();
}

void Locator::cancel() {
  resolver_.cancel();
  defer_.stop();
  exchange_.cancel();
  done_ = nullptr;
}

void Locator::distrustLast() {
  if (!address_.seeds.empty()) start_ = (start_ + 1) % address_.seeds.size();
}

std::vector<std::string> Locator::questions() const {
  std::vector<std::string> q;
  if (address_.mode == RedisMode::kSentinel) {
    if (!sentinel_password_.empty()) q.push_back(formatCommand({"AUTH", sentinel_password_.reveal()}));
    q.push_back(formatCommand({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", address_.master_name}));
  } else {
    if (!address_.password.empty())
      q.push_back(address_.username.empty() ? formatCommand({"AUTH", address_.password})
                                            : formatCommand({"AUTH", address_.username, address_.password}));
    q.push_back(formatCommand({"CLUSTER", "KEYSLOT", slot_key_}));
    q.push_back(formatCommand({"CLUSTER", "SLOTS"}));
  }
  return q;
}

void Locator::tryNext() {
  if (tried_ >= address_.seeds.size()) {
    Done d = std::exchange(done_, nullptr);
    if (d) d({}, errors_.empty() ? "no seed to ask" : errors_);
    return;
  }
  const RedisEndpoint& seed = address_.seeds[(start_ + tried_) % address_.seeds.size()];
  if (isNumericIp(seed.host)) {
    ask(seed.host, seed.port);
    return;
  }
  const int port = seed.port;
  std::string error = resolver_.resolve(seed.host, [this, port](std::vector<std::string> ips, std::string e) {
    if (ips.empty()) {
      seedFailed("resolving: " + e);
      return;
    }
    ask(ips.front(), port);
  });
  if (!error.empty()) {
    // Answered from the loop, like every other outcome.
    defer_.start(0, [this, error] { seedFailed("resolving: " + error); });
  }
}

void Locator::ask(const std::string& ip, int port) {
  exchange_.run(ip, port, questions(), timeout_ms_,
                [this, ip](std::vector<ScriptValue> replies, std::string error) {
                  onAnswer(ip, std::move(replies), error);
                });
}

void Locator::onAnswer(const std::string& ip, std::vector<ScriptValue> replies, const std::string& error) {
  if (!error.empty()) {
    seedFailed(error);
    return;
  }
  std::string why;
  const bool auth =
      address_.mode == RedisMode::kSentinel ? !sentinel_password_.empty() : !address_.password.empty();
  // AUTH comes first when sent; an error there names the problem better than what follows.
  if (auth && replies.front().type == ScriptValue::Type::kError) {
    seedFailed("AUTH: " + replies.front().str);
    return;
  }
  std::optional<RedisEndpoint> found;
  if (address_.mode == RedisMode::kSentinel) {
    found = sentinelMaster(replies.back(), &why);
  } else {
    const ScriptValue& slot = replies[replies.size() - 2];
    if (slot.type != ScriptValue::Type::kInteger) {
      seedFailed(slot.type == ScriptValue::Type::kError ? "CLUSTER KEYSLOT: " + slot.str
                                                        : "unexpected reply to CLUSTER KEYSLOT");
      return;
    }
    found = clusterSlotOwner(replies.back(), slot.integer, ip, &why);
  }
  if (!found) {
    seedFailed(why);
    return;
  }
  start_ = (start_ + tried_) % address_.seeds.size();
  Done d = std::exchange(done_, nullptr);
  if (d) d(std::move(*found), {});
}

void Locator::seedFailed(const std::string& error) {
  const RedisEndpoint& seed = address_.seeds[(start_ + tried_) % address_.seeds.size()];
  if (errors_.size() < 600) {
    if (!errors_.empty()) errors_ += "; ";
    errors_ += seed.host + ":" + std::to_string(seed.port) + ": " + error;
  }
  ++tried_;
  tryNext();
}

}  // namespace payhook::redis
