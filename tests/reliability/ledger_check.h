// The end of every ledger scenario: wait for the queue to settle, read what Redis holds for each sent id,
// reconcile (ledger.h), print and record the ledger line, and assert its goal. Shared by the single-Redis
// scenarios and the failover ones, which read from whichever node is the master after the failover.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "support/daemon_process.h"
#include "support/redis_server.h"
#include "tests/reliability/ledger.h"
#include "tests/reliability/ledger_sink.h"

namespace payhook::reliability {

// A scenario's figure from the environment, or `fallback` when unset.
int envInt(const char* name, int fallback);
std::chrono::milliseconds since(TimePoint a, TimePoint b);
void sleepMs(int ms);
bool is2xx(int status);

// The payhookd of every ledger scenario, on `redis_url`: the route "demo" (Standard Webhooks, /hooks/demo)
// forwarding to `sink` with a 1 s timeout and `max_in_flight` attempts at most, retries from 200 ms, and a
// lease of 6.5 s (the timeout plus the 5 s margin the config requires) so abandoned attempts come back soon.
testing::DaemonOptions ledgerDaemonOptions(const std::string& redis_url, const LedgerSink& sink,
                                           int max_in_flight);

// One command on the Redis that holds payhook's data now.
using RedisCommand = std::function<testing::RedisReply(const std::vector<std::string>&)>;

// Delivery jobs not finished: due for some target, or leased.
long long queuedJobs(const RedisCommand& redis);

struct LedgerCheck {
  std::string name;  // the scenario, as printed
  RedisCommand redis;
  const LedgerSink* sink = nullptr;
  std::function<std::vector<std::string>()> logs;  // each payhookd's log, to explain a failure
  TimePoint t0 = SteadyClock::now();
  int settle_ms = 30'000;

  // Waits until the app has every acknowledged id and Redis has no job due or leased; the time it took,
  // or -1 when settle_ms passed first.
  int64_t settle(const std::vector<Send>& sends) const;

  // Reconciles, prints and records the ledger (PAYHOOK_LEDGER_OUT) and, when `strict`, asserts its goal:
  // 0 lost, 0 false acks, nothing stuck or dead, no unexplained duplicate, at most `dup_bound`. Not strict:
  // only a void run (nothing acknowledged) fails; the figures are the result.
  LedgerReport finish(const std::vector<Send>& sends, std::vector<Window> redis_down, int64_t settled_ms,
                      size_t dup_bound, std::vector<std::string> facts, bool strict = true) const;

 private:
  void readRedis(LedgerInput& in) const;
  std::string explain(const LedgerInput& in, const std::string& id) const;
};

}  // namespace payhook::reliability
