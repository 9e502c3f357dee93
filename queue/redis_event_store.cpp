#include "queue/redis_event_store.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <string_view>
#include <utility>

#include "queue/event_record.h"
#include "queue/expectations.h"
#include "queue/lua_scripts.h"
#include "redis/command.h"

namespace payhook::queue {

using redis::appendBulk;
using redis::appendBulkParts;
using redis::appendNumber;
using redis::replyText;

const char* outcomeName(StoreOutcome o) {
  switch (o) {
    case StoreOutcome::kStored:
      return "stored";
    case StoreOutcome::kDuplicate:
      return "duplicate";
    case StoreOutcome::kUnavailable:
      return "unavailable";
    case StoreOutcome::kTimeout:
      return "timeout";
    case StoreOutcome::kError:
      return "error";
    case StoreOutcome::kHeld:
      return "held";
  }
  return "error";
}

namespace {

redis::ConnectionOptions connectionOptions(RedisStoreOptions o) {
  redis::ConnectionOptions c;
  c.url = std::move(o.url);
  c.password = std::move(o.password);
  c.marker_key = "{" + o.prefix + "}:marker";
  c.command_timeout_ms = o.store_timeout_ms;
  c.connect_timeout_ms = o.connect_timeout_ms;
  c.reconnect_initial_ms = o.reconnect_initial_ms;
  c.reconnect_max_ms = o.reconnect_max_ms;
  c.heartbeat_ms = o.heartbeat_ms;
  c.sentinel_password = std::move(o.sentinel_password);
  c.min_replicas = o.min_replicas;
  c.replica_timeout_ms = o.replica_timeout_ms;
  return c;
}

StoreOutcome storeOutcome(redis::ScriptOutcome o) {
  switch (o) {
    case redis::ScriptOutcome::kOk:
      return StoreOutcome::kStored;
    case redis::ScriptOutcome::kUnavailable:
      return StoreOutcome::kUnavailable;
    case redis::ScriptOutcome::kTimeout:
      return StoreOutcome::kTimeout;
    case redis::ScriptOutcome::kError:
      return StoreOutcome::kError;
  }
  return StoreOutcome::kError;
}

// The store script's reply: {1, id} stored, {0, first id} a duplicate, {2, note} held.
StoreResult storeResultOf(const redisReply& r) {
  if (r.type != REDIS_REPLY_ARRAY || r.elements != 2 || r.element[0]->type != REDIS_REPLY_INTEGER ||
      r.element[1]->type != REDIS_REPLY_STRING)
    return StoreResult{StoreOutcome::kError, {}, "unexpected reply from the store script"};
  const long long kind = r.element[0]->integer;
  if (kind == 2) {
    StoreResult held{StoreOutcome::kHeld, {}, {}};
    held.note = replyText(*r.element[1]);
    return held;
  }
  return StoreResult{kind == 1 ? StoreOutcome::kStored : StoreOutcome::kDuplicate,
                     std::string(replyText(*r.element[1])),
                     {}};
}

// A GET's, SET's or DEL's reply as a LookupResult.
RedisStore::ScriptDone asLookup(EventStore::LookupDone done) {
  return [done = std::move(done)](ScriptReply reply) {
    LookupResult result;
    result.ok = reply.ok();
    if (!result.ok)
      result.error = reply.error;
    else if (reply.value.type == ScriptValue::Type::kString || reply.value.type == ScriptValue::Type::kStatus)
      result.value = std::move(reply.value.str);
    done(std::move(result));
  };
}

}  // namespace

RedisStore::RedisStore(uv_loop_t* loop, RedisStoreOptions options)
    : key_prefix_("{" + options.prefix + "}:"),
      due_key_(key_prefix_ + "due"),
      events_key_(key_prefix_ + "events"),
      targets_key_(key_prefix_ + "targets"),
      find_key_(key_prefix_ + "find"),
      store_script_(std::string(scripts::kListingKeys) + std::string(scripts::kExpectSettle) +
                    std::string(scripts::kStore)),
      conn_(loop, connectionOptions(std::move(options))) {
  conn_.preload(store_script_);
}

RedisStore::~RedisStore() = default;

void RedisStore::start() {
  conn_.start();
}

void RedisStore::stop() {
  conn_.stop();
}

bool RedisStore::ready() const {
  return conn_.ready();
}

uint64_t RedisStore::dataLosses() const {
  return conn_.dataLosses();
}

void RedisStore::onReadyChange(std::function<void(bool ready)> cb) {
  conn_.onReadyChange(std::move(cb));
}

void RedisStore::store(const Event& event, const StoreSpec& spec, Done done) {
  store(event, spec, {}, std::move(done));
}

void RedisStore::storeUnlessNoted(const Event& event, const StoreSpec& spec, const std::string& note_key,
                                  Done done) {
  store(event, spec, note_key, std::move(done));
}

void RedisStore::store(const Event& e, const StoreSpec& spec, std::string_view note_key, Done done) {
  const uint32_t slot = takeSlot();
  PendingStore& p = pending_[slot];
  p.done = std::move(done);
  // The store script's flags: '1' for a target not yet added to {p}:targets in this connection generation.
  // The set only grows (nothing removes a name), so one SADD per name and generation keeps it complete; a
  // target counts as added once a store that carried its flag stored (a duplicate returns before the
  // SADD), and a new connection, or a Redis found without our data, starts over. The delivery sweep adds
  // every configured target too, which repairs the set after a flush the heartbeat has not noticed yet.
  std::string flags;
  for (const auto& t : spec.targets) {
    auto it = registered_.find(t);
    const bool send = it == registered_.end() || it->second != conn_.generation();
    if (send) p.registering.push_back(t);
    flags += send ? '1' : '0';
  }
  const uint32_t argc = 14 + static_cast<uint32_t>(spec.targets.size()) + (note_key.empty() ? 0 : 1);
  // The completion and the posted answer capture the store and a slot number only: small enough for
  // std::function to keep them without allocating, where capturing `done` and the result cost two
  // allocations per stored callback.
  conn_.call(
      store_script_, argc, [&](std::string& c) { writeStoreArgs(c, e, spec, note_key, flags); },
      [this, slot](const redis::CallEnd& end) {
        PendingStore& p = pending_[slot];
        p.result = end.outcome == redis::ScriptOutcome::kOk
                       ? storeResultOf(*end.reply)
                       : StoreResult{storeOutcome(end.outcome), {}, std::string(end.error)};
        if (p.result.outcome == StoreOutcome::kStored)
          for (auto& t : p.registering) registered_[std::move(t)] = conn_.generation();
        p.registering.clear();
        if (!p.result.stored() || conn_.minReplicas() == 0) {
          answer(slot);
          return;
        }
        // A duplicate is confirmed too: the retry of a callback refused for want of replicas finds it
        // stored, and may be acknowledged only once the replicas hold it, whoever wrote it.
        const bool duplicate = p.result.outcome == StoreOutcome::kDuplicate;
        conn_.confirmReplicas(
            [this, slot](bool confirmed, std::string_view why) {
              if (!confirmed) {
                PendingStore& p = pending_[slot];
                p.result =
                    StoreResult{StoreOutcome::kUnavailable,
                                {},
                                "stored on the master, not yet on enough replicas: " + std::string(why)};
              }
              answer(slot);
            },
            duplicate);
      });
}

void RedisStore::answer(uint32_t slot) {
  conn_.post([this, slot] {
    PendingStore& p = pending_[slot];
    Done done = std::move(p.done);
    StoreResult result = std::move(p.result);
    free_slots_.push_back(slot);
    done(std::move(result));
  });
}

uint32_t RedisStore::takeSlot() {
  if (free_slots_.empty()) {
    pending_.emplace_back();
    return static_cast<uint32_t>(pending_.size() - 1);
  }
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  return slot;
}

// ARGV and KEYS as queue/lua/store.lua takes them, after EVALSHA and its sha.
void RedisStore::writeStoreArgs(std::string& c, const Event& e, const StoreSpec& spec,
                                std::string_view note_key, const std::string& flags) const {
  const bool noted = !note_key.empty();
  appendBulk(c, noted ? "7" : "6");
  const std::string_view idem = e.idempotency_key.empty() ? std::string_view(e.id) : e.idempotency_key;
  appendBulkParts(c, {key_prefix_, "idem:", e.route, ":", idem});
  appendBulkParts(c, {key_prefix_, "ev:", e.id});
  appendBulk(c, due_key_);
  appendBulk(c, events_key_);
  appendBulk(c, targets_key_);
  appendBulk(c, find_key_);
  if (noted) appendBulkParts(c, {key_prefix_, "note:", e.route, ":", note_key});
  char num[24];
  auto ttl_end = std::to_chars(num, num + sizeof(num), std::max<uint64_t>(spec.idempotency_ttl_s, 1)).ptr;
  appendBulk(c, std::string_view(num, ttl_end - num));
  appendBulk(c, e.id);
  std::string received_at;  // a dozen digits: no allocation
  const record::Parts parts = record::partsOf(e, received_at);
  appendBulk(c, received_at);
  c += '$';
  appendNumber(c, record::packedSize(parts));
  c += "\r\n";
  record::appendPacked(c, parts);
  c += "\r\n";
  appendBulk(c, flags);
  // Reused, so that the listing costs no allocation once it has grown to the usual size.
  static thread_local std::string listing;
  listing.clear();
  record::appendListing(listing, e.listing);
  appendBulk(c, listing);
  // The expected order the event speaks of (queue/lua/store.lua): the keys are built here, where the prefix
  // is known. Names that would break a line or a key are left out: no expectation is registered under them.
  appendBulk(c, expectationLines(key_prefix_, e));
  for (const auto& t : spec.targets) appendBulk(c, t);
}

void RedisStore::runScript(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                           ScriptDone done) {
  conn_.runScript(script, std::move(keys), std::move(args), std::move(done));
}

void RedisStore::findStored(const std::string& route, const std::string& key, LookupDone done) {
  // What a lookup finds may be acknowledged to a provider: with min_replicas, once the replicas hold it.
  conn_.runScript(get_script_, {key_prefix_ + "idem:" + route + ":" + key}, {}, asLookup(std::move(done)),
                  /*confirm_found=*/true);
}

void RedisStore::putNote(const std::string& route, const std::string& key, const std::string& value,
                         uint64_t ttl_s, LookupDone done) {
  runScript(put_script_, {key_prefix_ + "note:" + route + ":" + key},
            {value, std::to_string(std::max<uint64_t>(ttl_s, 1))}, asLookup(std::move(done)));
}

void RedisStore::findStoredEvent(const std::string& route, const std::string& key, EventLookupDone done) {
  conn_.runScript(
      find_event_script_, {key_prefix_ + "idem:" + route + ":" + key, key_prefix_ + "ev:"}, {},
      [done = std::move(done)](ScriptReply reply) {
        EventLookup result;
        result.ok = reply.ok();
        if (!result.ok) {
          result.error = std::move(reply.error);
        } else if (reply.value.type == ScriptValue::Type::kArray && reply.value.elements.size() == 2) {
          // An event of the older layout, or one purged while its key lives, reads as absent.
          if (auto parts = record::unpack(reply.value.elements[1].str)) {
            Event event;
            record::fill(*parts, event);
            event.id = std::move(reply.value.elements[0].str);
            result.event = std::move(event);
          }
        }
        done(std::move(result));
      },
      /*confirm_found=*/true);
}

}  // namespace payhook::queue
