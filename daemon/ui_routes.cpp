#include "daemon/ui_routes.h"

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/query.h"
#include "daemon/ui_assets.h"

namespace payhook::daemon {
namespace {

using nlohmann::ordered_json;

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

http::Response json(int status, const ordered_json& j) {
  return http::Response{status,
                        "application/json",
                        j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                        {},
                        false};
}

http::Response error(int status, const std::string& message) {
  return json(status, ordered_json{{"error", message}});
}

http::Response asset(const UiAsset& a) {
  http::Response r{200, std::string(a.content_type), std::string(a.body), {}, false};
  // The files change only with the binary; revalidating costs little on loopback and never shows a stale
  // page.
  const bool page = a.content_type.rfind("text/html", 0) == 0;
  r.headers.push_back({"cache-control", page ? "no-store" : "no-cache"});
  return r;
}

std::string sessionCookie(const std::string& id, int64_t max_age_s) {
  return std::string(kSessionCookie) + "=" + id +
         "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" + std::to_string(max_age_s);
}

std::string trimmed(std::string s) {
  const char* space = " \t\r\n";
  const size_t first = s.find_first_not_of(space);
  if (first == std::string::npos) return {};
  s.erase(s.find_last_not_of(space) + 1);
  s.erase(0, first);
  return s;
}

bool isJson(const http::Request& r) {
  const std::string* type = r.header("content-type");
  return type && type->rfind("application/json", 0) == 0;
}

// The token of a login: {"token": "..."} or a form's token=...; nullopt when the body is neither.
std::optional<std::string> presentedToken(const http::Request& r) {
  if (isJson(r)) {
    ordered_json body = ordered_json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("token") || !body["token"].is_string()) return std::nullopt;
    return trimmed(body["token"].get<std::string>());
  }
  auto pairs = parseQuery(r.body);
  if (!pairs) return std::nullopt;
  for (auto& [name, value] : *pairs)
    if (name == "token") return trimmed(std::move(value));
  return std::nullopt;
}

}  // namespace

UiRoutes::UiRoutes(const AdminApi& api, UiSessions& sessions, const Clock& clock)
    : api_(api), sessions_(sessions), throttle_(clock) {}

void UiRoutes::handle(http::Request&& request, http::Responder responder) {
  http::Response r = route(request);
  r.headers.push_back({"content-security-policy", kCsp});
  r.headers.push_back({"x-content-type-options", "nosniff"});
  r.headers.push_back({"referrer-policy", "no-referrer"});
  bool cache_set = false;
  for (const auto& h : r.headers) cache_set = cache_set || h.name == "cache-control";
  if (!cache_set) r.headers.push_back({"cache-control", "no-store"});
  responder.send(std::move(r));
}

http::Response UiRoutes::route(const http::Request& request) {
  const std::string& path = request.path;
  const bool get = request.method == "GET";
  if (path == "/ui") {
    if (!get) return error(405, "method not allowed").withHeader("allow", "GET");
    return http::Response::empty(308).withHeader("location", "/ui/");
  }
  if (path == "/ui/login" || path == "/ui/logout" || path == "/ui/session") {
    if (!api_.enabled()) return error(404, "not found: no [admin] token_file is configured");
    if (path == "/ui/session") {
      if (!get) return error(405, "method not allowed").withHeader("allow", "GET");
      return session(request);
    }
    if (request.method != "POST") return error(405, "method not allowed").withHeader("allow", "POST");
    return path == "/ui/login" ? login(request) : logout(request);
  }
  std::string name = path.substr(4);
  if (name.empty()) name = "index.html";
  // The page without a token would be a sign-in that cannot succeed: it says how to set one instead.
  if (name == "index.html" && !api_.enabled()) name = "setup.html";
  const UiAsset* a = name == "setup.html" && api_.enabled() ? nullptr : findUiAsset(name);
  if (!a) return http::Response::text(404, "not found\n");
  if (!get) return http::Response::text(405, "method not allowed\n").withHeader("allow", "GET");
  return asset(*a);
}

http::Response UiRoutes::login(const http::Request& request) {
  // A page elsewhere must not sign a browser in, even with a token it knows.
  if (!sameOrigin(request)) return error(403, "sign in from the page itself");
  if (!throttle_.allowed())
    return error(429, "too many failed sign-ins: wait a minute").withHeader("retry-after", "60");
  const auto token = presentedToken(request);
  if (!token) return error(400, "send {\"token\": \"...\"} or a form with token=");
  if (!api_.tokenMatches(*token)) {
    throttle_.failed();
    return error(401, "wrong token");
  }
  const UiSessions::Started s = sessions_.start();
  const std::string cookie = sessionCookie(s.id, sessions_.limits().absolute_ms / 1000);
  if (!isJson(request))
    return http::Response::empty(303).withHeader("location", "/ui/").withHeader("set-cookie", cookie);
  return json(200, ordered_json{{"signed_in", true}, {"csrf", s.csrf}}).withHeader("set-cookie", cookie);
}

http::Response UiRoutes::logout(const http::Request& request) {
  const SessionAccess access = checkSession(sessions_, request);
  if (access == SessionAccess::kNone) return error(401, "not signed in");
  if (access == SessionAccess::kForbidden)
    return error(403, "a signed-in page must send its X-CSRF-Token from its own origin");
  sessions_.end(cookieValue(request, kSessionCookie));
  return json(200, ordered_json{{"signed_in", false}}).withHeader("set-cookie", sessionCookie("", 0));
}

http::Response UiRoutes::session(const http::Request& request) {
  const auto csrf = sessions_.use(cookieValue(request, kSessionCookie));
  if (!csrf) return json(200, ordered_json{{"signed_in", false}});
  return json(200, ordered_json{{"signed_in", true}, {"csrf", *csrf}});
}

}  // namespace payhook::daemon
