// JobQueue (and RedisStore::runScript under it) against a real redis-server, in process: events are stored
// with RedisStore, then claimed, finished and swept; the assertions are about Redis' state. Every test ends
// with the loop closing cleanly.
#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/event.h"
#include "queue/event_record.h"
#include "queue/job_queue.h"
#include "queue/operator.h"
#include "queue/redis_event_store.h"
#include "support/redis_server.h"
#include "support/store_inspect.h"
#include "uv/handle.h"

namespace payhook::queue {
namespace {

using payhook::testing::RedisReply;
using payhook::testing::RedisServer;
using Clock = std::chrono::steady_clock;

constexpr int64_t kT0 = 1'790'000'000'000;  // receipt time of the first test event (Unix ms)
constexpr uint64_t kLease = 30'000;

// Every target the tests queue jobs for, each asked for up to `max` jobs.
std::vector<ClaimWant> wantsOf(size_t max) {
  std::vector<ClaimWant> out;
  for (const char* t : {"a", "b", "crm", "orders", "t"}) out.push_back({t, max});
  return out;
}

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

Event makeEvent(const std::string& id, int64_t at_ms) {
  Event e;
  e.id = id;
  e.type = "yoomoney.payment_aviso";
  e.route = "shop";
  e.provider = "yoomoney";
  e.received_at_ms = at_ms;
  e.verified = true;
  e.data_json = R"({"order_id":"42","amount":"10.00"})";
  e.idempotency_key = "key-" + id;
  e.raw = RawRequest{"POST", "/yoomoney/aviso", "a=1", "application/x-www-form-urlencoded",
                     std::string("action=x&z=\r\n\0end", 17)};
  return e;
}

std::vector<std::string> strings(const RedisReply& r) {
  std::vector<std::string> out;
  for (const auto& e : r.elements) out.push_back(e.str);
  return out;
}

AttemptRecord record(int64_t at, int status, std::string answer = "ok") {
  return AttemptRecord{at, status, status == 0 ? "connection refused" : "", 12.5, std::move(answer)};
}

class JobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
  void TearDown() override { finish(); }

  RedisStore& addStore(const std::string& url) {
    RedisStoreOptions o;
    o.url = url;
    o.prefix = "ph";
    o.store_timeout_ms = 2000;
    o.connect_timeout_ms = 300;
    o.reconnect_initial_ms = 20;
    o.reconnect_max_ms = 100;
    stores_.push_back(std::make_unique<RedisStore>(&loop_, o));
    stores_.back()->start();
    return *stores_.back();
  }

  JobQueue& addQueue(RedisStore& store, size_t attempts_kept = 50, uint64_t window_ms = 3'600'000) {
    JobQueueOptions o;
    o.prefix = "ph";
    o.attempts_kept = attempts_kept;
    o.repair_window_ms = window_ms;
    queues_.push_back(std::make_unique<JobQueue>(store, o));
    return *queues_.back();
  }

  // One store and one queue, connected.
  JobQueue& setUpQueue(RedisServer& redis, size_t attempts_kept = 50) {
    RedisStore& s = addStore(redis.url());
    EXPECT_TRUE(waitReady(s));
    return addQueue(s, attempts_kept);
  }

  bool runUntil(const std::function<bool()>& pred, int64_t max_ms = 5000) {
    uv::Timer tick(&loop_);
    tick.start(
        5, [] {}, 5);
    auto start = Clock::now();
    while (!pred() && msSince(start) < max_ms) uv_run(&loop_, UV_RUN_ONCE);
    return pred();
  }

  bool waitReady(RedisStore& s) {
    return runUntil([&] { return s.ready(); });
  }

  // Starts an async call and runs the loop until its callback ran; checks it did not run synchronously.
  // The answer lives in a shared slot, so a callback arriving after a failed wait writes nowhere stale.
  template <class T>
  T await(const std::function<void(std::function<void(T)>)>& start) {
    auto slot = std::make_shared<std::optional<T>>();
    bool inside = true;
    start([slot, &inside, this](T r) {
      if (inside) ++synchronous_answers_;
      slot->emplace(std::move(r));
    });
    inside = false;
    if (!runUntil([&] { return slot->has_value(); })) throw std::runtime_error("no answer");
    return std::move(**slot);
  }

  void storeEvent(const Event& e, std::vector<std::string> targets) {
    StoreSpec spec;
    spec.targets = std::move(targets);
    StoreResult r = await<StoreResult>([&](auto cb) { stores_.front()->store(e, spec, cb); });
    ASSERT_EQ(r.outcome, StoreOutcome::kStored) << r.error;
  }

  ClaimBatch claim(JobQueue& q, size_t max, int64_t now, uint64_t lease = kLease) {
    auto r = await<Result<ClaimBatch>>([&](auto cb) { q.claim(wantsOf(max), now, lease, cb); });
    if (!r) throw std::runtime_error("claim: " + r.error().message);
    return std::move(r).value();
  }

  LeaseOutcome complete(JobQueue& q, const ClaimedJob& j, int64_t at) {
    auto r = await<Result<LeaseOutcome>>([&](auto cb) { q.complete(j.lease, record(at, 200), cb); });
    if (!r) throw std::runtime_error("complete: " + r.error().message);
    return *r;
  }

  LeaseOutcome reschedule(JobQueue& q, const ClaimedJob& j, int64_t at, int64_t due) {
    auto r = await<Result<LeaseOutcome>>([&](auto cb) { q.reschedule(j.lease, record(at, 503), due, cb); });
    if (!r) throw std::runtime_error("reschedule: " + r.error().message);
    return *r;
  }

  SweepReport sweep(JobQueue& q, int64_t now, size_t max = 100) {
    auto r = await<Result<SweepReport>>([&](auto cb) { q.sweep(now, max, {}, cb); });
    if (!r) throw std::runtime_error("sweep: " + r.error().message);
    return *r;
  }

  // The operator's listing of one route's events, and its view of one event, over the first store.
  ListPage listRoute(const std::string& route) {
    Operator op(*stores_.front(), OperatorOptions{"ph"});
    ListQuery query;
    query.route = route;
    auto page = await<Result<ListPage>>([&](auto cb) { op.list(query, cb); });
    if (!page) throw std::runtime_error("list: " + page.error().message);
    return std::move(page).value();
  }
  std::optional<EventDetail> show(const std::string& id) {
    Operator op(*stores_.front(), OperatorOptions{"ph"});
    auto d = await<Result<std::optional<EventDetail>>>([&](auto cb) { op.show(id, cb); });
    if (!d) throw std::runtime_error("show: " + d.error().message);
    return std::move(d).value();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    for (auto& s : stores_) s->stop();
    auto start = Clock::now();
    while (uv_loop_alive(&loop_) && msSince(start) < 3000) uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_EQ(uv_loop_alive(&loop_), 0) << "the loop is still alive after stop()";
    queues_.clear();
    stores_.clear();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle is still open after stop()";
    EXPECT_EQ(synchronous_answers_, 0) << "a callback ran inside its call";
  }

  uv_loop_t loop_{};
  std::vector<std::unique_ptr<RedisStore>> stores_;
  std::vector<std::unique_ptr<JobQueue>> queues_;
  int synchronous_answers_ = 0;
  bool finished_ = false;
};

// Jobs waiting in every target's due set.
long long dueCount(RedisServer& redis) {
  long long n = 0;
  for (const auto& key : strings(redis.command({"KEYS", "{ph}:due:*"})))
    n += redis.command({"ZCARD", key}).integer;
  return n;
}

std::map<std::string, std::string> evHash(RedisServer& redis, const std::string& id) {
  return payhook::testing::eventHash(redis, "{ph}:ev:" + id);
}

std::vector<nlohmann::json> attempts(RedisServer& redis, const std::string& id) {
  std::vector<nlohmann::json> out;
  for (const auto& line : strings(redis.command({"LRANGE", "{ph}:attempts:" + id, "0", "-1"})))
    out.push_back(nlohmann::json::parse(line));
  return out;
}

// ---- runScript ----

TEST_F(JobQueueTest, RunScriptCopiesTheWholeReplyTree) {
  RedisServer redis;
  RedisStore& s = addStore(redis.url());
  ASSERT_TRUE(waitReady(s));
  Script script(
      "return {1, 'two', false, {ARGV[1], KEYS[1]}, redis.status_reply('OK'), "
      "redis.error_reply('inner')}");
  ScriptReply r = await<ScriptReply>([&](auto cb) { s.runScript(script, {"{ph}:k"}, {"arg"}, cb); });
  ASSERT_TRUE(r.ok()) << r.error;
  using T = ScriptValue::Type;
  ASSERT_EQ(r.value.type, T::kArray);
  ASSERT_EQ(r.value.elements.size(), 6u);
  EXPECT_EQ(r.value.elements[0].type, T::kInteger);
  EXPECT_EQ(r.value.elements[0].integer, 1);
  EXPECT_EQ(r.value.elements[1].str, "two");
  EXPECT_EQ(r.value.elements[2].type, T::kNil);
  EXPECT_EQ(r.value.elements[3].elements.size(), 2u);
  EXPECT_EQ(r.value.elements[3].elements[0].str, "arg");
  EXPECT_EQ(r.value.elements[3].elements[1].str, "{ph}:k");
  EXPECT_EQ(r.value.elements[4].type, T::kStatus);
  EXPECT_EQ(r.value.elements[5].type, T::kError);
  EXPECT_NE(r.value.elements[5].str.find("inner"), std::string::npos);

  // A script that raises is an error outcome with Redis' message; the connection stays usable.
  Script bad("return redis.call('NOSUCHCOMMAND')");
  ScriptReply e = await<ScriptReply>([&](auto cb) { s.runScript(bad, {}, {}, cb); });
  EXPECT_EQ(e.outcome, ScriptOutcome::kError);
  EXPECT_FALSE(e.error.empty());
  ScriptReply again = await<ScriptReply>([&](auto cb) { s.runScript(script, {"{ph}:k"}, {"x"}, cb); });
  EXPECT_TRUE(again.ok());
  // The first call ran the text (EVAL) and learnt the sha; the second used EVALSHA.
  std::string stats = redis.command({"INFO", "commandstats"}).str;
  EXPECT_NE(stats.find("cmdstat_evalsha:calls=1,"), std::string::npos) << stats;
}

TEST_F(JobQueueTest, RunScriptIsUnavailableWhenNotConnected) {
  RedisServer redis;
  redis.stop();
  RedisStore& s = addStore(redis.url());
  Script script("return 1");
  ScriptReply r = await<ScriptReply>([&](auto cb) { s.runScript(script, {}, {}, cb); });
  EXPECT_EQ(r.outcome, ScriptOutcome::kUnavailable);
  JobQueue& q = addQueue(s);
  auto c = await<Result<ClaimBatch>>([&](auto cb) { q.claim(wantsOf(10), kT0, kLease, cb); });
  EXPECT_FALSE(c.ok());
}

TEST_F(JobQueueTest, RunScriptTimesOutOnAPausedRedisThenRecovers) {
  RedisServer redis;
  RedisStore& s = addStore(redis.url());
  ASSERT_TRUE(waitReady(s));
  Script script("return 7");
  ASSERT_TRUE(await<ScriptReply>([&](auto cb) { s.runScript(script, {}, {}, cb); }).ok());
  redis.pause();
  auto start = Clock::now();
  ScriptReply r = await<ScriptReply>([&](auto cb) { s.runScript(script, {}, {}, cb); });
  EXPECT_EQ(r.outcome, ScriptOutcome::kTimeout);
  EXPECT_LT(msSince(start), 4000);
  redis.resume();
  ASSERT_TRUE(waitReady(s));
  ScriptReply ok = await<ScriptReply>([&](auto cb) { s.runScript(script, {}, {}, cb); });
  ASSERT_TRUE(ok.ok()) << ok.error;
  EXPECT_EQ(ok.value.integer, 7);
}

// ---- claim ----

TEST_F(JobQueueTest, ClaimReturnsStoredJobsInDueOrderWithTheEnvelopeFields) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e2", kT0 + 20), {"orders"});
  storeEvent(makeEvent("e1", kT0 + 10), {"orders"});
  storeEvent(makeEvent("e3", kT0 + 30), {"orders", "crm"});
  ClaimBatch b = claim(q, 10, kT0 + 100);
  ASSERT_EQ(b.jobs.size(), 4u);
  EXPECT_TRUE(b.dropped.empty());
  std::vector<std::string> ids;
  for (const auto& j : b.jobs) ids.push_back(j.lease.job_id);
  // Target by target in the order asked, each target's jobs in due order.
  EXPECT_EQ(ids, (std::vector<std::string>{"e3|crm", "e1|orders", "e2|orders", "e3|orders"}));
  EXPECT_EQ(b.taken["crm"], 1u);
  EXPECT_EQ(b.taken["orders"], 3u);

  const ClaimedJob& j = b.jobs[1];
  Event want = makeEvent("e1", kT0 + 10);
  EXPECT_EQ(j.target, "orders");
  EXPECT_EQ(j.attempt, 1);
  EXPECT_FALSE(j.lease.token.empty());
  EXPECT_EQ(j.event.id, "e1");
  EXPECT_EQ(j.event.type, want.type);
  EXPECT_EQ(j.event.route, want.route);
  EXPECT_EQ(j.event.provider, want.provider);
  EXPECT_EQ(j.event.received_at_ms, want.received_at_ms);
  EXPECT_TRUE(j.event.verified);
  EXPECT_EQ(j.event.data_json, want.data_json);
  EXPECT_EQ(j.event.raw.method, "POST");
  EXPECT_EQ(j.event.raw.path, "/yoomoney/aviso");
  EXPECT_EQ(j.event.raw.query, "a=1");
  EXPECT_EQ(j.event.raw.content_type, want.raw.content_type);
  EXPECT_EQ(j.event.raw.body, want.raw.body);  // binary-safe

  EXPECT_EQ(dueCount(redis), 0);
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:leased"}).integer, 4);
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:leased", "e1|orders"}).str, std::to_string(kT0 + 100 + kLease));
  auto h = evHash(redis, "e1");
  EXPECT_EQ(h["attempts:orders"], "1");
  EXPECT_EQ(h["lease:orders"], j.lease.token);
  EXPECT_EQ(h["state"], "pending");
  // Nothing left to claim.
  EXPECT_TRUE(claim(q, 10, kT0 + 100).jobs.empty());
}

TEST_F(JobQueueTest, ClaimRespectsNowAndMax) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  for (int i = 0; i < 5; ++i) storeEvent(makeEvent("e" + std::to_string(i), kT0 + i * 1000), {"t"});
  // Due at or before now only: e0, e1 (at kT0 + 1000 exactly).
  ClaimBatch b = claim(q, 10, kT0 + 1000);
  ASSERT_EQ(b.jobs.size(), 2u);
  EXPECT_EQ(b.jobs[1].lease.job_id, "e1|t");
  // At most max, oldest first.
  b = claim(q, 2, kT0 + 10'000);
  ASSERT_EQ(b.jobs.size(), 2u);
  EXPECT_EQ(b.jobs[0].lease.job_id, "e2|t");
  EXPECT_EQ(b.jobs[1].lease.job_id, "e3|t");
  EXPECT_TRUE(claim(q, 0, kT0 + 10'000).jobs.empty());
  EXPECT_EQ(claim(q, 5, kT0 + 10'000).jobs.size(), 1u);
}

TEST_F(JobQueueTest, MissingEventHashIsDroppedNotDelivered) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("gone", kT0), {"t"});
  storeEvent(makeEvent("here", kT0 + 1), {"t"});
  redis.command({"DEL", "{ph}:ev:gone"});
  ClaimBatch b = claim(q, 10, kT0 + 10);
  ASSERT_EQ(b.jobs.size(), 1u);
  EXPECT_EQ(b.jobs[0].lease.job_id, "here|t");
  EXPECT_EQ(b.dropped, std::vector<std::string>{"gone|t"});
  EXPECT_EQ(dueCount(redis), 0);
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:leased"}).integer, 1);

  // Purged while leased: finishing says so and leaves nothing behind.
  redis.command({"DEL", "{ph}:ev:here"});
  EXPECT_EQ(complete(q, b.jobs[0], kT0 + 20), LeaseOutcome::kEventGone);
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:leased"}).integer, 0);
}

TEST_F(JobQueueTest, ADueJobAlreadyFinishedIsDroppedBetweenClaimedOnes) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  for (const char* id : {"e1", "e2", "e3"}) storeEvent(makeEvent(id, kT0), {"t"});
  redis.command({"HSET", "{ph}:ev:e2", "status:t", "delivered"});
  ClaimBatch b = claim(q, 10, kT0 + 10);
  ASSERT_EQ(b.jobs.size(), 2u);
  EXPECT_EQ(b.dropped, std::vector<std::string>{"e2|t"});
  for (const auto& j : b.jobs) {
    EXPECT_EQ(j.attempt, 1);
    EXPECT_EQ(j.event.type, "yoomoney.payment_aviso");
    EXPECT_EQ(j.event.received_at_ms, kT0);
  }
  EXPECT_EQ(b.jobs[1].event.id, "e3");
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:leased"}).integer, 2);
}

// Events stored before the packed layout (event_record.h) hold one hash field per part and "id": a Redis
// upgraded under a waiting queue still delivers them, follow-ups included, and the operator still reads them.
void storeOlderLayout(RedisServer& redis, const Event& e, const std::string& target) {
  redis.command({"HSET",
                 "{ph}:ev:" + e.id,
                 "id",
                 e.id,
                 "received_at",
                 std::to_string(e.received_at_ms),
                 "type",
                 e.type,
                 "route",
                 e.route,
                 "provider",
                 e.provider,
                 "verified",
                 e.verified ? "1" : "0",
                 "data",
                 e.data_json,
                 "idem",
                 e.idempotency_key,
                 "raw_method",
                 e.raw.method,
                 "raw_path",
                 e.raw.path,
                 "raw_query",
                 e.raw.query,
                 "raw_content_type",
                 e.raw.content_type,
                 "raw_body",
                 e.raw.body,
                 "state",
                 "pending",
                 "targets",
                 target});
  redis.command({"ZADD", "{ph}:due:" + target, std::to_string(e.received_at_ms), e.id + "|" + target});
  redis.command({"ZADD", "{ph}:events", std::to_string(e.received_at_ms), e.id});
  redis.command({"SADD", "{ph}:targets", target});
}

TEST_F(JobQueueTest, AnEventOfTheOlderLayoutIsClaimedAndFollowedUpAlike) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  const Event old = makeEvent("old", kT0);
  storeOlderLayout(redis, old, "orders");
  storeEvent(makeEvent("new", kT0 + 1), {"orders"});
  ClaimBatch b = claim(q, 10, kT0 + 10);
  ASSERT_EQ(b.jobs.size(), 2u);
  for (const ClaimedJob& j : b.jobs) {
    const Event want = makeEvent(j.event.id, j.event.id == "old" ? kT0 : kT0 + 1);
    EXPECT_FALSE(j.unreadable);
    EXPECT_EQ(j.event.type, want.type);
    EXPECT_EQ(j.event.route, want.route);
    EXPECT_EQ(j.event.provider, want.provider);
    EXPECT_EQ(j.event.received_at_ms, want.received_at_ms);
    EXPECT_TRUE(j.event.verified);
    EXPECT_EQ(j.event.data_json, want.data_json);
    EXPECT_EQ(j.event.raw.query, "a=1");
    EXPECT_EQ(j.event.raw.body, want.raw.body);
  }
  ASSERT_EQ(b.jobs[0].event.id, "old");
  FollowUp next{"@api", R"({"accept":true})"};
  auto r = await<Result<LeaseOutcome>>(
      [&](auto cb) { q.complete(b.jobs[0].lease, record(kT0 + 15, 200), next, cb); });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, LeaseOutcome::kApplied);
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:due:@api", "old|@api"}).str, std::to_string(kT0 + 15));
  auto c = await<Result<ClaimBatch>>([&](auto cb) { q.claim({{"@api", 4}}, kT0 + 20, kLease, cb); });
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->jobs.size(), 1u);
  EXPECT_EQ(c->jobs[0].decision, R"({"accept":true})");
  EXPECT_EQ(c->jobs[0].event.route, "shop");
  EXPECT_EQ(complete(q, c->jobs[0], kT0 + 25), LeaseOutcome::kApplied);
  EXPECT_EQ(evHash(redis, "old")["state"], "delivered");
  EXPECT_EQ(complete(q, b.jobs[1], kT0 + 25), LeaseOutcome::kApplied);
  EXPECT_EQ(evHash(redis, "new")["state"], "delivered");

  // The operator lists both by route and shows either's parts.
  ListPage page = listRoute("shop");
  ASSERT_EQ(page.events.size(), 2u);
  for (const EventSummary& s : page.events) {
    EXPECT_EQ(s.route, "shop");
    EXPECT_EQ(s.provider, "yoomoney");
    EXPECT_EQ(s.type, "yoomoney.payment_aviso");
    EXPECT_EQ(s.received_at_ms, s.id == "old" ? kT0 : kT0 + 1);
    EXPECT_TRUE(s.verified);
  }
  EXPECT_TRUE(listRoute("other").events.empty());
  for (const char* id : {"old", "new"}) {
    auto d = show(id);
    ASSERT_TRUE(d.has_value()) << id;
    EXPECT_EQ(d->idempotency_key, std::string("key-") + id);
    EXPECT_EQ(d->raw.body, old.raw.body);
    EXPECT_EQ(d->decision, id == std::string("old") ? R"({"accept":true})" : "");
    EXPECT_EQ(d->summary.route, "shop");
  }
}

// A packed field that does not decode (an operator's edit, corruption) neither stops the claim of the
// others nor crashes: its job comes back marked unreadable, for the engine to bury with a reason. So does a
// hash that lost its parts altogether; a hash that lost only "state" is still an event.
TEST_F(JobQueueTest, ADamagedEventHashIsClaimedAsUnreadableAndShownAsDamaged) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("cut", kT0), {"t"});
  storeEvent(makeEvent("bare", kT0 + 1), {"t"});
  storeEvent(makeEvent("stateless", kT0 + 2), {"t"});
  storeEvent(makeEvent("good", kT0 + 3), {"t"});
  const std::string packed = redis.command({"HGET", "{ph}:ev:cut", "e"}).str;
  redis.command({"HSET", "{ph}:ev:cut", "e", packed.substr(0, packed.size() - 3)});
  redis.command({"HDEL", "{ph}:ev:bare", "e"});
  redis.command({"HDEL", "{ph}:ev:stateless", "state"});
  ClaimBatch b = claim(q, 10, kT0 + 10);
  ASSERT_EQ(b.jobs.size(), 4u);
  EXPECT_TRUE(b.dropped.empty());
  EXPECT_EQ(b.jobs[0].event.id, "cut");
  EXPECT_TRUE(b.jobs[0].unreadable);
  EXPECT_TRUE(b.jobs[0].event.route.empty());
  EXPECT_EQ(b.jobs[1].event.id, "bare");
  EXPECT_TRUE(b.jobs[1].unreadable);
  for (size_t i : {2u, 3u}) {
    EXPECT_FALSE(b.jobs[i].unreadable) << b.jobs[i].event.id;
    EXPECT_EQ(b.jobs[i].event.route, "shop");
  }
  // The completion of an event that lost "state" is applied, not answered "gone".
  EXPECT_EQ(complete(q, b.jobs[2], kT0 + 20), LeaseOutcome::kApplied);
  EXPECT_EQ(evHash(redis, "stateless")["status:t"], "delivered");

  // The operator's view: a route filter does not match what does not decode, and show says it is damaged.
  std::set<std::string> listed;
  for (const auto& e : listRoute("shop").events) listed.insert(e.id);
  EXPECT_EQ(listed, (std::set<std::string>{"good", "stateless"}));
  for (const char* id : {"cut", "bare"}) {
    auto d = show(id);
    ASSERT_TRUE(d.has_value()) << id;
    EXPECT_TRUE(d->damaged) << id;
    EXPECT_TRUE(d->raw.body.empty()) << id;
  }
  auto good = show("good");
  ASSERT_TRUE(good.has_value());
  EXPECT_FALSE(good->damaged);
  EXPECT_EQ(good->raw.body, makeEvent("good", kT0).raw.body);
}

// The claim moves its jobs between sorted sets in bulk commands of at most 1000 arguments.
TEST_F(JobQueueTest, AClaimOfMoreJobsThanOneBulkCommandTakesThemAll) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  for (int i = 0; i < 1'200; ++i) storeEvent(makeEvent("e" + std::to_string(i), kT0 + i), {"t"});
  ClaimBatch b = claim(q, 1'200, kT0 + 10'000);
  EXPECT_EQ(b.jobs.size(), 1'200u);
  EXPECT_EQ(dueCount(redis), 0);
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:leased"}).integer, 1'200);
  EXPECT_EQ(b.jobs.back().lease.job_id, "e1199|t");
}

TEST_F(JobQueueTest, SweepAddsTheConfiguredTargetsToTheTargetSet) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e1", kT0), {"orders"});
  redis.command({"DEL", "{ph}:targets"});  // flushed under a busy store, say
  auto r = await<Result<SweepReport>>([&](auto cb) { q.sweep(kT0 + 10, 100, {"orders", "crm"}, cb); });
  ASSERT_TRUE(r);
  EXPECT_EQ(redis.command({"SCARD", "{ph}:targets"}).integer, 2);
  EXPECT_EQ(redis.command({"SISMEMBER", "{ph}:targets", "crm"}).integer, 1);
  // The depth it reports already counts the target's jobs.
  EXPECT_EQ(r->depth.due_by_target.size(), 2u);
  EXPECT_EQ(r->depth.due, 1);
}

// ---- leases ----

TEST_F(JobQueueTest, ExpiredLeaseIsSweptAndReclaimedAndTheFirstClaimantIsRefused) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e", kT0), {"t"});
  ClaimBatch first = claim(q, 10, kT0, 1000);
  ASSERT_EQ(first.jobs.size(), 1u);
  EXPECT_EQ(sweep(q, kT0 + 999).expired, 0u);
  EXPECT_TRUE(claim(q, 10, kT0 + 999).jobs.empty());  // still leased

  SweepReport s = sweep(q, kT0 + 1001);
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(s.repaired, 0u);
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:due:t", "e|t"}).str, std::to_string(kT0 + 1001));
  ClaimBatch second = claim(q, 10, kT0 + 1001, 1000);
  ASSERT_EQ(second.jobs.size(), 1u);
  EXPECT_EQ(second.jobs[0].attempt, 2);
  EXPECT_NE(second.jobs[0].lease.token, first.jobs[0].lease.token);

  // The late first claimant cannot finish, release or reschedule the job the second one holds.
  EXPECT_EQ(complete(q, first.jobs[0], kT0 + 1500), LeaseOutcome::kLeaseLost);
  EXPECT_EQ(reschedule(q, first.jobs[0], kT0 + 1500, kT0 + 9000), LeaseOutcome::kLeaseLost);
  auto rel = await<Result<LeaseOutcome>>([&](auto cb) { q.release(first.jobs[0].lease, kT0, cb); });
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(*rel, LeaseOutcome::kLeaseLost);
  EXPECT_EQ(evHash(redis, "e")["state"], "pending");
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:leased"}).integer, 1);
  EXPECT_TRUE(attempts(redis, "e").empty());

  EXPECT_EQ(complete(q, second.jobs[0], kT0 + 1500), LeaseOutcome::kApplied);
  EXPECT_EQ(evHash(redis, "e")["state"], "delivered");
  // Finished once: a second completion with the same lease is refused too.
  EXPECT_EQ(complete(q, second.jobs[0], kT0 + 1600), LeaseOutcome::kLeaseLost);
}

TEST_F(JobQueueTest, ASweptLeaseNobodyReclaimedCanStillBeCompleted) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e", kT0), {"t"});
  ClaimBatch b = claim(q, 10, kT0, 1000);
  ASSERT_EQ(sweep(q, kT0 + 2000).expired, 1u);
  EXPECT_EQ(complete(q, b.jobs[0], kT0 + 2100), LeaseOutcome::kApplied);
  EXPECT_EQ(dueCount(redis), 0);
  EXPECT_EQ(evHash(redis, "e")["state"], "delivered");
  EXPECT_TRUE(claim(q, 10, kT0 + 3000).jobs.empty());
}

TEST_F(JobQueueTest, TwoInstancesNeverClaimTheSameJobInsideALease) {
  RedisServer redis;
  RedisStore& s1 = addStore(redis.url());
  RedisStore& s2 = addStore(redis.url());
  ASSERT_TRUE(waitReady(s1));
  ASSERT_TRUE(waitReady(s2));
  JobQueue& q1 = addQueue(s1);
  JobQueue& q2 = addQueue(s2);
  for (int i = 0; i < 100; ++i) storeEvent(makeEvent("e" + std::to_string(i), kT0 + i), {"a", "b"});

  std::multiset<std::string> seen;
  std::set<std::string> tokens;
  int outstanding = 0;
  bool empty1 = false, empty2 = false;
  std::function<void(JobQueue&, bool&)> pull = [&](JobQueue& q, bool& empty) {
    ++outstanding;
    q.claim({{"a", 7}, {"b", 7}}, kT0 + 1000, kLease, [&](Result<ClaimBatch> r) {
      --outstanding;
      ASSERT_TRUE(r.ok()) << r.error().message;
      for (auto& j : r->jobs) {
        seen.insert(j.lease.job_id);
        tokens.insert(j.lease.token);
      }
      if (r->jobs.empty())
        empty = true;
      else
        pull(q, empty);
    });
  };
  pull(q1, empty1);
  pull(q2, empty2);
  ASSERT_TRUE(runUntil([&] { return outstanding == 0 && empty1 && empty2; }));
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 200u) << "a job was claimed twice";
  EXPECT_GE(tokens.size(), 2u);
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:leased"}).integer, 200);
}

// ---- transitions ----

TEST_F(JobQueueTest, RescheduleThenCompleteDeliversTheEventWhenEveryTargetIs) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e", kT0), {"orders", "crm"});
  ClaimBatch b = claim(q, 10, kT0);
  ASSERT_EQ(b.jobs.size(), 2u);
  const ClaimedJob& crm = b.jobs[0];
  const ClaimedJob& orders = b.jobs[1];
  ASSERT_EQ(orders.target, "orders");

  EXPECT_EQ(reschedule(q, orders, kT0 + 10, kT0 + 5000), LeaseOutcome::kApplied);
  auto h = evHash(redis, "e");
  EXPECT_EQ(h["state"], "retrying");
  EXPECT_EQ(h.count("lease:orders"), 0u);
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:due:orders", "e|orders"}).str, std::to_string(kT0 + 5000));
  EXPECT_EQ(strings(redis.command({"ZRANGE", "{ph}:leased", "0", "-1"})), std::vector<std::string>{"e|crm"});

  EXPECT_EQ(complete(q, crm, kT0 + 20), LeaseOutcome::kApplied);
  h = evHash(redis, "e");
  EXPECT_EQ(h["status:crm"], "delivered");
  EXPECT_EQ(h["state"], "retrying");  // orders is still owed

  EXPECT_TRUE(claim(q, 10, kT0 + 4999).jobs.empty());
  ClaimBatch again = claim(q, 10, kT0 + 5000);
  ASSERT_EQ(again.jobs.size(), 1u);
  EXPECT_EQ(again.jobs[0].attempt, 2);
  EXPECT_EQ(complete(q, again.jobs[0], kT0 + 5010), LeaseOutcome::kApplied);
  h = evHash(redis, "e");
  EXPECT_EQ(h["state"], "delivered");
  EXPECT_EQ(h["status:orders"], "delivered");
  EXPECT_EQ(dueCount(redis), 0);
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:leased"}).integer, 0);

  auto a = attempts(redis, "e");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0]["attempt"], 1);
  EXPECT_EQ(a[0]["target"], "orders");
  EXPECT_EQ(a[0]["result"], "retry");
  EXPECT_EQ(a[0]["status"], 503);
  EXPECT_EQ(a[0]["next_due"], kT0 + 5000);
  EXPECT_EQ(a[0]["at"], kT0 + 10);
  EXPECT_EQ(a[0]["latency_ms"], 12.5);
  EXPECT_EQ(a[1]["target"], "crm");
  EXPECT_EQ(a[1]["result"], "delivered");
  EXPECT_EQ(a[2]["attempt"], 2);
  EXPECT_EQ(a[2]["target"], "orders");
  EXPECT_EQ(a[2]["answer_head"], "ok");
}

TEST_F(JobQueueTest, BuryMakesTheEventDeadWhateverTheOtherTargetsDo) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e", kT0), {"orders", "crm"});
  ClaimBatch b = claim(q, 10, kT0);
  ASSERT_EQ(b.jobs.size(), 2u);
  auto r = await<Result<LeaseOutcome>>(
      [&](auto cb) { q.bury(b.jobs[1].lease, record(kT0 + 7, 410, "gone"), "410 Gone", cb); });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, LeaseOutcome::kApplied);
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:dead", "e|orders"}).str, std::to_string(kT0 + 7));
  auto h = evHash(redis, "e");
  EXPECT_EQ(h["state"], "dead");
  EXPECT_EQ(h["status:orders"], "dead");
  EXPECT_EQ(h["reason:orders"], "410 Gone");

  EXPECT_EQ(reschedule(q, b.jobs[0], kT0 + 8, kT0 + 100), LeaseOutcome::kApplied);
  EXPECT_EQ(evHash(redis, "e")["state"], "dead");
  ClaimBatch c = claim(q, 10, kT0 + 100);
  ASSERT_EQ(c.jobs.size(), 1u);
  EXPECT_EQ(complete(q, c.jobs[0], kT0 + 110), LeaseOutcome::kApplied);
  EXPECT_EQ(evHash(redis, "e")["state"], "dead");
  auto a = attempts(redis, "e");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0]["result"], "dead");
  EXPECT_EQ(a[0]["reason"], "410 Gone");

  auto d = await<Result<QueueDepth>>([&](auto cb) { q.depth(cb); });
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->due, 0);
  EXPECT_EQ(d->leased, 0);
  EXPECT_EQ(d->dead, 1);
}

TEST_F(JobQueueTest, ReleaseReturnsTheJobAndUncountsTheAttempt) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e", kT0), {"t"});
  ClaimBatch b = claim(q, 10, kT0 + 5);
  auto r = await<Result<LeaseOutcome>>([&](auto cb) { q.release(b.jobs[0].lease, kT0 + 6, cb); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, LeaseOutcome::kApplied);
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:due:t", "e|t"}).str, std::to_string(kT0 + 6));
  EXPECT_EQ(redis.command({"ZCARD", "{ph}:leased"}).integer, 0);
  auto h = evHash(redis, "e");
  EXPECT_EQ(h["attempts:t"], "0");
  EXPECT_EQ(h["state"], "pending");
  EXPECT_TRUE(attempts(redis, "e").empty());
  ClaimBatch again = claim(q, 10, kT0 + 6);
  ASSERT_EQ(again.jobs.size(), 1u);
  EXPECT_EQ(again.jobs[0].attempt, 1);
}

TEST_F(JobQueueTest, JobsFinishedTogetherAreEachAppliedAsIfAlone) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  for (int i = 0; i < 6; ++i) storeEvent(makeEvent("e" + std::to_string(i), kT0 + i), {"t"});
  ClaimBatch b = claim(q, 10, kT0 + 10);
  ASSERT_EQ(b.jobs.size(), 6u);
  // e2's lease was taken over by another claim; e3's event was purged; the rest finish four ways.
  JobLease stale = b.jobs[2].lease;
  stale.token = "someone-else";
  redis.command({"DEL", "{ph}:ev:e3"});

  std::vector<std::optional<Result<LeaseOutcome>>> got(6);
  auto into = [&](size_t i) { return [&got, i](Result<LeaseOutcome> r) { got[i].emplace(std::move(r)); }; };
  q.complete(b.jobs[0].lease, record(kT0 + 20, 200), into(0));
  q.reschedule(b.jobs[1].lease, record(kT0 + 21, 503), kT0 + 5000, into(1));
  q.complete(stale, record(kT0 + 22, 200), into(2));
  q.complete(b.jobs[3].lease, record(kT0 + 23, 200), into(3));
  q.bury(b.jobs[4].lease, record(kT0 + 24, 410), "410 Gone", into(4));
  q.release(b.jobs[5].lease, kT0 + 25, into(5));
  for (const auto& g : got) EXPECT_FALSE(g.has_value()) << "a callback ran inside its call";
  ASSERT_TRUE(runUntil([&] {
    for (const auto& g : got)
      if (!g) return false;
    return true;
  }));
  const LeaseOutcome want[] = {LeaseOutcome::kApplied,   LeaseOutcome::kApplied, LeaseOutcome::kLeaseLost,
                               LeaseOutcome::kEventGone, LeaseOutcome::kApplied, LeaseOutcome::kApplied};
  for (size_t i = 0; i < 6; ++i) {
    ASSERT_TRUE(got[i]->ok()) << i << ": " << got[i]->error().message;
    EXPECT_EQ(got[i]->value(), want[i]) << i;
  }
  EXPECT_EQ(evHash(redis, "e0")["state"], "delivered");
  EXPECT_EQ(evHash(redis, "e1")["state"], "retrying");
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:due:t", "e1|t"}).str, std::to_string(kT0 + 5000));
  EXPECT_EQ(evHash(redis, "e2")["state"], "pending");  // untouched: still leased to its claim
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:leased", "e3|t"}).type, RedisReply::kNil);
  EXPECT_EQ(evHash(redis, "e4")["state"], "dead");
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:due:t", "e5|t"}).str, std::to_string(kT0 + 25));
  EXPECT_EQ(strings(redis.command({"ZRANGE", "{ph}:leased", "0", "-1"})), std::vector<std::string>{"e2|t"});
  EXPECT_EQ(attempts(redis, "e0").size(), 1u);
  EXPECT_EQ(attempts(redis, "e1")[0]["result"], "retry");
  EXPECT_EQ(attempts(redis, "e4")[0]["reason"], "410 Gone");
  EXPECT_TRUE(attempts(redis, "e5").empty());
}

TEST_F(JobQueueTest, AQueueDestroyedWithFinishesWaitingFailsEachOnce) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  for (int i = 0; i < 3; ++i) storeEvent(makeEvent("e" + std::to_string(i), kT0 + i), {"t"});
  ClaimBatch b = claim(q, 10, kT0 + 10);
  ASSERT_EQ(b.jobs.size(), 3u);
  std::vector<int> calls(3, 0);
  std::vector<bool> failed(3, false);
  for (size_t i = 0; i < 3; ++i)
    q.complete(b.jobs[i].lease, record(kT0 + 20, 200), [&calls, &failed, i](Result<LeaseOutcome> r) {
      ++calls[i];
      failed[i] = !r.ok();
    });
  // The first went out at once; the other two wait for it, and go nowhere once the queue is gone.
  queues_.clear();
  EXPECT_EQ(calls[1], 1);
  EXPECT_EQ(calls[2], 1);
  EXPECT_TRUE(failed[1]);
  EXPECT_TRUE(failed[2]);
  ASSERT_TRUE(runUntil([&] { return calls[0] == 1; }));
  EXPECT_FALSE(failed[0]);
  EXPECT_EQ(evHash(redis, "e0")["state"], "delivered");
  EXPECT_EQ(evHash(redis, "e1")["state"], "pending");
}

TEST_F(JobQueueTest, AttemptsAreRecordedAndCapped) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis, /*attempts_kept=*/5);
  storeEvent(makeEvent("e", kT0), {"t"});
  // An answer longer than 1 KiB with bytes that are not UTF-8.
  std::string answer = std::string(2000, 'x');
  answer[3] = '\xff';
  for (int i = 0; i < 8; ++i) {
    ClaimBatch b = claim(q, 10, kT0 + i * 100);
    ASSERT_EQ(b.jobs.size(), 1u);
    ASSERT_EQ(b.jobs[0].attempt, i + 1);
    auto r = await<Result<LeaseOutcome>>([&](auto cb) {
      q.reschedule(b.jobs[0].lease, record(kT0 + i * 100, 500, answer), kT0 + (i + 1) * 100, cb);
    });
    ASSERT_TRUE(r.ok());
  }
  auto a = attempts(redis, "e");
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a.front()["attempt"], 4);
  EXPECT_EQ(a.back()["attempt"], 8);
  std::string head = a.back()["answer_head"];
  EXPECT_EQ(head.substr(0, 3), "xxx");
  EXPECT_EQ(head.substr(3, 3), "\xef\xbf\xbd");  // U+FFFD
  EXPECT_EQ(head.size(), 1024u + 2);             // cut at 1 KiB, one byte became three
}

// ---- sweep: repair ----

TEST_F(JobQueueTest, SweepRecreatesLostJobsOnceAndLeavesSettledEventsAlone) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("lost", kT0), {"orders", "crm"});
  storeEvent(makeEvent("fine", kT0 + 1), {"orders"});
  storeEvent(makeEvent("old", kT0 - 7'200'000), {"orders"});  // outside the one-hour window
  redis.command({"ZREM", "{ph}:due:crm", "lost|crm"});
  redis.command({"ZREM", "{ph}:due:orders", "old|orders"});

  SweepReport s = sweep(q, kT0 + 100);
  EXPECT_EQ(s.repaired, 1u);
  EXPECT_EQ(s.scanned, 2u);
  EXPECT_TRUE(s.wrapped);
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:due:crm", "lost|crm"}).str, std::to_string(kT0 + 100));
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:due:orders", "old|orders"}).type, RedisReply::kNil);
  EXPECT_EQ(sweep(q, kT0 + 200).repaired, 0u);

  // Jobs leased, dead or delivered are not lost.
  ClaimBatch b = claim(q, 10, kT0 + 300);
  ASSERT_EQ(b.jobs.size(), 3u);
  EXPECT_EQ(complete(q, b.jobs[0], kT0 + 301), LeaseOutcome::kApplied);
  ASSERT_TRUE(await<Result<LeaseOutcome>>([&](auto cb) {
                q.bury(b.jobs[1].lease, record(kT0, 410), "gone", cb);
              }).ok());
  EXPECT_EQ(sweep(q, kT0 + 400).repaired, 0u);
  EXPECT_EQ(dueCount(redis), 0);
}

TEST_F(JobQueueTest, SweepCursorResumesInsideOneMillisecond) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  for (int i = 0; i < 25; ++i) storeEvent(makeEvent("same" + std::to_string(i), kT0), {"t"});
  redis.command({"DEL", "{ph}:due:t"});
  size_t scanned = 0, repaired = 0;
  for (int i = 0; i < 3; ++i) {
    SweepReport s = sweep(q, kT0 + 10, 10);
    scanned += s.scanned;
    repaired += s.repaired;
    EXPECT_EQ(s.wrapped, i == 2);
  }
  EXPECT_EQ(scanned, 25u);
  EXPECT_EQ(repaired, 25u);
  EXPECT_EQ(dueCount(redis), 25);
}

// ---- per-target due sets ----

TEST_F(JobQueueTest, ABacklogOfOneTargetNeverHidesAnotherTargetsJobs) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  for (int i = 0; i < 200; ++i) storeEvent(makeEvent("slow" + std::to_string(i), kT0 + i), {"slow"});
  storeEvent(makeEvent("fast", kT0 + 500), {"fast"});
  // The slow target has no room now: it is not asked at all, and the fast one gets its job at once.
  auto r = await<Result<ClaimBatch>>([&](auto cb) { q.claim({{"fast", 8}}, kT0 + 1000, kLease, cb); });
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->jobs.size(), 1u);
  EXPECT_EQ(r->jobs[0].lease.job_id, "fast|fast");
  EXPECT_EQ(r->taken["fast"], 1u);
  // Asked for 8, the slow one gives exactly 8, and says it was full.
  r = await<Result<ClaimBatch>>([&](auto cb) {
    q.claim({{"slow", 8}, {"fast", 8}}, kT0 + 1000, kLease, cb);
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->jobs.size(), 8u);
  EXPECT_EQ(r->taken["slow"], 8u);
  EXPECT_EQ(r->taken.count("fast"), 0u);

  auto d = await<Result<QueueDepth>>([&](auto cb) { q.depth(cb); });
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->due_by_target["slow"], 192);
  EXPECT_EQ(d->due_by_target["fast"], 0);
  EXPECT_EQ(d->due, 192);
  EXPECT_EQ(d->leased, 9);
  // The sweep reports the same depth.
  SweepReport s = sweep(q, kT0 + 1000);
  EXPECT_EQ(s.depth.due_by_target["slow"], 192);
  EXPECT_EQ(s.depth.leased, 9);
}

TEST_F(JobQueueTest, ExpiredLeasesGoBackToTheirOwnTargetsDueSet) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e", kT0), {"orders", "crm"});
  ASSERT_EQ(claim(q, 10, kT0, 1000).jobs.size(), 2u);
  EXPECT_EQ(sweep(q, kT0 + 2000).expired, 2u);
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:due:orders", "e|orders"}).str, std::to_string(kT0 + 2000));
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:due:crm", "e|crm"}).str, std::to_string(kT0 + 2000));
}

// ---- follow-up jobs (Integra's API call after the decision) ----

TEST_F(JobQueueTest, ACompletionQueuesItsFollowUpAtomicallyAndOnlyOnce) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e", kT0), {"orders"});
  ClaimBatch b = claim(q, 10, kT0);
  ASSERT_EQ(b.jobs.size(), 1u);
  FollowUp next{"@api", R"({"accept":true})"};
  auto r = await<Result<LeaseOutcome>>(
      [&](auto cb) { q.complete(b.jobs[0].lease, record(kT0 + 5, 200), next, cb); });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, LeaseOutcome::kApplied);
  auto h = evHash(redis, "e");
  EXPECT_EQ(h["targets"], "orders,@api");
  EXPECT_EQ(h["decision"], R"({"accept":true})");
  EXPECT_EQ(h["status:orders"], "delivered");
  EXPECT_EQ(h["state"], "pending");  // the API call is still owed
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:due:@api", "e|@api"}).str, std::to_string(kT0 + 5));
  EXPECT_EQ(redis.command({"SISMEMBER", "{ph}:targets", "@api"}).integer, 1);

  // The follow-up job carries the decision; completing it delivers the event.
  auto c = await<Result<ClaimBatch>>([&](auto cb) { q.claim({{"@api", 4}}, kT0 + 10, kLease, cb); });
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->jobs.size(), 1u);
  EXPECT_EQ(c->jobs[0].target, "@api");
  EXPECT_EQ(c->jobs[0].decision, R"({"accept":true})");
  EXPECT_EQ(complete(q, c->jobs[0], kT0 + 20), LeaseOutcome::kApplied);
  EXPECT_EQ(evHash(redis, "e")["state"], "delivered");
  // A repair sweep does not queue it again.
  EXPECT_EQ(sweep(q, kT0 + 30).repaired, 0u);
  EXPECT_EQ(dueCount(redis), 0);

  // The notify delivered again (an operator's replay) with another answer: the decision carried out stays,
  // and Integra is not called again.
  redis.command({"HDEL", "{ph}:ev:e", "status:orders"});
  redis.command({"ZADD", "{ph}:due:orders", std::to_string(kT0 + 40), "e|orders"});
  ClaimBatch again = claim(q, 10, kT0 + 40);
  ASSERT_EQ(again.jobs.size(), 1u);
  FollowUp changed{"@api", R"({"accept":false})"};
  ASSERT_TRUE(await<Result<LeaseOutcome>>([&](auto cb) {
                q.complete(again.jobs[0].lease, record(kT0 + 45, 200), changed, cb);
              }).ok());
  EXPECT_EQ(evHash(redis, "e")["decision"], R"({"accept":true})");
  EXPECT_EQ(dueCount(redis), 0);
}

TEST_F(JobQueueTest, AFollowUpWithoutATargetRecordsTheDecisionAlone) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e", kT0), {"orders"});
  ClaimBatch b = claim(q, 10, kT0);
  FollowUp none{"@api", R"({"accept":null})", false};
  auto r = await<Result<LeaseOutcome>>(
      [&](auto cb) { q.complete(b.jobs[0].lease, record(kT0 + 5, 200), none, cb); });
  ASSERT_TRUE(r.ok());
  auto h = evHash(redis, "e");
  EXPECT_EQ(h["decision"], R"({"accept":null})");
  EXPECT_EQ(h["targets"], "orders");
  EXPECT_EQ(h["state"], "delivered");
  EXPECT_EQ(dueCount(redis), 0);
}

TEST_F(JobQueueTest, AConfirmedRecheckRewritesTheEventAndQueuesItsTargetsAtomically) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  Event e = makeEvent("e", kT0);
  e.verified = false;
  storeEvent(e, {"@api"});
  auto c = await<Result<ClaimBatch>>([&](auto cb) { q.claim({{"@api", 4}}, kT0, kLease, cb); });
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->jobs.size(), 1u);
  EXPECT_EQ(c->jobs[0].event.data_json, e.data_json);

  RecheckOutcome confirmed;
  confirmed.confirmed = true;
  confirmed.event = c->jobs[0].event;
  confirmed.event.verified = true;
  confirmed.event.data_json = R"({"order_id":"42","amount":"12.00"})";
  confirmed.event.listing.keys = {"42", "p-1"};
  confirmed.event.listing.amount = "12.00";
  confirmed.event.listing.status = "payment.succeeded";
  confirmed.event.listing.outcome = "succeeded";
  confirmed.targets = {"orders", "crm"};
  confirmed.note = "confirmed by the API";
  auto r = await<Result<LeaseOutcome>>(
      [&](auto cb) { q.settle(c->jobs[0].lease, record(kT0 + 5, 200), confirmed, cb); });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, LeaseOutcome::kApplied);
  auto h = evHash(redis, "e");
  EXPECT_EQ(h["targets"], "@api,orders,crm");
  EXPECT_EQ(h["status:@api"], "delivered");
  EXPECT_EQ(h["state"], "pending");
  EXPECT_EQ(h["recheck"], "confirmed by the API");
  EXPECT_EQ(h["verified"], "1");
  EXPECT_EQ(h["data"], R"({"order_id":"42","amount":"12.00"})");
  EXPECT_EQ(h["raw_body"], e.raw.body);
  EXPECT_EQ(attempts(redis, "e").back()["result"], "confirmed");
  // The listing is the API's, and the event is found by its keys.
  EXPECT_EQ(record::unpackListing(h["ix"]).amount, "12.00");
  EXPECT_EQ(strings(redis.command({"ZRANGE", "{ph}:find", "0", "-1"})),
            (std::vector<std::string>{"42\ne", "p-1\ne"}));

  // The targets get the rewritten event; once both have it, the event is delivered.
  ClaimBatch b = claim(q, 10, kT0 + 10);
  ASSERT_EQ(b.jobs.size(), 2u);
  for (const auto& j : b.jobs) {
    EXPECT_TRUE(j.event.verified);
    EXPECT_EQ(j.event.data_json, R"({"order_id":"42","amount":"12.00"})");
    EXPECT_EQ(complete(q, j, kT0 + 20), LeaseOutcome::kApplied);
  }
  EXPECT_EQ(evHash(redis, "e")["state"], "delivered");
  EXPECT_EQ(sweep(q, kT0 + 30).repaired, 0u);
  EXPECT_EQ(dueCount(redis), 0);
}

TEST_F(JobQueueTest, ARefutedRecheckKeepsTheEventAndQueuesNothing) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e", kT0), {"@api"});
  auto c = await<Result<ClaimBatch>>([&](auto cb) { q.claim({{"@api", 4}}, kT0, kLease, cb); });
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->jobs.size(), 1u);
  RecheckOutcome refuted;
  refuted.event = c->jobs[0].event;
  refuted.event.listing.keys = {"42"};
  refuted.event.listing.status = "payment.succeeded (refuted)";
  refuted.event.listing.outcome = "pending";
  refuted.note = "the API reports another status";
  refuted.targets = {"orders"};  // never queued for a refutation
  auto r = await<Result<LeaseOutcome>>(
      [&](auto cb) { q.settle(c->jobs[0].lease, record(kT0 + 5, 200), refuted, cb); });
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto h = evHash(redis, "e");
  EXPECT_EQ(h["targets"], "@api");
  EXPECT_EQ(h["status:@api"], "refuted");
  EXPECT_EQ(h["reason:@api"], "the API reports another status");
  EXPECT_EQ(h["state"], "stored");
  EXPECT_EQ(h["data"], makeEvent("e", kT0).data_json);
  EXPECT_EQ(attempts(redis, "e").back()["result"], "refuted");
  EXPECT_EQ(record::unpackListing(h["ix"]).status, "payment.succeeded (refuted)");
  EXPECT_EQ(record::unpackListing(h["ix"]).outcome, "pending");
  EXPECT_EQ(strings(redis.command({"ZRANGE", "{ph}:find", "0", "-1"})), (std::vector<std::string>{"42\ne"}));
  EXPECT_EQ(dueCount(redis), 0);
  EXPECT_EQ(sweep(q, kT0 + 30).repaired, 0u);
  EXPECT_EQ(redis.command({"ZSCORE", "{ph}:events:done", "e"}).str, std::to_string(kT0 + 5));
  // A second settlement under the same lease changes nothing.
  EXPECT_EQ(*await<Result<LeaseOutcome>>(
                [&](auto cb) { q.settle(c->jobs[0].lease, record(kT0 + 6, 200), refuted, cb); }),
            LeaseOutcome::kLeaseLost);
}

// ---- Redis trouble ----

TEST_F(JobQueueTest, RedisRestartedEmptyLeavesNothingStuck) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("e", kT0), {"t"});
  ClaimBatch b = claim(q, 10, kT0);
  ASSERT_EQ(b.jobs.size(), 1u);
  // The AOF replays the FLUSHALL, so the restarted Redis is empty, scripts included.
  redis.command({"FLUSHALL"});
  redis.command({"SCRIPT", "FLUSH"});
  redis.kill();
  redis.start();
  RedisStore& s = *stores_.front();
  ASSERT_TRUE(waitReady(s));
  // Until the store notices its old connection is gone, a claim may fail: retry; what matters is that
  // claiming works again without any help.
  ClaimBatch after;
  ASSERT_TRUE(runUntil([&] {
    auto r = await<Result<ClaimBatch>>([&](auto cb) { q.claim(wantsOf(10), kT0 + 1000, kLease, cb); });
    if (!r) return false;
    after = std::move(r).value();
    return true;
  }));
  EXPECT_TRUE(after.jobs.empty());
  EXPECT_TRUE(after.dropped.empty());
  EXPECT_EQ(complete(q, b.jobs[0], kT0 + 1000), LeaseOutcome::kEventGone);
  EXPECT_EQ(sweep(q, kT0 + 2000).expired, 0u);
  auto d = await<Result<QueueDepth>>([&](auto cb) { q.depth(cb); });
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->due + d->leased + d->dead, 0);
  // And new events flow again.
  storeEvent(makeEvent("e2", kT0 + 3000), {"t"});
  EXPECT_EQ(claim(q, 10, kT0 + 3000).jobs.size(), 1u);
}

TEST_F(JobQueueTest, RecoversFromAFlushedScriptCache) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  storeEvent(makeEvent("a", kT0), {"t"});
  storeEvent(makeEvent("b", kT0 + 1), {"t"});
  ASSERT_EQ(claim(q, 1, kT0 + 10).jobs.size(), 1u);
  ASSERT_EQ(redis.command({"SCRIPT", "FLUSH"}).type, RedisReply::kStatus);
  ClaimBatch b = claim(q, 1, kT0 + 10);
  ASSERT_EQ(b.jobs.size(), 1u);
  EXPECT_EQ(b.jobs[0].lease.job_id, "b|t");
  EXPECT_EQ(complete(q, b.jobs[0], kT0 + 20), LeaseOutcome::kApplied);
  EXPECT_TRUE(claim(q, 1, kT0 + 10).jobs.empty());
  std::string stats = redis.command({"INFO", "commandstats"}).str;
  // EVAL three times: the first claim and the first complete (sha not yet known), and the claim whose
  // EVALSHA met NOSCRIPT after the flush; the last claim used EVALSHA again.
  EXPECT_NE(stats.find("cmdstat_eval:calls=3,"), std::string::npos) << stats;
}

TEST_F(JobQueueTest, ClaimingTenOfAHundredThousandDueJobs) {
  RedisServer redis;
  JobQueue& q = setUpQueue(redis);
  for (int i = 0; i < 10; ++i) storeEvent(makeEvent("real" + std::to_string(i), kT0 + i), {"t"});
  // 100k more jobs due later, as a long queue looks; their events need not exist.
  for (int chunk = 0; chunk < 10; ++chunk) {
    std::vector<std::string> argv{"ZADD", "{ph}:due:t"};
    for (int i = 0; i < 10'000; ++i) {
      int n = chunk * 10'000 + i;
      argv.push_back(std::to_string(kT0 + 1000 + n));
      argv.push_back("bulk" + std::to_string(n) + "|t");
    }
    redis.command(argv);
  }
  ASSERT_EQ(dueCount(redis), 100'010);
  auto start = Clock::now();
  ClaimBatch b = claim(q, 10, kT0 + 500'000);
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
  std::printf("claim of 10 from 100010 due jobs: %lld us\n", static_cast<long long>(took));
  ASSERT_EQ(b.jobs.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.jobs[i].event.id, "real" + std::to_string(i));
  EXPECT_TRUE(b.dropped.empty());
  EXPECT_EQ(dueCount(redis), 100'000);
}

}  // namespace
}  // namespace payhook::queue
