#include "daemon/ingest.h"

#include <uv.h>

#include <algorithm>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/text.h"
#include "common/untrusted_text.h"
#include "common/uuid.h"
#include "delivery/envelope.h"
#include "handlers/registry.h"
#include "http/client.h"

namespace payhook::daemon {
namespace {

std::string where(const config::RouteConfig& r) {
  return r.loc.file + ":" + std::to_string(r.loc.line) + ": ";
}

double elapsedMs(uint64_t start_ns) {
  return static_cast<double>(uv_hrtime() - start_ns) / 1e6;
}

// The daemon's part of every stored event: its id, its time and the request itself. The request is ours and
// done with, so its parts move into the event instead of being copied.
void stamp(Event& event, http::Request& request, int64_t now, const handlers::Handler& handler) {
  event.id = uuidV7(now);
  event.received_at_ms = now;
  event.raw.method = std::move(request.method);
  event.raw.path = std::move(request.path);
  event.raw.query = handler.storedQuery(request.query);
  if (const auto* ct = request.header("content-type")) event.raw.content_type = *ct;
  event.raw.body = handler.storedBody(std::move(request.body));
}

const char* kindName(const handlers::Decision& d) {
  if (d.pending) return "pending";
  switch (d.kind) {
    case handlers::Decision::Kind::kAccept:
      return "accept";
    case handlers::Decision::Kind::kRefuse:
      return "refuse";
    case handlers::Decision::Kind::kFailed:
      return "failed";
  }
  return "failed";
}

constexpr size_t kMaxDecisionMessage = 1024;  // the app's text is stored and logged: keep it bounded

handlers::Decision failed(std::string reason) {
  handlers::Decision d;
  d.kind = handlers::Decision::Kind::kFailed;
  d.message = std::move(reason);
  return d;
}

// The refusal code and message of a decision object: the app's answer, or the decision recorded in an event.
void readCodeAndMessage(const nlohmann::json& object, bool with_code, handlers::Decision& d) {
  if (auto code = object.find("code"); with_code && code != object.end() && code->is_number_integer()) {
    const auto v = code->get<int64_t>();
    if (v >= INT32_MIN && v <= INT32_MAX) d.code = static_cast<int>(v);
  }
  if (auto message = object.find("message"); message != object.end() && message->is_string()) {
    d.message = message->get<std::string>();
    if (d.message.size() > kMaxDecisionMessage) d.message.resize(kMaxDecisionMessage);
  }
}

// The app's answer: a 2xx with {"accept": true}, {"accept": false, "code": N, "message": "..."} or
// {"pending": true, "message": "..."} (checked first: an answer that says both is not an acceptance).
// Anything else is a failure, which the handler answers as a refusal (or, where it has one, as pending).
handlers::Decision interpret(const http::ClientResponse& r) {
  using nlohmann::json;
  if (r.status == 0) return failed("no answer: " + r.error);
  if (r.status < 200 || r.status > 299) return failed("HTTP " + std::to_string(r.status));
  if (r.truncated) return failed("answer too large");
  const json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return failed("answer is not a JSON object");
  handlers::Decision d;
  auto pending = body.find("pending");
  const bool is_pending = pending != body.end() && pending->is_boolean() && pending->get<bool>();
  auto accept = body.find("accept");
  if (!is_pending && (accept == body.end() || !accept->is_boolean()))
    return failed("answer has no boolean \"accept\"");
  if (!is_pending && accept->get<bool>()) {
    d.kind = handlers::Decision::Kind::kAccept;
    return d;
  }
  d.kind = handlers::Decision::Kind::kRefuse;
  d.pending = is_pending;
  readCodeAndMessage(body, /*with_code=*/!is_pending, d);
  return d;
}

// Records the decision inside the event's data ("decision"), so the stored event is the audit of the check.
void recordDecision(Event& event, const handlers::Decision& d, const std::string& target, int status,
                    double latency_ms) {
  using nlohmann::json;
  json data = json::parse(event.data_json, nullptr, /*allow_exceptions=*/false);
  if (!data.is_object()) data = json::object();
  json decision = {{"outcome", kindName(d)},
                   {"accept", d.kind == handlers::Decision::Kind::kAccept},
                   {"target", target},
                   {"status", status},
                   {"latency_ms", latency_ms}};
  if (d.kind == handlers::Decision::Kind::kRefuse && !d.pending) decision["code"] = d.code;
  if (!d.message.empty()) decision["message"] = d.message;
  data["decision"] = std::move(decision);
  event.data_json = data.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The decision recordDecision() wrote into a stored event's data; nullopt when it holds none.
std::optional<handlers::Decision> recordedDecision(const Event& event) {
  using nlohmann::json;
  const json data = json::parse(event.data_json, nullptr, /*allow_exceptions=*/false);
  if (!data.is_object()) return std::nullopt;
  auto it = data.find("decision");
  if (it == data.end() || !it->is_object()) return std::nullopt;
  const std::string outcome = it->value("outcome", std::string());
  handlers::Decision d;
  if (outcome == "accept") {
    d.kind = handlers::Decision::Kind::kAccept;
  } else if (outcome == "refuse" || outcome == "pending") {
    d.kind = handlers::Decision::Kind::kRefuse;
    d.pending = outcome == "pending";
  } else if (outcome == "failed") {
    d.kind = handlers::Decision::Kind::kFailed;
  } else {
    return std::nullopt;
  }
  readCodeAndMessage(*it, /*with_code=*/true, d);
  return d;
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
    // A provider that signs nothing names its own networks, so that leaving allow_ips out never opens
    // such a route to any source.
    const std::vector<std::string> allow =
        rc.allow_ips.empty() ? (*handler)->defaultAllowIps() : rc.allow_ips;
    for (const auto& text : allow) {
      if (auto c = Cidr::parse(text))
        entry->allow.push_back(*c);
      else
        errors->push_back(where(rc) + key + "allow_ips: \"" + text + "\" is not an address or CIDR");
    }
    entry->spec.targets = rc.forward;
    // Stored with its re-check alone: the route's targets are queued only once the provider's API
    // confirms the event (delivery::Engine).
    if ((*handler)->verifiesFirst()) entry->spec.targets = {"@" + rc.name};
    entry->spec.idempotency_ttl_s = rc.idempotency_ttl_s;
    if (!rc.decision.empty()) {
      auto t = std::find_if(config.targets.begin(), config.targets.end(),
                            [&](const config::TargetConfig& c) { return c.name == rc.decision; });
      if (t == config.targets.end()) {
        errors->push_back(where(rc) + key + "decision: no target named \"" + rc.decision + "\"");
      } else {
        DecisionTarget d;
        d.name = t->name;
        d.url = t->url;
        d.keys = delivery::decodeSigningKeys(t->secrets, t->signing_key);
        for (const auto& [name, value] : t->headers) d.headers.push_back({name, value});
        d.timeout_ms = rc.decision_timeout_ms;
        entry->decision = std::move(d);
      }
    }
    entry->handler = std::move(handler.value());
    if (entry->handler->decidesLater() && !rc.decision.empty() &&
        std::find(entry->spec.targets.begin(), entry->spec.targets.end(), rc.decision) ==
            entry->spec.targets.end())
      entry->spec.targets.push_back(rc.decision);
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
  // Only a listed proxy may say who the client is: a TCP peer in trusted_proxies, or a unix-socket peer when
  // trusted_proxies lists "unix". An unknown peer (empty) is never trusted.
  const bool trusted = request.peer == "unix" ? options_.trust_unix_peers
                                              : anyContains(options_.trusted_proxies, request.peer);
  if (!trusted) return request.peer;
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

const RouteMetrics* Ingest::routeMetrics(const RouteEntry& route) const {
  if (!metrics_) return nullptr;
  if (!route.metrics) {
    RouteMetrics m;
    m.stored = &metrics_->callbacks->with({route.name, route.provider, "stored"});
    m.duplicate = &metrics_->callbacks->with({route.name, route.provider, "duplicate"});
    m.unavailable = &metrics_->callbacks->with({route.name, route.provider, "unavailable"});
    m.latency = &metrics_->latency->with({route.name});
    route.metrics = m;
  }
  return &*route.metrics;
}

void Ingest::count(const RouteEntry& route, std::string_view outcome, uint64_t start) const {
  if (!metrics_) return;
  metrics_->callbacks->with({route.name, route.provider, outcome}).inc();
  routeMetrics(route)->latency->observe(static_cast<double>(uv_hrtime() - start) / 1e9);
}

namespace {

void countOn(const RouteMetrics* m, metrics::Counter* RouteMetrics::*which, uint64_t start) {
  if (!m) return;
  (m->*which)->inc();
  m->latency->observe(static_cast<double>(uv_hrtime() - start) / 1e9);
}

// The store failed: nothing was acknowledged, and the provider is told to try again.
void refuseUnstored(const char* what, const RouteEntry& r, const queue::StoreResult& result,
                    const RouteMetrics* m, uint64_t start, const http::Responder& responder) {
  log::error(what, {{"route", r.name},
                    {"outcome", queue::outcomeName(result.outcome)},
                    {"error", result.error},
                    {"latency_ms", elapsedMs(start)}});
  countOn(m, &RouteMetrics::unavailable, start);
  responder.send(r.handler->unavailable());
}

}  // namespace

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
      if (refusal_log_.admit(route.name, clock_.nowMs()))
        log::warn(
            "callback refused: source address not allowed",
            {{"route", route.name}, {"client", clipUntrusted(client)}, {"latency_ms", elapsedMs(start)}});
      count(route, "not_allowed", start);
      responder.send(http::Response::text(403, "forbidden\n"));
      return;
    }
  }

  const int64_t now = clock_.nowMs();
  auto verdict = route.handler->handle(mount.endpoint, request, now);

  if (auto* reject = std::get_if<handlers::Reject>(&verdict)) {
    refuse(route, std::move(*reject), responder, start);
    return;
  }
  if (auto* decide = std::get_if<handlers::Decide>(&verdict)) {
    auto event = std::make_shared<Event>(std::move(decide->event));
    stamp(*event, request, now, *route.handler);
    this->decide(std::move(event), mount.route, std::move(responder), start, decide->deliver);
    return;
  }

  auto& accept = std::get<handlers::Accept>(verdict);
  Event& event = accept.event;
  stamp(event, request, now, *route.handler);
  if (accept.unless_stored) {
    ackIfStored(mount.route, std::move(accept), std::move(responder), start);
    return;
  }
  std::string note_key = route.handler->noteKey(event);
  if (note_key.empty()) {
    storeAndAck(event, mount.route, std::move(accept.ack), std::move(responder), start);
    return;
  }
  // Stored in one round trip unless the route holds a note for it (a refused check before this payment):
  // then the event is told of the note and stored again, so it reaches the app saying so.
  auto held = std::make_shared<handlers::Accept>(std::move(accept));
  store_.storeUnlessNoted(
      held->event, route.spec, note_key,
      [this, held, route_ref = mount.route, responder, start](queue::StoreResult result) mutable {
        const RouteEntry& r = *route_ref;
        if (result.outcome != queue::StoreOutcome::kHeld) {
          answerStored(r, result, held->event.type, std::move(held->ack), responder, start);
          return;
        }
        if (std::string warning = r.handler->annotate(held->event, result.note); !warning.empty())
          log::warn(warning, {{"route", r.name}, {"event_id", held->event.id}, {"type", held->event.type}});
        storeAndAck(held->event, route_ref, std::move(held->ack), std::move(responder), start);
      });
}

void Ingest::refuse(const RouteEntry& route, handlers::Reject reject, const http::Responder& responder,
                    uint64_t start) const {
  if (refusal_log_.admit(route.name, clock_.nowMs()))
    log::warn("callback refused", {{"route", route.name},
                                   {"outcome", reject.outcome},
                                   {"reason", reject.reason},
                                   {"status", reject.reply.status},
                                   {"latency_ms", elapsedMs(start)}});
  count(route, reject.outcome, start);
  responder.send(std::move(reject.reply));
}

void Ingest::logRefusalSummaries() {
  const int64_t now = clock_.nowMs();
  for (const auto& s : refusal_log_.summaries(now))
    log::warn("callback refusals not logged: more than [log] refusals_per_second",
              {{"route", s.route},
               {"not_logged", s.not_logged},
               {"within_s", static_cast<int64_t>((now - s.since_ms + 999) / 1000)}});
}

void Ingest::storeAndAck(const Event& event, const std::shared_ptr<const RouteEntry>& route,
                         http::Response ack, http::Responder responder, uint64_t start) {
  // Keep the route alive until the store answers: a reload may drop it from the table meanwhile.
  store_.store(event, route->spec,
               [this, responder, route_ref = route, ack = std::move(ack), start,
                type = event.type](queue::StoreResult result) mutable {
                 answerStored(*route_ref, result, type, std::move(ack), responder, start);
               });
}

void Ingest::answerStored(const RouteEntry& r, const queue::StoreResult& result, const std::string& type,
                          http::Response ack, const http::Responder& responder, uint64_t start) const {
  const RouteMetrics* m = routeMetrics(r);
  if (result.stored()) {
    const bool dup = result.outcome == queue::StoreOutcome::kDuplicate;
    countOn(m, dup ? &RouteMetrics::duplicate : &RouteMetrics::stored, start);
    log::info(dup ? "callback duplicate, acknowledged again" : "callback stored",
              {{"route", r.name},
               {"event_id", result.event_id},
               {"type", type},
               {"status", ack.status},
               {"latency_ms", elapsedMs(start)}});
    responder.send(std::move(ack));
    return;
  }
  refuseUnstored("callback not stored, asked the provider to retry", r, result, m, start, responder);
}

void Ingest::ackIfStored(const std::shared_ptr<const RouteEntry>& route, handlers::Accept accept,
                         http::Responder responder, uint64_t start) {
  const Event& event = accept.event;
  std::string key = event.idempotency_key.empty() ? event.id : event.idempotency_key;
  store_.findStored(
      route->name, std::move(key),
      [this, route, accept = std::move(accept), responder, start](queue::LookupResult found) mutable {
        const RouteEntry& r = *route;
        if (!found.ok) {
          refuseUnstored("callback not checked against the store, asked the provider to retry", r,
                         queue::StoreResult{queue::StoreOutcome::kUnavailable, {}, found.error},
                         routeMetrics(r), start, responder);
          return;
        }
        if (found.value) {
          countOn(routeMetrics(r), &RouteMetrics::duplicate, start);
          log::info("callback outside its replay window repeats a stored event, acknowledged again",
                    {{"route", r.name}, {"event_id", *found.value}, {"latency_ms", elapsedMs(start)}});
          responder.send(std::move(accept.ack));
          return;
        }
        refuse(r, std::move(*accept.unless_stored), responder, start);
      });
}

void Ingest::decide(std::shared_ptr<Event> event, std::shared_ptr<const RouteEntry> route,
                    http::Responder responder, uint64_t start, bool deliver) {
  const RouteEntry& r = *route;
  if (!client_ || !r.decision) {
    // Refusing with "try later" acknowledges nothing.
    log::error("callback needs a decision target that is not available", {{"route", r.name}});
    countOn(routeMetrics(r), &RouteMetrics::unavailable, start);
    responder.send(r.handler->unavailable());
    return;
  }
  if (!store_.ready()) {
    // The answer could not be stored for audit anyway: do not ask the shop about a check that will be
    // retried.
    log::error("decision not asked: the store is unavailable, asked the provider to retry",
               {{"route", r.name}, {"event_id", event->id}, {"latency_ms", elapsedMs(start)}});
    countOn(routeMetrics(r), &RouteMetrics::unavailable, start);
    responder.send(r.handler->unavailable());
    return;
  }
  if (deliver) {
    ask(std::move(event), std::move(route), std::move(responder), start, deliver);
    return;
  }
  // A check is asked about once: its repeat (the provider's retry, or a captured check replayed) is answered
  // from the stored decision, so a replay neither asks the shop again nor stores anything.
  store_.findStoredEvent(
      r.name, event->idempotency_key,
      [this, event, route, responder, start](queue::EventLookup found) mutable {
        const RouteEntry& r = *route;
        if (!found.ok) {
          refuseUnstored("decision not asked: the store could not be read, asked the provider to retry", r,
                         queue::StoreResult{queue::StoreOutcome::kUnavailable, {}, found.error},
                         routeMetrics(r), start, responder);
          return;
        }
        std::optional<handlers::Decision> decision;
        if (found.event) decision = recordedDecision(*found.event);
        if (!decision) {
          ask(std::move(event), std::move(route), std::move(responder), start, /*deliver=*/false);
          return;
        }
        countOn(routeMetrics(r), &RouteMetrics::duplicate, start);
        log::info("check repeated, answered from the stored decision", {{"route", r.name},
                                                                        {"event_id", found.event->id},
                                                                        {"type", event->type},
                                                                        {"outcome", kindName(*decision)},
                                                                        {"latency_ms", elapsedMs(start)}});
        responder.send(r.handler->decided(*event, *decision));
      });
}

void Ingest::ask(std::shared_ptr<Event> event, std::shared_ptr<const RouteEntry> route,
                 http::Responder responder, uint64_t start, bool deliver) {
  const RouteEntry& r = *route;
  const DecisionTarget& target = *r.decision;
  http::ClientRequest request;
  request.method = "POST";
  request.url = target.url;
  request.timeout_ms = target.timeout_ms;
  request.body = delivery::envelopeJson(*event, 1);
  request.headers = target.headers;
  for (auto& h : delivery::signedHeaders(event->id, event->received_at_ms / 1000, request.body, target.keys))
    request.headers.push_back(std::move(h));

  // The store is the App's and outlives the client's last callback (the client is shut down first).
  queue::EventStore& store = store_;
  const RouteMetrics* m = routeMetrics(r);
  client_->send(std::move(request), [&store, event, route, responder, start, m,
                                     deliver](http::ClientResponse answer) {
    const RouteEntry& r = *route;
    handlers::Decision decision = interpret(answer);
    const DecisionTarget& target = *r.decision;
    log::info("decision", {{"route", r.name},
                           {"event_id", event->id},
                           {"target", target.name},
                           {"outcome", kindName(decision)},
                           {"status", answer.status},
                           {"reason", decision.kind == handlers::Decision::Kind::kFailed ? decision.message
                                                                                         : std::string()},
                           {"latency_ms", answer.latency_ms}});
    recordDecision(*event, decision, target.name, answer.status, answer.latency_ms);
    r.handler->settle(*event, decision);
    std::string note_key = r.handler->noteKey(*event);
    queue::StoreSpec spec;
    if (deliver) {
      // A payment that happened (Decide with `deliver`): stored like an accepted callback, under the
      // provider's own key with the decision, and queued for the route's targets. A repeated callback is
      // answered from the decision just asked: a provider may repeat a callback answered "pending" until the
      // shop decides.
      spec = r.spec;
      // Each distinct answer is news for the app: a callback answered PENDING and later DONE is two events
      // (pending, then succeeded), while a repeat answered as before is the first one's duplicate.
      event->idempotency_key += ":";
      event->idempotency_key += kindName(decision);
    } else {
      // Stored for audit only: the app has already answered, so no delivery job is queued. Two checks asked
      // at once both reach here; the second is a duplicate and answered with the decision it was given.
      spec.idempotency_ttl_s = r.spec.idempotency_ttl_s;
    }
    store.store(
        *event, spec,
        [&store, event, route, responder, start, m, decision = std::move(decision),
         note_key = std::move(note_key)](queue::StoreResult result) {
          const RouteEntry& r = *route;
          if (result.stored()) {
            // Put on the same connection before the answer goes out, so it is in Redis before anything the
            // answer provokes (the payment notice after a check) can ask for it. Losing it loses only the
            // warning. A refusal is kept for the payment's notice to carry; an acceptance removes an earlier
            // one.
            if (!note_key.empty())
              store.putNote(
                  r.name, note_key,
                  decision.kind == handlers::Decision::Kind::kAccept && !decision.pending
                      ? std::string()
                      : std::string(kindName(decision)) + " " + result.event_id,
                  r.spec.idempotency_ttl_s, [route, note_key](queue::LookupResult put) {
                    if (!put.ok)
                      log::warn("decision note not kept", {{"route", route->name}, {"error", put.error}});
                  });
            const bool dup = result.outcome == queue::StoreOutcome::kDuplicate;
            countOn(m, dup ? &RouteMetrics::duplicate : &RouteMetrics::stored, start);
            log::info(dup ? "decision answered, the callback was already stored" : "decision stored",
                      {{"route", r.name},
                       {"event_id", result.event_id},
                       {"type", event->type},
                       {"outcome", kindName(decision)},
                       {"latency_ms", elapsedMs(start)}});
            responder.send(r.handler->decided(*event, decision));
            return;
          }
          refuseUnstored("decision not stored, asked the provider to retry", r, result, m, start, responder);
        });
  });
}

}  // namespace payhook::daemon
