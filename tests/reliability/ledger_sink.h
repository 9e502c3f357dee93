// The shop's app for the ledger: a payhook::http::Server on its own loop thread that answers every delivery
// 204 after `answer_delay_ms` (an app doing some work, so payhookd always has attempts in flight for a kill
// to interrupt) and records, on arrival, which ledger id it carried (the envelope's data.webhook_id, the id
// the provider sent), its event id (the webhook-id header), its attempt number and when it came. down()
// closes the listener and every connection, so payhookd gets "connection refused" as from an app that is not
// running; up() listens again on the same port.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/server.h"
#include "support/loop_thread.h"
#include "tests/reliability/ledger.h"

namespace payhook::reliability {

class LedgerSink {
 public:
  explicit LedgerSink(uint64_t answer_delay_ms = 0);  // listening on a free loopback port
  ~LedgerSink();
  LedgerSink(const LedgerSink&) = delete;
  LedgerSink& operator=(const LedgerSink&) = delete;

  std::string url() const { return "http://" + address_ + "/ledger"; }

  void down();
  void up();  // throws std::runtime_error when the port cannot be bound again within 2 s

  std::vector<Delivery> deliveries() const;
  size_t count() const;
  // How many of `ids` the app has not received yet.
  size_t missing(const std::vector<std::string>& ids) const;
  // When the first delivery at or after `t` came; false when none did.
  bool firstAfter(TimePoint t, TimePoint* at) const;

 private:
  void listen();  // on the loop
  void onRequest(http::Request&& request, http::Responder responder);

  const uint64_t answer_delay_ms_;
  testing::LoopThread loop_;
  std::unique_ptr<http::Server> server_;
  std::string address_;  // "127.0.0.1:PORT", fixed after the first listen
  mutable std::mutex mu_;
  std::vector<Delivery> deliveries_;
  std::unordered_map<std::string, int> seen_;  // ledger id -> deliveries
};

}  // namespace payhook::reliability
