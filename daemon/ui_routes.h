// UiRoutes: the operators' queue page on the admin listener, GET /ui/, and its sign-in.
//
//   GET  /ui/                 the page (index.html); without an [admin] token a page that says how to set one
//   GET  /ui/app.js, app.css  its script and style
//   POST /ui/login            {"token": "..."} or a form token=...: the admin token, compared like the bearer
//                             token; sets the session cookie. 401 wrong token, 429 after 10 failures a minute
//   POST /ui/logout           ends the session (X-CSRF-Token required)
//   GET  /ui/session          {"signed_in": bool, "csrf": "..."} for the page
//
// The page reads and acts through /v1 with its cookie (AdminApi). Every answer carries a Content-Security-
// Policy that allows the page's own files and nothing else (no inline script or style, no other origin, no
// framing), nosniff and no-referrer. The cookie is HttpOnly and SameSite=Strict; it is not Secure because the
// admin listener speaks plain HTTP on loopback. Without a token /ui/login, /ui/logout and /ui/session are
// 404.
#pragma once

#include <string_view>

#include "common/clock.h"
#include "common/http_message.h"
#include "daemon/admin_api.h"
#include "daemon/ui_session.h"
#include "http/server.h"

namespace payhook::daemon {

class UiRoutes {
 public:
  // `api`, `sessions` and `clock` must outlive it.
  UiRoutes(const AdminApi& api, UiSessions& sessions, const Clock& clock);

  static bool handles(std::string_view path) { return path == "/ui" || path.rfind("/ui/", 0) == 0; }
  void handle(http::Request&& request, http::Responder responder);

 private:
  http::Response route(const http::Request& request);
  http::Response login(const http::Request& request);
  http::Response logout(const http::Request& request);
  http::Response session(const http::Request& request);

  const AdminApi& api_;
  UiSessions& sessions_;
  LoginThrottle throttle_;
};

}  // namespace payhook::daemon
