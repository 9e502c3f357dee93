// The uv/ wrappers keep libuv's rule (a handle's memory outlives its close callback) for their owners:
// each test ends with uv::Loop::close() finding nothing left open.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "uv/deferred.h"
#include "uv/handle.h"
#include "uv/loop.h"

namespace payhook::uv {
namespace {

TEST(LoopTest, ClosesCleanWhenEverythingWasReleased) {
  Loop loop;
  {
    Timer t(loop.get());
    t.start(1, [] {});
    loop.run();
  }
  EXPECT_EQ(loop.close(), 0);
  EXPECT_EQ(loop.close(), 0) << "closing twice is harmless";
}

TEST(LoopTest, ClosesWhatWasLeftOpenAndCountsIt) {
  uv_timer_t stray{};  // outlives the loop's close, as libuv requires
  Loop loop;
  ASSERT_EQ(uv_timer_init(loop.get(), &stray), 0);
  EXPECT_EQ(loop.close(), 1);
  EXPECT_TRUE(uv_is_closing(reinterpret_cast<uv_handle_t*>(&stray)));
}

TEST(DeferredTest, RunsOnALaterTurnInOrder) {
  Loop loop;
  std::vector<int> ran;
  {
    Deferred d(loop.get());
    d.post([&] { ran.push_back(1); });
    d.post([&] { ran.push_back(2); });
    EXPECT_TRUE(ran.empty()) << "nothing runs inside post()";
    uv_run(loop.get(), UV_RUN_NOWAIT);
    EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  }
  EXPECT_EQ(loop.close(), 0);
}

TEST(DeferredTest, WhatWasQueuedRunsAfterTheOwnerIsGone) {
  Loop loop;
  std::vector<std::string> ran;
  {
    Deferred d(loop.get());
    d.post([&] { ran.push_back("queued before release"); });
  }
  Deferred(loop.get()).post([&] { ran.push_back("released at once"); });
  loop.run();
  EXPECT_EQ(ran, (std::vector<std::string>{"queued before release", "released at once"}));
  EXPECT_EQ(loop.close(), 0);
}

TEST(DeferredTest, AClosureMayPostMoreWhichRunsAfterIt) {
  Loop loop;
  std::vector<std::string> ran;
  {
    Deferred d(loop.get());
    d.post([&] {
      ran.push_back("outer");
      d.post([&] { ran.push_back("inner"); });
      ran.push_back("outer done");
    });
    loop.run();
  }
  EXPECT_EQ(ran, (std::vector<std::string>{"outer", "outer done", "inner"}));
  EXPECT_EQ(loop.close(), 0);
}

TEST(PollTest, ReportsReadinessAndMayBeClosedFromItsCallback) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  Loop loop;
  int calls = 0, seen = 0;
  {
    Poll poll;
    ASSERT_EQ(poll.open(loop.get(), fds[0],
                        [&](int status, int events) {
                          ++calls;
                          if (status == 0) seen = events;
                          poll.close();  // the wrapper copied the callback: it runs to its end
                        }),
              0);
    poll.start(UV_READABLE);
    ASSERT_EQ(::write(fds[1], "x", 1), 1);
    loop.run();
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, UV_READABLE);
  EXPECT_EQ(loop.close(), 0);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(PollTest, AFailedOpenLeavesNothingOpen) {
  Loop loop;
  Poll poll;
  EXPECT_NE(poll.open(loop.get(), -1, [](int, int) {}), 0);
  EXPECT_FALSE(poll);
  EXPECT_EQ(loop.close(), 0);
}

}  // namespace
}  // namespace payhook::uv
