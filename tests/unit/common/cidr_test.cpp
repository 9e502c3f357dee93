#include "common/cidr.h"

#include <gtest/gtest.h>

namespace payhook {
namespace {

TEST(Cidr, Ipv4Ranges) {
  auto r = Cidr::parse("10.1.0.0/16");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->contains("10.1.200.3"));
  EXPECT_FALSE(r->contains("10.2.0.1"));
  EXPECT_TRUE(r->contains("::ffff:10.1.0.9"));
  EXPECT_FALSE(r->contains("not-an-ip"));
  auto host = Cidr::parse("127.0.0.1");
  ASSERT_TRUE(host);
  EXPECT_TRUE(host->contains("127.0.0.1"));
  EXPECT_FALSE(host->contains("127.0.0.2"));
  auto odd = Cidr::parse("192.168.1.130/25");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains("192.168.1.200"));
  EXPECT_FALSE(odd->contains("192.168.1.100"));
  auto all = Cidr::parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains("8.8.8.8"));
  EXPECT_FALSE(all->contains("2001:db8::1"));
}

TEST(Cidr, Ipv6Ranges) {
  auto r = Cidr::parse("2001:db8::/32");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->contains("2001:db8:ffff::1"));
  EXPECT_FALSE(r->contains("2001:db9::1"));
  EXPECT_FALSE(r->contains("10.0.0.1"));
}

TEST(Cidr, EmbeddedNulIsNotAnAddress) {
  EXPECT_FALSE(parseIp(std::string_view("10.0.0.1\0junk", 13)));
  EXPECT_FALSE(Cidr::parse(std::string_view("10.0.0.0\0/8", 11)));
}

TEST(Cidr, RefusesJunk) {
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "::/129", "x/8", "10.0.0.0/8x",
                          "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8"})
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
}

}  // namespace
}  // namespace payhook
