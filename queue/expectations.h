// Expectations: orders the shop registered as expected (README "Expected payments"), each closed exactly
// once: by the provider's callback (in the store script, queue/lua/store.lua), by the reconciler's poll of
// the provider's status API (whose event goes through the same store script), or given up into the dead set.
//
// Keys (docs/architecture.md, "The Redis schema"): exp:<route>:<order> (hash), expect:due:<route> (orders by
// their next poll: the deadline first), expect:dead (by when they died, "<route>\n<order>"), expect:routes.
// Every step is one script; claims write a token the finish must show, so several payhookd instances share
// the work and a killed one's claims come back when their lease runs out.
//
// Threading and callbacks: like JobQueue, on the store's loop; every callback runs exactly once, on the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/event.h"
#include "common/result.h"
#include "queue/redis_event_store.h"

namespace payhook::queue {

// An order id payhook can key an expectation by: 1 to 200 bytes without control characters (a newline
// would split the store script's lines). ':' is fine: the order is the key's last part.
bool isExpectationName(std::string_view name);

struct Expectation {
  std::string route;
  std::string order;
  std::string amount;  // as registered; empty when not given
  int64_t deadline_ms = 0;
  int64_t created_ms = 0;
  std::string state;        // open, closed, dead
  int64_t polls = 0;        // status requests so far
  std::string last_status;  // the provider's status as the last poll read it
  std::string status;       // the last business state an event reported (succeeded, held, ...)
  std::string error;        // why the last poll failed
  std::string reason;       // dead: why it was given up
  int64_t died_at_ms = 0;
  std::string closed_by;  // callback or reconciliation
  std::string event;      // the event that closed it
};

struct ExpectResult {
  bool created = false;  // false: it was registered before; `stored` is what the first registration holds
  Expectation stored;
};

struct ClaimedExpectation {
  std::string route;
  std::string order;
  int64_t deadline_ms = 0;
  int64_t created_ms = 0;
  int64_t polls = 0;   // this poll included
  std::string status;  // the last business state seen (a held order: "held")
  std::string token;
};

struct ExpectationList {
  int64_t open = 0;
  int64_t dead = 0;
  std::vector<Expectation> entries;
};

// The expected order `e` speaks of (Event::order) as the lines queue/lua/expect_settle.lua reads, with the
// keys built under `key_prefix` ("{prefix}:"); empty when it speaks of none. Names that would break a line
// or a key are left out: no expectation is registered under them.
std::string expectationLines(const std::string& key_prefix, const Event& e);

class Expectations {
 public:
  // `store` must outlive every operation in flight.
  Expectations(RedisStore& store, std::string prefix);

  // Registers route+order with its deadline; idempotent (ExpectResult::created). The caller checks the names.
  void expect(const std::string& route, const std::string& order, const std::string& amount,
              int64_t deadline_ms, int64_t now_ms, std::function<void(Result<ExpectResult>)> cb);
  // Up to `max` due orders per route, leased until `lease_until_ms`.
  void claim(const std::vector<std::pair<std::string, size_t>>& wants, int64_t now_ms, int64_t lease_until_ms,
             const std::string& token, std::function<void(Result<std::vector<ClaimedExpectation>>)> cb);
  // Asked again at due_ms. The callback's string is "ok", "lost" or "closed".
  void reschedule(const ClaimedExpectation& c, int64_t due_ms, const std::string& last_status,
                  const std::string& error, std::function<void(Result<std::string>)> cb);
  // Given up: into the dead set with the last status seen.
  void bury(const ClaimedExpectation& c, int64_t now_ms, const std::string& last_status,
            const std::string& reason, std::function<void(Result<std::string>)> cb);
  // state: "open", "dead" or "all"; route empty: every route.
  void list(const std::string& state, const std::string& route, size_t limit,
            std::function<void(Result<ExpectationList>)> cb);

 private:
  void finish(const ClaimedExpectation& c, const char* mode, int64_t when_ms, const std::string& last_status,
              const std::string& text, std::function<void(Result<std::string>)> cb);
  RedisStore& store_;
  std::string key_prefix_;  // "{prefix}:"
  Script register_script_;
  Script claim_script_;
  Script finish_script_;
  Script list_script_;
};

}  // namespace payhook::queue
