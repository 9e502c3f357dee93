#include "http/plain_url.h"

#include <gtest/gtest.h>

namespace payhook::http {
namespace {

TEST(PlainUrl, SplitsHostPortAndPath) {
  auto u = parsePlainUrl("http://app.example:8080/hooks/pay?x=1#top");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "app.example");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "/hooks/pay?x=1");
  EXPECT_FALSE(u->ipv6);

  u = parsePlainUrl("http://10.0.0.7");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "10.0.0.7");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path, "");

  u = parsePlainUrl("http://h?q");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "h");
  EXPECT_EQ(u->path, "?q");
}

TEST(PlainUrl, ReadsIpv6Literals) {
  auto u = parsePlainUrl("http://[::1]:9000/x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_TRUE(u->ipv6);
  u = parsePlainUrl("http://[2001:db8::5]/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 80);
}

TEST(PlainUrl, LeavesToCurlWhatItCannotTakeWhole) {
  for (const char* url : {
           "https://app.example/",         // TLS
           "http://user:pw@app.example/",  // user information: curl sends basic authentication
           "http://app.example:/",         // empty port
           "http://app.example:99999/",    // port out of range
           "http://app.example:0/",        //
           "http://app.example:8o/",       //
           "http://[::1/",                 // unclosed bracket
           "http://[fe80::1%25eth0]:80/",  // zone
           "http://[::1]x/",               //
           "http:///path",                 // no host
           "http://app example/",          //
           "http://app.example/a b",       // white space in the path
           "http://app.example/\xc3\xa9",  // not ASCII
           "http://bücher.example/",       // an IDN
       }) {
    EXPECT_FALSE(parsePlainUrl(url)) << url;
  }
}

}  // namespace
}  // namespace payhook::http
