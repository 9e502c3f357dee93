#include <gtest/gtest.h>

#include "common/redis_url.h"

namespace payhook {
namespace {

RedisAddress parseOk(std::string_view url) {
  auto r = parseRedisUrl(url);
  EXPECT_TRUE(r.ok()) << url << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : RedisAddress{};
}

TEST(RedisUrl, HostPortDb) {
  auto a = parseOk("redis://127.0.0.1:6390/3");
  EXPECT_FALSE(a.unix_socket);
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 6390);
  EXPECT_EQ(a.db, 3);
  EXPECT_EQ(a.password, "");
  EXPECT_EQ(a.username, "");
}

TEST(RedisUrl, Defaults) {
  auto a = parseOk("redis://redis.internal");
  EXPECT_EQ(a.host, "redis.internal");
  EXPECT_EQ(a.port, 6379);
  EXPECT_EQ(a.db, 0);
  EXPECT_EQ(parseOk("redis://localhost/").db, 0);
  EXPECT_EQ(parseOk("redis://localhost:7000").port, 7000);
}

TEST(RedisUrl, PasswordOnly) {
  auto a = parseOk("redis://:s3cret@10.0.0.1:6379/0");
  EXPECT_EQ(a.password, "s3cret");
  EXPECT_EQ(a.username, "");
  EXPECT_EQ(a.host, "10.0.0.1");
}

TEST(RedisUrl, AclUserAndPassword) {
  auto a = parseOk("redis://payhook:pw@db:6379/2");
  EXPECT_EQ(a.username, "payhook");
  EXPECT_EQ(a.password, "pw");
  EXPECT_EQ(a.host, "db");
  EXPECT_EQ(a.db, 2);
}

TEST(RedisUrl, PasswordWithReservedCharacters) {
  EXPECT_EQ(parseOk("redis://:p%40ss%2Fw%3Ard@h").password, "p@ss/w:rd");
  // Unescaped '@' and '/' in a password still work: the last '@' ends it.
  auto a = parseOk("redis://:a@b/c@h:1/5");
  EXPECT_EQ(a.password, "a@b/c");
  EXPECT_EQ(a.host, "h");
  EXPECT_EQ(a.port, 1);
  EXPECT_EQ(a.db, 5);
}

TEST(RedisUrl, Ipv6) {
  auto a = parseOk("redis://[::1]:6380/1");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.db, 1);
  auto b = parseOk("redis://:pw@[fe80::1%25eth0]");
  EXPECT_EQ(b.host, "fe80::1%eth0");
  EXPECT_EQ(b.port, 6379);
}

TEST(RedisUrl, UnixSocket) {
  auto a = parseOk("unix:/run/redis/redis.sock");
  EXPECT_TRUE(a.unix_socket);
  EXPECT_EQ(a.host, "/run/redis/redis.sock");
  EXPECT_EQ(a.db, 0);
  auto b = parseOk("unix:/tmp/r.sock?db=4&password=p%26w&user=u");
  EXPECT_EQ(b.host, "/tmp/r.sock");
  EXPECT_EQ(b.db, 4);
  EXPECT_EQ(b.password, "p&w");
  EXPECT_EQ(b.username, "u");
  EXPECT_EQ(parseOk("unix:///var/run/r.sock").host, "/var/run/r.sock");
}

TEST(RedisUrl, Junk) {
  const char* bad[] = {
      "",
      "127.0.0.1:6379",
      "http://127.0.0.1",
      "rediss://127.0.0.1",
      "redis://",
      "redis://:6379",
      "redis://h:",
      "redis://h:0",
      "redis://h:65536",
      "redis://h:port",
      "redis://h/db",
      "redis://h/-1",
      "redis://h/1?x=y",
      "redis://::1:6379",
      "redis://[::1",
      "redis://[::1]x",
      "redis://[host]:1",
      "redis://pw@h",
      "redis://:p%zz@h",
      "redis://h h",
      "unix:",
      "unix:?db=1",
      "unix:/s?db=x",
      "unix:/s?db",
      "unix:/s?color=red",
  };
  std::string long_path = "unix:/" + std::string(120, 'x') + ".sock";
  EXPECT_FALSE(parseRedisUrl(long_path).ok());
  for (const char* url : bad) {
    auto r = parseRedisUrl(url);
    EXPECT_FALSE(r.ok()) << url;
    if (!r.ok()) {
      EXPECT_FALSE(r.error().message.empty()) << url;
    }
  }
}

TEST(RedisUrl, ErrorsNeverContainThePassword) {
  for (const char* url : {"redis://:hunter2@h:0", "redis://:hunter2@h/x", "redis://hunter2@h",
                          "unix:/s?password=hunter2&db=x"}) {
    auto r = parseRedisUrl(url);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos) << r.error().message;
  }
}

TEST(RedisUrl, Sentinel) {
  auto a = parseOk("redis+sentinel://:s3cret@10.0.0.1:26380,sentinel-2,[::1]:26381/shop-master/2");
  EXPECT_EQ(a.mode, RedisMode::kSentinel);
  EXPECT_EQ(a.master_name, "shop-master");
  EXPECT_EQ(a.db, 2);
  EXPECT_EQ(a.password, "s3cret");
  ASSERT_EQ(a.seeds.size(), 3u);
  EXPECT_EQ(a.seeds[0].host, "10.0.0.1");
  EXPECT_EQ(a.seeds[0].port, 26380);
  EXPECT_EQ(a.seeds[1].host, "sentinel-2");
  EXPECT_EQ(a.seeds[1].port, 26379);  // Sentinel's own default port
  EXPECT_EQ(a.seeds[2].host, "::1");
  EXPECT_TRUE(a.host.empty());  // found at run time
  EXPECT_EQ(parseOk("redis+sentinel://h/m").db, 0);
}

TEST(RedisUrl, Cluster) {
  auto a = parseOk("redis+cluster://user:pw@127.0.0.1:7000,127.0.0.1:7001,node-3");
  EXPECT_EQ(a.mode, RedisMode::kCluster);
  EXPECT_EQ(a.username, "user");
  EXPECT_EQ(a.password, "pw");
  ASSERT_EQ(a.seeds.size(), 3u);
  EXPECT_EQ(a.seeds[1].port, 7001);
  EXPECT_EQ(a.seeds[2].port, 6379);
  EXPECT_EQ(parseOk("redis+cluster://h:7000/0").seeds.size(), 1u);
  EXPECT_EQ(parseOk("redis://h").mode, RedisMode::kDirect);
}

TEST(RedisUrl, SentinelAndClusterMistakes) {
  for (const char* url : {"redis+sentinel://h1,h2", "redis+sentinel://h1,h2/", "redis+sentinel://h1,,h2/m",
                          "redis+sentinel://h1:0/m", "redis+sentinel://h1/m/x", "redis+sentinel://h1/m?x=1",
                          "redis+sentinel://h1/bad name", "redis+cluster://", "redis+cluster://h1,h2/3",
                          "redis+cluster://h1:99999", "redis+cluster://h1,/0"}) {
    auto r = parseRedisUrl(url);
    EXPECT_FALSE(r.ok()) << url;
    if (!r.ok()) {
      EXPECT_FALSE(r.error().message.empty()) << url;
    }
  }
  auto r = parseRedisUrl("redis+cluster://h1,h2/3");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("database 0 only"), std::string::npos) << r.error().message;
  EXPECT_EQ(redactRedisUrl("redis+sentinel://:s3cret@a,b/m"), "redis+sentinel://:***@a,b/m");
}

TEST(RedisUrl, Redact) {
  EXPECT_EQ(redactRedisUrl("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
  EXPECT_EQ(redactRedisUrl("redis://:s3cret@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0");
  EXPECT_EQ(redactRedisUrl("redis://user:s3cret@h/1"), "redis://user:***@h/1");
  EXPECT_EQ(redactRedisUrl("redis://:a@b/c@h"), "redis://:***@h");
  EXPECT_EQ(redactRedisUrl("redis://s3cret@h"), "redis://***@h");
  EXPECT_EQ(redactRedisUrl("redis://[::1]:6379"), "redis://[::1]:6379");
  EXPECT_EQ(redactRedisUrl("unix:/tmp/r.sock"), "unix:/tmp/r.sock");
  EXPECT_EQ(redactRedisUrl("unix:/tmp/r.sock?db=1&password=s3cret"), "unix:/tmp/r.sock?db=1&password=***");
  EXPECT_EQ(redactRedisUrl("unix:/tmp/r.sock?password=s3cret&db=1"), "unix:/tmp/r.sock?password=***&db=1");
  EXPECT_EQ(redactRedisUrl("garbage:s3cret@host"), "garbage:***@host");
  EXPECT_EQ(redactRedisUrl("s3cret@host"), "***@host");
}

}  // namespace
}  // namespace payhook
