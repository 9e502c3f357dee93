// AdminApi: the admin listener's /v1 operator API, the same operations as payhookctl over queue::Operator,
// answering the same JSON documents as `payhookctl --json`.
//
//   GET  /v1/stats
//   GET  /v1/events?state=&route=&since=&until=&limit=&cursor=   (times: Unix ms or ISO 8601 UTC)
//   GET  /v1/events?key=&route=&limit=   the events a payment is known by (queue::Operator::find)
//   GET  /v1/events/{id}
//   POST /v1/events/{id}/retry        200, 404 no such event, 409 nothing to retry
//   POST /v1/events/{id}/replay       200, 404, 409 still being delivered or never delivered
//   POST /v1/dead/retry               route= in the query or {"route": "..."} in the body: that route only
//   POST /v1/dead/purge               older_than= ("7d") and route=, in the query or the JSON body
//   GET  /v1/live                     what this daemon knows now: Redis' readiness, breakers, rates
//   POST /v1/expected                 {"route","order","amount"?,"deadline"?}: an expected order (README
//                                     "Expected payments"); 201 registered, 200 registered before (nothing
//                                     changed), 409 registered before with another amount, 400 bad input
//   GET  /v1/expected?state=open|dead|all&route=&limit=   expected orders and their counts
//
// Every request needs `Authorization: Bearer <admin token>`; the token is compared in constant time (of a
// BLAKE2b digest, so not even its length leaks) and a missing or wrong one is answered 401 with
// `WWW-Authenticate: Bearer`. The queue page's session cookie (daemon/ui_session.h) is taken instead of the
// token, but then every request that changes something needs the session's X-CSRF-Token and, when it sends
// Origin, the listener's own (else 403). Without a configured token the whole of /v1 answers 404. Bad
// parameters: 400; Redis unreachable or failing: 503; errors are {"error": "..."}.
//
// Threading: on the daemon's loop, like the Operator it uses; the operator and the clock must outlive it.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/http_message.h"
#include "common/secret.h"
#include "daemon/ui_session.h"
#include "http/server.h"
#include "queue/expectations.h"
#include "queue/operator.h"

namespace payhook::config {
struct Config;
}  // namespace payhook::config

namespace payhook::daemon {

class AdminApi {
 public:
  AdminApi(queue::Operator& ops, const Clock& clock, const Secret& token);

  // True for the paths this API owns: "/v1" and everything under "/v1/".
  static bool handles(std::string_view path) { return path == "/v1" || path.rfind("/v1/", 0) == 0; }
  void handle(http::Request&& request, http::Responder responder);
  // A new token after a reload (an empty one turns /v1 off); it ends every session of the queue page.
  void setToken(const Secret& token);
  bool enabled() const { return enabled_; }
  // Whether `presented` is the admin token, compared like the bearer token.
  bool tokenMatches(std::string_view presented) const;
  // The queue page's sessions, whose cookie then authorizes /v1 too; null: the bearer token only.
  void setSessions(UiSessions* sessions) { sessions_ = sessions; }
  // GET /v1/live's JSON document; unset: 404.
  void setLive(std::function<std::string()> live) { live_ = std::move(live); }
  // POST and GET /v1/expected: the store's expectations, and the config the registrations are checked
  // against (read at each request, so a reload counts); unset: 404.
  void setExpected(queue::Expectations* expectations, std::function<const config::Config&()> config) {
    expectations_ = expectations;
    config_ = std::move(config);
  }

 private:
  bool authorized(const http::Request& request) const;
  // The bearer token, or else the session cookie (and its CSRF token where needed).
  SessionAccess access(const http::Request& request) const;
  void find(std::map<std::string, std::string>& query, http::Responder responder);
  void expected(const http::Request& request, http::Responder responder);

  queue::Operator& ops_;
  const Clock& clock_;
  bool enabled_ = false;
  std::array<unsigned char, 32> token_digest_{};
  UiSessions* sessions_ = nullptr;
  std::function<std::string()> live_;
  queue::Expectations* expectations_ = nullptr;
  std::function<const config::Config&()> config_;
};

}  // namespace payhook::daemon
