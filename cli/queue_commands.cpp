// payhookctl's queue commands: stats, list, show, retry, replay, purge. Each loads the config, runs one
// Operator call on its own loop, and prints an aligned table (or, with --json, the same JSON document the
// admin API answers).
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/session.h"
#include "cli/table.h"
#include "common/clock.h"
#include "config/config.h"
#include "delivery/expected_order.h"
#include "handlers/listing.h"
#include "queue/expectations.h"
#include "queue/operator_json.h"

namespace payhook::cli {
namespace {

using nlohmann::ordered_json;

constexpr const char* kStatsUsage =
    "usage: payhookctl [-c FILE] stats [--json]\n"
    "\n"
    "What waits where: events kept (and how many are complete, removed once [redis] retention has passed),\n"
    "Redis' used memory and maxmemory, per target the due jobs (overdue: due now but not yet taken), jobs\n"
    "in flight (and leases past their expiry), dead jobs by target and route.\n";

constexpr const char* kListUsage =
    "usage: payhookctl [-c FILE] list [--state pending|retrying|dead|delivered|stored|all] [--route R]\n"
    "                                 [--since TIME] [--until TIME] [--limit N] [--cursor C] [--json]\n"
    "\n"
    "Events newest first, with each target's job and the last attempt. --state dead lists the dead jobs\n"
    "(one row per dead target) by the time they died. TIME is a duration ago (\"2h\", \"7d\"), an ISO 8601 "
    "UTC\n"
    "time (\"2026-11-26T10:00:00Z\") or a date; it bounds the receipt time (burial time for dead). --limit\n"
    "defaults to 50 (at most 500); when more may follow, the next page's --cursor is printed.\n"
    "Exit 0 with rows, 1 when nothing matches.\n";

constexpr const char* kFindUsage =
    "usage: payhookctl [-c FILE] find KEY [--route R] [--limit N] [--json]\n"
    "\n"
    "The events a payment is known by: KEY is the shop's order number, the provider's payment id (YooMoney\n"
    "invoiceId, RBS mdOrder, Integra transaction_id, Payin-payout external_id / payment_in_id /\n"
    "payment_out_id, allpay TransactionId), a webhook-id or payhook's own event id. Newest first, with each\n"
    "target's job; --limit defaults to 50 (at most 500). Events stored by an older payhookd are found once\n"
    "`payhookctl reindex` has run. Exit 0 with rows, 1 when nothing matches.\n";

constexpr const char* kReindexUsage =
    "usage: payhookctl [-c FILE] reindex [--json]\n"
    "\n"
    "Indexes the events stored without their keys (by a payhookd older than find), so that find and the\n"
    "amount, currency and status columns of list cover them too. Walks every event in batches; stopped, it\n"
    "goes on where it stopped when run again. Safe while payhookd runs. Exit 0 when the walk completed.\n";

constexpr const char* kShowUsage =
    "usage: payhookctl [-c FILE] show ID [--json]\n"
    "\n"
    "One event: its fields, normalised data, the raw request as stored, each target's job and every attempt\n"
    "kept. Exit 1 when there is no such event.\n";

constexpr const char* kRetryUsage =
    "usage: payhookctl [-c FILE] retry ID... [--json]\n"
    "       payhookctl [-c FILE] retry --dead [--route R] [--json]\n"
    "\n"
    "Makes jobs due now. For each ID: every dead target starts a fresh schedule (attempts from 1, max_age\n"
    "from now), and a target waiting for a later attempt is tried now. With --dead: every dead job (of\n"
    "route R) starts again. Delivered targets are left alone (see replay). Exit 0 when everything asked\n"
    "was retried, 1 when an ID was not found or had nothing to retry.\n";

constexpr const char* kReplayUsage =
    "usage: payhookctl [-c FILE] replay ID [--json]\n"
    "\n"
    "Delivers an already delivered event again: every target that delivered it gets it once more, with a\n"
    "fresh schedule. Follow-up calls to a provider are not repeated. Refused (exit 1) while a job of the "
    "event is due\n"
    "or in flight, and when no target has delivered it.\n";

constexpr const char* kPurgeUsage =
    "usage: payhookctl [-c FILE] purge --dead [--older-than DURATION] [--route R] [--json]\n"
    "\n"
    "Deletes the events with a dead job that died more than DURATION ago (\"7d\"; default: any dead job):\n"
    "the event, its attempts and its dead jobs. Events still being delivered to another target are\n"
    "skipped. Idempotency keys stay until they expire, so a provider repeating a purged callback is still\n"
    "answered as a duplicate. Exit 0 when something was purged, 1 when nothing was.\n";

const std::vector<OptionSpec> kCommon{{"--config", true, "-c"}, {"--json", false, ""}};

std::vector<OptionSpec> with(std::vector<OptionSpec> extra) {
  extra.insert(extra.end(), kCommon.begin(), kCommon.end());
  return extra;
}

int64_t nowMs() {
  return SystemClock().nowMs();
}

void printJson(const ordered_json& j) {
  std::string s = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

void print(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
}

int usageError(const std::string& why, const char* usage) {
  std::fprintf(stderr, "payhookctl: %s\n%s", why.c_str(), usage);
  return 2;
}

int failed(const Error& e) {
  std::fprintf(stderr, "payhookctl: %s\n", e.message.c_str());
  return 2;
}

// Parses the command's arguments and opens the session; returns -1 to go on, or the exit code.
int prepare(const std::vector<std::string>& args, const std::vector<OptionSpec>& spec, const char* usage,
            const std::string& config_path, ParsedArgs* out, Session* session) {
  auto parsed = parseArgs(args, spec);
  if (!parsed) return usageError(parsed.error().message, usage);
  if (parsed->help) {
    std::fputs(usage, stdout);
    return 0;
  }
  *out = std::move(parsed.value());
  if (!session->open(out->value("--config", config_path))) return 2;
  return -1;
}

// "87.10 RUB", "-" when the provider gave no amount.
std::string amountCell(const EventListing& l) {
  if (l.amount.empty()) return "-";
  return l.currency.empty() ? l.amount : l.amount + " " + l.currency;
}

// The provider's status (or the event's type without the provider), then the payment's outcome.
std::string statusCell(const queue::EventSummary& e) {
  std::string s = e.listing.status;
  if (s.empty()) s = e.type.substr(e.type.find('.') + 1);
  if (!e.listing.outcome.empty()) s += " → " + e.listing.outcome;
  return ellipsize(s, 40);
}

std::string keyCell(const queue::EventSummary& e) {
  return e.listing.keys.empty() ? "-" : ellipsize(e.listing.keys.front(), 40);
}

std::string targetsCell(const queue::EventSummary& e) {
  std::string out;
  for (const auto& t : e.targets) {
    if (!out.empty()) out += ' ';
    out += t.name + ":" + t.status;
    if (t.attempts > 0) out += "(" + std::to_string(t.attempts) + ")";
  }
  return out.empty() ? "-" : out;
}

// "HTTP 500 retry" or "connection refused dead": what the newest attempt got.
std::string attemptCell(const std::string& record) {
  if (record.empty()) return "-";
  ordered_json j = queue::embedJson(record);
  if (!j.is_object()) return ellipsize(record, 40);
  std::string what;
  const int status = j.value("status", 0);
  if (status > 0)
    what = "HTTP " + std::to_string(status);
  else
    what = j.value("error", std::string("no answer"));
  const std::string result = j.value("result", std::string());
  if (!result.empty()) what += " → " + result;
  return ellipsize(what, 48);
}

std::string bytesCell(int64_t n) {
  char buf[32];
  if (n < 1024 * 1024)
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(n) / 1024);
  else if (n < int64_t{1024} * 1024 * 1024)
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(n) / (1024 * 1024));
  else
    std::snprintf(buf, sizeof(buf), "%.2f GiB", static_cast<double>(n) / (1024 * 1024 * 1024));
  return std::to_string(n) + " bytes (" + buf + ")";
}

// "1048576 bytes (1.0 MiB) used of maxmemory 0 (no limit)": Redis' INFO memory, as far as it answered.
std::string memoryCell(const queue::RedisMemory& m) {
  if (m.used < 0) return "unknown (INFO memory not answered)";
  std::string out = bytesCell(m.used) + " used";
  if (m.maxmemory == 0) return out + ", no maxmemory";
  if (m.maxmemory > 0) {
    char pct[16];
    std::snprintf(pct, sizeof(pct), "%.0f%%",
                  100.0 * static_cast<double>(m.used) / static_cast<double>(m.maxmemory));
    out += " of maxmemory " + bytesCell(m.maxmemory) + " (" + pct + ", policy " + m.policy + ")";
  }
  return out;
}

Table eventTable() {
  return Table({"ID", "RECEIVED", "ROUTE", "KEY", "AMOUNT", "STATUS", "STATE", "TARGETS", "LAST ATTEMPT"});
}

void addEventRow(Table& t, const queue::EventSummary& e, int64_t now) {
  t.add({e.id, timeCell(e.received_at_ms, now), e.route, keyCell(e), amountCell(e.listing), statusCell(e),
         e.state, targetsCell(e), attemptCell(e.last_attempt)});
}

constexpr const char* kExpectUsage =
    "usage: payhookctl [-c FILE] expect --route R --order ID [--amount A] [--deadline 2h] [--json]\n"
    "\n"
    "Registers an order the shop created at the provider (RBS: the gateway's orderId/mdOrder or the shop's\n"
    "orderNumber; YooKassa: the payment id) as expected: when its callback has not come by the deadline\n"
    "(default 1h), payhookd asks the provider's status API and emits the final state itself. Registering\n"
    "the same route and order again changes nothing (exit 0, or 1 when the amount differs from the first\n"
    "registration's).\n";

constexpr const char* kExpectedUsage =
    "usage: payhookctl [-c FILE] expected [--state open|dead|all] [--route R] [--limit N] [--json]\n"
    "\n"
    "Expected orders: those still waiting for a final state (open, soonest due first) and those given up\n"
    "without one (dead, with the last status seen). Exit 1 when none match.\n";

// The dead (or open) expected orders as a table.
std::string expectationTable(const queue::ExpectationList& l, int64_t now) {
  Table t({"ROUTE", "ORDER", "STATE", "AMOUNT", "DEADLINE", "POLLS", "LAST STATUS", "REASON"});
  t.alignRight(5);
  for (const auto& e : l.entries)
    t.add({e.route, e.order, e.state, e.amount.empty() ? "-" : e.amount, timeCell(e.deadline_ms, now),
           std::to_string(e.polls),
           e.last_status.empty() ? (e.error.empty() ? "-" : ellipsize(e.error, 40)) : e.last_status,
           e.reason.empty() ? "-" : ellipsize(e.reason, 60)});
  return t.rows() ? t.render() : std::string();
}

ordered_json expectationListJson(const queue::ExpectationList& l) {
  ordered_json j{{"open", l.open}, {"dead", l.dead}, {"expected", ordered_json::array()}};
  for (const auto& e : l.entries) {
    ordered_json x{{"route", e.route}, {"order", e.order}, {"state", e.state}};
    x["amount"] = e.amount.empty() ? ordered_json(nullptr) : ordered_json(e.amount);
    x["deadline_ms"] = e.deadline_ms;
    x["polls"] = e.polls;
    x["last_status"] = e.last_status;
    x["status"] = e.status;
    x["error"] = e.error;
    x["reason"] = e.reason;
    x["dead_at_ms"] = e.died_at_ms;
    x["closed_by"] = e.closed_by;
    x["event"] = e.event;
    j["expected"].push_back(std::move(x));
  }
  return j;
}

}  // namespace

int statsCommand(const std::vector<std::string>& args, const std::string& config_path) {
  ParsedArgs a;
  Session session;
  if (int rc = prepare(args, with({}), kStatsUsage, config_path, &a, &session); rc >= 0) return rc;
  if (!a.positional.empty()) return usageError("stats takes no arguments", kStatsUsage);
  return session.run([&](queue::Operator& ops, Session::Done done) {
    ops.stats(nowMs(), [&, done](Result<queue::QueueStats> r) {
      if (!r) return done(failed(r.error()));
      const auto& s = *r;
      if (a.flag("--json")) {
        printJson(queue::toJson(s));
        return done(0);
      }
      std::string out;
      out += "redis    " + session.redactedUrl() + " (prefix \"" + session.prefix() + "\")\n";
      out += "role     " + (s.role.empty() ? std::string("unknown") : s.role) + " at " + s.redis_at + ", " +
             (s.replicas >= 0 ? std::to_string(s.replicas) : std::string("?")) + " replica(s) online" +
             (s.min_replicas > 0 ? ", min_replicas " + std::to_string(s.min_replicas) : std::string()) + "\n";
      out += "events   " + std::to_string(s.events) + " (" + std::to_string(s.completed) +
             " complete, removed once their retention has passed)\n";
      out += "memory   " + memoryCell(s.memory) + "\n";
      out += "due      " + std::to_string(s.due) + " (" + std::to_string(s.overdue) + " overdue)\n";
      out += "leased   " + std::to_string(s.leased) + " in flight (" + std::to_string(s.leased_expired) +
             " past their lease)\n";
      out += "dead     " + std::to_string(s.dead);
      if (s.dead > 0) out += " (oldest " + timeCell(s.oldest_dead_ms, s.now_ms) + ")";
      out += "\n";
      if (!s.targets.empty()) {
        Table t({"TARGET", "DUE", "OVERDUE", "OLDEST DUE", "DEAD"});
        for (size_t c : {1, 2, 4}) t.alignRight(c);
        for (const auto& x : s.targets)
          t.add({x.name, std::to_string(x.due), std::to_string(x.overdue),
                 timeCell(x.oldest_due_ms, s.now_ms), std::to_string(x.dead)});
        out += "\n" + t.render();
      }
      if (!s.dead_by_route.empty()) {
        Table t({"ROUTE", "DEAD"});
        t.alignRight(1);
        for (const auto& [route, n] : s.dead_by_route)
          t.add({route.empty() ? "?" : route, std::to_string(n)});
        out += "\n" + t.render();
        if (s.dead_counted < s.dead)
          out +=
              "(dead jobs by target and route: the oldest " + std::to_string(s.dead_counted) + " counted)\n";
      }
      print(out);
      done(0);
    });
  });
}

int listCommand(const std::vector<std::string>& args, const std::string& config_path) {
  ParsedArgs a;
  Session session;
  const auto spec = with({{"--state", true, ""},
                          {"--route", true, ""},
                          {"--limit", true, ""},
                          {"--cursor", true, ""},
                          {"--since", true, ""},
                          {"--until", true, ""}});
  if (int rc = prepare(args, spec, kListUsage, config_path, &a, &session); rc >= 0) return rc;
  if (!a.positional.empty()) return usageError("list takes no arguments", kListUsage);
  queue::ListQuery q;
  const int64_t now = nowMs();
  q.state = a.value("--state", "all");
  if (!queue::isListState(q.state)) return usageError("unknown state " + q.state, kListUsage);
  q.route = a.value("--route");
  if (a.has("--route") && !queue::isValidName(q.route)) return usageError("invalid route name", kListUsage);
  if (a.has("--limit")) {
    auto n = parseCount(a.value("--limit"), 1, static_cast<int64_t>(queue::kListLimitMax));
    if (!n) return usageError("--limit must be 1 to 500", kListUsage);
    q.limit = static_cast<size_t>(*n);
  }
  q.cursor = a.value("--cursor");
  if (!q.cursor.empty() && !queue::decodeCursor(q.cursor)) return usageError("invalid --cursor", kListUsage);
  for (const char* opt : {"--since", "--until"}) {
    if (!a.has(opt)) continue;
    auto t = parseTimeArg(a.value(opt), now);
    if (!t) return usageError(std::string("cannot read the time of ") + opt, kListUsage);
    (std::string(opt) == "--since" ? q.since_ms : q.until_ms) = *t;
  }
  return session.run([&](queue::Operator& ops, Session::Done done) {
    ops.list(q, [&, done](Result<queue::ListPage> r) {
      if (!r) return done(failed(r.error()));
      const auto& page = *r;
      const int code = page.events.empty() && page.next_cursor.empty() ? 1 : 0;
      if (a.flag("--json")) {
        printJson(queue::toJson(page));
        return done(code);
      }
      const bool dead = q.state == "dead";
      Table t =
          dead ? Table({"ID", "DIED", "ROUTE", "KEY", "AMOUNT", "STATUS", "TARGET", "ATTEMPTS", "REASON"})
               : eventTable();
      if (dead) t.alignRight(7);
      for (const auto& e : page.events) {
        if (dead) {
          std::string attempts = "-", reason = "-";
          for (const auto& x : e.targets)
            if (x.name == e.dead_target) {
              attempts = std::to_string(x.attempts);
              reason = x.reason.empty() ? "-" : ellipsize(x.reason, 60);
            }
          t.add({e.id, timeCell(e.dead_at_ms, now), e.route, keyCell(e), amountCell(e.listing), statusCell(e),
                 e.dead_target, attempts, reason});
        } else {
          addEventRow(t, e, now);
        }
      }
      std::string out = t.rows() ? t.render() : std::string("no events match\n");
      if (!page.next_cursor.empty()) out += "more: --cursor " + page.next_cursor + "\n";
      print(out);
      if (!dead) return done(code);
      // Expected orders given up without a final state are dead too, though no event carries them.
      auto exp = std::make_shared<queue::Expectations>(ops.store(), session.prefix());
      exp->list("dead", q.route, q.limit, [exp, done, now, code](Result<queue::ExpectationList> l) {
        if (!l) return done(failed(l.error()));
        if (l->entries.empty()) return done(code);
        print("\nexpected orders given up without a final state:\n" + expectationTable(*l, now));
        done(0);
      });
    });
  });
}

int expectCommand(const std::vector<std::string>& args, const std::string& config_path) {
  ParsedArgs a;
  Session session;
  const auto spec =
      with({{"--route", true, ""}, {"--order", true, ""}, {"--amount", true, ""}, {"--deadline", true, ""}});
  if (int rc = prepare(args, spec, kExpectUsage, config_path, &a, &session); rc >= 0) return rc;
  if (!a.positional.empty()) return usageError("expect takes no arguments", kExpectUsage);
  std::optional<std::string> deadline;
  if (a.has("--deadline")) deadline = a.value("--deadline");
  auto checked = delivery::checkExpectedOrder(session.config(), a.value("--route"), a.value("--order"),
                                              a.value("--amount"), deadline);
  if (!checked) return usageError(checked.error().message, kExpectUsage);
  const delivery::ExpectedOrder e = *checked;
  const int64_t now = nowMs();
  return session.run([&](queue::Operator& ops, Session::Done done) {
    auto exp = std::make_shared<queue::Expectations>(ops.store(), session.prefix());
    exp->expect(
        e.route, e.order, e.amount, now + static_cast<int64_t>(e.deadline_ms), now,
        [&, exp, done](Result<queue::ExpectResult> r) {
          if (!r) return done(failed(r.error()));
          const auto& s = r->stored;
          const bool conflict = !r->created && s.amount != e.amount;
          if (a.flag("--json")) {
            ordered_json j{{"created", r->created},
                           {"route", s.route},
                           {"order", s.order},
                           {"state", s.state},
                           {"deadline_ms", s.deadline_ms}};
            j["amount"] = s.amount.empty() ? ordered_json(nullptr) : ordered_json(s.amount);
            if (conflict) j["error"] = "registered before with another amount: nothing changed";
            printJson(j);
          } else if (r->created) {
            print("expected: " + s.route + " " + s.order + ", deadline " + timeCell(s.deadline_ms, now) +
                  "\n");
          } else {
            print("already expected: " + s.route + " " + s.order + " (" + s.state + "), deadline " +
                  timeCell(s.deadline_ms, now) +
                  (conflict ? "; its amount is " + (s.amount.empty() ? "-" : s.amount) + ": nothing changed"
                            : "") +
                  "\n");
          }
          done(conflict ? 1 : 0);
        });
  });
}

int expectedCommand(const std::vector<std::string>& args, const std::string& config_path) {
  ParsedArgs a;
  Session session;
  const auto spec = with({{"--state", true, ""}, {"--route", true, ""}, {"--limit", true, ""}});
  if (int rc = prepare(args, spec, kExpectedUsage, config_path, &a, &session); rc >= 0) return rc;
  const std::string state = a.value("--state", "all");
  if (state != "open" && state != "dead" && state != "all")
    return usageError("unknown state " + state, kExpectedUsage);
  size_t limit = 50;
  if (a.has("--limit")) {
    auto n = parseCount(a.value("--limit"), 1, 500);
    if (!n) return usageError("--limit must be 1 to 500", kExpectedUsage);
    limit = static_cast<size_t>(*n);
  }
  const int64_t now = nowMs();
  return session.run([&](queue::Operator& ops, Session::Done done) {
    auto exp = std::make_shared<queue::Expectations>(ops.store(), session.prefix());
    exp->list(state, a.value("--route"), limit, [&, exp, done](Result<queue::ExpectationList> l) {
      if (!l) return done(failed(l.error()));
      if (a.flag("--json")) {
        printJson(expectationListJson(*l));
      } else {
        std::string out = expectationTable(*l, now);
        print(out.empty() ? "no expected orders match\n" : out);
        print(std::to_string(l->open) + " open, " + std::to_string(l->dead) + " dead\n");
      }
      done(l->entries.empty() ? 1 : 0);
    });
  });
}

int findCommand(const std::vector<std::string>& args, const std::string& config_path) {
  ParsedArgs a;
  Session session;
  const auto spec = with({{"--route", true, ""}, {"--limit", true, ""}});
  if (int rc = prepare(args, spec, kFindUsage, config_path, &a, &session); rc >= 0) return rc;
  if (a.positional.size() != 1) return usageError("find takes one key", kFindUsage);
  const std::string key = a.positional[0];
  if (!queue::isFindKey(key))
    return usageError("a key is 1 to 200 characters without control characters", kFindUsage);
  const std::string route = a.value("--route");
  if (a.has("--route") && !queue::isValidName(route)) return usageError("invalid route name", kFindUsage);
  size_t limit = 50;
  if (a.has("--limit")) {
    auto n = parseCount(a.value("--limit"), 1, static_cast<int64_t>(queue::kFindLimitMax));
    if (!n) return usageError("--limit must be 1 to 500", kFindUsage);
    limit = static_cast<size_t>(*n);
  }
  return session.run([&](queue::Operator& ops, Session::Done done) {
    ops.find(key, route, limit, [&, done](Result<queue::FindResult> r) {
      if (!r) return done(failed(r.error()));
      const int code = r->events.empty() ? 1 : 0;
      if (a.flag("--json")) {
        printJson(queue::findJson(*r, key, route));
        return done(code);
      }
      const int64_t now = nowMs();
      Table t = eventTable();
      for (const auto& e : r->events) addEventRow(t, e, now);
      std::string out = t.rows() ? t.render() : "no event is known by " + terminalSafe(key) + "\n";
      if (r->more) out += "more match: narrow with --route, or raise --limit\n";
      print(out);
      done(code);
    });
  });
}

int reindexCommand(const std::vector<std::string>& args, const std::string& config_path) {
  ParsedArgs a;
  Session session;
  if (int rc = prepare(args, with({}), kReindexUsage, config_path, &a, &session); rc >= 0) return rc;
  if (!a.positional.empty()) return usageError("reindex takes no arguments", kReindexUsage);
  const bool json = a.flag("--json");
  auto listing = [](const std::string& provider, const std::string& data_json) {
    return handlers::listingOf(provider,
                               nlohmann::json::parse(data_json, nullptr, /*allow_exceptions=*/false));
  };
  auto progress = [json](const queue::ReindexReport& r) {
    if (!json && r.batches % 25 == 0)
      std::fprintf(stderr, "reindex: %lld events read, %lld indexed\n", static_cast<long long>(r.read),
                   static_cast<long long>(r.indexed));
  };
  return session.run([&](queue::Operator& ops, Session::Done done) {
    ops.reindex(listing, progress, [&, done](Result<queue::ReindexReport> r) {
      if (!r) return done(failed(r.error()));
      if (json) {
        printJson(queue::toJson(*r));
        return done(0);
      }
      print(std::string(r->resumed ? "reindex went on from where an earlier run stopped: " : "reindex: ") +
            std::to_string(r->read) + " events read, " + std::to_string(r->indexed) + " indexed, complete\n");
      done(0);
    });
  });
}

int showCommand(const std::vector<std::string>& args, const std::string& config_path) {
  ParsedArgs a;
  Session session;
  if (int rc = prepare(args, with({}), kShowUsage, config_path, &a, &session); rc >= 0) return rc;
  if (a.positional.size() != 1) return usageError("show takes one event id", kShowUsage);
  const std::string id = a.positional[0];
  return session.run([&](queue::Operator& ops, Session::Done done) {
    ops.show(id, [&, done](Result<std::optional<queue::EventDetail>> r) {
      if (!r) return done(failed(r.error()));
      if (!r->has_value()) {
        if (a.flag("--json"))
          printJson(ordered_json{{"error", "not_found"}, {"id", id}});
        else
          std::fprintf(stderr, "payhookctl: no event %s\n", terminalSafe(id).c_str());
        return done(1);
      }
      const queue::EventDetail& d = **r;
      if (a.flag("--json")) {
        printJson(queue::toJson(d));
        return done(0);
      }
      const int64_t now = nowMs();
      const auto& s = d.summary;
      Table head({"FIELD", "VALUE"});
      head.add({"id", s.id});
      if (d.damaged) head.add({"damaged", "the stored callback does not decode; its fields below are empty"});
      head.add({"type", s.type});
      head.add({"route", s.route + " (" + s.provider + ")"});
      head.add({"state", s.state});
      head.add({"received", timeCell(s.received_at_ms, now)});
      head.add({"verified", s.verified ? "yes" : "no"});
      head.add({"idempotency key", d.idempotency_key.empty() ? "-" : d.idempotency_key});
      std::string keys;
      for (const auto& k : s.listing.keys) keys += (keys.empty() ? "" : ", ") + k;
      head.add({"keys", keys.empty() ? "-" : keys});
      head.add({"amount", amountCell(s.listing)});
      head.add({"status", statusCell(s)});
      if (!d.decision.empty()) head.add({"decision", d.decision});
      if (!d.same_as.empty()) head.add({"same as", d.same_as + " (not delivered: reported first)"});
      std::string out = head.render();
      ordered_json data = queue::embedJson(d.data_json);
      out += "\ndata\n" +
             terminalSafe(data.is_null() ? std::string("-")
                                         : data.dump(2, ' ', false, nlohmann::json::error_handler_t::replace),
                          true) +
             "\n";
      out += "\nraw request\n" + terminalSafe(d.raw.method + " " + d.raw.path) +
             (d.raw.query.empty() ? "" : "?" + terminalSafe(d.raw.query)) + "\n";
      if (!d.raw.content_type.empty()) out += "content-type: " + terminalSafe(d.raw.content_type) + "\n";
      out += terminalSafe(d.raw.body, true) + "\n";
      Table targets({"TARGET", "STATUS", "ATTEMPTS", "WHEN", "REASON"});
      targets.alignRight(2);
      for (const auto& t : s.targets) {
        const int64_t when = t.status == "due"      ? t.due_ms
                             : t.status == "leased" ? t.lease_until_ms
                                                    : t.dead_at_ms;
        targets.add({t.name, t.status, std::to_string(t.attempts), timeCell(when, now),
                     t.reason.empty() ? "-" : t.reason});
      }
      out += "\n" + (s.targets.empty() ? std::string("no targets\n") : targets.render());
      Table attempts({"#", "TARGET", "AT", "ANSWER", "LATENCY", "RESULT", "DETAIL"});
      attempts.alignRight(0);
      attempts.alignRight(4);
      for (const auto& rec : d.attempts) {
        ordered_json j = queue::embedJson(rec);
        if (!j.is_object()) {
          attempts.add({"?", "", "", "", "", "", ellipsize(rec, 60)});
          continue;
        }
        const int status = j.value("status", 0);
        std::string detail = j.value("error", std::string());
        if (detail.empty()) detail = j.value("answer_head", std::string());
        if (j.contains("reason"))
          detail = j.value("reason", std::string()) + (detail.empty() ? "" : ": " + detail);
        char latency[32];
        std::snprintf(latency, sizeof(latency), "%.0fms", j.value("latency_ms", 0.0));
        attempts.add({std::to_string(j.value("attempt", 0)), j.value("target", std::string()),
                      timeCell(j.value("at", int64_t{0}), now), status > 0 ? std::to_string(status) : "-",
                      latency, j.value("result", std::string()), ellipsize(detail, 60)});
      }
      out += "\n" + (d.attempts.empty() ? std::string("no attempts yet\n") : attempts.render());
      print(out);
      done(0);
    });
  });
}

int retryCommand(const std::vector<std::string>& args, const std::string& config_path) {
  ParsedArgs a;
  Session session;
  if (int rc = prepare(args, with({{"--dead", false, ""}, {"--route", true, ""}}), kRetryUsage, config_path,
                       &a, &session);
      rc >= 0)
    return rc;
  const bool dead = a.flag("--dead");
  if (dead == !a.positional.empty()) return usageError("give event ids or --dead", kRetryUsage);
  if (a.has("--route") && !dead) return usageError("--route goes with --dead", kRetryUsage);
  const std::string route = a.value("--route");
  if (a.has("--route") && !queue::isValidName(route)) return usageError("invalid route name", kRetryUsage);
  if (a.positional.size() > queue::kRetryIdsMax) return usageError("at most 1000 ids at a time", kRetryUsage);
  const int64_t now = nowMs();
  return session.run([&](queue::Operator& ops, Session::Done done) {
    if (dead) {
      ops.retryDead(route, now, [&, done](Result<queue::BulkReport> r) {
        if (!r) return done(failed(r.error()));
        if (a.flag("--json"))
          printJson(queue::retryDeadJson(*r));
        else
          std::printf("retried %lld dead job%s%s\n", static_cast<long long>(r->done), r->done == 1 ? "" : "s",
                      route.empty() ? "" : (" of route " + route).c_str());
        done(r->done > 0 ? 0 : 1);
      });
      return;
    }
    ops.retry(a.positional, now, [&, done](Result<std::vector<queue::RetryResult>> r) {
      if (!r) return done(failed(r.error()));
      bool all = true;
      for (const auto& x : *r) all = all && x.outcome == queue::RetryResult::Outcome::kRetried;
      if (a.flag("--json")) {
        printJson(queue::toJson(*r));
        return done(all ? 0 : 1);
      }
      Table t({"ID", "RESULT", "TARGETS", "STATE"});
      for (const auto& x : *r) {
        std::string targets;
        for (const auto& n : x.revived) targets += (targets.empty() ? "" : " ") + n + ":restarted";
        for (const auto& n : x.hurried) targets += (targets.empty() ? "" : " ") + n + ":due now";
        std::string result = queue::retryOutcomeName(x.outcome);
        if (x.outcome == queue::RetryResult::Outcome::kNothingToDo)
          result += x.state == "delivered" ? " (delivered: see replay)" : " (in flight or delivered)";
        t.add({x.id, result, targets.empty() ? "-" : targets, x.state.empty() ? "-" : x.state});
      }
      print(t.render());
      done(all ? 0 : 1);
    });
  });
}

int replayCommand(const std::vector<std::string>& args, const std::string& config_path) {
  ParsedArgs a;
  Session session;
  if (int rc = prepare(args, with({}), kReplayUsage, config_path, &a, &session); rc >= 0) return rc;
  if (a.positional.size() != 1) return usageError("replay takes one event id", kReplayUsage);
  const std::string id = a.positional[0];
  const int64_t now = nowMs();
  return session.run([&](queue::Operator& ops, Session::Done done) {
    ops.replay(id, now, [&, done](Result<queue::ReplayResult> r) {
      if (!r) return done(failed(r.error()));
      using O = queue::ReplayResult::Outcome;
      const int code = r->outcome == O::kReplayed ? 0 : 1;
      if (a.flag("--json")) {
        printJson(queue::toJson(*r));
        return done(code);
      }
      std::string targets;
      for (const auto& t : r->targets) targets += (targets.empty() ? "" : ", ") + t;
      const std::string safe_id = terminalSafe(id);
      switch (r->outcome) {
        case O::kReplayed:
          std::printf("%s: due again for %s; state %s\n", safe_id.c_str(), targets.c_str(), r->state.c_str());
          break;
        case O::kNotFound:
          std::printf("%s: no such event\n", safe_id.c_str());
          break;
        case O::kBusy:
          std::printf("%s: a job of it is due or in flight (state %s); wait, or use retry\n", safe_id.c_str(),
                      r->state.c_str());
          break;
        case O::kNothingToDo:
          std::printf("%s: no target has delivered it (state %s); see retry\n", safe_id.c_str(),
                      r->state.c_str());
          break;
      }
      done(code);
    });
  });
}

int purgeCommand(const std::vector<std::string>& args, const std::string& config_path) {
  ParsedArgs a;
  Session session;
  if (int rc = prepare(args, with({{"--dead", false, ""}, {"--older-than", true, ""}, {"--route", true, ""}}),
                       kPurgeUsage, config_path, &a, &session);
      rc >= 0)
    return rc;
  if (!a.flag("--dead")) return usageError("purge needs --dead (only dead events are purged)", kPurgeUsage);
  if (!a.positional.empty()) return usageError("purge takes no arguments", kPurgeUsage);
  const std::string route = a.value("--route");
  if (a.has("--route") && !queue::isValidName(route)) return usageError("invalid route name", kPurgeUsage);
  uint64_t older = 0;
  if (a.has("--older-than")) {
    auto d = config::parseDuration(a.value("--older-than"));
    if (!d) return usageError("--older-than takes a duration such as 7d or 12h", kPurgeUsage);
    older = *d;
  }
  const int64_t cutoff = nowMs() - static_cast<int64_t>(older);
  return session.run([&](queue::Operator& ops, Session::Done done) {
    ops.purgeDead(route, cutoff, [&, done](Result<queue::BulkReport> r) {
      if (!r) return done(failed(r.error()));
      if (a.flag("--json")) {
        printJson(queue::purgeJson(*r, cutoff));
      } else {
        std::printf("purged %lld dead event%s (dead since before %s)\n", static_cast<long long>(r->done),
                    r->done == 1 ? "" : "s", timeCell(cutoff, cutoff + static_cast<int64_t>(older)).c_str());
        if (r->skipped > 0)
          std::printf("skipped %lld dead job%s of events still being delivered to another target\n",
                      static_cast<long long>(r->skipped), r->skipped == 1 ? "" : "s");
      }
      done(r->done > 0 ? 0 : 1);
    });
  });
}

}  // namespace payhook::cli
