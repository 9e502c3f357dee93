#include "cli/session.h"

#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/log.h"
#include "config/config.h"
#include "handlers/registry.h"
#include "uv/handle.h"
#include "uv/loop.h"

namespace payhook::cli {

bool Session::open(const std::string& config_path) {
  config::Environment env;
  if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY")) env.credentials_directory = creds;
  auto loaded = config::loadConfigFile(config_path, env, handlers::providerCatalog());
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "payhookctl: %s\n", e.c_str());
    if (loaded.errors.empty()) std::fprintf(stderr, "payhookctl: cannot load %s\n", config_path.c_str());
    return false;
  }
  const auto& r = loaded.config->redis;
  options_.url = r.url;
  options_.password = r.password;
  options_.sentinel_password = r.sentinel_password;
  options_.min_replicas = static_cast<uint32_t>(r.min_replicas);
  options_.replica_timeout_ms = r.replica_timeout_ms;
  options_.prefix = r.prefix;
  options_.store_timeout_ms = std::max<uint64_t>(r.store_timeout_ms, 5'000);  // an operator can wait
  options_.heartbeat_ms = 0;
  redacted_url_ = queue::redactRedisUrl(r.url);
  config_ = std::make_shared<const config::Config>(std::move(*loaded.config));
  return true;
}

int Session::run(const std::function<void(queue::Operator&, Done)>& op) {
  // Only errors from the store reach stderr; connection trouble is reported once, below.
  log::configure(log::Level::kError, log::Format::kText);
  uv::Loop loop;
  int code = 2;
  {
    queue::RedisStore store(loop.get(), options_);
    queue::Operator ops(store, queue::OperatorOptions{options_.prefix});
    uv::Timer connect_timer(loop.get());
    bool started = false, finished = false;
    auto done = [&](int c) {
      if (finished) return;
      finished = true;
      code = c;
      connect_timer.close();
      store.stop();
    };
    store.onReadyChange([&](bool ready) {
      if (!ready || started || finished) return;
      started = true;
      connect_timer.stop();
      op(ops, done);
    });
    // Sentinels and seed nodes are asked one after another, each within the connect timeout.
    const auto parsed = queue::parseRedisUrl(options_.url);
    const uint64_t hops = parsed ? std::max<uint64_t>(parsed->seeds.size(), 1) + 1 : 1;
    connect_timer.start(options_.connect_timeout_ms * hops + 1'000, [&] {
      std::fprintf(stderr, "payhookctl: cannot reach Redis at %s\n", redacted_url_.c_str());
      done(2);
    });
    store.start();
    loop.run();
  }
  if (loop.close() != 0) std::fputs("payhookctl: a libuv handle was left open\n", stderr);
  return code;
}

}  // namespace payhook::cli
