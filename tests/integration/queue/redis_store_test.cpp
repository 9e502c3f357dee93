// RedisStore against a real redis-server, in process: the store runs on a private uv loop driven from
// the test thread, and every test ends with the loop closing cleanly (no leaked handle or request).
#include <gtest/gtest.h>
#include <uv.h>
#include <algorithm>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/event.h"
#include "queue/redis_event_store.h"
#include "support/redis_server.h"
#include "support/store_inspect.h"
#include "uv/handle.h"

namespace payhook::queue {
namespace {

using payhook::testing::eventHash;
using payhook::testing::RedisReply;
using payhook::testing::RedisServer;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kShortTimeoutMs = 300;

// Built by assignment: Options grows, and a braced list that omits its newer fields fails
// -Wmissing-field-initializers.
RedisServer::Options redisOptions(bool unix_socket, const std::string& password) {
  RedisServer::Options o;
  o.unix_socket = unix_socket;
  o.password = password;
  return o;
}

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

Event makeEvent(const std::string& id, const std::string& key, const std::string& route = "shop") {
  Event e;
  e.id = id;
  e.type = "yoomoney.payment_aviso";
  e.route = route;
  e.provider = "yoomoney";
  e.received_at_ms = 1'790'000'000'123;
  e.verified = true;
  e.data_json = R"({"order_id":"42","amount":"10.00"})";
  e.idempotency_key = key;
  // Binary-safe: CR, LF and NUL in the body survive.
  e.raw = RawRequest{"POST", "/yoomoney/aviso", "a=1", "application/x-www-form-urlencoded",
                     std::string("action=x&z=\r\n\0end", 17)};
  return e;
}

StoreSpec spec(std::vector<std::string> targets = {"orders", "crm"}, uint64_t ttl_s = 3600) {
  StoreSpec s;
  s.targets = std::move(targets);
  s.idempotency_ttl_s = ttl_s;
  return s;
}

std::map<std::string, std::string> hashOf(const RedisReply& r) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) out[r.elements[i].str] = r.elements[i + 1].str;
  return out;
}

std::vector<std::string> strings(const RedisReply& r) {
  std::vector<std::string> out;
  for (const auto& e : r.elements) out.push_back(e.str);
  return out;
}

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }

  void TearDown() override { finish(); }

  RedisStore& makeStore(const std::string& url, uint64_t store_timeout_ms = kShortTimeoutMs) {
    RedisStoreOptions o;
    o.url = url;
    o.prefix = "ph";
    o.store_timeout_ms = store_timeout_ms;
    o.connect_timeout_ms = kShortTimeoutMs;
    o.reconnect_initial_ms = 20;
    o.reconnect_max_ms = 100;
    o.heartbeat_ms = heartbeat_ms_;
    store_ = std::make_unique<RedisStore>(&loop_, o);
    store_->onReadyChange([this](bool r) { ready_changes_.push_back(r); });
    store_->start();
    return *store_;
  }

  // Runs the loop until `pred` holds or `max_ms` passes; a ticking timer keeps uv_run from blocking.
  bool runUntil(const std::function<bool()>& pred, int64_t max_ms = 3000) {
    uv::Timer tick(&loop_);
    tick.start(
        5, [] {}, 5);
    auto start = Clock::now();
    while (!pred() && msSince(start) < max_ms) uv_run(&loop_, UV_RUN_ONCE);
    return pred();
  }

  bool waitReady(int64_t max_ms = 5000) {
    return runUntil([this] { return store_->ready(); }, max_ms);
  }

  // Calls store() and checks it does not answer before returning.
  void storeAsync(const Event& e, const StoreSpec& s, std::optional<StoreResult>* out) {
    in_store_ = true;
    store_->store(e, s, [out, this](StoreResult r) {
      if (in_store_) ++synchronous_answers_;
      *out = std::move(r);
    });
    in_store_ = false;
  }

  StoreResult storeAndWait(const Event& e, const StoreSpec& s, int64_t max_ms = 3000) {
    std::optional<StoreResult> result;
    storeAsync(e, s, &result);
    EXPECT_TRUE(runUntil([&] { return result.has_value(); }, max_ms)) << "no answer from store()";
    return result.value_or(StoreResult{});
  }

  // stop(), then the loop must end by itself and close with nothing left open.
  void finish() {
    if (finished_) return;
    finished_ = true;
    if (store_) store_->stop();
    auto start = Clock::now();
    while (uv_loop_alive(&loop_) && msSince(start) < 3000) uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_EQ(uv_loop_alive(&loop_), 0) << "the loop is still alive after stop()";
    store_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle is still open after stop()";
    EXPECT_EQ(synchronous_answers_, 0) << "done ran inside store()";
  }

  uv_loop_t loop_{};
  std::unique_ptr<RedisStore> store_;
  std::vector<bool> ready_changes_;
  bool in_store_ = false;
  int synchronous_answers_ = 0;
  bool finished_ = false;
  uint64_t heartbeat_ms_ = 1'000;
};

TEST_F(RedisStoreTest, StoredWritesHashIdemKeyJobsAndIndex) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  Event e = makeEvent("0190a000-0000-7000-8000-000000000001", "aviso-1");
  e.listing = {{"2003", "9001", "2003", "bad\nkey", ""}, "87.10", "RUB", "paymentAviso", "succeeded"};
  StoreResult r = storeAndWait(e, spec({"orders", "crm"}, 3600));
  ASSERT_EQ(r.outcome, StoreOutcome::kStored) << r.error;
  EXPECT_EQ(r.event_id, e.id);
  EXPECT_TRUE(r.error.empty());

  // The parts never changed after receipt are packed in one field, each as <length>:<bytes>, in
  // event_record.h's order; only the fields a delivery changes stay apart.
  std::string packed;
  for (const std::string& part :
       {std::string("1790000000123"), std::string("yoomoney.payment_aviso"), std::string("shop"),
        std::string("yoomoney"), std::string("1"), e.data_json, std::string("aviso-1"), std::string("POST"),
        std::string("/yoomoney/aviso"), std::string("a=1"), std::string("application/x-www-form-urlencoded"),
        e.raw.body})
    packed += std::to_string(part.size()) + ":" + part;
  std::map<std::string, std::string> want = {
      {"e", packed},
      {"ix", "87.10\nRUB\npaymentAviso\nsucceeded\n2003\n9001"},
      {"state", "pending"},
      {"targets", "orders,crm"},
  };
  EXPECT_EQ(hashOf(redis.command({"HGETALL", "{ph}:ev:" + e.id})), want);

  EXPECT_EQ(redis.command({"GET", "{ph}:idem:shop:aviso-1"}).str, e.id);
  long long ttl = redis.command({"TTL", "{ph}:idem:shop:aviso-1"}).integer;
  EXPECT_GT(ttl, 3590);
  EXPECT_LE(ttl, 3600);

  EXPECT_EQ(strings(redis.command({"ZRANGE", "{ph}:due:orders", "0", "-1", "WITHSCORES"})),
            (std::vector<std::string>{e.id + "|orders", "1790000000123"}));
  EXPECT_EQ(strings(redis.command({"ZRANGE", "{ph}:due:crm", "0", "-1", "WITHSCORES"})),
            (std::vector<std::string>{e.id + "|crm", "1790000000123"}));
  auto targets = strings(redis.command({"SMEMBERS", "{ph}:targets"}));
  std::sort(targets.begin(), targets.end());
  EXPECT_EQ(targets, (std::vector<std::string>{"crm", "orders"}));
  EXPECT_EQ(strings(redis.command({"ZRANGE", "{ph}:events", "0", "-1", "WITHSCORES"})),
            (std::vector<std::string>{e.id, "1790000000123"}));
  // Each key once, as "<key>\n<id>"; a key with a newline or an empty one is not indexed.
  EXPECT_EQ(strings(redis.command({"ZRANGE", "{ph}:find", "0", "-1"})),
            (std::vector<std::string>{"2003\n" + e.id, "9001\n" + e.id}));
  EXPECT_EQ(redis.command({"GET", "{ph}:marker"}).str.size(), 24u);
  // Nothing else: one hash, one idempotency key, a due set per target, the target set, the event index,
  // the find index and the data marker.
  EXPECT_EQ(redis.command({"DBSIZE"}).integer, 8);
}

TEST_F(RedisStoreTest, NoTargetsIsStoredWithoutJobs) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  Event e = makeEvent("id-no-targets", "k");
  e.verified = false;
  ASSERT_EQ(storeAndWait(e, spec({})).outcome, StoreOutcome::kStored);
  auto h = eventHash(redis, "{ph}:ev:id-no-targets");
  EXPECT_EQ(h["state"], "stored");
  EXPECT_EQ(h["targets"], "");
  EXPECT_EQ(h["verified"], "0");
  EXPECT_EQ(redis.command({"EXISTS", "{ph}:targets"}).integer, 0);
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:events", "id-no-targets"}).str, "1790000000123");
}

// The store script adds a target to {ph}:targets once per connection, not on every event (each redis.call
// costs Redis a few microseconds). A new connection and a Redis found flushed both start over.
TEST_F(RedisStoreTest, TargetSetIsFilledOncePerConnectionAndAgainAfterAFlush) {
  heartbeat_ms_ = 50;
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  auto targets = [&] {
    auto t = strings(redis.command({"SMEMBERS", "{ph}:targets"}));
    std::sort(t.begin(), t.end());
    return t;
  };
  ASSERT_EQ(storeAndWait(makeEvent("e1", "k1"), spec({"orders"})).outcome, StoreOutcome::kStored);
  EXPECT_EQ(targets(), (std::vector<std::string>{"orders"}));

  // Already added on this connection: a second event of the same target writes no SADD, a new target does.
  redis.command({"DEL", "{ph}:targets"});
  ASSERT_EQ(storeAndWait(makeEvent("e2", "k2"), spec({"orders", "crm"})).outcome, StoreOutcome::kStored);
  EXPECT_EQ(targets(), (std::vector<std::string>{"crm"}));

  // Flushed under the store: the heartbeat notices, and the next event adds its targets again.
  redis.command({"FLUSHALL"});
  ASSERT_TRUE(runUntil([&] { return store_->dataLosses() == 1; }));
  ASSERT_EQ(storeAndWait(makeEvent("e3", "k3"), spec({"orders"})).outcome, StoreOutcome::kStored);
  EXPECT_EQ(targets(), (std::vector<std::string>{"orders"}));

  // A new connection starts over too.
  redis.command({"DEL", "{ph}:targets"});
  redis.command({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  ASSERT_TRUE(runUntil([&] { return ready_changes_.size() >= 3 && store_->ready(); }));
  ASSERT_EQ(storeAndWait(makeEvent("e4", "k4"), spec({"orders", "crm"})).outcome, StoreOutcome::kStored);
  EXPECT_EQ(targets(), (std::vector<std::string>{"crm", "orders"}));
}

// A store that returns as a duplicate writes nothing, so it does not count as having added its targets.
TEST_F(RedisStoreTest, ATargetFirstSeenOnADuplicateIsAddedByTheNextStore) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  ASSERT_EQ(storeAndWait(makeEvent("e1", "k1"), spec({"orders"})).outcome, StoreOutcome::kStored);
  // A reload added "crm" to the route; the provider's retry of the stored callback comes first.
  ASSERT_EQ(storeAndWait(makeEvent("e2", "k1"), spec({"orders", "crm"})).outcome, StoreOutcome::kDuplicate);
  EXPECT_EQ(redis.command({"SISMEMBER", "{ph}:targets", "crm"}).integer, 0);
  ASSERT_EQ(storeAndWait(makeEvent("e3", "k3"), spec({"orders", "crm"})).outcome, StoreOutcome::kStored);
  EXPECT_EQ(redis.command({"SISMEMBER", "{ph}:targets", "crm"}).integer, 1);
}

TEST_F(RedisStoreTest, SameKeyTwiceIsDuplicateOfTheFirstAndWritesNothing) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  ASSERT_EQ(storeAndWait(makeEvent("first", "k1"), spec()).outcome, StoreOutcome::kStored);
  StoreResult again = storeAndWait(makeEvent("second", "k1"), spec());
  EXPECT_EQ(again.outcome, StoreOutcome::kDuplicate);
  EXPECT_EQ(again.event_id, "first");
  StoreResult third = storeAndWait(makeEvent("third", "k1"), spec());
  EXPECT_EQ(third.outcome, StoreOutcome::kDuplicate);
  EXPECT_EQ(third.event_id, "first");
  EXPECT_TRUE(third.stored());

  EXPECT_EQ(redis.command({"EXISTS", "{ph}:ev:second"}).integer, 0);
  EXPECT_EQ(redis.command({"EXISTS", "{ph}:ev:third"}).integer, 0);
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:due:orders"}).integer, 1);
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:due:crm"}).integer, 1);
  EXPECT_EQ(strings(redis.command({"ZRANGE", "{ph}:events", "0", "-1"})),
            (std::vector<std::string>{"first"}));
  EXPECT_EQ(redis.command({"DBSIZE"}).integer, 7);
}

TEST_F(RedisStoreTest, SameKeyInFlightTogetherStoresOnce) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  std::optional<StoreResult> a, b;
  storeAsync(makeEvent("a", "same"), spec(), &a);
  storeAsync(makeEvent("b", "same"), spec(), &b);
  ASSERT_TRUE(runUntil([&] { return a && b; }));
  EXPECT_EQ(a->outcome, StoreOutcome::kStored);
  EXPECT_EQ(b->outcome, StoreOutcome::kDuplicate);
  EXPECT_EQ(b->event_id, "a");
}

TEST_F(RedisStoreTest, SameKeyOnDifferentRoutesIsTwoEvents) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  EXPECT_EQ(storeAndWait(makeEvent("e1", "k", "shop"), spec()).outcome, StoreOutcome::kStored);
  EXPECT_EQ(storeAndWait(makeEvent("e2", "k", "other-shop"), spec()).outcome, StoreOutcome::kStored);
  EXPECT_EQ(redis.command({"GET", "{ph}:idem:shop:k"}).str, "e1");
  EXPECT_EQ(redis.command({"GET", "{ph}:idem:other-shop:k"}).str, "e2");
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:events"}).integer, 2);
}

TEST_F(RedisStoreTest, EventWithoutKeyIsNeverADuplicate) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  EXPECT_EQ(storeAndWait(makeEvent("n1", ""), spec()).outcome, StoreOutcome::kStored);
  EXPECT_EQ(storeAndWait(makeEvent("n2", ""), spec()).outcome, StoreOutcome::kStored);
}

TEST_F(RedisStoreTest, NotRunningIsUnavailableThenRecoversWithoutANewStore) {
  RedisServer redis;
  redis.stop();
  makeStore(redis.url());
  // A few reconnect attempts fail meanwhile.
  runUntil([] { return false; }, 200);
  EXPECT_FALSE(store_->ready());
  StoreResult r = storeAndWait(makeEvent("x", "k"), spec());
  EXPECT_EQ(r.outcome, StoreOutcome::kUnavailable);
  EXPECT_FALSE(r.stored());
  EXPECT_FALSE(r.error.empty());

  redis.start();
  ASSERT_TRUE(waitReady());
  EXPECT_EQ(storeAndWait(makeEvent("x", "k"), spec()).outcome, StoreOutcome::kStored);
  EXPECT_EQ(ready_changes_, std::vector<bool>{true});
}

size_t countOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(RedisStoreTest, LogsAnOutageAndItsRecoveryOnceWithoutThePassword) {
  RedisServer redis(redisOptions(false, "hunter2"));
  redis.stop();
  ::testing::internal::CaptureStderr();
  makeStore(redis.url());
  runUntil([] { return false; }, 400);  // about ten failed attempts with 20..100 ms backoff
  redis.start();
  bool ready = waitReady();
  std::string logs = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(ready);
  EXPECT_EQ(countOf(logs, "redis: unavailable"), 1u) << logs;
  EXPECT_EQ(countOf(logs, "redis: connection recovered"), 1u) << logs;
  EXPECT_EQ(countOf(logs, "\"level\":\"warn\""), 1u) << logs;
  EXPECT_EQ(logs.find("hunter2"), std::string::npos) << logs;
  EXPECT_NE(logs.find(":***@127.0.0.1"), std::string::npos) << logs;
}

TEST_F(RedisStoreTest, KilledMidwayAnswersNotStoredAndReconnects) {
  RedisServer redis;
  makeStore(redis.url(), /*store_timeout_ms=*/5000);
  ASSERT_TRUE(waitReady());
  // Paused, Redis reads nothing, so the command is surely in flight when it dies.
  redis.pause();
  std::optional<StoreResult> r;
  storeAsync(makeEvent("k1", "k"), spec(), &r);
  runUntil([] { return false; }, 50);
  EXPECT_FALSE(r.has_value());
  auto killed = Clock::now();
  redis.kill();
  ASSERT_TRUE(runUntil([&] { return r.has_value(); }, 2000));
  EXPECT_LT(msSince(killed), 2000);
  EXPECT_FALSE(r->stored());
  EXPECT_EQ(r->outcome, StoreOutcome::kUnavailable) << outcomeName(r->outcome);
  EXPECT_TRUE(runUntil([this] { return !store_->ready(); }, 100));

  redis.start();
  ASSERT_TRUE(waitReady());
  EXPECT_EQ(storeAndWait(makeEvent("k2", "k"), spec()).outcome, StoreOutcome::kStored);
  EXPECT_EQ(ready_changes_, (std::vector<bool>{true, false, true}));
}

TEST_F(RedisStoreTest, PausedTimesOutWithinStoreTimeoutThenRecovers) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  redis.pause();
  auto start = Clock::now();
  std::optional<StoreResult> r1, r2;
  storeAsync(makeEvent("p1", "k1"), spec(), &r1);
  storeAsync(makeEvent("p2", "k2"), spec(), &r2);
  ASSERT_TRUE(runUntil([&] { return r1 && r2; }, 3000));
  int64_t took = msSince(start);
  EXPECT_EQ(r1->outcome, StoreOutcome::kTimeout);
  EXPECT_EQ(r2->outcome, StoreOutcome::kTimeout);
  EXPECT_GE(took, static_cast<int64_t>(kShortTimeoutMs) - 5);
  EXPECT_LT(took, static_cast<int64_t>(kShortTimeoutMs) + 500);
  EXPECT_FALSE(store_->ready());
  EXPECT_EQ(storeAndWait(makeEvent("p3", "k3"), spec()).outcome, StoreOutcome::kUnavailable);

  // Still paused: reconnects reach the listen backlog but get no answer, so it stays unready.
  runUntil([] { return false; }, 2 * kShortTimeoutMs);
  EXPECT_FALSE(store_->ready());

  redis.resume();
  ASSERT_TRUE(waitReady());
  EXPECT_EQ(storeAndWait(makeEvent("p4", "k4"), spec()).outcome, StoreOutcome::kStored);
  // The late writes, if Redis ran them after resuming, are the provider's to retry as duplicates.
}

TEST_F(RedisStoreTest, HeartbeatNoticesASilentRedisWithoutAnyStore) {
  heartbeat_ms_ = 100;
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  redis.pause();
  // No store() call: only the idle PING can find out.
  EXPECT_TRUE(runUntil([this] { return !store_->ready(); }, 3000));
  redis.resume();
  EXPECT_TRUE(waitReady());
  EXPECT_EQ(storeAndWait(makeEvent("h1", "hk1"), spec()).outcome, StoreOutcome::kStored);
}

TEST_F(RedisStoreTest, PasswordProtected) {
  RedisServer redis(redisOptions(false, "s3cr@t/pw"));
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  EXPECT_EQ(storeAndWait(makeEvent("pw1", "k"), spec()).outcome, StoreOutcome::kStored);
  EXPECT_EQ(redis.command({"EXISTS", "{ph}:ev:pw1"}).integer, 1);
}

TEST_F(RedisStoreTest, AclUser) {
  RedisServer redis;
  ASSERT_EQ(redis.command({"ACL", "SETUSER", "payhook", "on", ">pw", "~{ph}:*", "+@all"}).str, "OK");
  makeStore("redis://payhook:pw@127.0.0.1:" + std::to_string(redis.port()) + "/0");
  ASSERT_TRUE(waitReady());
  EXPECT_EQ(storeAndWait(makeEvent("acl1", "k"), spec()).outcome, StoreOutcome::kStored);
  EXPECT_EQ(redis.command({"EXISTS", "{ph}:ev:acl1"}).integer, 1);
}

TEST_F(RedisStoreTest, WrongPasswordNeverBecomesReady) {
  RedisServer redis(redisOptions(false, "right"));
  makeStore("redis://:wrong@127.0.0.1:" + std::to_string(redis.port()) + "/0");
  EXPECT_FALSE(runUntil([this] { return store_->ready(); }, 500));
  EXPECT_EQ(storeAndWait(makeEvent("w", "k"), spec()).outcome, StoreOutcome::kUnavailable);
}

TEST_F(RedisStoreTest, UnixSocket) {
  RedisServer redis(redisOptions(true, ""));
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  EXPECT_EQ(storeAndWait(makeEvent("u1", "k"), spec()).outcome, StoreOutcome::kStored);
  EXPECT_EQ(redis.command({"HGET", "{ph}:ev:u1", "state"}).str, "pending");
}

TEST_F(RedisStoreTest, UnixSocketWithPasswordAndDb) {
  RedisServer redis(redisOptions(true, "pw&x"));
  makeStore(redis.url() + "&db=2");
  ASSERT_TRUE(waitReady());
  EXPECT_EQ(storeAndWait(makeEvent("u2", "k"), spec()).outcome, StoreOutcome::kStored);
  EXPECT_EQ(redis.command({"EXISTS", "{ph}:ev:u2"}).integer, 0);  // not in db 0
  RedisReply in_db2 = redis.command(
      {"EVAL", "redis.call('SELECT', 2) return redis.call('EXISTS', KEYS[1])", "1", "{ph}:ev:u2"});
  EXPECT_EQ(in_db2.integer, 1);
}

TEST_F(RedisStoreTest, SelectsTheDatabase) {
  RedisServer redis;
  makeStore("redis://127.0.0.1:" + std::to_string(redis.port()) + "/3");
  ASSERT_TRUE(waitReady());
  ASSERT_EQ(storeAndWait(makeEvent("d3", "k"), spec()).outcome, StoreOutcome::kStored);
  EXPECT_EQ(redis.command({"DBSIZE"}).integer, 0);
  RedisReply in_db3 = redis.command(
      {"EVAL", "redis.call('SELECT', 3) return redis.call('EXISTS', KEYS[1])", "1", "{ph}:ev:d3"});
  EXPECT_EQ(in_db3.integer, 1);
}

TEST_F(RedisStoreTest, ResolvesHostNamesOffTheLoop) {
  RedisServer redis;
  // localhost may resolve to ::1 first, where nothing listens: the next address is tried.
  makeStore("redis://localhost:" + std::to_string(redis.port()) + "/0");
  ASSERT_TRUE(waitReady());
  EXPECT_EQ(storeAndWait(makeEvent("h1", "k"), spec()).outcome, StoreOutcome::kStored);
}

TEST_F(RedisStoreTest, RecoversFromAFlushedScriptCache) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  ASSERT_EQ(storeAndWait(makeEvent("s1", "k1"), spec()).outcome, StoreOutcome::kStored);
  ASSERT_EQ(redis.command({"SCRIPT", "FLUSH"}).type, RedisReply::kStatus);
  StoreResult r = storeAndWait(makeEvent("s2", "k2"), spec());
  EXPECT_EQ(r.outcome, StoreOutcome::kStored) << r.error;
  EXPECT_EQ(storeAndWait(makeEvent("s3", "k3"), spec()).outcome, StoreOutcome::kStored);
  // One EVAL for the command that met NOSCRIPT; the script was loaded again for the next one.
  std::string stats = redis.command({"INFO", "commandstats"}).str;
  EXPECT_NE(stats.find("cmdstat_eval:calls=1,"), std::string::npos) << stats;
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:events"}).integer, 3);
}

TEST_F(RedisStoreTest, DoneIsNeverSynchronous) {
  RedisServer redis;
  makeStore(redis.url());
  // Not ready yet: the unavailable answer is deferred too.
  std::optional<StoreResult> early;
  storeAsync(makeEvent("e0", "k0"), spec(), &early);
  EXPECT_FALSE(early.has_value());
  ASSERT_TRUE(runUntil([&] { return early.has_value(); }));
  EXPECT_EQ(early->outcome, StoreOutcome::kUnavailable);

  ASSERT_TRUE(waitReady());
  std::optional<StoreResult> late;
  storeAsync(makeEvent("e1", "k1"), spec(), &late);
  EXPECT_FALSE(late.has_value());
  ASSERT_TRUE(runUntil([&] { return late.has_value(); }));
  EXPECT_EQ(late->outcome, StoreOutcome::kStored);
  EXPECT_EQ(synchronous_answers_, 0);
}

TEST_F(RedisStoreTest, StoreFromInsideDoneWorks) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  std::optional<StoreResult> second;
  bool first_done = false;
  store_->store(makeEvent("c1", "k1"), spec(), [&](StoreResult r) {
    EXPECT_EQ(r.outcome, StoreOutcome::kStored);
    first_done = true;
    storeAsync(makeEvent("c2", "k2"), spec(), &second);
  });
  ASSERT_TRUE(runUntil([&] { return second.has_value(); }));
  EXPECT_TRUE(first_done);
  EXPECT_EQ(second->outcome, StoreOutcome::kStored);
}

TEST_F(RedisStoreTest, StopFailsWorkInFlightAndClosesEverything) {
  RedisServer redis;
  makeStore(redis.url(), /*store_timeout_ms=*/5000);
  ASSERT_TRUE(waitReady());
  redis.pause();
  std::optional<StoreResult> r;
  storeAsync(makeEvent("st", "k"), spec(), &r);
  runUntil([] { return false; }, 20);
  store_->stop();
  EXPECT_FALSE(store_->ready());
  ASSERT_TRUE(runUntil([&] { return r.has_value(); }, 1000));
  EXPECT_EQ(r->outcome, StoreOutcome::kUnavailable);
  // After stop(), store() still answers, on the loop.
  std::optional<StoreResult> after;
  storeAsync(makeEvent("st2", "k2"), spec(), &after);
  ASSERT_TRUE(runUntil([&] { return after.has_value(); }, 1000));
  EXPECT_EQ(after->outcome, StoreOutcome::kUnavailable);
  redis.resume();
}

TEST_F(RedisStoreTest, StopWhileResolvingAndReconnecting) {
  RedisServer redis;
  redis.stop();
  makeStore("redis://localhost:" + std::to_string(redis.port()) + "/0");
  runUntil([] { return false; }, 100);
  // finish() stops with a retry timer or a lookup pending; the loop must still end.
}

TEST_F(RedisStoreTest, DestroyWithoutStopIsSafe) {
  RedisServer redis;
  makeStore(redis.url(), /*store_timeout_ms=*/5000);
  ASSERT_TRUE(waitReady());
  redis.pause();
  std::optional<StoreResult> r;
  storeAsync(makeEvent("dd", "k"), spec(), &r);
  runUntil([] { return false; }, 20);
  store_.reset();
  redis.resume();
  // finish() then runs the loop to its end and closes it.
}

TEST_F(RedisStoreTest, DestroyFromInsideDone) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  std::optional<StoreResult> a;
  bool b_called = false;
  store_->store(makeEvent("x1", "k1"), spec(), [&](StoreResult r) {
    a = r;
    store_.reset();
  });
  store_->store(makeEvent("x2", "k2"), spec(), [&](StoreResult) { b_called = true; });
  ASSERT_TRUE(runUntil([&] { return a.has_value(); }));
  EXPECT_EQ(a->outcome, StoreOutcome::kStored);
  runUntil([] { return false; }, 50);
  (void)b_called;  // destroyed with the store, called or not: either is allowed, a crash is not
}

TEST_F(RedisStoreTest, InvalidUrlStaysUnready) {
  makeStore("http://nope");
  EXPECT_EQ(storeAndWait(makeEvent("i", "k"), spec()).outcome, StoreOutcome::kUnavailable);
  EXPECT_FALSE(store_->ready());
}

TEST(RedisServerFixture, DataSurvivesStopAndKillThroughTheAof) {
  RedisServer redis;
  ASSERT_EQ(redis.command({"SET", "a", "1"}).str, "OK");
  redis.stop();
  EXPECT_FALSE(redis.running());
  EXPECT_THROW(redis.command({"PING"}), std::runtime_error);
  redis.start();
  EXPECT_EQ(redis.command({"GET", "a"}).str, "1");
  ASSERT_EQ(redis.command({"SET", "b", "2"}).str, "OK");
  redis.kill();
  redis.start();
  EXPECT_EQ(redis.command({"GET", "b"}).str, "2");
  EXPECT_EQ(redis.command({"GET", "missing"}).type, RedisReply::kNil);
  EXPECT_EQ(redis.command({"NOPE"}).type, RedisReply::kError);
  EXPECT_NE(redis.url().find("redis://127.0.0.1:"), std::string::npos);
  EXPECT_GT(redis.port(), 0);
}

TEST(RedisServerFixture, PasswordAndUnixSocket) {
  RedisServer redis(redisOptions(true, "p w"));
  EXPECT_EQ(redis.port(), 0);
  EXPECT_EQ(redis.url(), "unix:" + redis.dir() + "/redis.sock?password=p%20w");
  EXPECT_EQ(redis.command({"PING"}).str, "PONG");
  EXPECT_EQ(redis.command({"CONFIG", "GET", "appendonly"}).elements.at(1).str, "yes");
}

}  // namespace
}  // namespace payhook::queue

namespace payhook::queue {
namespace {

// A route's note holds back the store of an event that must first be told of it; the note's value comes back
// in the same round trip, and nothing is written.
TEST_F(RedisStoreTest, ANoteHoldsTheStoreAndAnEmptyNoteIsRemoved) {
  RedisServer redis;
  makeStore(redis.url());
  ASSERT_TRUE(waitReady());
  auto storeNoted = [&](const Event& e) {
    std::optional<StoreResult> result;
    store_->storeUnlessNoted(e, spec(), "invoice:92", [&](StoreResult r) { result = std::move(r); });
    EXPECT_TRUE(runUntil([&] { return result.has_value(); }));
    return result.value_or(StoreResult{});
  };
  auto putNote = [&](const std::string& value) {
    std::optional<LookupResult> put;
    store_->putNote("shop", "invoice:92", value, 60, [&](LookupResult r) { put = std::move(r); });
    EXPECT_TRUE(runUntil([&] { return put.has_value(); }));
    EXPECT_TRUE(put && put->ok);
  };

  // Without the note: an ordinary store.
  EXPECT_EQ(storeNoted(makeEvent("e1", "paymentAviso:92")).outcome, StoreOutcome::kStored);

  putNote("refuse 0190-check");
  EXPECT_EQ(redis.command({"TTL", "{ph}:note:shop:invoice:92"}).integer, 60);
  StoreResult held = storeNoted(makeEvent("e2", "paymentAviso:93"));
  EXPECT_EQ(held.outcome, StoreOutcome::kHeld);
  EXPECT_EQ(held.note, "refuse 0190-check");
  EXPECT_FALSE(held.stored());
  EXPECT_EQ(redis.command({"EXISTS", "{ph}:ev:e2"}).integer, 0);
  EXPECT_EQ(redis.command({"EXISTS", "{ph}:idem:shop:paymentAviso:93"}).integer, 0);  // not claimed
  // Stored as usual once told.
  EXPECT_EQ(storeAndWait(makeEvent("e2", "paymentAviso:93"), spec()).outcome, StoreOutcome::kStored);

  putNote("");
  EXPECT_EQ(redis.command({"EXISTS", "{ph}:note:shop:invoice:92"}).integer, 0);
  EXPECT_EQ(storeNoted(makeEvent("e3", "paymentAviso:94")).outcome, StoreOutcome::kStored);
}

}  // namespace
}  // namespace payhook::queue
