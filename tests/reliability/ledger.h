// The ledger of a reliability run: what the load generator sent and what payhookd
// answered, what the shop's app received, and what Redis holds, reconciled into the counts the ledger reports
// for. "Published = delivered + missing, or the run is void."
//
// Definitions (each id is one callback the load generator sent once, never retried):
//   acked        payhookd answered 2xx.
//   lost         acked, and the app never received it (after the scenario's settle time).
//   false ack    acked, and either its event is absent from Redis after the run, or the request was sent
//                and answered entirely inside a window where Redis was down (it cannot have been stored).
//   duplicate    every delivery of an id beyond its first. Each is attributed by what Redis recorded of
//                the earlier attempt of the same event:
//                  lease       no attempt record at all: the attempt was abandoned (payhookd killed, or its
//                              completion could not reach Redis), its lease expired and the job went out
//                              again. At-least-once delivery allows it.
//                  answer lost the attempt is recorded as failed although the app received it: the app's
//                              2xx never reached payhookd (the app went down mid-answer). Also allowed.
//                  unexplained the earlier attempt is recorded as delivered, the same attempt number came
//                              twice, or one id became two events (idempotency broken): a daemon bug.
//   unacked      got no answer or a non-2xx: may or may not be stored and delivered (the provider would
//                retry); counted, never an error.
//   stuck        stored in Redis but not delivered after the settle time (acked or not).
//
// Pure functions of their inputs: no sockets, no clocks, so the arithmetic is unit-tested on its own.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace payhook::reliability {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

// One request of the load generator.
struct Send {
  std::string id;      // the ledger id: the request's webhook-id, also inside its body
  int instance = 0;    // index of the payhookd it went to
  TimePoint sent;      // just before the first byte was written
  TimePoint answered;  // when the answer was read, or the client gave up
  int status = 0;      // HTTP status; 0: no answer (connection closed, reset or timed out)
};

// One request the shop's app received.
struct Delivery {
  std::string ledger_id;  // the original webhook-id, from the envelope's data
  std::string event_id;   // the delivery's webhook-id header: payhook's event id
  int attempt = 0;        // the envelope's "attempt"
  TimePoint at;
};

// What Redis holds for a ledger id after the run.
struct Stored {
  std::string event_id;  // the idempotency key's value; empty when the key is absent
  bool exists = false;   // the event hash exists
  std::string state;     // its `state` field
};

// What Redis recorded of one attempt: {payhook}:attempts:<event_id>.
struct AttemptResult {
  int attempt = 0;
  std::string result;  // "delivered", "retry" or "dead"
};

// An interval of the run, e.g. Redis down from the moment its process exited until start() was called.
struct Window {
  TimePoint from;
  TimePoint to;
};

struct LedgerInput {
  std::vector<Send> sends;
  std::vector<Delivery> deliveries;
  std::map<std::string, Stored> stored;                        // by ledger id, for every sent id
  std::map<std::string, std::vector<AttemptResult>> attempts;  // by event id, for events delivered twice
  std::vector<Window> redis_down;                              // no 2xx may fall wholly inside one
};

struct LedgerReport {
  size_t sent = 0;
  size_t acked = 0;
  size_t rejected = 0;   // non-2xx answers
  size_t no_answer = 0;  // status 0
  std::map<int, size_t> statuses;

  size_t delivered = 0;          // distinct sent ids the app received
  size_t deliveries = 0;         // requests the app received, duplicates included
  size_t unacked_stored = 0;     // not acked, stored anyway
  size_t unacked_delivered = 0;  // not acked, delivered anyway
  size_t unknown = 0;            // deliveries of ids never sent (or without an id)

  size_t lost = 0;
  size_t false_acks = 0;
  size_t false_acks_outage = 0;      // of which: 2xx wholly inside a Redis outage
  size_t false_acks_not_stored = 0;  // of which: 2xx whose event is not in Redis
  size_t stuck = 0;

  size_t duplicates = 0;
  size_t duplicates_lease = 0;
  size_t duplicates_answer_lost = 0;
  size_t duplicates_unexplained = 0;

  // The first few ids of each failure, for the report.
  std::vector<std::string> lost_ids;
  std::vector<std::string> false_ack_ids;
  std::vector<std::string> stuck_ids;
  std::vector<std::string> unexplained_ids;

  // "sent 1000  2xx 990  non-2xx 8 (503: 8)  no-answer 2  delivered 992  lost 0  false-acks 0  dup 3 (lease
  // 3)"
  std::string line() const;
};

LedgerReport reconcile(const LedgerInput& in);

// Seconds with one decimal: "0.4 s".
std::string seconds(std::chrono::milliseconds d);

}  // namespace payhook::reliability
