// JobQueue: the delivery jobs RedisStore::store() queued, claimed under a lease, finished or retried, with
// every step one Lua script on the store's connection, so it is atomic and several payhookd instances can
// share one Redis.
//
// Keys and fields: docs/architecture.md ("The Redis schema"). One due set per target: a claim asks each
// target for as many jobs as it can take now, so a target that is down or at its cap never hides another's
// due jobs. An event that becomes delivered joins {p}:events:done (queue/retention.h); a completion may add a
// follow-up job (a provider's API call after the shop's decision), whose target joins the event's `targets`.
// A job lives in exactly one of its due set, leased, dead, or is delivered (status:<t>); every move is one
// script. Each operation costs O(log n) in the size of the sets it touches; nothing is read at start-up.
//
// Leases: claim() writes a token unique to that claim into lease:<t>; complete(), reschedule(), bury()
// and release() apply only while lease:<t> still holds that token. A lease that expired is moved back
// to due by sweep(), but its token stays until another claim replaces it, so a slow worker may still
// finish its job until then (one delivery fewer), and is refused (kLeaseLost) once someone else claimed it.
//
// Finishing (complete, reschedule, bury, release) is batched: while one finishing script is out, the jobs
// finished meanwhile wait and then go together in the next one, each applied exactly as if alone. Under load
// one script call finishes dozens of jobs; alone, a job goes at once.
//
// Threading and callbacks: like RedisStore, on its loop only; every callback runs exactly once, on the
// loop, never before the call returns (a queue destroyed with jobs not yet sent fails them in its
// destructor). Redis trouble (not connected, timeout, script error, an answer of
// the wrong shape) comes back as an Error; the operation may or may not have been applied then.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/event.h"
#include "common/result.h"
#include "queue/redis_event_store.h"

namespace payhook::queue {

struct JobQueueOptions {
  std::string prefix = "payhook";  // the RedisStore's prefix
  size_t attempts_kept = 50;       // per event, all targets together
  // The repair sweep checks events received within this window before `now`; older events are taken as
  // settled. A full pass over the window takes (events in the window / sweep max) sweeps.
  uint64_t repair_window_ms = 24ull * 3600 * 1000;
  // Makes lease tokens unique across instances; empty: 64 random bits from the OS at construction.
  std::string instance_id;
};

// What proves a claim: the job and the token its claim wrote.
struct JobLease {
  std::string job_id;  // "<event_id>|<target>"
  std::string token;
};

// How many due jobs one target can take now.
struct ClaimWant {
  std::string target;
  size_t max = 0;
};

struct ClaimedJob {
  JobLease lease;
  std::string target;
  int attempt = 0;  // 1 for the first delivery
  // The event as store() wrote it: what envelopeJson() needs.
  Event event;
  bool unreadable = false;  // the stored parts could not be decoded: event holds only its id
  std::string decision;     // the event's `decision` field: what a follow-up job carries out
  int64_t since_ms = 0;     // since:<target>, 0 when never retried by an operator
};

struct ClaimBatch {
  std::vector<ClaimedJob> jobs;  // in due order
  // Jobs taken off due without a delivery: their event hash is gone (expired or purged), or their target
  // is already delivered or dead. Nothing more happens to them.
  std::vector<std::string> dropped;
  // Per target asked: how many jobs left its due set (claimed or dropped). Equal to what was asked means
  // more may be waiting.
  std::map<std::string, size_t> taken;
};

// What a completion settles in the same script: `decision` is kept on the event and, with `call`, a job for
// `target` is due at once for the same event. Once a follow-up job for `target` exists (queued, in flight,
// finished or dead), a later completion changes neither: a decision is carried out once.
struct FollowUp {
  std::string target;
  std::string decision;
  bool call = true;
};

// What a re-check through the provider's API (handlers::Recheck) settles in the same script as its job:
// confirmed, the event's packed parts are replaced by `event`'s (the API's object as its data, verified)
// and a job for each of `targets` is due at once; refuted, the job is finished as "refuted" with `note` as
// its reason, nothing is queued and the event becomes "stored" (kept, never forwarded). Either way `note`
// is kept on the event under "recheck", and `event.listing` replaces its listing (the find index follows).
// Confirmed, `event.order` (an expected order) is settled in the same script, as the store script settles a
// callback's: reconciliation that reported the state first holds the event back (stored, `same_as`).
struct RecheckOutcome {
  bool confirmed = false;
  Event event;
  std::vector<std::string> targets;
  std::string note;
};

struct AttemptRecord {
  int64_t at_ms = 0;  // when the attempt started (Unix ms)
  int status = 0;     // HTTP status, 0 when there was none (network error, timeout)
  std::string error;  // empty on an HTTP answer
  double latency_ms = 0;
  std::string answer_head;  // the first 1 KiB of the answer; longer text is cut
};

enum class LeaseOutcome {
  kApplied,    // the claim still held, the job moved
  kLeaseLost,  // another claim holds the job now (or it was already finished): nothing changed
  kEventGone,  // the event hash is gone: the job was dropped from due and leased
};

const char* leaseOutcomeName(LeaseOutcome o);

struct QueueDepth {
  int64_t due = 0;  // all targets together
  std::map<std::string, int64_t> due_by_target;
  int64_t leased = 0;
  int64_t dead = 0;
};

struct SweepReport {
  size_t expired = 0;    // leases that had run out, now due again
  size_t scanned = 0;    // events the repair looked at
  size_t repaired = 0;   // jobs re-created for events whose job was nowhere
  bool wrapped = false;  // the repair reached the newest event and starts over at the window next time
  QueueDepth depth;      // after the sweep
};

class JobQueue {
 public:
  // `store` must outlive the queue; the queue runs its scripts on the store's connection and is usable
  // while store.ready().
  JobQueue(RedisStore& store, JobQueueOptions options);
  ~JobQueue();
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // For each want, moves up to want.max of the target's jobs due at or before now_ms into leased until
  // now_ms + lease_ms, oldest due first, and counts an attempt for each. One script for all targets.
  void claim(const std::vector<ClaimWant>& wants, int64_t now_ms, uint64_t lease_ms,
             std::function<void(Result<ClaimBatch>)> cb);

  // The target answered 2xx: the job is delivered, and the event too once all its targets are.
  void complete(const JobLease& lease, const AttemptRecord& record,
                std::function<void(Result<LeaseOutcome>)> cb);
  // The same, and `next` is queued (or its decision recorded) in the same script.
  void complete(const JobLease& lease, const AttemptRecord& record, const FollowUp& next,
                std::function<void(Result<LeaseOutcome>)> cb);
  // The re-check answered: see RecheckOutcome.
  void settle(const JobLease& lease, const AttemptRecord& record, const RecheckOutcome& outcome,
              std::function<void(Result<LeaseOutcome>)> cb);
  // Another attempt at due_ms; the event becomes retrying (unless it is already dead).
  void reschedule(const JobLease& lease, const AttemptRecord& record, int64_t due_ms,
                  std::function<void(Result<LeaseOutcome>)> cb);
  // No more attempts: into dead at record.at_ms, and the event becomes dead.
  void bury(const JobLease& lease, const AttemptRecord& record, const std::string& reason,
            std::function<void(Result<LeaseOutcome>)> cb);
  // Graceful stop before the attempt was made: due again at now_ms and the attempt is not counted.
  void release(const JobLease& lease, int64_t now_ms, std::function<void(Result<LeaseOutcome>)> cb);

  // Moves up to `max` expired leases (expiry < now_ms) back to due at now_ms, then checks up to `max`
  // events of the repair window (see JobQueueOptions) from where the last sweep stopped and re-creates,
  // due at now_ms, any job of an unfinished event that is in none of due, leased or dead and not
  // finished. The cursor lives in this object; sweeps by several instances only repeat harmless work.
  // `targets` (the configured ones) are added to {p}:targets, the set depth() and operators read.
  void sweep(int64_t now_ms, size_t max, const std::vector<std::string>& targets,
             std::function<void(Result<SweepReport>)> cb);

  // Jobs waiting in each due set (the targets of {p}:targets), leased and dead.
  void depth(std::function<void(Result<QueueDepth>)> cb);

 private:
  void finish(const char* mode, const JobLease& lease, const AttemptRecord* record, int64_t when_ms,
              const std::string& reason, const FollowUp* next, std::function<void(Result<LeaseOutcome>)> cb);
  // Queues one job's values for the finishing script (queue/lua/job_finish.lua documents them).
  // `has_next` is "1" or "0", or a re-check's packed listing.
  void push(const char* mode, const JobLease& lease, std::string record_json, int64_t when_ms,
            std::string reason, std::string next_target, std::string decision, std::string has_next,
            std::string call, std::function<void(Result<LeaseOutcome>)> cb);
  std::string recordJson(const JobLease& lease, const AttemptRecord& record, const char* result,
                         int64_t next_due_ms, const std::string& reason) const;
  // Sends the jobs waiting to be finished as one script call, unless one is out already.
  void flushFinishes();

  // Jobs finished but not yet sent: their script arguments (kFinishArgs each, in order) and callbacks.
  // Shared with the reply's callback, which sends the next batch only while the queue lives.
  struct Finishes {
    JobQueue* owner = nullptr;
    bool sending = false;
    std::vector<std::string> args;
    std::vector<std::function<void(Result<LeaseOutcome>)>> callbacks;
  };
  std::shared_ptr<Finishes> finishes_ = std::make_shared<Finishes>();

  RedisStore& store_;
  JobQueueOptions options_;
  std::string key_prefix_;  // "{prefix}:"
  std::string due_prefix_;  // "{prefix}:due:"
  std::string targets_key_;
  std::string leased_key_;
  std::string dead_key_;
  std::string events_key_;
  // The repair sweep's position in {p}:events: a score, and how many events with exactly that score were
  // already checked. Shared with the sweep's callback, so a queue destroyed before the answer is safe.
  struct Cursor {
    std::string score;
    int64_t skip = 0;
  };
  std::shared_ptr<Cursor> cursor_ = std::make_shared<Cursor>();
  uint64_t next_token_ = 0;
  Script claim_script_;
  Script finish_script_;
  Script sweep_script_;
  Script depth_script_;
};

}  // namespace payhook::queue
