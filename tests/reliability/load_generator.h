// The reliability harness' provider: a few client threads sending validly signed Standard Webhooks
// callbacks to payhookd's route "demo" (/hooks/demo) at a bounded total rate, each with a fresh ledger id
// as its webhook-id and inside its body, and recording per id when it was sent and what came back.
//
// Each thread keeps one keep-alive connection and opens a new one after any failure. Thread i starts on
// addresses[i % n] and, when a connection cannot be opened, tries the next address (a load balancer's
// fail-over); when none accepts, it waits 20 ms and tries again without spending an id, so a payhookd that
// is restarting costs time, not ledger entries. An id is never sent twice.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/reliability/ledger.h"

namespace payhook::reliability {

struct LoadOptions {
  std::vector<std::string> addresses;  // payhookd main listeners, "127.0.0.1:PORT"
  std::string secret;                  // the route's whsec_ secret
  std::string id_prefix = "ledger";    // ids are "<prefix>-<thread>-<n>"
  int threads = 4;
  double rate = 1000;             // requests per second, all threads together
  int answer_timeout_ms = 3'000;  // no answer by then: recorded as status 0, connection dropped
};

class LoadGenerator {
 public:
  explicit LoadGenerator(LoadOptions options);
  ~LoadGenerator();  // stop()
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  void start();
  // Stops sending and joins the threads; requests in flight finish (answered or timed out) first.
  void stop();
  // Every request sent, once stopped.
  std::vector<Send> sends() const;
  size_t sentSoFar() const { return sent_.load(); }
  size_t ackedSoFar() const { return acked_.load(); }

 private:
  void run(int thread);

  LoadOptions options_;
  std::atomic<bool> running_{false};
  std::atomic<size_t> sent_{0};
  std::atomic<size_t> acked_{0};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::vector<std::vector<Send>> per_thread_;
};

}  // namespace payhook::reliability
