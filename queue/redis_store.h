// RedisStore: EventStore over hiredis' async API, attached to the daemon's libuv loop.
//
// Keys all carry the "{prefix}" hash tag so the Lua script is valid on Redis Cluster too:
//   {p}:ev:<id>             hash: the event (fields id, type, route, provider, received_at, verified, data,
//                           idem, raw_method, raw_path, raw_query, raw_content_type, raw_body, state, targets)
//   {p}:idem:<route>:<key>  string: the id of the first event stored with that key; expires after the TTL
//   {p}:due                 sorted set of jobs "<id>|<target>" by due time (Unix ms)
//   {p}:events              sorted set of event ids by receipt time (Unix ms)
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "queue/event_store.h"

namespace payhook::queue {

struct RedisAddress {
  bool unix_socket = false;
  std::string host;  // or the socket path
  int port = 6379;
  int db = 0;
  std::string password;  // secret: never log
};

// "redis://[:password@]host[:port][/db]", "redis://[user:password@]...", "unix:/path/redis.sock[?db=N]".
Result<RedisAddress> parseRedisUrl(std::string_view url);
// The URL with any password replaced by "***", for logs.
std::string redactRedisUrl(std::string_view url);

struct RedisStoreOptions {
  std::string url;
  std::string prefix = "payhook";
  uint64_t store_timeout_ms = 2'000;
  uint64_t connect_timeout_ms = 2'000;
  uint64_t reconnect_initial_ms = 100;
  uint64_t reconnect_max_ms = 5'000;
};

class RedisStore final : public EventStore {
 public:
  RedisStore(uv_loop_t* loop, RedisStoreOptions options);
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  // Starts connecting; keeps reconnecting with capped exponential backoff for as long as it runs.
  void start();
  // Stops reconnecting, fails queued work as kUnavailable and closes every handle; the loop can then end.
  void stop();

  void store(const Event& event, const StoreSpec& spec, Done done) override;
  bool ready() const override;

  // Called on the loop whenever readiness changes (connected and script loaded, or lost).
  void onReadyChange(std::function<void(bool ready)> cb);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace payhook::queue
