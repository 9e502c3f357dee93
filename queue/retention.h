// Retention: removes completed events once they have been kept `retention`, in small atomic batches, and
// reads what Redis holds and whether it takes writes (RedisProbe).
//
// An event is complete when nothing more will happen to it by itself: state "delivered" (every target,
// a provider's follow-up call after the shop's decision included, answered 2xx) or "stored" (no targets: a
// pre-payment check kept for audit). Its id then enters
//   {p}:events:done   sorted set of complete event ids by completion time (Unix ms)
// written by the same script that completes it: the store script for an event without targets (its
// receipt), the finish script for the last delivery (the time of that attempt). An operator's retry or
// replay takes the event out again; its next completion puts it back. Dead events never enter it: they
// stay until `payhookctl purge --dead`.
//
// Retention counts from completion, not receipt: an event delivered after days of retries, or retried by
// an operator weeks later, is kept `retention` after it was delivered, so its attempts can still be read.
// Since the config requires retention >= every route's idempotency_ttl, and an idempotency key is set at
// receipt with that TTL, the key has always expired before its event is removed: a provider's repeat
// within idempotency_ttl is answered as a duplicate of an event that still exists. The sweep never deletes
// idempotency keys or notes; they expire on their own.
//
// One sweep() is one script: at most `max` events whose completion is at or before the cutoff lose their
// hash {p}:ev:<id>, their attempts list {p}:attempts:<id>, their {p}:events and {p}:events:done entries
// and any {p}:dead entry of theirs, all at once, so a listing never sees half an event. An event found
// no longer complete (being replayed) only leaves {p}:events:done.
//
// Events completed by versions without the index are found by a walk over {p}:events, a bounded step per
// sweep, whose position is kept in {p}:events:done:scan (the text "complete" once it has seen every
// event): each complete event found is indexed by its last attempt's time (its receipt when it has none).
//
// Threading: on the store's loop, like JobQueue; callbacks run exactly once, on the loop, never inside the
// call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "queue/redis_event_store.h"

namespace payhook::queue {

struct RetentionReport {
  int64_t removed = 0;     // events deleted
  int64_t dropped = 0;     // index entries of events no longer complete (delivered again) or gone
  bool more = false;       // the batch was full: more events may be past retention now
  int64_t indexed = 0;     // older complete events the walk added to {p}:events:done
  bool scan_done = false;  // the walk over {p}:events has finished (now or before)
};

// What INFO memory says, as far as payhook needs it.
struct RedisMemory {
  int64_t used = -1;       // used_memory; -1 when absent
  int64_t maxmemory = -1;  // 0: no limit; -1 when absent
  std::string policy;      // maxmemory_policy
};
RedisMemory parseRedisMemory(std::string_view info);
// A field of INFO's "name:value" lines, or empty.
std::string_view infoField(std::string_view info, std::string_view name);

struct RedisHealth {
  // Empty while Redis accepts writes; otherwise why not, for /readyz and the log.
  std::string writes_refused;
  RedisMemory memory;
  std::string role;       // "master", or "slave" for a replica
  int64_t events = 0;     // {p}:events
  int64_t completed = 0;  // {p}:events:done: complete events waiting for their retention to pass
};

class Retention {
 public:
  // `store` must outlive the Retention and its calls in flight.
  Retention(RedisStore& store, std::string prefix);

  // Removes up to `max` events completed at or before `cutoff_ms`, then walks up to `max` older events
  // for the index while that walk is not complete.
  void sweep(int64_t cutoff_ms, size_t max, std::function<void(Result<RetentionReport>)> cb);

  // Two scripts: one declared as writing, which Redis refuses (without running it) exactly when it
  // would refuse the store script's writes: out of memory under noeviction (OOM), a read-only replica
  // (READONLY), a failed RDB save with stop-writes-on-bgsave-error (MISCONF); and one declared read-only,
  // which runs anyway, for INFO and the counts. A replica that accepts writes counts as refusing them
  // too: what it stores is lost at its next resync.
  void probe(std::function<void(Result<RedisHealth>)> cb);

 private:
  RedisStore& store_;
  std::string key_prefix_;  // "{prefix}:"
  std::string done_key_;
  std::string events_key_;
  std::string leased_key_;
  std::string dead_key_;
  std::string scan_key_;
  Script sweep_script_;
  Script writable_script_;
  Script info_script_;
};

}  // namespace payhook::queue
