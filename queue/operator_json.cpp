#include "queue/operator_json.h"

#include "common/time_format.h"

namespace payhook::queue {
namespace {

using nlohmann::ordered_json;

ordered_json timeOrNull(int64_t ms) {
  return ms > 0 ? ordered_json(formatIso8601Utc(ms)) : ordered_json(nullptr);
}

ordered_json orNull(const std::string& s) {
  return s.empty() ? ordered_json(nullptr) : ordered_json(s);
}

}  // namespace

ordered_json embedJson(const std::string& text) {
  if (text.empty()) return nullptr;
  ordered_json j = ordered_json::parse(text, nullptr, false);
  if (j.is_discarded()) return text;
  return j;
}

ordered_json toJson(const QueueStats& s) {
  ordered_json j;
  j["now"] = formatIso8601Utc(s.now_ms);
  j["events"] = s.events;
  j["events_complete"] = s.completed;
  j["redis_used_memory"] = s.memory.used >= 0 ? ordered_json(s.memory.used) : ordered_json(nullptr);
  j["redis_maxmemory"] = s.memory.maxmemory >= 0 ? ordered_json(s.memory.maxmemory) : ordered_json(nullptr);
  j["redis_maxmemory_policy"] = s.memory.policy;
  j["due"] = s.due;
  j["overdue"] = s.overdue;
  j["leased"] = s.leased;
  j["leased_expired"] = s.leased_expired;
  j["dead"] = s.dead;
  j["oldest_dead"] = timeOrNull(s.oldest_dead_ms);
  j["dead_counted"] = s.dead_counted;
  j["targets"] = ordered_json::array();
  for (const auto& t : s.targets)
    j["targets"].push_back({{"name", t.name},
                            {"due", t.due},
                            {"overdue", t.overdue},
                            {"oldest_due", timeOrNull(t.oldest_due_ms)},
                            {"dead", t.dead}});
  j["dead_by_route"] = ordered_json::object();
  for (const auto& [route, n] : s.dead_by_route) j["dead_by_route"][route] = n;
  j["redis_at"] = s.redis_at;
  j["redis_role"] = s.role.empty() ? ordered_json(nullptr) : ordered_json(s.role);
  j["redis_replicas"] = s.replicas >= 0 ? ordered_json(s.replicas) : ordered_json(nullptr);
  j["redis_min_replicas"] = s.min_replicas;
  return j;
}

ordered_json toJson(const TargetState& t) {
  ordered_json j;
  j["name"] = t.name;
  j["status"] = t.status;
  j["attempts"] = t.attempts;
  if (t.status == "due") j["due_at"] = formatIso8601Utc(t.due_ms);
  if (t.status == "leased") j["lease_until"] = formatIso8601Utc(t.lease_until_ms);
  if (t.dead_at_ms > 0) j["dead_at"] = formatIso8601Utc(t.dead_at_ms);
  if (t.since_ms > 0) j["since"] = formatIso8601Utc(t.since_ms);
  if (!t.reason.empty()) j["reason"] = t.reason;
  return j;
}

ordered_json toJson(const EventSummary& e) {
  ordered_json j;
  j["id"] = e.id;
  j["state"] = e.state;
  j["route"] = e.route;
  j["provider"] = e.provider;
  j["type"] = e.type;
  j["received_at"] = formatIso8601Utc(e.received_at_ms);
  j["verified"] = e.verified;
  const EventListing& l = e.listing;
  j["key"] = l.keys.empty() ? ordered_json(nullptr) : ordered_json(l.keys.front());
  j["keys"] = l.keys;
  j["amount"] = orNull(l.amount);
  j["currency"] = orNull(l.currency);
  j["status"] = orNull(l.status);
  j["outcome"] = orNull(l.outcome);
  j["targets"] = ordered_json::array();
  for (const auto& t : e.targets) j["targets"].push_back(toJson(t));
  j["last_attempt"] = embedJson(e.last_attempt);
  if (!e.dead_target.empty()) {
    j["dead_target"] = e.dead_target;
    j["dead_at"] = timeOrNull(e.dead_at_ms);
  }
  return j;
}

ordered_json toJson(const EventDetail& d) {
  ordered_json j = toJson(d.summary);
  j.erase("last_attempt");
  j["idempotency_key"] = d.idempotency_key;
  if (!d.decision.empty()) j["decision"] = embedJson(d.decision);
  if (!d.same_as.empty()) j["same_as"] = d.same_as;
  j["data"] = embedJson(d.data_json);
  j["raw"] = {{"method", d.raw.method},
              {"path", d.raw.path},
              {"query", d.raw.query},
              {"content_type", d.raw.content_type},
              {"body", d.raw.body}};
  j["attempts"] = ordered_json::array();
  for (const auto& a : d.attempts) j["attempts"].push_back(embedJson(a));
  if (d.damaged) j["damaged"] = true;
  return j;
}

ordered_json toJson(const ListPage& p) {
  ordered_json j;
  j["events"] = ordered_json::array();
  for (const auto& e : p.events) j["events"].push_back(toJson(e));
  j["next_cursor"] = p.next_cursor.empty() ? ordered_json(nullptr) : ordered_json(p.next_cursor);
  j["scanned"] = p.scanned;
  return j;
}

ordered_json findJson(const FindResult& f, const std::string& key, const std::string& route) {
  ordered_json j;
  j["key"] = key;
  j["route"] = orNull(route);
  j["events"] = ordered_json::array();
  for (const auto& e : f.events) j["events"].push_back(toJson(e));
  j["more"] = f.more;
  j["next_cursor"] = nullptr;
  return j;
}

ordered_json toJson(const ReindexReport& r) {
  return {{"read", r.read}, {"indexed", r.indexed}, {"batches", r.batches}, {"resumed", r.resumed}};
}

ordered_json toJson(const std::vector<RetryResult>& results) {
  ordered_json j;
  j["results"] = ordered_json::array();
  int64_t retried = 0;
  for (const auto& r : results) {
    retried += r.outcome == RetryResult::Outcome::kRetried;
    ordered_json e{{"id", r.id}, {"result", retryOutcomeName(r.outcome)}};
    e["revived"] = r.revived;
    e["hurried"] = r.hurried;
    e["state"] = r.state.empty() ? ordered_json(nullptr) : ordered_json(r.state);
    j["results"].push_back(std::move(e));
  }
  j["retried"] = retried;
  return j;
}

ordered_json toJson(const ReplayResult& r) {
  ordered_json j{{"id", r.id}, {"result", replayOutcomeName(r.outcome)}};
  j["targets"] = r.targets;
  j["state"] = r.state.empty() ? ordered_json(nullptr) : ordered_json(r.state);
  return j;
}

ordered_json retryDeadJson(const BulkReport& r) {
  return {{"retried", r.done}};
}

ordered_json purgeJson(const BulkReport& r, int64_t cutoff_ms) {
  return {{"purged", r.done}, {"skipped", r.skipped}, {"cutoff", formatIso8601Utc(cutoff_ms)}};
}

}  // namespace payhook::queue
