// Session: what a payhookctl queue command needs to talk to Redis on its own: the config's [redis] table, a
// libuv loop of its own and a RedisStore on it. It needs no running payhookd.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "queue/operator.h"

namespace payhook::cli {

constexpr const char* kDefaultConfig = "/etc/payhook/payhook.toml";

class Session {
 public:
  // Loads the config (secrets from $CREDENTIALS_DIRECTORY too, as payhookd does); prints every problem to
  // stderr and returns false when it does not load.
  bool open(const std::string& config_path);

  // Runs `op` once Redis answers; `op` calls `done(exit_code)` exactly once, on the loop. Returns that code,
  // or 2 (with a message) when Redis cannot be reached within the connect timeout. Blocks until the
  // loop has ended and every handle is closed.
  using Done = std::function<void(int)>;
  int run(const std::function<void(queue::Operator&, Done)>& op);

  const std::string& redactedUrl() const { return redacted_url_; }
  const std::string& prefix() const { return options_.prefix; }
  // The config open() loaded (routes, for `payhookctl expect`).
  const config::Config& config() const { return *config_; }

 private:
  queue::RedisStoreOptions options_;
  std::string redacted_url_;
  std::shared_ptr<const config::Config> config_;
};

}  // namespace payhook::cli
