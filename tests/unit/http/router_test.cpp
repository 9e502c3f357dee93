#include "http/router.h"

#include <gtest/gtest.h>

namespace payhook::http {
namespace {

TEST(RouterTest, FindsExactPathAndMethod) {
  Router r;
  ASSERT_TRUE(r.add("/yoomoney/check", {"POST"}, 3).ok());
  ASSERT_TRUE(r.add("/rbs/callback", {"GET", "POST"}, 7).ok());
  auto m = r.match("POST", "/yoomoney/check");
  EXPECT_EQ(m.kind, Router::Match::kFound);
  EXPECT_EQ(m.target, 3u);
  m = r.match("GET", "/rbs/callback");
  EXPECT_EQ(m.kind, Router::Match::kFound);
  EXPECT_EQ(m.target, 7u);
  m = r.match("POST", "/rbs/callback");
  EXPECT_EQ(m.kind, Router::Match::kFound);
  EXPECT_EQ(m.target, 7u);
}

TEST(RouterTest, UnknownPathIsNotFound) {
  Router r;
  ASSERT_TRUE(r.add("/a", {"GET"}, 0).ok());
  EXPECT_EQ(r.match("GET", "/b").kind, Router::Match::kNotFound);
  EXPECT_EQ(r.match("GET", "/a/").kind, Router::Match::kNotFound);  // no prefix matching
  EXPECT_EQ(r.match("GET", "/").kind, Router::Match::kNotFound);
  EXPECT_EQ(r.match("GET", "").kind, Router::Match::kNotFound);
  EXPECT_EQ(r.match("GET", "/A").kind, Router::Match::kNotFound);  // case-sensitive
}

TEST(RouterTest, WrongMethodListsAllowedMethods) {
  Router r;
  ASSERT_TRUE(r.add("/cb", {"GET", "POST", "GET"}, 1).ok());
  auto m = r.match("DELETE", "/cb");
  EXPECT_EQ(m.kind, Router::Match::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, POST");
  EXPECT_EQ(r.match("get", "/cb").kind, Router::Match::kMethodNotAllowed);
}

TEST(RouterTest, HeadIsNotSpecial) {
  Router r;
  ASSERT_TRUE(r.add("/g", {"GET"}, 0).ok());
  ASSERT_TRUE(r.add("/h", {"GET", "HEAD"}, 1).ok());
  EXPECT_EQ(r.match("HEAD", "/g").kind, Router::Match::kMethodNotAllowed);
  auto m = r.match("HEAD", "/h");
  EXPECT_EQ(m.kind, Router::Match::kFound);
  EXPECT_EQ(m.target, 1u);
}

TEST(RouterTest, RejectsDuplicatePathsAndBadInput) {
  Router r;
  ASSERT_TRUE(r.add("/x", {"POST"}, 0).ok());
  auto dup = r.add("/x", {"GET"}, 1);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("/x"), std::string::npos);
  EXPECT_FALSE(r.add("x", {"GET"}, 2).ok());
  EXPECT_FALSE(r.add("", {"GET"}, 2).ok());
  EXPECT_FALSE(r.add("/y", {}, 2).ok());
  EXPECT_FALSE(r.add("/z", {""}, 2).ok());
  // The first route is untouched by the failed duplicate.
  auto m = r.match("POST", "/x");
  EXPECT_EQ(m.kind, Router::Match::kFound);
  EXPECT_EQ(m.target, 0u);
  EXPECT_EQ(r.size(), 1u);
}

TEST(RouterTest, PathIsMatchedStillPercentEncoded) {
  Router r;
  ASSERT_TRUE(r.add("/hooks/a%20b", {"POST"}, 4).ok());
  EXPECT_EQ(r.match("POST", "/hooks/a%20b").kind, Router::Match::kFound);
  EXPECT_EQ(r.match("POST", "/hooks/a b").kind, Router::Match::kNotFound);
}

}  // namespace
}  // namespace payhook::http
