// The queue page's sign-ins (GET /ui/ on the admin listener): sessions kept in the daemon's memory, each
// with its own CSRF token, and the check a request carrying the session cookie must pass.
//
// A session id is 32 random bytes (hex) and only its BLAKE2b digest is kept, so neither a heap dump nor a
// lookup's timing gives a usable id away. Sessions end when idle too long, at an absolute age, when the
// oldest is evicted to make room, at sign-out, and all together when the admin token changes. Everything
// runs on the daemon's loop; nothing here logs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/http_message.h"

namespace payhook::daemon {

inline constexpr std::string_view kSessionCookie = "payhook_session";

struct UiSessionLimits {
  size_t max_sessions = 256;
  int64_t idle_ms = 12 * 3'600'000LL;
  int64_t absolute_ms = 24 * 3'600'000LL;
};

class UiSessions {
 public:
  struct Started {
    std::string id;    // the cookie's value: never logged, never stored
    std::string csrf;  // what the page sends as X-CSRF-Token
  };

  explicit UiSessions(const Clock& clock, UiSessionLimits limits = {});

  // A new session; the one used least recently goes when max_sessions are live.
  Started start();
  // The CSRF token of the live session `id` names, restarting its idle time; nullopt for an unknown,
  // ended or expired one.
  std::optional<std::string> use(std::string_view id);
  void end(std::string_view id);
  void endAll();
  size_t size() const { return sessions_.size(); }
  const UiSessionLimits& limits() const { return limits_; }

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Session {
    std::string csrf;
    int64_t started_ms = 0;
    int64_t used_ms = 0;
  };
  bool expired(const Session& s, int64_t now) const;
  void prune(int64_t now);

  const Clock& clock_;
  UiSessionLimits limits_;
  std::map<Digest, Session> sessions_;
};

// Equality of two secrets in constant time (of BLAKE2b digests, so not even the length leaks).
bool secretEquals(std::string_view a, std::string_view b);

// Failed sign-ins of the whole process: after `max_failures` within `window_ms`, refused until the oldest
// of them leaves the window. Mild on purpose: a 16-character token is out of reach of guessing anyway.
class LoginThrottle {
 public:
  explicit LoginThrottle(const Clock& clock, size_t max_failures = 10, int64_t window_ms = 60'000)
      : clock_(clock), max_failures_(max_failures), window_ms_(window_ms) {}
  bool allowed();
  void failed();

 private:
  const Clock& clock_;
  size_t max_failures_;
  int64_t window_ms_;
  std::deque<int64_t> failures_;  // times, oldest first
};

// The value of the cookie `name` in the request's Cookie headers; empty when absent.
std::string cookieValue(const http::Request& request, std::string_view name);

// Whether a request's Origin, when it sends one, is the listener the request reached (its Host).
bool sameOrigin(const http::Request& request);

// What the session cookie of a request proves. A request that changes something (anything but GET and
// HEAD) must also send the session's CSRF token as X-CSRF-Token and, when it sends Origin, its own.
enum class SessionAccess { kNone, kGranted, kForbidden };
SessionAccess checkSession(UiSessions& sessions, const http::Request& request);

}  // namespace payhook::daemon
