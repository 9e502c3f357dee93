// Operator: what payhookctl and the admin API v1 do to the queue, each call one or a few Lua scripts on a
// RedisStore's connection, so every step is atomic and costs O(page) in Redis whatever the queue's size.
//
// It works on the keys docs/architecture.md describes ("The Redis schema"), and needs no running payhookd:
// the delivery engine of any instance picks up what an operation made due.
//
// The operations and what they change:
//   stats      reads only: events total (and how many are complete, waiting for their retention), Redis'
//              used memory and maxmemory, per target the due jobs (how many are overdue, the oldest due
//              time) and the dead ones, leased jobs (how many leases ran out), dead jobs by route. Dead jobs
//              by target and route are counted over the oldest kStatsDeadScan dead jobs (dead_counted tells
//              how many; when fewer than `dead`, the breakdown is partial).
//   list       reads only, newest first: events by receipt time ({p}:events), or with state "dead" the dead
//              jobs by burial time ({p}:dead, one row per dead target). Filters: state, route and a time
//              range on that same score. One script looks at kListScanMax entries at most; list() repeats it
//              until `limit` rows match, the end is reached, or kListScriptsMax scripts ran, and returns a
//              cursor to go on from when it stopped early.
//   show       reads only: the event hash, every target's job and the attempt records kept.
//   find       reads only: the event whose id is the key and the events whose listing holds it (the order
//              number, the provider's payment ids, a webhook-id: common/event.h, EventListing), newest
//              first. The store script indexes every event's keys in {p}:find as it stores it, and whatever
//              deletes an event takes them out again.
//   reindex    indexes the events stored without a listing: walks {p}:events from the oldest in batches, a
//              position stored in Redis after each ({p}:reindex), so a walk that stopped goes on where it
//              stopped and memory stays one batch; the caller computes each listing from the event's
//              provider and data. Safe beside running daemons: an event deleted or indexed meanwhile is
//              left alone, and two walks at once are told apart by the position (the second stops).
//   retry      per event id: each dead target is due now with a fresh schedule (dead entry removed, status
//              and reason deleted, attempts:<t> = 0, since:<t> = now, so max_age counts from the retry); a
//              target waiting for a later attempt is made due now (its attempt count and schedule go on);
//              a target whose job is nowhere (lost, not yet repaired by the sweep) is re-created due now.
//              Delivered targets and jobs in flight (leased) are left alone. The event's state is
//              recomputed: dead while any target is dead, delivered when every target is, otherwise
//              retrying when a target has attempts, else pending.
//   retryDead  every dead job buried at or before `now` (of one route, or all), as retry does for a dead
//              target; in batches of kBulkBatch, one script each. Jobs buried again while it runs are not
//              retried twice.
//   replay     an event no job of which is due or in flight: every target that delivered it gets it again,
//              due now with a fresh schedule, and the state is recomputed. Dead targets stay dead (retry
//              them); follow-up calls to a provider's API (targets "@<route>") are never repeated, since the
//              provider was already told.
//   purgeDead  deletes the events that have a dead job buried at or before `cutoff_ms` (of one route, or
//   all):
//              the event hash, its attempts list, its {p}:events entry and every dead entry of it. Events
//              with a job still due or in flight for another target are skipped (counted), so a delivery is
//              never pulled from under the engine; a later purge takes them once settled. The idempotency
//              key {p}:idem:<route>:<key> is kept until its own TTL, so a provider repeating a purged
//              callback is still answered as a duplicate and not stored again.
//
// Threading and callbacks: on the store's loop only, like RedisStore; every callback runs exactly once, on
// the loop, never before the call returns (unless the store is destroyed first), except for arguments that
// cannot be valid, which each method names: those are answered at once, inside the call. The store must
// outlive the operations in flight; the Operator itself may be destroyed earlier. Redis trouble comes back as
// an Error and a multi-script operation stops at it (the batches before it are applied).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/event.h"
#include "common/result.h"
#include "queue/redis_event_store.h"
#include "queue/retention.h"

namespace payhook::queue {

constexpr size_t kStatsDeadScan = 2'000;
constexpr size_t kListScanMax = 1'000;
constexpr size_t kListScriptsMax = 20;
constexpr size_t kListLimitMax = 500;
constexpr size_t kBulkBatch = 500;
constexpr size_t kRetryIdsMax = 1'000;  // ids per retry() call
constexpr size_t kFindLimitMax = 500;
constexpr size_t kFindScan = 2'000;  // index entries one find() looks at
constexpr size_t kReindexBatch = 200;

struct OperatorOptions {
  std::string prefix = "payhook";  // the RedisStore's prefix
};

struct TargetStats {
  std::string name;
  int64_t due = 0;
  int64_t overdue = 0;        // due at or before now: waiting for capacity, a breaker or an engine
  int64_t oldest_due_ms = 0;  // 0: none due
  int64_t dead = 0;           // among the dead jobs counted
};

struct QueueStats {
  int64_t now_ms = 0;
  int64_t events = 0;     // every event kept ({p}:events)
  int64_t completed = 0;  // of those, complete ones waiting for their retention ({p}:events:done)
  RedisMemory memory;     // INFO memory
  int64_t due = 0;
  int64_t overdue = 0;
  int64_t leased = 0;
  int64_t leased_expired =
      0;  // leases past their expiry: their instance died or stalls; the sweep returns them
  int64_t dead = 0;
  int64_t oldest_dead_ms = 0;        // 0: none
  int64_t dead_counted = 0;          // dead jobs the per-target and per-route counts cover
  std::vector<TargetStats> targets;  // sorted by name
  std::vector<std::pair<std::string, int64_t>> dead_by_route;  // sorted by route
  // Where the store is connected and what that Redis says of its replication (INFO replication).
  std::string redis_at;      // "host:port" (the master found through Sentinel or Cluster)
  std::string role;          // "master", "slave"; empty when INFO was refused
  int64_t replicas = -1;     // replicas online; -1 unknown
  int64_t min_replicas = 0;  // [redis] min_replicas
};

// One target's job of an event.
struct TargetState {
  std::string name;
  std::string status;  // "delivered", "dead", "leased" (in flight), "due" (waiting), "missing" (nowhere)
  int64_t attempts = 0;
  int64_t due_ms = 0;          // status "due"
  int64_t lease_until_ms = 0;  // status "leased"
  int64_t dead_at_ms = 0;      // status "dead"
  int64_t since_ms = 0;        // last operator retry or replay, 0 when none
  std::string reason;          // why it was buried
};

struct EventSummary {
  std::string id;
  std::string state;  // pending, retrying, delivered, dead, stored
  std::string route;
  std::string provider;
  std::string type;
  int64_t received_at_ms = 0;
  bool verified = false;
  std::vector<TargetState> targets;
  std::string last_attempt;  // the newest attempt record (a JSON object as stored), empty when none
  EventListing listing;      // empty for an event stored before listings were kept, until a reindex
  // Rows of a dead listing: which dead job the row is for.
  std::string dead_target;
  int64_t dead_at_ms = 0;
};

struct EventDetail {
  EventSummary summary;
  std::string idempotency_key;
  std::string decision;
  // An expected order's event held back because the other source reported the same state first: that
  // event's id (README "Expected payments"); empty otherwise.
  std::string same_as;
  std::string data_json;
  RawRequest raw;
  std::vector<std::string> attempts;  // attempt records, oldest first, JSON objects as stored
  bool damaged = false;  // the stored parts do not decode: the fields above that come from them are empty
};

struct ListQuery {
  std::string state = "all";  // all, pending, retrying, delivered, dead, stored
  std::string route;          // empty: every route
  int64_t since_ms = 0;       // inclusive lower bound on the walked score; 0: none
  int64_t until_ms = 0;       // inclusive upper bound; 0: none
  size_t limit = 50;          // 1..kListLimitMax
  std::string cursor;         // a previous page's next_cursor; empty: from the newest
};

struct ListPage {
  std::vector<EventSummary> events;
  std::string next_cursor;  // empty: nothing more
  size_t scanned = 0;       // entries looked at
};

// Where a listing goes on: the next entry is the `skip`-th (0-based) of those scored exactly `score`, walking
// down. Encoded as "<score>.<skip>", opaque to clients.
struct ListCursor {
  int64_t score = 0;
  int64_t skip = 0;
};
std::string encodeCursor(const ListCursor& c);
std::optional<ListCursor> decodeCursor(std::string_view text);

bool isListState(std::string_view state);
// Event ids and route names as accepted from operators: 1..128 of [A-Za-z0-9._:@-]. Anything else cannot
// name a stored event, and is kept out of Redis keys.
bool isValidName(std::string_view s);

struct FindResult {
  std::vector<EventSummary> events;
  bool more = false;  // more events matched than the limit
};

// A key find() can look up: what the store indexes (queue/event_record.h, isListingKey).
bool isFindKey(std::string_view key);

struct ReindexReport {
  int64_t read = 0;     // events looked at
  int64_t indexed = 0;  // given a listing now
  int64_t batches = 0;
  bool resumed = false;  // went on from a position an earlier walk stored
};

struct RetryResult {
  enum class Outcome { kRetried, kNotFound, kNothingToDo };
  std::string id;
  Outcome outcome = Outcome::kNotFound;
  std::vector<std::string> revived;  // dead (or lost) targets, due now with a fresh schedule
  std::vector<std::string> hurried;  // targets that were waiting for a later attempt, due now
  std::string state;                 // the event's state afterwards
};

struct ReplayResult {
  enum class Outcome { kReplayed, kNotFound, kBusy, kNothingToDo };
  std::string id;
  Outcome outcome = Outcome::kNotFound;
  std::vector<std::string> targets;  // due again
  std::string state;
};

struct BulkReport {
  int64_t done = 0;     // retryDead: jobs retried; purgeDead: events deleted
  int64_t skipped = 0;  // purgeDead: dead jobs left because their event still has a job due or in flight
  int64_t batches = 0;  // scripts run
};

const char* retryOutcomeName(RetryResult::Outcome o);
const char* replayOutcomeName(ReplayResult::Outcome o);

class Operator {
 public:
  // `store` must outlive every operation in flight; see the file comment.
  Operator(RedisStore& store, OperatorOptions options);

  void stats(int64_t now_ms, std::function<void(Result<QueueStats>)> cb);
  // The query must be valid (isListState, limit within 1..kListLimitMax, a cursor that decodes, a valid
  // route): otherwise an Error at once.
  void list(const ListQuery& query, std::function<void(Result<ListPage>)> cb);
  // nullopt: no such event (at once for an id that fails isValidName).
  void show(const std::string& id, std::function<void(Result<std::optional<EventDetail>>)> cb);
  // One result per id, in order; ids failing isValidName are not_found. An Error at once for no ids or
  // more than kRetryIdsMax.
  void retry(const std::vector<std::string>& ids, int64_t now_ms,
             std::function<void(Result<std::vector<RetryResult>>)> cb);
  // An invalid route matches nothing: an empty report at once.
  void retryDead(const std::string& route, int64_t now_ms, std::function<void(Result<BulkReport>)> cb);
  void replay(const std::string& id, int64_t now_ms, std::function<void(Result<ReplayResult>)> cb);
  // An Error at once for a key that fails isFindKey, a route that fails isValidName, or a limit outside
  // 1..kFindLimitMax.
  void find(const std::string& key, const std::string& route, size_t limit,
            std::function<void(Result<FindResult>)> cb);
  // `listing` gives an event's listing from its provider and data JSON; `progress` (optional) is called
  // after each batch.
  using ListingOf = std::function<EventListing(const std::string& provider, const std::string& data_json)>;
  void reindex(ListingOf listing, std::function<void(const ReindexReport&)> progress,
               std::function<void(Result<ReindexReport>)> cb);
  void purgeDead(const std::string& route, int64_t cutoff_ms, std::function<void(Result<BulkReport>)> cb);

  // The store the operations run on, for the other parts of the queue an operator uses (expectations).
  RedisStore& store() { return store_; }

 private:
  // retryDead() and purgeDead(): one walk over {p}:dead up to `until_ms`, a bounded script per step.
  void walkDead(const char* mode, const std::string& route, int64_t until_ms,
                std::function<void(Result<BulkReport>)> cb);
  RedisStore& store_;
  std::string key_prefix_;  // "{prefix}:"
  std::string leased_key_;
  std::string dead_key_;
  std::string events_key_;
  std::string targets_key_;
  Script stats_script_;
  Script list_script_;
  Script show_script_;
  Script retry_script_;
  Script replay_script_;
  Script walk_dead_script_;
  Script find_script_;
  Script reindex_read_script_;
  Script reindex_write_script_;
};

}  // namespace payhook::queue
