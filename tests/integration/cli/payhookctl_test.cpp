// payhookctl's queue commands, the real binary against a real redis-server while payhookd is NOT running:
// Redis is seeded in process by the real RedisStore and JobQueue with one event in every state, then each
// command runs in text and --json, and the assertions are about its output, its exit code and Redis' state.
// The Redis has a password, which no output may show. Also: listen, usage errors and --help everywhere.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/event.h"
#include "common/webhook_signature.h"
#include "queue/job_queue.h"
#include "queue/redis_event_store.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/store_inspect.h"
#include "uv/handle.h"

namespace payhook::testing {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kRedisPassword = "redis-pw-Zq8Vh2";

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct CtlRun {
  int code = -1;
  std::string out;  // stdout and stderr together
  json doc() const {
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
  }
};

// Seeds Redis the way payhookd would: RedisStore::store() for the events, JobQueue for what the delivery
// engine did to them. Runs its own loop on the test thread.
class Seeder {
 public:
  explicit Seeder(const std::string& url) {
    uv_loop_init(&loop_);
    queue::RedisStoreOptions o;
    o.url = url;
    store_ = std::make_unique<queue::RedisStore>(&loop_, o);
    store_->start();
    queue_ = std::make_unique<queue::JobQueue>(*store_, queue::JobQueueOptions{});
    if (!runUntil([&] { return store_->ready(); })) throw std::runtime_error("seeder: redis not ready");
  }
  ~Seeder() {
    store_->stop();
    auto start = SteadyClock::now();
    while (uv_loop_alive(&loop_) && SteadyClock::now() - start < std::chrono::seconds(3))
      uv_run(&loop_, UV_RUN_NOWAIT);
    queue_.reset();
    store_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  // The event's keys: its order number ("order-<id>" unless given) and its webhook-id ("msg-<id>").
  void store(const std::string& id, const std::string& route, int64_t at, std::vector<std::string> targets,
             const std::string& order = "") {
    Event e;
    e.id = id;
    e.type = "invoice.paid";
    e.route = route;
    e.provider = "standard-webhooks";
    e.received_at_ms = at;
    e.verified = true;
    e.data_json = R"({"amount":"10.50","order":")" + id + R"(","webhook_id":"msg-)" + id + R"("})";
    e.idempotency_key = "msg-" + id;
    e.listing = {{order.empty() ? "order-" + id : order, "msg-" + id}, "10.50", "RUB", "paid", "succeeded"};
    e.raw = RawRequest{"POST", "/hooks/" + route, "", "application/json", "{\"body-of\":\"" + id + "\"}"};
    queue::StoreSpec spec;
    spec.targets = std::move(targets);
    auto r = await<queue::StoreResult>([&](auto cb) { store_->store(e, spec, cb); });
    if (r.outcome != queue::StoreOutcome::kStored) throw std::runtime_error("store: " + r.error);
  }

  std::vector<queue::ClaimedJob> claim(size_t max) {
    auto r = await<Result<queue::ClaimBatch>>([&](auto cb) {
      queue_->claim({{"orders", max}}, nowMs(), 60'000, cb);
    });
    if (!r) throw std::runtime_error("claim: " + r.error().message);
    return r->jobs;
  }

  void finish(const char* how, const queue::ClaimedJob& j) {
    const std::string mode = how;
    queue::AttemptRecord rec{nowMs(),
                             mode == "complete" ? 200
                             : mode == "bury"   ? 410
                                                : 503,
                             "", 4.0, mode == "bury" ? "gone for good" : "busy"};
    auto r = await<Result<queue::LeaseOutcome>>([&](auto cb) {
      if (mode == "complete")
        queue_->complete(j.lease, rec, cb);
      else if (mode == "bury")
        queue_->bury(j.lease, rec, "HTTP 410: the app asked to stop", cb);
      else
        queue_->reschedule(j.lease, rec, nowMs() + 3'600'000, cb);
    });
    if (!r || *r != queue::LeaseOutcome::kApplied) throw std::runtime_error(std::string("finish: ") + how);
  }

 private:
  bool runUntil(const std::function<bool()>& pred) {
    uv::Timer tick(&loop_);
    tick.start(
        5, [] {}, 5);
    auto start = SteadyClock::now();
    while (!pred() && SteadyClock::now() - start < std::chrono::seconds(5)) uv_run(&loop_, UV_RUN_ONCE);
    tick.close();
    return pred();
  }
  template <class T>
  T await(const std::function<void(std::function<void(T)>)>& start) {
    auto slot = std::make_shared<std::optional<T>>();
    start([slot](T r) { slot->emplace(std::move(r)); });
    if (!runUntil([&] { return slot->has_value(); })) throw std::runtime_error("no answer");
    return std::move(**slot);
  }

  uv_loop_t loop_{};
  std::unique_ptr<queue::RedisStore> store_;
  std::unique_ptr<queue::JobQueue> queue_;
};

// Events, oldest first: receipt times a minute apart, ending 10 minutes ago.
//   ev-delivered  shop   delivered to orders
//   ev-retrying   shop   failed once, next attempt in an hour
//   ev-dead       shop   buried (410)
//   ev-dead-other other  buried (410)
//   ev-pending    shop   queued, never attempted
//   ev-stored     shop   no targets
class PayhookctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RedisServer::Options redis_options;
    redis_options.password = kRedisPassword;
    redis_ = std::make_unique<RedisServer>(redis_options);
    DaemonOptions o;
    o.redis_url = redis_->url();
    config_ = std::make_unique<DaemonProcess>(o);  // never started: it only writes the config
    const int64_t base = nowMs() - 16 * 60'000;
    Seeder s(redis_->url());
    s.store("ev-delivered", "shop", base + 1 * 60'000, {"orders"});
    s.store("ev-retrying", "shop", base + 2 * 60'000, {"orders"});
    s.store("ev-dead", "shop", base + 3 * 60'000, {"orders"});
    s.store("ev-dead-other", "other", base + 4 * 60'000, {"orders"});
    auto jobs = s.claim(10);
    ASSERT_EQ(jobs.size(), 4u);
    s.finish("complete", jobs[0]);
    s.finish("reschedule", jobs[1]);
    s.finish("bury", jobs[2]);
    s.finish("bury", jobs[3]);
    s.store("ev-pending", "shop", base + 5 * 60'000, {"orders"});
    s.store("ev-stored", "shop", base + 6 * 60'000, {});
  }

  CtlRun ctl(std::vector<std::string> args, bool with_config = true) {
    std::vector<std::string> argv{PAYHOOKCTL_PATH};
    if (with_config) argv.insert(argv.end(), {"-c", config_->configPath()});
    argv.insert(argv.end(), args.begin(), args.end());
    CtlRun r;
    r.code = runProgram(argv, &r.out);
    EXPECT_EQ(r.out.find(kRedisPassword), std::string::npos) << "the Redis password was printed";
    return r;
  }

  std::map<std::string, std::string> ev(const std::string& id) {
    return eventHash(*redis_, "{payhook}:ev:" + id);
  }
  std::optional<int64_t> score(const std::string& key, const std::string& member) {
    auto r = redis_->command({"ZSCORE", key, member});
    if (r.type != RedisReply::kString) return std::nullopt;
    return std::stoll(r.str);
  }

  std::vector<std::string> listIds(const std::vector<std::string>& extra) {
    std::vector<std::string> args{"list", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    CtlRun r = ctl(args);
    std::vector<std::string> ids;
    json j = r.doc();
    for (const auto& e : j["events"]) ids.push_back(e["id"]);
    return ids;
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<DaemonProcess> config_;
};

TEST_F(PayhookctlTest, StatsCountsEveryPlace) {
  CtlRun text = ctl({"stats"});
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_NE(text.out.find("events   6"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("redis    redis://"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("TARGET  DUE  OVERDUE"), std::string::npos) << text.out;

  CtlRun js = ctl({"stats", "--json"});
  ASSERT_EQ(js.code, 0) << js.out;
  json j = js.doc();
  EXPECT_EQ(j["events"], 6);
  EXPECT_EQ(j["due"], 2);  // pending (due now) and retrying (due in an hour)
  EXPECT_EQ(j["overdue"], 1);
  EXPECT_EQ(j["leased"], 0);
  EXPECT_EQ(j["dead"], 2);
  EXPECT_EQ(j["dead_by_route"], (json{{"other", 1}, {"shop", 1}}));
  ASSERT_EQ(j["targets"].size(), 1u);
  EXPECT_EQ(j["targets"][0]["name"], "orders");
  EXPECT_EQ(j["targets"][0]["dead"], 2);
}

TEST_F(PayhookctlTest, ListFindsEveryStateAndRoute) {
  const std::map<std::string, std::vector<std::string>> want{{"pending", {"ev-pending"}},
                                                             {"retrying", {"ev-retrying"}},
                                                             {"delivered", {"ev-delivered"}},
                                                             {"dead", {"ev-dead", "ev-dead-other"}},
                                                             {"stored", {"ev-stored"}}};
  for (const auto& [state, ids] : want) {
    auto got = listIds({"--state", state});
    if (state == "dead") std::sort(got.begin(), got.end());  // buried within one millisecond, maybe
    EXPECT_EQ(got, ids) << state;
    CtlRun text = ctl({"list", "--state", state});
    EXPECT_EQ(text.code, 0) << text.out;
    for (const auto& id : ids) EXPECT_NE(text.out.find(id), std::string::npos) << text.out;
  }
  EXPECT_EQ(listIds({}), (std::vector<std::string>{"ev-stored", "ev-pending", "ev-dead-other", "ev-dead",
                                                   "ev-retrying", "ev-delivered"}));
  EXPECT_EQ(listIds({"--route", "other"}), (std::vector<std::string>{"ev-dead-other"}));
  EXPECT_EQ(listIds({"--since", "750s", "--until", "630s"}),
            (std::vector<std::string>{"ev-pending", "ev-dead-other"}));

  // A dead row says which target died and why; a retrying one what its last attempt got.
  CtlRun dead = ctl({"list", "--state", "dead"});
  EXPECT_NE(dead.out.find("HTTP 410: the app asked to stop"), std::string::npos) << dead.out;
  CtlRun all = ctl({"list"});
  EXPECT_NE(all.out.find("orders:due(1)"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("HTTP 503 → retry"), std::string::npos) << all.out;

  CtlRun none = ctl({"list", "--state", "delivered", "--route", "other"});
  EXPECT_EQ(none.code, 1) << none.out;
  EXPECT_NE(none.out.find("no events match"), std::string::npos);
  CtlRun none_json = ctl({"list", "--state", "delivered", "--route", "other", "--json"});
  EXPECT_EQ(none_json.code, 1);
  EXPECT_EQ(none_json.doc()["events"].size(), 0u);
}

TEST_F(PayhookctlTest, ListPagesWithACursor) {
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    std::vector<std::string> args{"list", "--json", "--limit", "2"};
    if (!cursor.empty()) args.insert(args.end(), {"--cursor", cursor});
    CtlRun r = ctl(args);
    ASSERT_EQ(r.code, 0) << r.out;
    json j = r.doc();
    EXPECT_LE(j["events"].size(), 2u);
    for (const auto& e : j["events"]) seen.push_back(e["id"]);
    cursor = j["next_cursor"].is_null() ? "" : j["next_cursor"].get<std::string>();
    ASSERT_LT(++pages, 10);
  } while (!cursor.empty());
  EXPECT_EQ(seen, (std::vector<std::string>{"ev-stored", "ev-pending", "ev-dead-other", "ev-dead",
                                            "ev-retrying", "ev-delivered"}));
  CtlRun text = ctl({"list", "--limit", "2"});
  EXPECT_NE(text.out.find("more: --cursor "), std::string::npos) << text.out;
}

TEST_F(PayhookctlTest, ShowPrintsTheEventAndEveryAttempt) {
  CtlRun text = ctl({"show", "ev-dead"});
  ASSERT_EQ(text.code, 0) << text.out;
  for (const char* want :
       {"ev-dead", "shop (standard-webhooks)", "msg-ev-dead", "\"amount\": \"10.50\"", "POST /hooks/shop",
        "{\"body-of\":\"ev-dead\"}", "HTTP 410: the app asked to stop", "410", "dead"})
    EXPECT_NE(text.out.find(want), std::string::npos) << want << "\n" << text.out;

  CtlRun js = ctl({"show", "ev-retrying", "--json"});
  ASSERT_EQ(js.code, 0) << js.out;
  json j = js.doc();
  EXPECT_EQ(j["state"], "retrying");
  EXPECT_EQ(j["data"]["amount"], "10.50");
  EXPECT_EQ(j["raw"]["path"], "/hooks/shop");
  EXPECT_EQ(j["idempotency_key"], "msg-ev-retrying");
  ASSERT_EQ(j["attempts"].size(), 1u);
  EXPECT_EQ(j["attempts"][0]["status"], 503);
  EXPECT_EQ(j["attempts"][0]["result"], "retry");
  EXPECT_EQ(j["targets"][0]["status"], "due");
  EXPECT_TRUE(j["targets"][0].contains("due_at"));

  CtlRun missing = ctl({"show", "ev-nope"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(ctl({"show", "ev-nope", "--json"}).doc()["error"], "not_found");
  EXPECT_EQ(ctl({"show"}).code, 2);
}

TEST_F(PayhookctlTest, RetryRestartsDeadJobsAndHurriesWaitingOnes) {
  const int64_t before = nowMs();
  CtlRun r = ctl({"retry", "ev-dead", "ev-retrying", "--json"});
  ASSERT_EQ(r.code, 0) << r.out;
  json j = r.doc();
  EXPECT_EQ(j["retried"], 2);
  EXPECT_EQ(j["results"][0]["revived"], json::array({"orders"}));
  EXPECT_EQ(j["results"][0]["state"], "pending");
  EXPECT_EQ(j["results"][1]["hurried"], json::array({"orders"}));
  EXPECT_EQ(j["results"][1]["state"], "retrying");

  // The dead job is due now with a fresh schedule, and no longer dead.
  auto h = ev("ev-dead");
  EXPECT_EQ(h["state"], "pending");
  EXPECT_EQ(h["attempts:orders"], "0");
  EXPECT_GE(std::stoll(h["since:orders"]), before);
  EXPECT_EQ(h.count("status:orders"), 0u);
  EXPECT_EQ(h.count("reason:orders"), 0u);
  EXPECT_FALSE(score("{payhook}:dead", "ev-dead|orders"));
  ASSERT_TRUE(score("{payhook}:due:orders", "ev-dead|orders"));
  EXPECT_LE(*score("{payhook}:due:orders", "ev-dead|orders"), nowMs());
  // The waiting job is due now and keeps its attempt count.
  EXPECT_LE(*score("{payhook}:due:orders", "ev-retrying|orders"), nowMs());
  EXPECT_EQ(ev("ev-retrying")["attempts:orders"], "1");

  // Delivered: nothing to retry (replay is for that); unknown: not found. Both exit 1.
  CtlRun text = ctl({"retry", "ev-delivered", "ev-nope"});
  EXPECT_EQ(text.code, 1) << text.out;
  EXPECT_NE(text.out.find("nothing_to_do (delivered: see replay)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("not_found"), std::string::npos) << text.out;
  EXPECT_EQ(ev("ev-delivered")["status:orders"], "delivered");
}

TEST_F(PayhookctlTest, RetryDeadOfOneRoute) {
  CtlRun r = ctl({"retry", "--dead", "--route", "other"});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("retried 1 dead job of route other"), std::string::npos) << r.out;
  EXPECT_FALSE(score("{payhook}:dead", "ev-dead-other|orders"));
  EXPECT_TRUE(score("{payhook}:dead", "ev-dead|orders"));
  EXPECT_EQ(ctl({"retry", "--dead", "--route", "other"}).code, 1);

  CtlRun all = ctl({"retry", "--dead", "--json"});
  ASSERT_EQ(all.code, 0) << all.out;
  EXPECT_EQ(all.doc()["retried"], 1);
  EXPECT_EQ(redis_->command({"ZCARD", "{payhook}:dead"}).integer, 0);
  EXPECT_EQ(ctl({"retry", "--dead", "ev-dead"}).code, 2);
  EXPECT_EQ(ctl({"retry"}).code, 2);
}

TEST_F(PayhookctlTest, ReplayDeliversADeliveredEventAgain) {
  CtlRun r = ctl({"replay", "ev-delivered"});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("due again for orders"), std::string::npos) << r.out;
  auto h = ev("ev-delivered");
  EXPECT_EQ(h["state"], "pending");
  EXPECT_EQ(h["attempts:orders"], "0");
  EXPECT_EQ(h.count("status:orders"), 0u);
  EXPECT_TRUE(score("{payhook}:due:orders", "ev-delivered|orders"));

  // Now it is due: replaying again is refused, like any event still being delivered.
  CtlRun busy = ctl({"replay", "ev-delivered", "--json"});
  EXPECT_EQ(busy.code, 1);
  EXPECT_EQ(busy.doc()["result"], "busy");
  EXPECT_EQ(ctl({"replay", "ev-dead", "--json"}).doc()["result"], "nothing_to_do");
  EXPECT_EQ(ctl({"replay", "ev-nope"}).code, 1);
  EXPECT_EQ(ctl({"replay", "ev-stored"}).code, 1);
}

TEST_F(PayhookctlTest, PurgeDeletesDeadEventsButKeepsTheirIdempotencyKeys) {
  CtlRun young = ctl({"purge", "--dead", "--older-than", "1h"});
  EXPECT_EQ(young.code, 1) << young.out;
  EXPECT_NE(young.out.find("purged 0 dead events"), std::string::npos) << young.out;

  CtlRun r = ctl({"purge", "--dead", "--route", "other", "--json"});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.doc()["purged"], 1);
  EXPECT_TRUE(ev("ev-dead-other").empty());
  EXPECT_EQ(redis_->command({"EXISTS", "{payhook}:attempts:ev-dead-other"}).integer, 0);
  EXPECT_FALSE(score("{payhook}:events", "ev-dead-other"));
  EXPECT_FALSE(score("{payhook}:dead", "ev-dead-other|orders"));
  EXPECT_EQ(redis_->command({"GET", "{payhook}:idem:other:msg-ev-dead-other"}).str, "ev-dead-other");

  ASSERT_EQ(ctl({"purge", "--dead"}).code, 0);
  EXPECT_TRUE(ev("ev-dead").empty());
  EXPECT_FALSE(ev("ev-delivered").empty());
  EXPECT_EQ(ctl({"stats", "--json"}).doc()["events"], 4);
  EXPECT_EQ(ctl({"purge"}).code, 2);
  EXPECT_EQ(ctl({"purge", "--dead", "--older-than", "soon"}).code, 2);
}

// An operator knows the order number, the provider's id or the webhook-id, never payhook's id.
TEST_F(PayhookctlTest, FindGoesFromAnyKeyToTheEventAndItsState) {
  CtlRun r = ctl({"find", "order-ev-dead"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("ev-dead "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("10.50 RUB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("paid → succeeded"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("orders:dead(1)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("ev-dead-other"), std::string::npos) << r.out;

  json j = ctl({"find", "msg-ev-retrying", "--json"}).doc();
  ASSERT_EQ(j["events"].size(), 1u) << j.dump();
  EXPECT_EQ(j["events"][0]["id"], "ev-retrying");
  EXPECT_EQ(j["events"][0]["key"], "order-ev-retrying");
  EXPECT_EQ(j["events"][0]["keys"], json::array({"order-ev-retrying", "msg-ev-retrying"}));
  EXPECT_EQ(j["events"][0]["amount"], "10.50");
  EXPECT_EQ(j["events"][0]["currency"], "RUB");
  EXPECT_EQ(j["events"][0]["targets"][0]["status"], "due");
  EXPECT_EQ(j["more"], false);

  // payhook's own id finds its event too.
  j = ctl({"find", "ev-pending", "--json"}).doc();
  ASSERT_EQ(j["events"].size(), 1u);
  EXPECT_EQ(j["events"][0]["state"], "pending");

  r = ctl({"find", "order-404"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("no event is known by order-404"), std::string::npos) << r.out;
  EXPECT_EQ(ctl({"find", "order-ev-dead-other", "--route", "shop"}).code, 1);
  EXPECT_EQ(ctl({"find", "order-ev-dead-other", "--route", "other"}).code, 0);
  EXPECT_EQ(ctl({"find", "a\tb"}).code, 2);
  EXPECT_EQ(ctl({"find"}).code, 2);
}

TEST_F(PayhookctlTest, FindListsEveryEventOfOneOrderNewestFirst) {
  {
    Seeder s(redis_->url());
    s.store("ev-2003-a", "shop", nowMs() - 3'000, {"orders"}, "2003");
    s.store("ev-2003-b", "other", nowMs() - 2'000, {}, "2003");
    s.store("ev-2003-c", "shop", nowMs() - 1'000, {}, "2003");
  }
  json j = ctl({"find", "2003", "--json"}).doc();
  std::vector<std::string> ids;
  for (const auto& e : j["events"]) ids.push_back(e["id"]);
  // Ids are UUIDv7 in payhookd; here their names sort like their times.
  EXPECT_EQ(ids, (std::vector<std::string>{"ev-2003-c", "ev-2003-b", "ev-2003-a"}));
  j = ctl({"find", "2003", "--route", "shop", "--limit", "1", "--json"}).doc();
  ASSERT_EQ(j["events"].size(), 1u);
  EXPECT_EQ(j["events"][0]["id"], "ev-2003-c");
  EXPECT_EQ(j["more"], true);
  CtlRun r = ctl({"find", "2003", "--limit", "2"});
  EXPECT_NE(r.out.find("more match"), std::string::npos) << r.out;
}

TEST_F(PayhookctlTest, ListRowsCarryTheKeyTheAmountAndTheStatus) {
  CtlRun r = ctl({"list"});
  EXPECT_EQ(r.code, 0);
  for (const char* column : {"KEY", "AMOUNT", "STATUS", "order-ev-pending", "10.50 RUB", "paid → succeeded"})
    EXPECT_NE(r.out.find(column), std::string::npos) << column << "\n" << r.out;
  json j = ctl({"list", "--state", "dead", "--json"}).doc();
  ASSERT_EQ(j["events"].size(), 2u);
  for (const auto& e : j["events"]) {
    EXPECT_EQ(e["key"], "order-" + e["id"].get<std::string>());
    EXPECT_EQ(e["status"], "paid");
    EXPECT_EQ(e["outcome"], "succeeded");
  }
  r = ctl({"show", "ev-dead"});
  EXPECT_NE(r.out.find("order-ev-dead, msg-ev-dead"), std::string::npos) << r.out;
}

TEST_F(PayhookctlTest, PurgedEventsLeaveTheFindIndex) {
  EXPECT_EQ(ctl({"purge", "--dead"}).code, 0);
  EXPECT_EQ(ctl({"find", "order-ev-dead"}).code, 1);
  EXPECT_EQ(ctl({"find", "msg-ev-dead-other"}).code, 1);
  auto left = redis_->command({"ZRANGE", "{payhook}:find", "0", "-1"});
  EXPECT_EQ(left.elements.size(), 8u);  // two keys for each of the four events left
  for (const auto& m : left.elements) EXPECT_EQ(m.str.find("ev-dead"), std::string::npos) << m.str;
}

// Events stored before listings were kept: no "ix" field and nothing in {p}:find.
class ReindexTest : public PayhookctlTest {
 protected:
  void forgetListings() {
    auto ids = redis_->command({"ZRANGE", "{payhook}:events", "0", "-1"});
    for (const auto& id : ids.elements) redis_->command({"HDEL", "{payhook}:ev:" + id.str, "ix"});
    redis_->command({"DEL", "{payhook}:find"});
  }
};

TEST_F(ReindexTest, IndexesWhatWasStoredWithoutKeysThenHasNothingToDo) {
  {
    Seeder s(redis_->url());
    for (int i = 0; i < 450; ++i) s.store("bulk-" + std::to_string(1000 + i), "shop", nowMs() - 5'000, {});
  }
  forgetListings();
  EXPECT_EQ(ctl({"find", "msg-ev-delivered"}).code, 1);
  json j = ctl({"list", "--limit", "1", "--json"}).doc();
  EXPECT_TRUE(j["events"][0]["key"].is_null());

  CtlRun r = ctl({"reindex", "--json"});
  EXPECT_EQ(r.code, 0) << r.out;
  j = r.doc();
  EXPECT_EQ(j["read"], 456);
  EXPECT_EQ(j["indexed"], 456);
  EXPECT_EQ(j["batches"], 3);  // bounded batches, not one pass over everything
  EXPECT_EQ(j["resumed"], false);
  // The keys come from the stored data, as the handlers take them at receipt (here the webhook-id).
  j = ctl({"find", "msg-ev-delivered", "--json"}).doc();
  ASSERT_EQ(j["events"].size(), 1u);
  EXPECT_EQ(j["events"][0]["id"], "ev-delivered");
  EXPECT_EQ(ctl({"find", "msg-bulk-1449"}).code, 0);
  EXPECT_EQ(redis_->command({"EXISTS", "{payhook}:reindex"}).integer, 0)
      << "a complete walk leaves no position";

  r = ctl({"reindex"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("456 events read, 0 indexed, complete"), std::string::npos) << r.out;
}

TEST_F(ReindexTest, GoesOnWhereAnEarlierWalkStopped) {
  forgetListings();
  // An earlier walk stopped after the three oldest events (ev-delivered, ev-retrying, ev-dead).
  auto third = redis_->command({"ZRANGE", "{payhook}:events", "2", "2", "WITHSCORES"});
  ASSERT_EQ(third.elements.size(), 2u);
  redis_->command({"SET", "{payhook}:reindex", third.elements[1].str + " 1"});
  CtlRun r = ctl({"reindex"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("went on from where an earlier run stopped: 3 events read, 3 indexed"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(ctl({"find", "msg-ev-pending"}).code, 0);
  EXPECT_EQ(ctl({"find", "msg-ev-delivered"}).code, 1);  // before the position: the stopped walk's part
}

TEST_F(PayhookctlTest, UsageErrorsAndHelpEverywhere) {
  for (const char* cmd : {"stats", "list", "show", "retry", "replay", "purge", "listen", "sign", "verify"}) {
    CtlRun h = ctl({cmd, "--help"});
    EXPECT_EQ(h.code, 0) << cmd << h.out;
    EXPECT_EQ(h.out.rfind("usage: payhookctl", 0), 0u) << cmd << h.out;
  }
  EXPECT_EQ(ctl({"--help"}, false).code, 0);
  EXPECT_EQ(ctl({}, false).code, 2);
  EXPECT_EQ(ctl({"frobnicate"}).code, 2);
  EXPECT_EQ(ctl({"list", "--bogus"}).code, 2);
  EXPECT_EQ(ctl({"list", "--state", "lost"}).code, 2);
  EXPECT_EQ(ctl({"list", "--limit", "0"}).code, 2);
  EXPECT_EQ(ctl({"list", "--cursor", "x"}).code, 2);
  CtlRun bad_config = ctl({"-c", "/nonexistent/payhook.toml", "stats"}, false);
  EXPECT_EQ(bad_config.code, 2);
  EXPECT_NE(bad_config.out.find("/nonexistent/payhook.toml"), std::string::npos) << bad_config.out;
}

// Redis down (payhookd may be down too): a clear message and exit 2, not a hang.
TEST_F(PayhookctlTest, RedisOutOfReachIsAnError) {
  redis_->stop();
  auto start = SteadyClock::now();
  CtlRun r = ctl({"stats"});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("cannot reach Redis at redis://"), std::string::npos) << r.out;
  EXPECT_LT(SteadyClock::now() - start, std::chrono::seconds(6));
}

// listen answers 204 to a validly signed delivery and 401 otherwise, printing each with its verdict.
TEST(PayhookctlListen, VerifiesAndPrintsEachEvent) {
  TempDir dir;
  const std::string out_path = dir.path() + "/listen.out";
  const int port = freeTcpPort();
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(PAYHOOKCTL_PATH, PAYHOOKCTL_PATH, "listen", "--port", std::to_string(port).c_str(), "--secret",
            secret.c_str(), "--count", "2", "--json", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const std::string address = "127.0.0.1:" + std::to_string(port);
  const std::string body = R"({"id":"ev1","type":"invoice.paid"})";
  const std::string ts = std::to_string(std::time(nullptr));
  auto key = swh::decodeSecret(secret).value();
  HttpResponse ok;
  for (int i = 0; i < 200 && ok.status == 0; ++i) {
    ok = httpRequest(address, "POST", "/payhook",
                     {{"webhook-id", "msg_1"},
                      {"webhook-timestamp", ts},
                      {"webhook-signature", swh::signV1(key, "msg_1", ts, body)}},
                     body);
    if (ok.status == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(ok.status, 204);
  HttpResponse bad = httpRequest(
      address, "POST", "/payhook",
      {{"webhook-id", "msg_2"}, {"webhook-timestamp", ts}, {"webhook-signature", "v1,AAAA"}}, body);
  EXPECT_EQ(bad.status, 401);
  int status = 0;
  for (int i = 0; i < 250 && ::waitpid(pid, &status, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (::waitpid(pid, &status, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    FAIL() << "listen did not stop after --count 2";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::ifstream f(out_path);
  std::vector<json> lines;
  for (std::string line; std::getline(f, line);)
    if (!line.empty() && line[0] == '{') lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["webhook_id"], "msg_1");
  EXPECT_EQ(lines[0]["verified"], true);
  EXPECT_EQ(lines[0]["body"]["type"], "invoice.paid");
  EXPECT_EQ(lines[1]["verified"], false);
  EXPECT_EQ(lines[1]["verdict"], "invalid: no signature matches");
  std::ifstream again(out_path);
  std::stringstream all;
  all << again.rdbuf();
  EXPECT_EQ(all.str().find("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), std::string::npos)
      << "the secret was printed";
}

}  // namespace
}  // namespace payhook::testing
