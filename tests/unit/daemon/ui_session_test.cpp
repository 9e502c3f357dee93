#include "daemon/ui_session.h"

#include <sodium.h>

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/clock.h"

namespace payhook::daemon {
namespace {

constexpr int64_t kHour = 3'600'000;

class UiSessionsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
  FakeClock clock_{1'800'000'000'000};
};

http::Request requestWith(std::string method, std::vector<http::Header> headers) {
  http::Request r;
  r.method = std::move(method);
  r.path = "/v1/dead/retry";
  r.headers = std::move(headers);
  return r;
}

TEST_F(UiSessionsTest, AStartedSessionIsFoundByItsIdOnlyWithItsOwnCsrfToken) {
  UiSessions sessions(clock_);
  const auto a = sessions.start();
  const auto b = sessions.start();
  EXPECT_EQ(a.id.size(), 64u) << "32 random bytes, hex";
  EXPECT_EQ(a.csrf.size(), 64u);
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.csrf, b.csrf);
  EXPECT_NE(a.id, a.csrf);
  EXPECT_EQ(sessions.use(a.id), a.csrf);
  EXPECT_EQ(sessions.use(b.id), b.csrf);
  EXPECT_FALSE(sessions.use(a.csrf)) << "the CSRF token is no session id";
  EXPECT_FALSE(sessions.use(""));
  EXPECT_FALSE(sessions.use(a.id.substr(0, 63)));
  sessions.end(a.id);
  EXPECT_FALSE(sessions.use(a.id));
  EXPECT_TRUE(sessions.use(b.id));
}

TEST_F(UiSessionsTest, IdleSessionsExpireAndUseKeepsThemAlive) {
  UiSessions sessions(clock_, {256, 12 * kHour, 24 * kHour});
  const auto kept = sessions.start();
  const auto idle = sessions.start();
  clock_.advance(11 * kHour);
  EXPECT_TRUE(sessions.use(kept.id));
  clock_.advance(kHour + 1);
  EXPECT_TRUE(sessions.use(kept.id)) << "used an hour ago";
  EXPECT_FALSE(sessions.use(idle.id)) << "idle for 12 hours";
}

TEST_F(UiSessionsTest, EverySessionEndsAtItsAbsoluteAgeHoweverBusy) {
  UiSessions sessions(clock_, {256, 12 * kHour, 24 * kHour});
  const auto s = sessions.start();
  for (int i = 0; i < 23; ++i) {
    clock_.advance(kHour);
    ASSERT_TRUE(sessions.use(s.id)) << i;
  }
  clock_.advance(kHour);
  EXPECT_FALSE(sessions.use(s.id));
  EXPECT_EQ(sessions.size(), 0u);
}

TEST_F(UiSessionsTest, TheLeastRecentlyUsedSessionIsEvictedWhenFull) {
  UiSessions sessions(clock_, {3, 12 * kHour, 24 * kHour});
  const auto first = sessions.start();
  clock_.advance(1);
  const auto second = sessions.start();
  clock_.advance(1);
  const auto third = sessions.start();
  clock_.advance(1);
  ASSERT_TRUE(sessions.use(first.id));  // now the second is the one used least recently
  clock_.advance(1);
  const auto fourth = sessions.start();
  EXPECT_EQ(sessions.size(), 3u);
  EXPECT_FALSE(sessions.use(second.id));
  EXPECT_TRUE(sessions.use(first.id));
  EXPECT_TRUE(sessions.use(third.id));
  EXPECT_TRUE(sessions.use(fourth.id));
}

TEST_F(UiSessionsTest, ManySessionsStayBounded) {
  UiSessions sessions(clock_);
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    clock_.advance(1);
    ids.insert(sessions.start().id);
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(sessions.size(), 256u);
}

TEST_F(UiSessionsTest, SecretEqualsComparesWholeValues) {
  EXPECT_TRUE(secretEquals("abc", "abc"));
  EXPECT_FALSE(secretEquals("abc", "abd"));
  EXPECT_FALSE(secretEquals("abc", "abcd"));
  EXPECT_FALSE(secretEquals("", "a"));
}

TEST_F(UiSessionsTest, CookieChangesNeedTheCsrfTokenAndTheirOwnOrigin) {
  UiSessions sessions(clock_);
  const auto s = sessions.start();
  const http::Header cookie{"cookie", "theme=dark; payhook_session=" + s.id + "; other=1"};
  const http::Header csrf{"x-csrf-token", s.csrf};
  const http::Header host{"host", "127.0.0.1:9464"};
  EXPECT_EQ(checkSession(sessions, requestWith("GET", {cookie})), SessionAccess::kGranted);
  EXPECT_EQ(checkSession(sessions, requestWith("POST", {cookie})), SessionAccess::kForbidden);
  EXPECT_EQ(checkSession(sessions, requestWith("POST", {cookie, {"x-csrf-token", s.csrf + "0"}})),
            SessionAccess::kForbidden);
  EXPECT_EQ(checkSession(sessions, requestWith("POST", {cookie, {"x-csrf-token", s.id}})),
            SessionAccess::kForbidden);
  EXPECT_EQ(checkSession(sessions, requestWith("POST", {cookie, csrf, host})), SessionAccess::kGranted);
  EXPECT_EQ(
      checkSession(sessions, requestWith("POST", {cookie, csrf, host, {"origin", "http://127.0.0.1:9464"}})),
      SessionAccess::kGranted);
  EXPECT_EQ(
      checkSession(sessions, requestWith("POST", {cookie, csrf, host, {"origin", "http://evil.example"}})),
      SessionAccess::kForbidden);
  EXPECT_EQ(checkSession(sessions, requestWith("POST", {cookie, csrf, host, {"origin", "null"}})),
            SessionAccess::kForbidden);
  EXPECT_EQ(checkSession(sessions, requestWith("POST", {cookie, csrf, {"origin", "http://127.0.0.1:9464"}})),
            SessionAccess::kForbidden)
      << "no Host to compare with";
  // No cookie, or one that names no session: no access at all (401, not 403).
  EXPECT_EQ(checkSession(sessions, requestWith("POST", {csrf})), SessionAccess::kNone);
  EXPECT_EQ(checkSession(sessions, requestWith("GET", {{"cookie", "payhook_session=" + s.csrf}})),
            SessionAccess::kNone);
}

TEST_F(UiSessionsTest, LoginThrottleRefusesAfterTenFailuresAMinute) {
  LoginThrottle throttle(clock_);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(throttle.allowed()) << i;
    throttle.failed();
    clock_.advance(1000);
  }
  EXPECT_FALSE(throttle.allowed());
  clock_.advance(50'000);  // the first failure is now a minute old
  EXPECT_TRUE(throttle.allowed());
}

}  // namespace
}  // namespace payhook::daemon
