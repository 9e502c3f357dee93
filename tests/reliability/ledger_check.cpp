#include "tests/reliability/ledger_check.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace payhook::reliability {
namespace {

using std::chrono::milliseconds;
using testing::RedisReply;

// For each id: "<event id>|<hash exists 0/1>|<state>", or "" when no idempotency key names an event.
constexpr const char* kLookupScript = R"lua(
local out = {}
for i = 3, #ARGV do
  local ev = redis.call('GET', ARGV[1] .. ARGV[i])
  if ev then
    local key = ARGV[2] .. ev
    out[#out + 1] = ev .. '|' .. redis.call('EXISTS', key) .. '|' .. (redis.call('HGET', key, 'state') or '')
  else
    out[#out + 1] = ''
  end
end
return out
)lua";

}  // namespace

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

std::chrono::milliseconds since(TimePoint a, TimePoint b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a);
}

void sleepMs(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

bool is2xx(int status) {
  return status >= 200 && status < 300;
}

testing::DaemonOptions ledgerDaemonOptions(const std::string& redis_url, const LedgerSink& sink,
                                           int max_in_flight) {
  testing::DaemonOptions o;
  o.redis_url = redis_url;
  o.log_level = "info";
  o.delivery = "lease_timeout = \"6500ms\"\nsweep_interval = \"500ms\"\n";
  o.targets = R"(
[[targets]]
name = "orders"
url = ")" + sink.url() +
              R"("
secret_file = "secrets/orders.whsec"
timeout = "1s"
max_in_flight = )" +
              std::to_string(max_in_flight) +
              R"(
breaker_cooldown = "1s"
)";
  o.routes = R"(
[[routes]]
name = "demo"
provider = "standard-webhooks"
path = "/hooks/demo"
secret_file = "secrets/demo.whsec"
forward = ["orders"]
retry = { backoff = "exponential", initial = "200ms", multiplier = 2.0, max_interval = "5s", max_attempts = 100, max_age = "1h", jitter = 0.1 }
)";
  return o;
}

long long queuedJobs(const RedisCommand& redis) {
  static const char* kScript =
      "local n = redis.call('ZCARD', KEYS[2]) "
      "for _, t in ipairs(redis.call('SMEMBERS', KEYS[1])) do n = n + redis.call('ZCARD', '{payhook}:due:' "
      ".. t) "
      "end "
      "return n";
  RedisReply r = redis({"EVAL", kScript, "2", "{payhook}:targets", "{payhook}:leased"});
  return r.type == RedisReply::kInteger ? r.integer : -1;
}

int64_t LedgerCheck::settle(const std::vector<Send>& sends) const {
  std::vector<std::string> acked;
  for (const Send& s : sends)
    if (is2xx(s.status)) acked.push_back(s.id);
  const auto start = SteadyClock::now();
  while (since(start, SteadyClock::now()).count() < settle_ms) {
    long long queued = -1;
    try {
      queued = queuedJobs(redis);
    } catch (const std::exception&) {
      // The master may be changing hands; ask again.
    }
    if (sink->missing(acked) == 0 && queued == 0) return since(start, SteadyClock::now()).count();
    std::this_thread::sleep_for(milliseconds(100));
  }
  return -1;
}

void LedgerCheck::readRedis(LedgerInput& in) const {
  constexpr size_t kChunk = 1'000;
  for (size_t i = 0; i < in.sends.size(); i += kChunk) {
    std::vector<std::string> argv{"EVAL", kLookupScript, "0", "{payhook}:idem:demo:", "{payhook}:ev:"};
    const size_t end = std::min(in.sends.size(), i + kChunk);
    for (size_t j = i; j < end; ++j) argv.push_back(in.sends[j].id);
    RedisReply r = redis(argv);
    ASSERT_EQ(r.type, RedisReply::kArray) << r.str;
    ASSERT_EQ(r.elements.size(), end - i);
    for (size_t j = i; j < end; ++j) {
      const std::string& v = r.elements[j - i].str;
      Stored st;
      if (!v.empty()) {
        const size_t a = v.find('|'), b = v.find('|', a + 1);
        st.event_id = v.substr(0, a);
        st.exists = v.substr(a + 1, b - a - 1) == "1";
        st.state = v.substr(b + 1);
      }
      in.stored[in.sends[j].id] = st;
    }
  }
  std::unordered_map<std::string, int> per_event;
  for (const Delivery& d : in.deliveries) ++per_event[d.event_id];
  for (const auto& [event, n] : per_event) {
    if (n < 2 || event.empty()) continue;
    auto& list = in.attempts[event];
    for (const auto& e : redis({"LRANGE", "{payhook}:attempts:" + event, "0", "-1"}).elements) {
      auto j = nlohmann::json::parse(e.str, nullptr, false);
      if (!j.is_object()) continue;
      list.push_back({j.value("attempt", 0), j.value("result", std::string())});
    }
  }
}

std::string LedgerCheck::explain(const LedgerInput& in, const std::string& id) const {
  std::ostringstream o;
  o << "\n  " << id << ":";
  for (const Send& s : in.sends)
    if (s.id == id)
      o << " sent to instance " << s.instance << " at +" << since(t0, s.sent).count() << " ms, status "
        << s.status << " at +" << since(t0, s.answered).count() << " ms;";
  auto st = in.stored.find(id);
  std::string event = st == in.stored.end() ? "" : st->second.event_id;
  o << " redis: " << (event.empty() ? "no idempotency key" : "event " + event + " state " + st->second.state)
    << ";";
  for (const Delivery& d : in.deliveries)
    if (d.ledger_id == id)
      o << " app got attempt " << d.attempt << " at +" << since(t0, d.at).count() << " ms;";
  if (!event.empty()) {
    for (const auto& e : redis({"LRANGE", "{payhook}:attempts:" + event, "0", "-1"}).elements)
      o << "\n    attempt record " << e.str;
    for (const auto& log : logs ? logs() : std::vector<std::string>{}) {
      std::istringstream lines(log);
      for (std::string line; std::getline(lines, line);)
        if (line.find(event) != std::string::npos || line.find(id) != std::string::npos)
          o << "\n    log " << line;
    }
  }
  return o.str();
}

LedgerReport LedgerCheck::finish(const std::vector<Send>& sends, std::vector<Window> redis_down,
                                 int64_t settled_ms, size_t dup_bound, std::vector<std::string> facts,
                                 bool strict) const {
  LedgerInput in;
  in.sends = sends;
  in.deliveries = sink->deliveries();
  in.redis_down = std::move(redis_down);
  readRedis(in);
  LedgerReport r = reconcile(in);
  const long long dead_jobs = redis({"ZCARD", "{payhook}:dead"}).integer;
  facts.push_back(settled_ms < 0
                      ? "did NOT settle within " + seconds(milliseconds(settle_ms))
                      : "settled " + seconds(milliseconds(settled_ms)) + " after the load stopped");

  std::string fact_text;
  for (size_t i = 0; i < facts.size(); ++i) fact_text += (i ? "; " : "") + facts[i];
  std::cout << "[ledger] " << name << ": " << r.line() << "  dead " << dead_jobs << "\n[ledger] " << name
            << ": " << fact_text << std::endl;
  if (const char* out = std::getenv("PAYHOOK_LEDGER_OUT"); out && *out) {
    std::ofstream f(out, std::ios::app);
    std::string by_status;  // " (503: 8)"
    for (const auto& [status, n] : r.statuses)
      if (status >= 300 || (status > 0 && status < 200))
        by_status += (by_status.empty() ? " (" : ", ") + std::to_string(status) + ": " + std::to_string(n);
    if (!by_status.empty()) by_status += ")";
    f << "| " << name << " | " << r.sent << " | " << r.acked << " | " << r.rejected << by_status << " | "
      << r.no_answer << " | " << r.delivered << " | " << r.unacked_delivered << " | **" << r.lost << "** | **"
      << r.false_acks << "** | " << r.stuck << " | " << r.duplicates << " (" << r.duplicates_lease << " / "
      << r.duplicates_answer_lost << " / " << r.duplicates_unexplained << ") | " << fact_text << " |\n";
  }

  // The run is void if the load did not run.
  EXPECT_GT(r.acked, 0u);
  EXPECT_EQ(r.unknown, 0u);
  if (!strict) return r;
  std::string why;
  for (const auto& id : r.lost_ids) why += explain(in, id);
  EXPECT_EQ(r.lost, 0u) << "lost (2xx, never delivered):" << why;
  why.clear();
  for (const auto& id : r.false_ack_ids) why += explain(in, id);
  EXPECT_EQ(r.false_acks, 0u) << "false acks (outage " << r.false_acks_outage << ", not stored "
                              << r.false_acks_not_stored << "):" << why;
  why.clear();
  for (const auto& id : r.stuck_ids) why += explain(in, id);
  EXPECT_EQ(r.stuck, 0u) << "stored but not delivered:" << why;
  EXPECT_EQ(dead_jobs, 0);
  why.clear();
  for (const auto& id : r.unexplained_ids) why += explain(in, id);
  EXPECT_EQ(r.duplicates_unexplained, 0u) << "duplicates no lease explains:" << why;
  EXPECT_LE(r.duplicates, dup_bound);
  EXPECT_GE(settled_ms, 0) << "the queue did not settle";
  return r;
}

}  // namespace payhook::reliability
