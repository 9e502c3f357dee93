#include "queue/expectations.h"

#include "queue/lua_scripts.h"
#include "redis/script_reply.h"

namespace payhook::queue {
namespace {

using redis::lua::element;
using redis::lua::integerOr0;
using redis::lua::isArray;
using redis::lua::number;
using redis::lua::scriptError;
using redis::lua::text;

}  // namespace

bool isExpectationName(std::string_view name) {
  if (name.empty() || name.size() > 200) return false;
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

std::string expectationLines(const std::string& key_prefix, const Event& e) {
  std::string order;
  if (e.order.keys.empty()) return order;
  // 'p': a callback pending its confirmation by the provider's API.
  order += e.order.reconciliation ? "r\n" : e.order.confirm_first ? "p\n" : "c\n";
  order += e.order.final ? "1\n" : "0\n";
  order += e.order.state.empty() ? std::string("-") : e.order.state;
  order += '\n';
  order += key_prefix + "expect:due:" + e.route + '\n';
  order += key_prefix + "expect:dead\n";
  for (const auto& k : e.order.keys)
    if (isExpectationName(k)) order += key_prefix + "exp:" + e.route + ":" + k + '\n';
  return order;
}

Expectations::Expectations(RedisStore& store, std::string prefix)
    : store_(store),
      key_prefix_("{" + prefix + "}:"),
      register_script_(std::string(scripts::kExpectRegister)),
      claim_script_(std::string(scripts::kExpectClaim)),
      finish_script_(std::string(scripts::kExpectFinish)),
      list_script_(std::string(scripts::kExpectList)) {}

void Expectations::expect(const std::string& route, const std::string& order, const std::string& amount,
                          int64_t deadline_ms, int64_t now_ms, std::function<void(Result<ExpectResult>)> cb) {
  store_.runScript(register_script_,
                   {key_prefix_ + "exp:" + route + ":" + order, key_prefix_ + "expect:due:" + route,
                    key_prefix_ + "expect:routes"},
                   {route, order, amount, number(deadline_ms), number(now_ms)},
                   [cb = std::move(cb), route, order, amount, deadline_ms, now_ms](ScriptReply r) {
                     if (!r.ok() || !isArray(&r.value) || r.value.elements.empty())
                       return cb(scriptError("registering the expected order", r));
                     ExpectResult out;
                     Expectation& e = out.stored;
                     e.route = route;
                     e.order = order;
                     out.created = integerOr0(element(r.value, 0)) == 1;
                     if (out.created) {
                       e.amount = amount;
                       e.deadline_ms = deadline_ms;
                       e.created_ms = now_ms;
                       e.state = "open";
                     } else {
                       e.amount = text(element(r.value, 1));
                       e.deadline_ms = integerOr0(element(r.value, 2));
                       e.state = text(element(r.value, 3));
                       e.created_ms = integerOr0(element(r.value, 4));
                       e.status = text(element(r.value, 5));
                       e.closed_by = text(element(r.value, 6));
                       e.event = text(element(r.value, 7));
                     }
                     cb(std::move(out));
                   });
}

void Expectations::claim(const std::vector<std::pair<std::string, size_t>>& wants, int64_t now_ms,
                         int64_t lease_until_ms, const std::string& token,
                         std::function<void(Result<std::vector<ClaimedExpectation>>)> cb) {
  std::vector<std::string> args{key_prefix_, number(now_ms), number(lease_until_ms), token};
  for (const auto& [route, max] : wants) {
    args.push_back(route);
    args.push_back(number(static_cast<int64_t>(max)));
  }
  store_.runScript(claim_script_, {key_prefix_ + "expect:routes"}, std::move(args),
                   [cb = std::move(cb), token](ScriptReply r) {
                     if (!r.ok() || !isArray(&r.value)) return cb(scriptError("claiming expected orders", r));
                     std::vector<ClaimedExpectation> out;
                     for (const auto& v : r.value.elements) {
                       ClaimedExpectation c;
                       c.route = text(element(v, 0));
                       c.order = text(element(v, 1));
                       c.deadline_ms = integerOr0(element(v, 2));
                       c.created_ms = integerOr0(element(v, 3));
                       c.polls = integerOr0(element(v, 4));
                       c.status = text(element(v, 5));
                       c.token = token;
                       if (!c.route.empty() && !c.order.empty()) out.push_back(std::move(c));
                     }
                     cb(std::move(out));
                   });
}

void Expectations::finish(const ClaimedExpectation& c, const char* mode, int64_t when_ms,
                          const std::string& last_status, const std::string& text_arg,
                          std::function<void(Result<std::string>)> cb) {
  store_.runScript(finish_script_,
                   {key_prefix_ + "exp:" + c.route + ":" + c.order, key_prefix_ + "expect:due:" + c.route,
                    key_prefix_ + "expect:dead"},
                   {c.order, c.token, mode, number(when_ms), last_status, text_arg, c.route + "\n" + c.order},
                   [cb = std::move(cb)](ScriptReply r) {
                     if (!r.ok()) return cb(scriptError("finishing a poll", r));
                     cb(text(&r.value));
                   });
}

void Expectations::reschedule(const ClaimedExpectation& c, int64_t due_ms, const std::string& last_status,
                              const std::string& error, std::function<void(Result<std::string>)> cb) {
  finish(c, "retry", due_ms, last_status, error, std::move(cb));
}

void Expectations::bury(const ClaimedExpectation& c, int64_t now_ms, const std::string& last_status,
                        const std::string& reason, std::function<void(Result<std::string>)> cb) {
  finish(c, "dead", now_ms, last_status, reason, std::move(cb));
}

void Expectations::list(const std::string& state, const std::string& route, size_t limit,
                        std::function<void(Result<ExpectationList>)> cb) {
  store_.runScript(list_script_, {key_prefix_ + "expect:routes", key_prefix_ + "expect:dead"},
                   {key_prefix_, state, route, number(static_cast<int64_t>(limit))},
                   [cb = std::move(cb)](ScriptReply r) {
                     if (!r.ok() || !isArray(&r.value) || r.value.elements.size() != 3)
                       return cb(scriptError("listing expected orders", r));
                     ExpectationList out;
                     out.open = integerOr0(element(r.value, 0));
                     out.dead = integerOr0(element(r.value, 1));
                     if (const ScriptValue* entries = element(r.value, 2); isArray(entries)) {
                       for (const auto& v : entries->elements) {
                         Expectation e;
                         e.route = text(element(v, 0));
                         e.order = text(element(v, 1));
                         e.amount = text(element(v, 2));
                         e.deadline_ms = integerOr0(element(v, 3));
                         e.created_ms = integerOr0(element(v, 4));
                         e.state = text(element(v, 5));
                         e.polls = integerOr0(element(v, 6));
                         e.last_status = text(element(v, 7));
                         e.status = text(element(v, 8));
                         e.error = text(element(v, 9));
                         e.reason = text(element(v, 10));
                         e.died_at_ms = integerOr0(element(v, 11));
                         e.closed_by = text(element(v, 12));
                         e.event = text(element(v, 13));
                         out.entries.push_back(std::move(e));
                       }
                     }
                     cb(std::move(out));
                   });
}

}  // namespace payhook::queue
