// OneShot: a short exchange with one Redis or Sentinel on the loop: connect, send a few commands, collect
// their replies, disconnect. Finding the master (locator.h) asks its questions this way, off the
// connection that carries the store's traffic.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "redis/script.h"
#include "uv/handle.h"

struct redisAsyncContext;

namespace payhook::redis {

class OneShot {
 public:
  // Every reply in the order sent (a Redis error is a kError value among them), or, when the exchange did
  // not complete, none and the reason.
  using Done = std::function<void(std::vector<ScriptValue> replies, std::string error)>;

  explicit OneShot(uv_loop_t* loop);
  // Cancels an exchange in flight; its `done` never runs.
  ~OneShot();
  OneShot(const OneShot&) = delete;
  OneShot& operator=(const OneShot&) = delete;

  // Connects to `ip`:`port` (a numeric address) and sends `commands`, each one formatted RESP command
  // (command.h). `done` runs once, on the loop, never inside run(), at the latest after `timeout_ms`. One
  // exchange at a time: a second run() cancels the first.
  void run(const std::string& ip, int port, std::vector<std::string> commands, uint64_t timeout_ms,
           Done done);
  void cancel();

 private:
  static void onConnectCb(const redisAsyncContext* ac, int status) noexcept;
  static void onDisconnectCb(const redisAsyncContext* ac, int status) noexcept;
  static void onReplyCb(redisAsyncContext* ac, void* reply, void* privdata) noexcept;
  // Detaches from the context (hiredis frees it) and answers from the timer, outside hiredis.
  void finishSoon(std::string error);
  void release();

  uv_loop_t* loop_;
  redisAsyncContext* ctx_ = nullptr;
  size_t expected_ = 0;
  std::vector<ScriptValue> replies_;
  std::string error_;
  bool answered_ = false;
  Done done_;
  uv::Timer timer_;
};

}  // namespace payhook::redis
