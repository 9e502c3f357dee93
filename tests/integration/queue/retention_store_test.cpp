// queue::Retention against a real redis-server, in process: events are stored with RedisStore and moved
// with JobQueue and Operator as payhookd and payhookctl would; the assertions are about what the sweep
// removes (everything of a complete event, nothing of any other) and what the probe reports of Redis.
#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/event.h"
#include "queue/job_queue.h"
#include "queue/operator.h"
#include "queue/redis_event_store.h"
#include "queue/retention.h"
#include "support/redis_server.h"

namespace payhook::queue {
namespace {

using payhook::testing::freeTcpPort;
using payhook::testing::RedisServer;
using Clock = std::chrono::steady_clock;

constexpr int64_t kT0 = 1'790'000'000'000;

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

Event makeEvent(const std::string& id, int64_t at_ms) {
  Event e;
  e.id = id;
  e.type = "invoice.paid";
  e.route = "shop";
  e.provider = "standard-webhooks";
  e.received_at_ms = at_ms;
  e.verified = true;
  e.data_json = R"({"order":"42"})";
  e.idempotency_key = "key-" + id;
  e.raw = RawRequest{"POST", "/hooks/shop", "", "application/json", R"({"order":"42"})"};
  e.listing.keys = {"order-" + id, "42"};
  return e;
}

class RetentionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    RedisStoreOptions o;
    o.url = redis_.url();
    o.prefix = "ph";
    o.connect_timeout_ms = 300;
    o.reconnect_initial_ms = 20;
    o.reconnect_max_ms = 100;
    store_ = std::make_unique<RedisStore>(&loop_, o);
    store_->start();
    ASSERT_TRUE(runUntil([&] { return store_->ready(); }));
    JobQueueOptions q;
    q.prefix = "ph";
    queue_ = std::make_unique<JobQueue>(*store_, q);
    retention_ = std::make_unique<Retention>(*store_, "ph");
    ops_ = std::make_unique<Operator>(*store_, OperatorOptions{"ph"});
  }

  void TearDown() override {
    store_->stop();
    auto start = Clock::now();
    while (uv_loop_alive(&loop_) && msSince(start) < 3000) uv_run(&loop_, UV_RUN_NOWAIT);
    ops_.reset();
    retention_.reset();
    queue_.reset();
    store_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  bool runUntil(const std::function<bool()>& pred, int64_t max_ms = 5000) {
    auto start = Clock::now();
    while (!pred() && msSince(start) < max_ms) uv_run(&loop_, UV_RUN_NOWAIT);
    return pred();
  }

  template <class T>
  T await(const std::function<void(std::function<void(T)>)>& start) {
    auto slot = std::make_shared<std::optional<T>>();
    start([slot](T r) { slot->emplace(std::move(r)); });
    if (!runUntil([&] { return slot->has_value(); })) throw std::runtime_error("no answer");
    return std::move(**slot);
  }

  void store(const std::string& id, int64_t at, std::vector<std::string> targets) {
    StoreSpec spec;
    spec.targets = std::move(targets);
    auto r = await<StoreResult>([&](auto cb) { store_->store(makeEvent(id, at), spec, cb); });
    ASSERT_EQ(r.outcome, StoreOutcome::kStored) << r.error;
  }

  std::vector<ClaimedJob> claim(const std::string& target) {
    auto r = await<Result<ClaimBatch>>([&](auto cb) {
      queue_->claim({{target, 100}}, kT0 + 1'000'000, 60'000, cb);
    });
    if (!r) throw std::runtime_error(r.error().message);
    return r->jobs;
  }

  void finish(const ClaimedJob& j, bool delivered, int64_t at) {
    AttemptRecord rec{at, delivered ? 200 : 410, "", 3.0, "answer"};
    auto r = await<Result<LeaseOutcome>>([&](auto cb) {
      if (delivered)
        queue_->complete(j.lease, rec, cb);
      else
        queue_->bury(j.lease, rec, "gone", cb);
    });
    ASSERT_TRUE(r && *r == LeaseOutcome::kApplied);
  }

  RetentionReport sweep(int64_t cutoff, size_t max = 100) {
    auto r = await<Result<RetentionReport>>([&](auto cb) { retention_->sweep(cutoff, max, cb); });
    if (!r) throw std::runtime_error(r.error().message);
    return *r;
  }

  RedisHealth probe() {
    auto r = await<Result<RedisHealth>>([&](auto cb) { retention_->probe(cb); });
    if (!r) throw std::runtime_error(r.error().message);
    return *r;
  }

  std::optional<EventDetail> show(const std::string& id) {
    auto d = await<Result<std::optional<EventDetail>>>([&](auto cb) { ops_->show(id, cb); });
    if (!d) throw std::runtime_error(d.error().message);
    return *d;
  }

  std::vector<std::string> listed() {
    auto page = await<Result<ListPage>>([&](auto cb) { ops_->list(ListQuery{}, cb); });
    if (!page) throw std::runtime_error(page.error().message);
    std::vector<std::string> ids;
    for (const auto& e : page->events) ids.push_back(e.id);
    return ids;
  }

  std::string doneScore(const std::string& id) {
    return redis_.command({"ZSCORE", "{ph}:events:done", id}).str;
  }
  bool exists(const std::string& key) { return redis_.command({"EXISTS", key}).integer == 1; }
  // Every key of the event, and every index entry naming it.
  bool anyTrace(const std::string& id) {
    return exists("{ph}:ev:" + id) || exists("{ph}:attempts:" + id) ||
           redis_.command({"ZSCORE", "{ph}:events", id}).type != testing::RedisReply::kNil ||
           redis_.command({"ZSCORE", "{ph}:events:done", id}).type != testing::RedisReply::kNil ||
           redis_.command({"ZSCORE", "{ph}:dead", id + "|orders"}).type != testing::RedisReply::kNil ||
           redis_.command({"ZSCORE", "{ph}:due:orders", id + "|orders"}).type != testing::RedisReply::kNil ||
           redis_.command({"ZSCORE", "{ph}:leased", id + "|orders"}).type != testing::RedisReply::kNil ||
           redis_.command({"ZSCORE", "{ph}:find", "order-" + id + "\n" + id}).type !=
               testing::RedisReply::kNil ||
           redis_.command({"ZSCORE", "{ph}:find", "42\n" + id}).type != testing::RedisReply::kNil;
  }

  RedisServer redis_;
  uv_loop_t loop_{};
  std::unique_ptr<RedisStore> store_;
  std::unique_ptr<JobQueue> queue_;
  std::unique_ptr<Retention> retention_;
  std::unique_ptr<Operator> ops_;
};

TEST_F(RetentionStoreTest, CompleteEventsAreRemovedWholeAfterTheirCompletionAndNothingElseIs) {
  store("delivered", kT0, {"orders"});
  store("audit", kT0, {});  // no targets: complete at receipt
  store("dead", kT0, {"orders", "crm"});
  store("pending", kT0, {"crm"});
  for (const auto& j : claim("orders")) finish(j, true, j.event.id == "delivered" ? kT0 + 500 : kT0 + 100);
  for (const auto& j : claim("crm"))
    if (j.event.id == "dead") finish(j, false, kT0 + 100);
  EXPECT_EQ(doneScore("audit"), std::to_string(kT0));
  EXPECT_EQ(doneScore("delivered"), std::to_string(kT0 + 500));  // the last attempt, not the receipt
  EXPECT_EQ(doneScore("dead"), "");                              // one target dead: never complete
  EXPECT_EQ(doneScore("pending"), "");                           // the crm job was claimed, not finished

  RetentionReport r = sweep(kT0 + 499);
  EXPECT_EQ(r.removed, 1);  // the audit record only: "delivered" completed later
  EXPECT_FALSE(r.more);
  EXPECT_FALSE(anyTrace("audit"));
  EXPECT_TRUE(exists("{ph}:ev:delivered"));

  r = sweep(kT0 + 500);
  EXPECT_EQ(r.removed, 1);
  EXPECT_FALSE(anyTrace("delivered"));
  EXPECT_FALSE(show("delivered").has_value());
  EXPECT_EQ(listed(), (std::vector<std::string>{"pending", "dead"}));
  // Duplicate detection is the idempotency key's, with its own TTL: the sweep leaves it.
  EXPECT_EQ(redis_.command({"GET", "{ph}:idem:shop:key-delivered"}).str, "delivered");

  // Far in the future: still nothing of the others goes.
  r = sweep(kT0 + 1'000'000'000);
  EXPECT_EQ(r.removed, 0);
  EXPECT_TRUE(exists("{ph}:ev:dead"));
  EXPECT_TRUE(exists("{ph}:attempts:dead"));
  EXPECT_NE(redis_.command({"ZSCORE", "{ph}:dead", "dead|crm"}).type, testing::RedisReply::kNil);
  EXPECT_TRUE(exists("{ph}:ev:pending"));
  ASSERT_TRUE(show("dead").has_value());
  // What stays is still found by its keys; what went is not.
  EXPECT_EQ(redis_.command({"ZRANGEBYLEX", "{ph}:find", "[42\n", "(42\v"}).elements.size(), 2u);
}

TEST_F(RetentionStoreTest, EachSweepRemovesAtMostItsBatchAndSaysWhenMoreWait) {
  for (int i = 0; i < 25; ++i) store("e" + std::to_string(i), kT0 + i, {});
  RetentionReport r = sweep(kT0 + 100, 10);
  EXPECT_EQ(r.removed, 10);
  EXPECT_TRUE(r.more);
  r = sweep(kT0 + 100, 10);
  EXPECT_EQ(r.removed, 10);
  EXPECT_TRUE(r.more);
  r = sweep(kT0 + 100, 10);
  EXPECT_EQ(r.removed, 5);
  EXPECT_FALSE(r.more);
  EXPECT_EQ(redis_.command({"ZCARD", "{ph}:events"}).integer, 0);
  // The find index went with the events (an empty sorted set is no key).
  EXPECT_EQ(redis_.command({"DBSIZE"}).integer, 25 + 2);  // idempotency keys, marker, the walk's position
}

TEST_F(RetentionStoreTest, AReplayedEventLeavesTheIndexUntilItCompletesAgain) {
  store("r1", kT0, {"orders"});
  for (const auto& j : claim("orders")) finish(j, true, kT0 + 10);
  ASSERT_EQ(doneScore("r1"), std::to_string(kT0 + 10));
  auto replayed = await<Result<ReplayResult>>([&](auto cb) { ops_->replay("r1", kT0 + 20, cb); });
  ASSERT_TRUE(replayed && replayed->outcome == ReplayResult::Outcome::kReplayed);
  EXPECT_EQ(doneScore("r1"), "");
  EXPECT_EQ(sweep(kT0 + 1'000'000).removed, 0);
  EXPECT_TRUE(exists("{ph}:ev:r1"));
  for (const auto& j : claim("orders")) finish(j, true, kT0 + 30);
  EXPECT_EQ(doneScore("r1"), std::to_string(kT0 + 30));
  EXPECT_EQ(sweep(kT0 + 30).removed, 1);
  EXPECT_FALSE(anyTrace("r1"));
}

TEST_F(RetentionStoreTest, EventsCompletedBeforeTheIndexExistedAreFoundByTheWalk) {
  store("old-delivered", kT0, {"orders"});
  store("old-audit", kT0 + 1, {});
  store("old-dead", kT0 + 2, {"orders"});
  for (const auto& j : claim("orders")) finish(j, j.event.id == "old-delivered", kT0 + 700);
  // As a version without the index left them.
  redis_.command({"DEL", "{ph}:events:done", "{ph}:events:done:scan"});

  RetentionReport r = sweep(0, 2);  // a walk step of 2 events: two steps
  EXPECT_EQ(r.indexed, 2);
  EXPECT_FALSE(r.scan_done);
  r = sweep(0, 2);
  EXPECT_EQ(r.indexed, 0);
  EXPECT_TRUE(r.scan_done);
  EXPECT_EQ(redis_.command({"GET", "{ph}:events:done:scan"}).str, "complete");
  EXPECT_EQ(doneScore("old-delivered"), std::to_string(kT0 + 700));  // its last attempt
  EXPECT_EQ(doneScore("old-audit"), std::to_string(kT0 + 1));        // its receipt
  EXPECT_EQ(doneScore("old-dead"), "");
  r = sweep(kT0 + 1'000'000);
  EXPECT_EQ(r.removed, 2);
  EXPECT_TRUE(r.scan_done);
  EXPECT_TRUE(exists("{ph}:ev:old-dead"));
}

TEST_F(RetentionStoreTest, TheProbeSaysWhenRedisRefusesWritesAndWhy) {
  store("a", kT0, {});
  store("b", kT0, {"orders"});
  RedisHealth h = probe();
  EXPECT_EQ(h.writes_refused, "");
  EXPECT_EQ(h.role, "master");
  EXPECT_EQ(h.events, 2);
  EXPECT_EQ(h.completed, 1);
  EXPECT_GT(h.memory.used, 0);
  EXPECT_EQ(h.memory.maxmemory, 0);
  EXPECT_EQ(h.memory.policy, "noeviction");

  // Out of memory under noeviction: the store script is refused as well.
  ASSERT_EQ(redis_.command({"CONFIG", "SET", "maxmemory", "1"}).type, testing::RedisReply::kStatus);
  h = probe();
  EXPECT_EQ(h.writes_refused,
            "out of memory: used memory is above maxmemory and maxmemory-policy is noeviction");
  EXPECT_EQ(h.memory.maxmemory, 1);
  StoreSpec spec;
  auto refused = await<StoreResult>([&](auto cb) { store_->store(makeEvent("c", kT0), spec, cb); });
  EXPECT_EQ(refused.outcome, StoreOutcome::kError);
  EXPECT_NE(refused.error.find("OOM"), std::string::npos) << refused.error;
  redis_.command({"CONFIG", "SET", "maxmemory", "0"});
  EXPECT_EQ(probe().writes_refused, "");

  // A replica, read-only (of a master that is not there) and then writable.
  redis_.command({"REPLICAOF", "127.0.0.1", std::to_string(freeTcpPort())});
  EXPECT_EQ(probe().writes_refused, "a read-only replica");
  redis_.command({"CONFIG", "SET", "replica-read-only", "no"});
  EXPECT_EQ(probe().writes_refused, "a replica: what it stores is lost at its next resync");
  redis_.command({"REPLICAOF", "NO", "ONE"});
  redis_.command({"CONFIG", "SET", "replica-read-only", "yes"});
  h = probe();
  EXPECT_EQ(h.writes_refused, "");
  EXPECT_EQ(h.role, "master");
  EXPECT_EQ(h.events, 2);
}

TEST(RedisMemoryTest, ParsesInfoMemory) {
  const RedisMemory m = parseRedisMemory(
      "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:2097152\r\n"
      "maxmemory_human:2.00M\r\nmaxmemory_policy:noeviction\r\n");
  EXPECT_EQ(m.used, 1048576);
  EXPECT_EQ(m.maxmemory, 2097152);
  EXPECT_EQ(m.policy, "noeviction");
  const RedisMemory none = parseRedisMemory("# Memory\r\n");
  EXPECT_EQ(none.used, -1);
  EXPECT_EQ(none.maxmemory, -1);
  EXPECT_EQ(infoField("a:1\nab:2\n", "ab"), "2");
  EXPECT_EQ(infoField("abc:1\n", "ab"), "");
}

}  // namespace
}  // namespace payhook::queue
