#include "daemon/ingest.h"

#include <uv.h>

#include "common/log.h"
#include "common/uuid.h"
#include "handlers/registry.h"

namespace payhook::daemon {
namespace {

std::string where(const config::RouteConfig& r) {
  return r.loc.file + ":" + std::to_string(r.loc.line) + ": ";
}

double elapsedMs(uint64_t start_ns) {
  return static_cast<double>(uv_hrtime() - start_ns) / 1e6;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::shared_ptr<const RouteTable>> RouteTable::build(const config::Config& config,
                                                            std::vector<std::string>* errors) {
  auto table = std::make_shared<RouteTable>();
  size_t first_error = errors->size();
  for (size_t i = 0; i < config.routes.size(); ++i) {
    const auto& rc = config.routes[i];
    std::string key = "routes[" + std::to_string(i) + "].";
    auto handler = handlers::makeHandler(rc);
    if (!handler) {
      errors->push_back(where(rc) + key + handler.error().message);
      continue;
    }
    auto entry = std::make_shared<RouteEntry>();
    entry->name = rc.name;
    entry->provider = rc.provider;
    for (const auto& text : rc.allow_ips) {
      if (auto c = Cidr::parse(text))
        entry->allow.push_back(*c);
      else
        errors->push_back(where(rc) + key + "allow_ips: \"" + text + "\" is not an address or CIDR");
    }
    entry->spec.targets = rc.forward;
    entry->spec.idempotency_ttl_s = rc.idempotency_ttl_s;
    entry->handler = std::move(handler.value());
    // Mount each endpoint under the route's path.
    auto endpoints = entry->handler->endpoints();
    for (size_t e = 0; e < endpoints.size(); ++e) {
      size_t index = table->mounts_.size();
      table->mounts_.push_back({entry, e});
      auto added = table->router_.add(rc.path + endpoints[e].suffix, endpoints[e].methods, index);
      if (!added) errors->push_back(where(rc) + key + "path: " + added.error().message);
    }
    ++table->routes_;
  }
  if (errors->size() > first_error) return Error{"invalid routes"};
  return std::shared_ptr<const RouteTable>(std::move(table));
}

Ingest::Ingest(queue::EventStore& store, const Clock& clock, IngestOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

std::string Ingest::clientAddress(const http::Request& request) const {
  // A unix-socket peer is a local process (the reverse proxy in front of payhook), so it is trusted like a
  // listed proxy; a TCP peer only when trusted_proxies lists it.
  const bool unix_peer = request.peer.empty();
  if (!unix_peer && !anyContains(options_.trusted_proxies, request.peer)) return request.peer;
  // Several X-Forwarded-For lines are one list in order (RFC 9110 field combination): a client's forged
  // first line must not hide the hop that the proxy appended on a line of its own.
  std::string xff;
  for (const auto& h : request.headers) {
    if (h.name != "x-forwarded-for") continue;
    if (!xff.empty()) xff += ',';
    xff += h.value;
  }
  // Walk from the right: the first address not itself a trusted proxy is the client.
  std::string_view rest = xff;
  while (!rest.empty()) {
    size_t comma = rest.rfind(',');
    std::string_view hop = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    if (hop.empty()) continue;
    if (!parseIp(hop)) return std::string(hop);  // garbage: never matches an allow list
    if (!anyContains(options_.trusted_proxies, hop)) return std::string(hop);
  }
  return request.peer;
}

void Ingest::handle(http::Request&& request, http::Responder responder) {
  const uint64_t start = uv_hrtime();
  auto routes = routes_;  // the table in force when the request arrived, even across a reload
  auto match = routes->router().match(request.method, request.path);
  if (match.kind == http::Router::Match::kNotFound) {
    responder.send(http::Response::text(404, "not found\n"));
    return;
  }
  if (match.kind == http::Router::Match::kMethodNotAllowed) {
    responder.send(http::Response::text(405, "method not allowed\n").withHeader("allow", match.allow));
    return;
  }
  const auto& mount = routes->mount(match.target);
  const RouteEntry& route = *mount.route;

  if (!route.allow.empty()) {
    std::string client = clientAddress(request);
    if (!anyContains(route.allow, client)) {
      log::warn("callback refused: source address not allowed",
                {{"route", route.name}, {"client", client}, {"latency_ms", elapsedMs(start)}});
      responder.send(http::Response::text(403, "forbidden\n"));
      return;
    }
  }

  const int64_t now = clock_.nowMs();
  auto verdict = route.handler->handle(mount.endpoint, request, now);

  if (auto* reject = std::get_if<handlers::Reject>(&verdict)) {
    log::warn("callback refused", {{"route", route.name},
                                   {"outcome", reject->outcome},
                                   {"reason", reject->reason},
                                   {"status", reject->reply.status},
                                   {"latency_ms", elapsedMs(start)}});
    responder.send(std::move(reject->reply));
    return;
  }
  if (std::holds_alternative<handlers::Decide>(verdict)) {
    // No decision flow is wired yet; refusing with "try later" acknowledges nothing.
    log::error("callback needs a decision flow that is not available", {{"route", route.name}});
    responder.send(route.handler->unavailable());
    return;
  }

  auto& accept = std::get<handlers::Accept>(verdict);
  Event& event = accept.event;
  event.id = uuidV7(now);
  event.received_at_ms = now;
  // The request is ours and done with: its parts move into the event instead of being copied.
  event.raw.method = std::move(request.method);
  event.raw.path = std::move(request.path);
  event.raw.query = std::move(request.query);
  if (const auto* ct = request.header("content-type")) event.raw.content_type = *ct;
  event.raw.body = std::move(request.body);
  // Keep the route alive until the store answers: a reload may drop it from the table meanwhile.
  store_.store(event, route.spec,
               [responder, route_ref = mount.route, ack = std::move(accept.ack), start,
                type = event.type](queue::StoreResult result) mutable {
                 const RouteEntry& r = *route_ref;
                 if (result.stored()) {
                   const bool dup = result.outcome == queue::StoreOutcome::kDuplicate;
                   log::info(dup ? "callback duplicate, acknowledged again" : "callback stored",
                             {{"route", r.name},
                              {"event_id", result.event_id},
                              {"type", type},
                              {"status", ack.status},
                              {"latency_ms", elapsedMs(start)}});
                   responder.send(std::move(ack));
                   return;
                 }
                 log::error("callback not stored, asked the provider to retry",
                            {{"route", r.name},
                             {"outcome", queue::outcomeName(result.outcome)},
                             {"error", result.error},
                             {"latency_ms", elapsedMs(start)}});
                 responder.send(r.handler->unavailable());
               });
}

}  // namespace payhook::daemon
