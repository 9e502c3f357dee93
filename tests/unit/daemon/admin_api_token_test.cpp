// AdminApi's token outside the HTTP path: the queue page's sign-in compares with it, and a new one (a
// reload) ends every session started with the old one. No Redis is needed: nothing here reaches the store.
#include <sodium.h>
#include <uv.h>

#include <gtest/gtest.h>

#include <string>

#include "common/clock.h"
#include "common/secret.h"
#include "daemon/admin_api.h"
#include "daemon/ui_session.h"
#include "queue/operator.h"
#include "queue/redis_event_store.h"

namespace payhook::daemon {
namespace {

TEST(AdminApiToken, ANewAdminTokenEndsEverySessionOfTheQueuePage) {
  ASSERT_GE(sodium_init(), 0);
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  FakeClock clock(1'800'000'000'000);
  {
    queue::RedisStore store(&loop, queue::RedisStoreOptions{});
    queue::Operator ops(store, queue::OperatorOptions{});
    AdminApi api(ops, clock, Secret(std::string("first-admin-token-0123")));
    UiSessions sessions(clock);
    api.setSessions(&sessions);
    EXPECT_TRUE(api.tokenMatches("first-admin-token-0123"));
    EXPECT_FALSE(api.tokenMatches("first-admin-token-012"));
    const auto a = sessions.start();
    const auto b = sessions.start();
    api.setToken(Secret(std::string("second-admin-token-4567")));
    EXPECT_EQ(sessions.size(), 0u);
    EXPECT_FALSE(sessions.use(a.id));
    EXPECT_FALSE(sessions.use(b.id));
    EXPECT_FALSE(api.tokenMatches("first-admin-token-0123"));
    EXPECT_TRUE(api.tokenMatches("second-admin-token-4567"));
    api.setToken(Secret());
    EXPECT_FALSE(api.enabled());
    EXPECT_FALSE(api.tokenMatches("")) << "no token: nothing matches, not even the empty one";
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace payhook::daemon
