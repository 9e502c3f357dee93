// The fixture of the end-to-end tests: a private redis-server, and one payhookd the test configures,
// starts and posts to. Its members keep the names the tests use (redis_, daemon_).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/daemon_process.h"
#include "support/redis_server.h"

namespace payhook::testing {

class DaemonFixture : public ::testing::Test {
 protected:
  // Writes payhookd's config for `options` into a fresh directory, with this fixture's Redis unless
  // options.redis_url names another; does not start it. Secrets may be written next (writeSecret).
  DaemonProcess& createDaemon(DaemonOptions options);
  // Writes `content` as secrets/<name> in the daemon's directory, as it is (no newline added).
  void writeSecret(const std::string& name, const std::string& content);
  // Starts the daemon createDaemon wrote and waits until /readyz answers 200; a fatal failure otherwise,
  // with payhookd's log.
  void startDaemon(int ready_timeout_ms = 15'000);
  // Stops the daemon, when there is one, expecting a clean exit. A test's own TearDown checking the log
  // calls it before or after its checks.
  void TearDown() override;

  // Nothing stored: no event, no idempotency key, no delivery job.
  void expectNothingStored();
  // One field of an event's hash.
  std::string field(const std::string& event_id, const std::string& name);
  std::string state(const std::string& event_id) { return field(event_id, "state"); }
  // The event's attempt records, oldest first.
  std::vector<nlohmann::json> attempts(const std::string& event_id);

  RedisServer redis_;
  std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace payhook::testing
