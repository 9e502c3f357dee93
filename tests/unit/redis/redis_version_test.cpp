#include <gtest/gtest.h>

#include "redis/connection.h"

namespace payhook::redis {
namespace {

TEST(RedisMajorVersion, ReadsTheVersionLineOfInfoServer) {
  EXPECT_EQ(redisMajorVersion("# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n"), 7);
  EXPECT_EQ(redisMajorVersion("redis_version:6.2.14\r\n"), 6);
  EXPECT_EQ(redisMajorVersion("# Server\r\nredis_version:8.0.2\r\nvalkey_version:8.1.1\r\n"), 8);
  EXPECT_EQ(redisMajorVersion("# Server\r\nredis_version:10.1.0\r\n"), 10);
}

TEST(RedisMajorVersion, UnknownWithoutAVersionLine) {
  EXPECT_EQ(redisMajorVersion(""), -1);
  EXPECT_EQ(redisMajorVersion("# Server\r\nredis_mode:standalone\r\n"), -1);
  EXPECT_EQ(redisMajorVersion("# Server\r\nredis_version:\r\n"), -1);
  EXPECT_EQ(redisMajorVersion("# Server\r\nredis_version:seven\r\n"), -1);
  EXPECT_EQ(redisMajorVersion("# Server\r\nredis_version:7"), -1);
  // Another field that merely ends in the name is not the version.
  EXPECT_EQ(redisMajorVersion("# Server\r\nold_redis_version:5.0.1\r\n"), -1);
}

}  // namespace
}  // namespace payhook::redis
