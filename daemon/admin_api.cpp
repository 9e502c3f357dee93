#include "daemon/admin_api.h"

#include <sodium.h>

#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/percent.h"
#include "common/query.h"
#include "common/time_format.h"
#include "config/config.h"
#include "delivery/expected_order.h"
#include "queue/operator_json.h"

namespace payhook::daemon {
namespace {

using nlohmann::ordered_json;

std::array<unsigned char, 32> digest(std::string_view s) {
  std::array<unsigned char, 32> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                     nullptr, 0);
  return out;
}

http::Response json(int status, const ordered_json& j) {
  http::Response r{status,
                   "application/json",
                   j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                   {},
                   false};
  r.body += '\n';
  r.headers.push_back({"cache-control", "no-store"});
  return r;
}

http::Response error(int status, const std::string& message) {
  return json(status, ordered_json{{"error", message}});
}

http::Response methodNotAllowed(const char* allow) {
  return error(405, "method not allowed").withHeader("allow", allow);
}

// Query parameters, percent-decoded; a malformed one makes the whole query invalid.
bool queryParams(std::string_view query, std::map<std::string, std::string>* out) {
  auto pairs = parseQuery(query);
  if (!pairs) return false;
  for (auto& [name, value] : *pairs) (*out)[name] = std::move(value);
  return true;
}

// Parameters of a POST: the query's, overridden by a JSON object body's string members.
bool postParams(const http::Request& r, std::map<std::string, std::string>* out) {
  if (!queryParams(r.query, out)) return false;
  if (r.body.find_first_not_of(" \t\r\n") == std::string::npos) return true;
  ordered_json body = ordered_json::parse(r.body, nullptr, false);
  if (!body.is_object()) return false;
  for (const auto& [k, v] : body.items()) {
    if (!v.is_string()) return false;
    (*out)[k] = v.get<std::string>();
  }
  return true;
}

std::optional<int64_t> timeParam(const std::string& text) {
  if (text.empty()) return int64_t{0};
  if (text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 15) return std::stoll(text);
  // ISO 8601 UTC, "2026-11-26T10:00:00Z" or with ".mmm".
  std::tm tm{};
  int ms = 0;
  char z = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &z) != 8 &&
      (ms = 0, std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7))
    return std::nullopt;
  if (z != 'Z' || tm.tm_mon < 1 || tm.tm_mon > 12) return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const time_t t = timegm(&tm);
  if (t < 0) return std::nullopt;
  return static_cast<int64_t>(t) * 1000 + ms;
}

}  // namespace

void AdminApi::find(std::map<std::string, std::string>& q, http::Responder responder) {
  const std::string key = q["key"], route = q["route"];
  if (!queue::isFindKey(key))
    return responder.send(error(400, "key: 1 to 200 characters without control characters"));
  if (!route.empty() && !queue::isValidName(route)) return responder.send(error(400, "invalid route"));
  size_t limit = 50;
  if (q.count("limit")) {
    const std::string& l = q["limit"];
    if (l.empty() || l.size() > 4 || l.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(l) < 1 || std::stoul(l) > queue::kFindLimitMax)
      return responder.send(error(400, "limit must be 1 to 500"));
    limit = std::stoul(l);
  }
  ops_.find(key, route, limit, [responder, key, route](Result<queue::FindResult> r) {
    responder.send(r ? json(200, queue::findJson(*r, key, route)) : error(503, r.error().message));
  });
}

namespace {

ordered_json expectationJson(const queue::Expectation& e) {
  ordered_json j{{"route", e.route}, {"order", e.order}, {"state", e.state}};
  j["amount"] = e.amount.empty() ? ordered_json(nullptr) : ordered_json(e.amount);
  j["deadline"] = formatIso8601Utc(e.deadline_ms);
  if (e.created_ms > 0) j["registered_at"] = formatIso8601Utc(e.created_ms);
  j["polls"] = e.polls;
  j["last_status"] = e.last_status;
  j["status"] = e.status;
  if (!e.error.empty()) j["error"] = e.error;
  if (!e.reason.empty()) j["reason"] = e.reason;
  if (e.died_at_ms > 0) j["dead_at"] = formatIso8601Utc(e.died_at_ms);
  if (!e.closed_by.empty()) j["closed_by"] = e.closed_by;
  if (!e.event.empty()) j["event"] = e.event;
  return j;
}

}  // namespace

void AdminApi::expected(const http::Request& request, http::Responder responder) {
  if (!expectations_ || !config_) return responder.send(error(404, "not found"));
  if (request.method == "GET") {
    std::map<std::string, std::string> q;
    if (!queryParams(request.query, &q)) return responder.send(error(400, "malformed query"));
    std::string state = q.count("state") ? q["state"] : "all";
    if (state != "open" && state != "dead" && state != "all")
      return responder.send(error(400, "state: open, dead or all"));
    if (!q["route"].empty() && !queue::isValidName(q["route"]))
      return responder.send(error(400, "invalid route"));
    size_t limit = 50;
    if (q.count("limit")) {
      const std::string& l = q["limit"];
      if (l.empty() || l.size() > 4 || l.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(l) < 1 || std::stoul(l) > 500)
        return responder.send(error(400, "limit must be 1 to 500"));
      limit = std::stoul(l);
    }
    expectations_->list(state, q["route"], limit, [responder](Result<queue::ExpectationList> r) {
      if (!r) return responder.send(error(503, r.error().message));
      ordered_json j{{"open", r->open}, {"dead", r->dead}, {"expected", ordered_json::array()}};
      for (const auto& e : r->entries) j["expected"].push_back(expectationJson(e));
      responder.send(json(200, j));
    });
    return;
  }
  if (request.method != "POST") return responder.send(methodNotAllowed("GET, POST"));
  ordered_json body = ordered_json::parse(request.body, nullptr, false);
  if (!body.is_object()) return responder.send(error(400, "the body must be a JSON object"));
  auto str = [&](const char* name, std::string* out) -> bool {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return true;
    if (it->is_string()) {
      *out = it->get<std::string>();
      return true;
    }
    if (it->is_number()) {
      *out = it->dump();
      return true;
    }
    return false;
  };
  std::string route, order, amount, deadline_text;
  if (!str("route", &route)) return responder.send(error(400, "route: must be a string"));
  if (!str("order", &order)) return responder.send(error(400, "order: must be a string"));
  if (!str("amount", &amount)) return responder.send(error(400, "amount: must be a string or a number"));
  std::optional<std::string> deadline;
  if (auto it = body.find("deadline"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      deadline = it->get<std::string>();
    } else if (it->is_number()) {
      // A number is seconds.
      if (it->get<double>() < 0) return responder.send(error(400, "deadline: must not be negative"));
      deadline = std::to_string(static_cast<uint64_t>(it->get<double>() * 1000)) + "ms";
    } else {
      return responder.send(error(400, "deadline: a duration such as \"2h\", or seconds"));
    }
  }
  auto checked = delivery::checkExpectedOrder(config_(), route, order, amount, deadline);
  if (!checked) return responder.send(error(400, checked.error().message));
  const int64_t now = clock_.nowMs();
  const delivery::ExpectedOrder e = *checked;
  expectations_->expect(e.route, e.order, e.amount, now + static_cast<int64_t>(e.deadline_ms), now,
                        [responder, e](Result<queue::ExpectResult> r) {
                          if (!r) return responder.send(error(503, r.error().message));
                          ordered_json j = expectationJson(r->stored);
                          j["created"] = r->created;
                          if (!r->created && r->stored.amount != e.amount) {
                            j["error"] = "registered before with another amount: nothing changed";
                            return responder.send(json(409, j));
                          }
                          responder.send(json(r->created ? 201 : 200, j));
                        });
}

AdminApi::AdminApi(queue::Operator& ops, const Clock& clock, const Secret& token)
    : ops_(ops), clock_(clock), enabled_(!token.empty()), token_digest_(digest(token.reveal())) {}

void AdminApi::setToken(const Secret& token) {
  enabled_ = !token.empty();
  token_digest_ = digest(token.reveal());
  // A session proves someone knew the old token.
  if (sessions_) sessions_->endAll();
}

bool AdminApi::tokenMatches(std::string_view presented) const {
  const auto d = digest(presented);
  return enabled_ && sodium_memcmp(d.data(), token_digest_.data(), d.size()) == 0;
}

SessionAccess AdminApi::access(const http::Request& request) const {
  if (authorized(request)) return SessionAccess::kGranted;
  return sessions_ ? checkSession(*sessions_, request) : SessionAccess::kNone;
}

bool AdminApi::authorized(const http::Request& request) const {
  const std::string* h = request.header("authorization");
  if (!h || h->size() < 7) return false;
  std::string_view v(*h);
  // The scheme is case-insensitive (RFC 9110).
  std::string scheme(v.substr(0, 7));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return false;
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  const auto presented = digest(v);
  return sodium_memcmp(presented.data(), token_digest_.data(), presented.size()) == 0;
}

void AdminApi::handle(http::Request&& request, http::Responder responder) {
  if (!enabled_) {
    responder.send(error(404, "not found: the /v1 API is off (no [admin] token)"));
    return;
  }
  const SessionAccess granted = access(request);
  if (granted == SessionAccess::kNone) {
    responder.send(error(401, "unauthorized").withHeader("www-authenticate", "Bearer realm=\"payhook\""));
    return;
  }
  if (granted == SessionAccess::kForbidden)
    return responder.send(error(403, "a signed-in page must send its X-CSRF-Token from its own origin"));
  const std::string& path = request.path;
  const std::string& method = request.method;
  const bool get = method == "GET", post = method == "POST";
  const int64_t now = clock_.nowMs();

  if (path == "/v1/live") {
    if (!get) return responder.send(methodNotAllowed("GET"));
    if (!live_) return responder.send(error(404, "not found"));
    http::Response r{200, "application/json", live_(), {}, false};
    r.headers.push_back({"cache-control", "no-store"});
    return responder.send(std::move(r));
  }

  if (path == "/v1/expected") return expected(request, std::move(responder));

  if (path == "/v1/stats") {
    if (!get) return responder.send(methodNotAllowed("GET"));
    ops_.stats(now, [responder](Result<queue::QueueStats> r) {
      responder.send(r ? json(200, queue::toJson(*r)) : error(503, r.error().message));
    });
    return;
  }

  if (path == "/v1/events") {
    if (!get) return responder.send(methodNotAllowed("GET"));
    std::map<std::string, std::string> q;
    if (!queryParams(request.query, &q)) return responder.send(error(400, "malformed query"));
    if (q.count("key")) return find(q, std::move(responder));
    queue::ListQuery lq;
    if (q.count("state")) lq.state = q["state"];
    lq.route = q["route"];
    lq.cursor = q["cursor"];
    if (!queue::isListState(lq.state)) return responder.send(error(400, "unknown state"));
    if (!lq.route.empty() && !queue::isValidName(lq.route))
      return responder.send(error(400, "invalid route"));
    if (!lq.cursor.empty() && !queue::decodeCursor(lq.cursor))
      return responder.send(error(400, "invalid cursor"));
    if (q.count("limit")) {
      const std::string& l = q["limit"];
      if (l.empty() || l.size() > 4 || l.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(l) < 1 || std::stoul(l) > queue::kListLimitMax)
        return responder.send(error(400, "limit must be 1 to 500"));
      lq.limit = std::stoul(l);
    }
    auto since = timeParam(q["since"]), until = timeParam(q["until"]);
    if (!since || !until) return responder.send(error(400, "since and until take Unix ms or ISO 8601 UTC"));
    lq.since_ms = *since;
    lq.until_ms = *until;
    ops_.list(lq, [responder](Result<queue::ListPage> r) {
      responder.send(r ? json(200, queue::toJson(*r)) : error(503, r.error().message));
    });
    return;
  }

  if (path.rfind("/v1/events/", 0) == 0) {
    std::string rest = path.substr(11);
    std::string action;
    if (size_t slash = rest.find('/'); slash != std::string::npos) {
      action = rest.substr(slash + 1);
      rest.resize(slash);
    }
    std::string id;
    if (!percentDecode(rest, &id) || !queue::isValidName(id))
      return responder.send(error(404, "no such event"));
    if (action.empty()) {
      if (!get) return responder.send(methodNotAllowed("GET"));
      ops_.show(id, [responder, id](Result<std::optional<queue::EventDetail>> r) {
        if (!r) return responder.send(error(503, r.error().message));
        if (!r->has_value())
          return responder.send(json(404, ordered_json{{"error", "not_found"}, {"id", id}}));
        responder.send(json(200, queue::toJson(**r)));
      });
      return;
    }
    if (action == "retry") {
      if (!post) return responder.send(methodNotAllowed("POST"));
      ops_.retry({id}, now, [responder](Result<std::vector<queue::RetryResult>> r) {
        if (!r) return responder.send(error(503, r.error().message));
        using O = queue::RetryResult::Outcome;
        const O o = r->empty() ? O::kNotFound : r->front().outcome;
        responder.send(json(o == O::kRetried ? 200 : o == O::kNotFound ? 404 : 409, queue::toJson(*r)));
      });
      return;
    }
    if (action == "replay") {
      if (!post) return responder.send(methodNotAllowed("POST"));
      ops_.replay(id, now, [responder](Result<queue::ReplayResult> r) {
        if (!r) return responder.send(error(503, r.error().message));
        using O = queue::ReplayResult::Outcome;
        responder.send(json(r->outcome == O::kReplayed   ? 200
                            : r->outcome == O::kNotFound ? 404
                                                         : 409,
                            queue::toJson(*r)));
      });
      return;
    }
    return responder.send(error(404, "not found"));
  }

  if (path == "/v1/dead/retry" || path == "/v1/dead/purge") {
    if (!post) return responder.send(methodNotAllowed("POST"));
    std::map<std::string, std::string> p;
    if (!postParams(request, &p))
      return responder.send(error(400, "parameters: a query or a JSON object of strings"));
    const std::string route = p["route"];
    if (!route.empty() && !queue::isValidName(route)) return responder.send(error(400, "invalid route"));
    if (path == "/v1/dead/retry") {
      ops_.retryDead(route, now, [responder](Result<queue::BulkReport> r) {
        responder.send(r ? json(200, queue::retryDeadJson(*r)) : error(503, r.error().message));
      });
      return;
    }
    uint64_t older = 0;
    if (!p["older_than"].empty()) {
      auto d = config::parseDuration(p["older_than"]);
      if (!d) return responder.send(error(400, "older_than takes a duration such as 7d"));
      older = *d;
    }
    const int64_t cutoff = now - static_cast<int64_t>(older);
    ops_.purgeDead(route, cutoff, [responder, cutoff](Result<queue::BulkReport> r) {
      responder.send(r ? json(200, queue::purgeJson(*r, cutoff)) : error(503, r.error().message));
    });
    return;
  }
  responder.send(error(404, "not found"));
}

}  // namespace payhook::daemon
