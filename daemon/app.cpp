#include "daemon/app.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <csignal>
#include <utility>
#include <vector>

#include "common/cidr.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/version.h"
#include "config/config.h"
#include "daemon/admin.h"
#include "daemon/admin_api.h"
#include "daemon/ingest.h"
#include "daemon/live_status.h"
#include "daemon/rate_window.h"
#include "daemon/redis_watch.h"
#include "daemon/systemd_notify.h"
#include "daemon/ui_routes.h"
#include "daemon/ui_session.h"
#include "daemon/watchdog.h"
#include "delivery/engine.h"
#include "delivery/reconciler.h"
#include "handlers/registry.h"
#include "http/client.h"
#include "http/server.h"
#include "queue/operator.h"
#include "queue/redis_event_store.h"
#include "redis/replication_info.h"
#include "uv/handle.h"

namespace payhook::daemon {
namespace {

http::ServerLimits limitsOf(const config::ServerConfig& s, uint64_t fd_reserve) {
  http::ServerLimits l;
  l.max_body = s.max_body;
  l.max_header_bytes = s.max_header_bytes;
  l.max_headers = s.max_headers;
  l.header_timeout_ms = s.header_timeout_ms;
  l.idle_timeout_ms = s.idle_timeout_ms;
  l.max_connections = s.max_connections;
  l.body_timeout_ms = s.body_timeout_ms;
  l.min_body_rate = s.min_body_rate;
  l.body_rate_grace_ms = s.body_rate_grace_ms;
  l.write_timeout_ms = s.write_timeout_ms;
  l.max_connections_per_address = s.max_connections_per_address;
  l.fd_reserve = fd_reserve;
  return l;
}

std::vector<Cidr> proxiesOf(const config::ServerConfig& s) {
  std::vector<Cidr> out;
  for (const auto& text : s.trusted_proxies)
    if (auto c = Cidr::parse(text)) out.push_back(*c);  // validated by the loader; "unix" is no range
  return out;
}

bool trustsUnixPeers(const config::ServerConfig& s) {
  return std::find(s.trusted_proxies.begin(), s.trusted_proxies.end(), "unix") != s.trusted_proxies.end();
}

queue::RedisStoreOptions storeOptionsOf(const config::RedisConfig& r) {
  queue::RedisStoreOptions o;
  o.url = r.url;
  o.password = r.password;
  o.prefix = r.prefix;
  o.store_timeout_ms = r.store_timeout_ms;
  o.sentinel_password = r.sentinel_password;
  o.min_replicas = static_cast<uint32_t>(r.min_replicas);
  o.replica_timeout_ms = r.replica_timeout_ms;
  return o;
}

RedisWatchOptions watchOptionsOf(const config::Config& c) {
  RedisWatchOptions o;
  o.prefix = c.redis.prefix;
  o.retention_ms = c.redis.retention_ms;
  o.sweep_interval_ms = c.delivery.sweep_interval_ms;
  o.min_replicas = static_cast<uint32_t>(c.redis.min_replicas);
  return o;
}

log::Level levelOf(const config::LogConfig& l) {
  log::Level level = log::Level::kInfo;
  log::parseLevel(l.level, &level);
  return level;
}

RefusalLog::Limits refusalLimitsOf(const config::LogConfig& l) {
  return {l.refusals_per_second, l.refusal_burst};
}

// How often refusals a route's log limit kept out are summed up in one line.
constexpr uint64_t kRefusalSummaryMs = 10'000;

// Enough idle connections for every target's max_in_flight (and the decision requests), so a burst never
// finds its connections just closed.
http::ClientOptions clientOptionsOf(const config::Config& c) {
  http::ClientOptions o;
  uint64_t slots = 32;
  for (const auto& t : c.targets) slots += t.max_in_flight;
  o.max_idle_connections = static_cast<long>(std::min<uint64_t>(slots, 4096));
  return o;
}

constexpr uint64_t kAdminMaxConnections = 256;

// How often the queue page's per-minute rates are sampled: six samples make the minute.
constexpr uint64_t kRateSampleMs = 10'000;

// Descriptors the main listener's connections leave to the rest of the process: the client's connections to
// targets, the admin listener's, and Redis, listeners, logs and libuv's own.
uint64_t fdReserveOf(const config::Config& c) {
  return static_cast<uint64_t>(clientOptionsOf(c).max_idle_connections) + kAdminMaxConnections + 64;
}

}  // namespace

struct App::Impl {
  uv_loop_t* loop;
  config::Config config;
  config::Environment env;
  SystemClock clock;
  // Before everything that updates it, so it is destroyed last.
  metrics::Registry registry;
  IngestMetrics ingest_metrics;
  delivery::DeliveryMetrics delivery_metrics;
  metrics::Family<metrics::Counter>* reloads = nullptr;
  queue::RedisStore store;
  http::Client client;  // outbound: decision requests and deliveries
  delivery::Engine delivery;
  delivery::Reconciler reconciler;   // expected orders whose callback did not come
  queue::Expectations expectations;  // their registrations and listings, for the /v1 API
  RedisWatch watch;                  // readiness beyond the connection, memory, and retention
  Ingest ingest;
  Admin admin;
  queue::Operator ops;  // the /v1 API's operations, on the store's connection
  AdminApi api;
  UiSessions ui_sessions;  // the queue page's sign-ins; the api checks their cookie
  UiRoutes ui;             // GET /ui/
  RateWindow rates;        // per-minute rates for GET /v1/live
  uv::Timer rate_sample;
  http::Server server;
  http::Server admin_server;
  uv::Signal sigterm, sigint, sighup;
  uv::Timer shutdown_timer;
  uv::Timer refusal_summary;
  Watchdog watchdog;               // WATCHDOG=1 from this loop while WatchdogSec= is set
  std::vector<int> activated_fds;  // systemd's sockets, not yet served (see serveActivated())
  uv::Timer activation_wait;
  static constexpr uint64_t kActivationWaitMs = 5000;
  bool stopping = false;
  bool finished = false;
  int exit_code = 0;
  bool abandoning = false;  // forceStop() waits for the delivery's leases to be given back
  int parts_open = 0;       // servers and delivery still finishing after a stop signal

  Impl(uv_loop_t* l, const config::Config& c, const config::Environment& e)
      : loop(l),
        config(c),
        env(e),
        store(l, storeOptionsOf(c.redis)),
        client(l, clientOptionsOf(c)),
        delivery(l, store, client, clock, c),
        reconciler(l, store, client, clock, c),
        expectations(store, c.redis.prefix),
        watch(l, store, clock, watchOptionsOf(c)),
        ingest(store, clock, IngestOptions{proxiesOf(c.server), trustsUnixPeers(c.server)}),
        admin([this] { return notReady(); }, [this] { return registry.render(); }),
        ops(store, queue::OperatorOptions{c.redis.prefix}),
        api(ops, clock, c.admin.token),
        ui_sessions(clock),
        ui(api, ui_sessions, clock),
        server(l, limitsOf(c.server, fdReserveOf(c)),
               [this](http::Request&& r, http::Responder resp) { ingest.handle(std::move(r), resp); }),
        admin_server(l, adminLimits(),
                     [this](http::Request&& r, http::Responder resp) {
                       if (AdminApi::handles(r.path))
                         api.handle(std::move(r), resp);
                       else if (UiRoutes::handles(r.path))
                         ui.handle(std::move(r), resp);
                       else
                         admin.handle(std::move(r), resp);
                     }),
        watchdog(l) {
    // A reverse proxy speaks for many clients over its own connections.
    server.setUncappedPeers(proxiesOf(c.server));
    registerMetrics();
    api.setSessions(&ui_sessions);
    api.setExpected(&expectations, [this]() -> const config::Config& { return config; });
    api.setLive([this] {
      return liveJson(notReady(), delivery.targetStatus(), rates.rates(clock.nowMs(), rateCounts()));
    });
  }

  // The counters behind the queue page's rates, summed over their labels.
  RateCounts rateCounts() const {
    RateCounts c;
    for (const auto& [labels, counter] : ingest_metrics.callbacks->children())
      c.callbacks += counter->value();
    for (const auto& [labels, counter] : delivery_metrics.deliveries->children()) {
      if (labels.size() == 2 && labels[1] == "delivered")
        c.deliveries += counter->value();
      else
        c.failed_deliveries += counter->value();
    }
    return c;
  }

  std::string notReady() const {
    if (stopping) return "stopping";
    if (!store.ready()) return "redis unreachable";
    if (!watch.writesRefused().empty()) return "redis refuses writes: " + watch.writesRefused();
    if (std::string r = watch.replicasShort(); !r.empty()) return "redis: too few replicas: " + r;
    return {};
  }

  // docs/operations.md says what each metric means.
  void registerMetrics() {
    registry.gauge("payhook_build_info", "payhook's version; always 1", {"version"},
                   [](const metrics::GaugeSample& s) { s({PAYHOOK_VERSION}, 1); });
    ingest_metrics.callbacks =
        &registry.counter("payhook_callbacks_total",
                          "Provider callbacks answered, by route, provider and outcome (stored, duplicate, "
                          "unavailable, not_allowed, or the refusal: forged, malformed, forbidden, ...)",
                          {"route", "provider", "outcome"});
    ingest_metrics.latency = &registry.histogram("payhook_callback_duration_seconds",
                                                 "Time from a callback's arrival to its answer, by route",
                                                 {"route"}, metrics::Registry::latencyBuckets());
    delivery_metrics.deliveries = &registry.counter(
        "payhook_deliveries_total", "Delivery attempts by target and outcome (delivered, retry, dead)",
        {"target", "outcome"});
    delivery_metrics.latency = &registry.histogram("payhook_delivery_duration_seconds",
                                                   "HTTP exchange of a delivery attempt, by target",
                                                   {"target"}, metrics::Registry::latencyBuckets());
    registry.gauge("payhook_deliveries_in_flight", "Delivery attempts waiting for the target's answer",
                   {"target"}, [this](const metrics::GaugeSample& s) {
                     for (const auto& [name, st] : delivery.targetStatus())
                       s({name}, static_cast<double>(st.in_flight));
                   });
    registry.gauge(
        "payhook_queue_jobs",
        "Delivery jobs by state (due and dead per target included), as the last sweep counted them",
        {"state"}, [this](const metrics::GaugeSample& s) {
          const auto& d = delivery.lastDepth();
          s({"due"}, static_cast<double>(d.due));
          s({"leased"}, static_cast<double>(d.leased));
          s({"dead"}, static_cast<double>(d.dead));
        });
    registry.gauge("payhook_queue_due_jobs", "Jobs waiting in each target's due set (last sweep)", {"target"},
                   [this](const metrics::GaugeSample& s) {
                     for (const auto& [name, due] : delivery.lastDepth().due_by_target)
                       s({name}, static_cast<double>(due));
                   });
    registry.gauge("payhook_circuit_breaker_state", "Per target: 0 closed, 1 half-open (probing), 2 open",
                   {"target"}, [this](const metrics::GaugeSample& s) {
                     for (const auto& [name, st] : delivery.targetStatus()) {
                       const double v = st.breaker == delivery::CircuitBreaker::State::kClosed     ? 0
                                        : st.breaker == delivery::CircuitBreaker::State::kHalfOpen ? 1
                                                                                                   : 2;
                       s({name}, v);
                     }
                   });
    registry.gauge("payhook_redis_up", "1 while Redis is connected and the store script is loaded", {},
                   [this](const metrics::GaugeSample& s) { s({}, store.ready() ? 1 : 0); });
    registry.counterFrom(
        "payhook_redis_data_losses_total",
        "Times Redis was found without payhook's data (restarted empty, flushed)", {},
        [this](const metrics::GaugeSample& s) { s({}, static_cast<double>(store.dataLosses())); });
    registry.gauge("payhook_redis_writes_refused",
                   "1 while Redis refuses writes (out of memory, a replica, cannot save): /readyz says 503",
                   {},
                   [this](const metrics::GaugeSample& s) { s({}, watch.writesRefused().empty() ? 0 : 1); });
    registry.gauge("payhook_redis_replicas",
                   "Replicas of the Redis master in state online (INFO replication), probed every second", {},
                   [this](const metrics::GaugeSample& s) {
                     if (watch.replication().online >= 0)
                       s({}, static_cast<double>(watch.replication().online));
                   });
    registry.gauge("payhook_redis_min_replicas", "[redis] min_replicas: replicas a store must reach", {},
                   [this](const metrics::GaugeSample& s) {
                     s({}, static_cast<double>(store.connection().minReplicas()));
                   });
    registry.counterFrom("payhook_redis_replica_waits_total",
                         "Stores whose replica confirmation (WAIT) ended so: confirmed, short (too few "
                         "replicas in replica_timeout: answered 503), failed (connection lost)",
                         {"outcome"}, [this](const metrics::GaugeSample& s) {
                           const auto& w = store.connection().replicaWaits();
                           s({"confirmed"}, static_cast<double>(w.confirmed));
                           s({"short"}, static_cast<double>(w.short_of));
                           s({"failed"}, static_cast<double>(w.failed));
                         });
    registry.gauge("payhook_redis_ack_loss_possible",
                   "1 when a crash of the Redis host can lose acknowledged callbacks (appendonly off, or "
                   "appendfsync not always and min_replicas 0); absent while unknown",
                   {}, [this](const metrics::GaugeSample& s) {
                     if (!watch.appendonly().empty())
                       s({}, redis::ackLossPossible(watch.appendonly(), watch.appendfsync(),
                                                    store.connection().minReplicas())
                                 ? 1
                                 : 0);
                   });
    registry.gauge("payhook_redis_used_memory_bytes", "Redis' used_memory (INFO memory), probed every second",
                   {}, [this](const metrics::GaugeSample& s) {
                     if (watch.known()) s({}, static_cast<double>(watch.health().memory.used));
                   });
    registry.gauge("payhook_redis_maxmemory_bytes", "Redis' maxmemory (INFO memory); 0: no limit", {},
                   [this](const metrics::GaugeSample& s) {
                     if (watch.known()) s({}, static_cast<double>(watch.health().memory.maxmemory));
                   });
    registry.gauge("payhook_events_stored", "Events Redis holds, dead and waiting ones included", {},
                   [this](const metrics::GaugeSample& s) {
                     if (watch.known()) s({}, static_cast<double>(watch.health().events));
                   });
    registry.gauge("payhook_events_complete",
                   "Of the events stored, those complete (delivered, or without targets), removed once "
                   "[redis] retention has passed",
                   {}, [this](const metrics::GaugeSample& s) {
                     if (watch.known()) s({}, static_cast<double>(watch.health().completed));
                   });
    registry.counterFrom(
        "payhook_retention_removed_total",
        "Complete events removed by this process once their retention had passed", {},
        [this](const metrics::GaugeSample& s) { s({}, static_cast<double>(watch.removed())); });
    registry.gauge(
        "payhook_http_connections", "Open connections on the main listener", {},
        [this](const metrics::GaugeSample& s) { s({}, static_cast<double>(server.connectionCount())); });
    reloads = &registry.counter("payhook_config_reloads_total", "SIGHUP reloads by result (ok, refused)",
                                {"result"});
    reloads->with({"ok"});
    reloads->with({"refused"});
    registry.gauge("payhook_expected_orders",
                   "Expected orders still waiting for a final state (open) and given up (dead), as last "
                   "counted",
                   {"state"}, [this](const metrics::GaugeSample& s) {
                     if (reconciler.openCount() >= 0)
                       s({"open"}, static_cast<double>(reconciler.openCount()));
                     if (reconciler.deadCount() >= 0)
                       s({"dead"}, static_cast<double>(reconciler.deadCount()));
                   });
    reconciler.setMetrics(&registry.counter(
        "payhook_reconciliation_polls_total",
        "Status requests about expected orders, by route and outcome (final, held, pending, failed, dead)",
        {"route", "outcome"}));
    ingest.setMetrics(&ingest_metrics);
    delivery.setMetrics(&delivery_metrics);
  }

  static http::ServerLimits adminLimits() {
    http::ServerLimits l;
    l.max_body = 1 << 20;
    l.max_connections = kAdminMaxConnections;
    return l;
  }

  Status start() {
    std::vector<std::string> errors;
    auto routes = RouteTable::build(config, &errors);
    if (!routes) return Error{errors.empty() ? routes.error().message : errors.front()};
    ingest.setRoutes(routes.value());
    ingest.setRefusalLimits(refusalLimitsOf(config.log));
    refusal_summary = uv::Timer(loop);
    refusal_summary.start(
        kRefusalSummaryMs, [this] { ingest.logRefusalSummaries(); }, kRefusalSummaryMs);
    refusal_summary.unref();
    rates.add(clock.nowMs(), rateCounts());
    rate_sample = uv::Timer(loop);
    rate_sample.start(
        kRateSampleMs, [this] { rates.add(clock.nowMs(), rateCounts()); }, kRateSampleMs);
    rate_sample.unref();
    // A blocking lookup of a target's host name would stall every callback on the loop.
    if (!http::Client::asyncDnsAvailable())
      return Error{"libcurl was built without an asynchronous resolver (CURL_VERSION_ASYNCHDNS)"};
    ingest.setClient(&client);

    // Under socket activation systemd holds the listening sockets, so a restart refuses no connection;
    // they replace server.listen. The kernel queues connections on them meanwhile, so accepting waits
    // for Redis (bounded): a restart then answers no callback with "try again later".
    const int activated = sd_listen_fds(1);
    if (activated > 0) {
      for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + activated; ++fd)
        activated_fds.push_back(fd);
      activation_wait = uv::Timer(loop);
      activation_wait.start(kActivationWaitMs, [this] { serveActivated(); });
    } else {
      for (const auto& address : config.server.listen)
        if (auto st = server.listen(address); !st) return Error{"server.listen: " + st.error().message};
    }
    if (!config.admin.listen.empty()) {
      if (auto st = admin_server.listen(config.admin.listen); !st)
        return Error{"admin.listen: " + config.admin.listen + ": " + st.error().message};
    }

    sigterm = uv::Signal(loop, SIGTERM, [this](int s) { onStopSignal(s); });
    sigint = uv::Signal(loop, SIGINT, [this](int s) { onStopSignal(s); });
    sighup = uv::Signal(loop, SIGHUP, [this](int) { reload(); });
    // Signal watchers alone must not keep the loop alive once everything else has closed.
    sigterm.unref();
    sigint.unref();
    sighup.unref();

    store.onReadyChange([this](bool ready) {
      notifyStatus(ready ? "ready: storing callbacks" : "waiting for redis: answering 503");
      if (ready) serveActivated();
    });
    store.start();
    delivery.start();
    reconciler.start();
    watch.start();

    std::string addresses;
    for (const auto& a : server.boundAddresses()) addresses += (addresses.empty() ? "" : " ") + a;
    if (activated > 0) addresses = "the sockets passed by systemd";
    std::string admin_addresses;
    for (const auto& a : admin_server.boundAddresses())
      admin_addresses += (admin_addresses.empty() ? "" : " ") + a;
    log::info("payhookd listening", {{"listen", addresses},
                                     {"admin", admin_addresses},
                                     {"routes", static_cast<int64_t>(routes.value()->routeCount())},
                                     {"redis", queue::redactRedisUrl(config.redis.url)}});
    watchdog.start();
    notifyReady("listening on " + addresses);
    return Ok{};
  }

  // Socket activation: starts accepting on systemd's sockets, once Redis is ready or the wait is over.
  void serveActivated() {
    activation_wait.close();
    if (activated_fds.empty() || stopping) return;
    for (int fd : std::exchange(activated_fds, {})) {
      if (auto st = server.listenFd(fd); !st) {
        log::error("socket activation failed: stopping", {{"problem", st.error().message}});
        exit_code = 1;
        onStopSignal(SIGTERM);
        return;
      }
    }
    log::info(
        "serving the sockets passed by systemd instead of server.listen",
        {{"count", static_cast<int64_t>(server.boundAddresses().size())}, {"redis_ready", store.ready()}});
  }

  void onStopSignal(int signum) {
    if (stopping) {
      log::warn("second stop signal: closing every connection now", {{"signal", signum}});
      forceStop();
      return;
    }
    log::info("stopping: no new connections, finishing requests in flight",
              {{"signal", signum}, {"in_flight", static_cast<int64_t>(server.inFlightCount())}});
    stopping = true;
    notifyStopping();
    shutdown_timer = uv::Timer(loop);
    shutdown_timer.start(config.server.shutdown_timeout_ms, [this] {
      log::warn("shutdown_timeout reached: closing the remaining connections",
                {{"in_flight", static_cast<int64_t>(server.inFlightCount())}});
      forceStop();
    });
    // Deliveries in flight are waited for like inbound requests, within the same shutdown_timeout: their
    // answers can still be recorded while the store runs. Past it, forceStop() gives their leases back, so
    // another instance (or the next start) delivers them at once (at least once, never lost).
    parts_open = 3;
    server.shutdown([this] { onPartStopped(); });
    admin_server.shutdown([this] { onPartStopped(); });
    delivery.stop([this] { onPartStopped(); });
    reconciler.stop();
  }

  void onPartStopped() {
    if (--parts_open == 0) finish();
  }

  void forceStop() {
    server.closeAll();
    admin_server.closeAll();
    if (finished || abandoning) return;
    abandoning = true;
    delivery.abandon([this] { finish(); });
  }

  void finish() {
    if (finished) return;
    finished = true;
    shutdown_timer.close();
    refusal_summary.close();
    rate_sample.close();
    ingest.logRefusalSummaries();
    activation_wait.close();
    watchdog.stop();
    delivery.stop({});
    reconciler.stop();
    watch.stop();
    // After the servers: a decision still in flight fails (the check is refused), is stored if the store
    // still can, and its answer goes nowhere since its connection is closed.
    client.shutdown();
    store.stop();
    sigterm.close();
    sigint.close();
    sighup.close();
    // Closing the watchers restores the default actions; a late signal must not turn this clean exit
    // into a kill.
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGHUP, SIG_IGN);
    log::info("stopped");
  }

  void reload() {
    notifyReloading();
    auto loaded = config::loadConfigFile(config.file, env, handlers::providerCatalog());
    for (const auto& w : loaded.warnings) log::warn("config warning", {{"detail", w}});
    std::vector<std::string> errors = loaded.errors;
    std::shared_ptr<const RouteTable> table;
    if (loaded.config) {
      auto built = RouteTable::build(*loaded.config, &errors);
      if (built) table = built.value();
    }
    if (!errors.empty() || !table) {
      for (const auto& e : errors) log::error("reload refused, keeping the running config", {{"problem", e}});
      reloads->with({"refused"}).inc();
      notifyReady(errors.empty() ? std::string("reload refused, running the previous config")
                                 : "reload refused, running the previous config: " + errors.front());
      return;
    }
    const auto& next = *loaded.config;
    const auto& a = config.server;
    const auto& b = next.server;
    if (b.listen != a.listen || next.admin.listen != config.admin.listen ||
        next.redis.url != config.redis.url || next.redis.prefix != config.redis.prefix ||
        next.redis.store_timeout_ms != config.redis.store_timeout_ms ||
        next.redis.min_replicas != config.redis.min_replicas ||
        next.redis.replica_timeout_ms != config.redis.replica_timeout_ms ||
        !constantTimeEqual(next.redis.sentinel_password.reveal(), config.redis.sentinel_password.reveal()) ||
        !constantTimeEqual(next.redis.password.reveal(), config.redis.password.reveal()) ||
        b.max_body != a.max_body || b.max_header_bytes != a.max_header_bytes ||
        b.max_headers != a.max_headers || b.header_timeout_ms != a.header_timeout_ms ||
        b.idle_timeout_ms != a.idle_timeout_ms || b.max_connections != a.max_connections ||
        b.shutdown_timeout_ms != a.shutdown_timeout_ms || b.body_timeout_ms != a.body_timeout_ms ||
        b.min_body_rate != a.min_body_rate || b.body_rate_grace_ms != a.body_rate_grace_ms ||
        b.write_timeout_ms != a.write_timeout_ms ||
        b.max_connections_per_address != a.max_connections_per_address)
      log::warn(
          "reload: [server], [admin] and [redis] changes take effect only after a restart; routes, "
          "targets, secrets, the admin token, trusted_proxies, [log] and redis.retention were reloaded");
    ingest.setRoutes(table);
    ingest.setTrustedProxies(proxiesOf(next.server), trustsUnixPeers(next.server));
    server.setUncappedPeers(proxiesOf(next.server));
    log::configure(levelOf(next.log), next.log.format == "text" ? log::Format::kText : log::Format::kJson);
    ingest.setRefusalLimits(refusalLimitsOf(next.log));
    config.routes = next.routes;
    config.targets = next.targets;
    // The loader checked it against the new routes' idempotency_ttl, so it moves with them.
    config.redis.retention_ms = next.redis.retention_ms;
    watch.setRetention(next.redis.retention_ms);
    delivery.setConfig(config);
    reconciler.setConfig(config);
    if (!constantTimeEqual(next.admin.token.reveal(), config.admin.token.reveal())) {
      config.admin.token = next.admin.token;
      api.setToken(config.admin.token);
      log::info("reload: admin token replaced");
    }
    log::info("reloaded", {{"routes", static_cast<int64_t>(table->routeCount())}});
    reloads->with({"ok"}).inc();
    notifyReady("reloaded");
  }
};

App::App(uv_loop_t* loop, const config::Config& config, const config::Environment& env)
    : impl_(std::make_unique<Impl>(loop, config, env)) {}

App::~App() = default;

Status App::start() {
  auto st = impl_->start();
  if (!st) {
    impl_->server.closeAll();
    impl_->admin_server.closeAll();
    impl_->finish();
  }
  return st;
}

int App::exitCode() const {
  return impl_->exit_code;
}

}  // namespace payhook::daemon
