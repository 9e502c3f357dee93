// App: the composition root. It owns the listeners, the store, the routes and the signal handling of one
// payhookd process, all on one libuv loop.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace payhook::config {
struct Config;
struct Environment;
}  // namespace payhook::config

namespace payhook::daemon {

class App {
 public:
  // `config` has passed loadConfig* and RouteTable::build without errors.
  App(uv_loop_t* loop, const config::Config& config, const config::Environment& env);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Binds the listeners and starts connecting to Redis. An error means nothing is left running.
  Status start();

  // The process exit status once the loop has ended.
  int exitCode() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace payhook::daemon
