#include "daemon/ui_session.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>

namespace payhook::daemon {
namespace {

std::array<unsigned char, 32> digestOf(std::string_view s) {
  std::array<unsigned char, 32> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                     nullptr, 0);
  return out;
}

std::string randomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  hex.resize(bytes * 2);
  sodium_memzero(raw.data(), raw.size());
  return hex;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

std::string lower(std::string_view v) {
  std::string out(v);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

UiSessions::UiSessions(const Clock& clock, UiSessionLimits limits) : clock_(clock), limits_(limits) {}

bool UiSessions::expired(const Session& s, int64_t now) const {
  return now - s.used_ms >= limits_.idle_ms || now - s.started_ms >= limits_.absolute_ms;
}

void UiSessions::prune(int64_t now) {
  std::erase_if(sessions_, [&](const auto& entry) { return expired(entry.second, now); });
}

UiSessions::Started UiSessions::start() {
  const int64_t now = clock_.nowMs();
  prune(now);
  while (!sessions_.empty() && sessions_.size() >= limits_.max_sessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.used_ms < b.second.used_ms;
    });
    sessions_.erase(oldest);
  }
  Started s{randomHex(32), randomHex(32)};
  if (limits_.max_sessions > 0) sessions_[digestOf(s.id)] = Session{s.csrf, now, now};
  return s;
}

std::optional<std::string> UiSessions::use(std::string_view id) {
  if (id.empty()) return std::nullopt;
  auto it = sessions_.find(digestOf(id));
  if (it == sessions_.end()) return std::nullopt;
  const int64_t now = clock_.nowMs();
  if (expired(it->second, now)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.used_ms = now;
  return it->second.csrf;
}

void UiSessions::end(std::string_view id) {
  if (!id.empty()) sessions_.erase(digestOf(id));
}

void UiSessions::endAll() {
  sessions_.clear();
}

bool secretEquals(std::string_view a, std::string_view b) {
  const auto da = digestOf(a), db = digestOf(b);
  return sodium_memcmp(da.data(), db.data(), da.size()) == 0;
}

bool LoginThrottle::allowed() {
  const int64_t now = clock_.nowMs();
  while (!failures_.empty() && now - failures_.front() >= window_ms_) failures_.pop_front();
  return failures_.size() < max_failures_;
}

void LoginThrottle::failed() {
  failures_.push_back(clock_.nowMs());
  // Bounded whatever the rate: only the newest max_failures matter to allowed().
  while (failures_.size() > max_failures_) failures_.pop_front();
}

std::string cookieValue(const http::Request& request, std::string_view name) {
  for (const auto& h : request.headers) {
    if (h.name != "cookie") continue;
    std::string_view rest(h.value);
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      std::string_view pair = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
      std::string_view value = trim(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      return std::string(value);
    }
  }
  return {};
}

bool sameOrigin(const http::Request& request) {
  const std::string* origin = request.header("origin");
  if (!origin) return true;
  const std::string* host = request.header("host");
  if (!host || host->empty()) return false;
  return lower(*origin) == "http://" + lower(*host);
}

SessionAccess checkSession(UiSessions& sessions, const http::Request& request) {
  const std::string id = cookieValue(request, kSessionCookie);
  if (id.empty()) return SessionAccess::kNone;
  const auto csrf = sessions.use(id);
  if (!csrf) return SessionAccess::kNone;
  if (request.method == "GET" || request.method == "HEAD") return SessionAccess::kGranted;
  const std::string* presented = request.header("x-csrf-token");
  if (!presented || !secretEquals(*presented, *csrf) || !sameOrigin(request))
    return SessionAccess::kForbidden;
  return SessionAccess::kGranted;
}

}  // namespace payhook::daemon
