// EventStore: durable, idempotent storage of received events, the step before any positive answer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/event.h"

namespace payhook::queue {

enum class StoreOutcome {
  kStored,       // written now; it will be delivered to every target
  kDuplicate,    // the route already holds an event with this idempotency key; nothing written
  kUnavailable,  // Redis is not connected: nothing written; or the connection broke before the answer: it
                 // may have been written (a retry by the provider is then a duplicate, which is fine)
  kTimeout,      // no answer within store_timeout; it may or may not have been written
  kError,        // Redis answered with an error; nothing written
  kHeld,         // storeUnlessNoted(): the note exists, nothing written; `note` is its value
};

const char* outcomeName(StoreOutcome o);

struct StoreResult {
  StoreOutcome outcome = StoreOutcome::kError;
  std::string event_id;   // kStored: the new id; kDuplicate: the id stored first
  std::string error;      // kError/kTimeout/kUnavailable: a message without secrets
  std::string note = {};  // kHeld: the note's value
  bool stored() const { return outcome == StoreOutcome::kStored || outcome == StoreOutcome::kDuplicate; }
};

// A key read back: `ok` false when Redis could not answer (then `error` says why, without secrets).
struct LookupResult {
  bool ok = false;
  std::optional<std::string> value;  // absent: no such key (or it expired)
  std::string error;
};

// An event read back by its idempotency key: `ok` false when Redis could not answer.
struct EventLookup {
  bool ok = false;
  std::optional<Event> event;  // absent: no such key, or its event is gone; `id` and the stored parts
  std::string error;
};

struct StoreSpec {
  std::vector<std::string> targets;  // one delivery job per target, due at once
  uint64_t idempotency_ttl_s = 30ull * 24 * 3600;
};

class EventStore {
 public:
  using Done = std::function<void(StoreResult)>;
  virtual ~EventStore() = default;

  // Stores `event` and its idempotency key atomically. `done` runs exactly once, on the loop, and never
  // before store() has returned. A positive answer to a provider may be sent only on result.stored().
  virtual void store(const Event& event, const StoreSpec& spec, Done done) = 0;

  // True while connected and able to store.
  virtual bool ready() const = 0;

  using LookupDone = std::function<void(LookupResult)>;
  // The id of the event `route` stored under idempotency key `key`, while the key is kept. `done` runs
  // exactly once, on the loop, never before the call returns.
  virtual void findStored(const std::string& route, const std::string& key, LookupDone done) = 0;

  using EventLookupDone = std::function<void(EventLookup)>;
  // The event `route` stored under idempotency key `key`, while the key is kept, read in one round trip
  // (a repeated pre-payment check is answered from the decision its first one recorded). `done` as above.
  virtual void findStoredEvent(const std::string& route, const std::string& key, EventLookupDone done) = 0;

  // A note is a short value a route keeps about one of the provider's keys for `ttl_s`, for a later
  // callback of the same payment (a Decide flow's refusal, which the payment's notice must carry). An empty
  // `value` removes the note. Sent on the connection that stores events, so a note put before an answer is
  // in Redis before any callback that answer provokes. `done` runs exactly once, as above.
  virtual void putNote(const std::string& route, const std::string& key, const std::string& value,
                       uint64_t ttl_s, LookupDone done) = 0;

  // store(), unless the route holds the note `note_key`: then nothing is written and the outcome is kHeld
  // with the note, in the same round trip, so that the caller can store the event again knowing it.
  virtual void storeUnlessNoted(const Event& event, const StoreSpec& spec, const std::string& note_key,
                                Done done) = 0;
};

}  // namespace payhook::queue
