#include "tests/reliability/ledger.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <unordered_map>

namespace payhook::reliability {
namespace {

constexpr size_t kSampleIds = 10;

void sample(std::vector<std::string>& ids, const std::string& id) {
  if (ids.size() < kSampleIds) ids.push_back(id);
}

bool is2xx(int status) {
  return status >= 200 && status < 300;
}

}  // namespace

LedgerReport reconcile(const LedgerInput& in) {
  LedgerReport r;

  std::unordered_map<std::string, std::vector<const Delivery*>> by_id;
  for (const Delivery& d : in.deliveries) by_id[d.ledger_id].push_back(&d);
  r.deliveries = in.deliveries.size();

  std::unordered_map<std::string, const Send*> sent;
  for (const Send& s : in.sends) sent.emplace(s.id, &s);
  for (const auto& [id, list] : by_id)
    if (!sent.count(id)) r.unknown += list.size();

  for (const Send& s : in.sends) {
    ++r.sent;
    ++r.statuses[s.status];
    const bool acked = is2xx(s.status);
    if (acked)
      ++r.acked;
    else if (s.status == 0)
      ++r.no_answer;
    else
      ++r.rejected;

    const bool delivered = by_id.count(s.id) > 0;
    if (delivered) ++r.delivered;

    auto st = in.stored.find(s.id);
    const bool keyed = st != in.stored.end() && !st->second.event_id.empty();
    const bool stored = keyed && st->second.exists;
    if (keyed && (!stored || st->second.state != "delivered")) {
      ++r.stuck;
      sample(r.stuck_ids, s.id);
    }

    if (!acked) {
      if (stored) ++r.unacked_stored;
      if (delivered) ++r.unacked_delivered;
      continue;
    }
    if (!delivered) {
      ++r.lost;
      sample(r.lost_ids, s.id);
    }
    const bool in_outage = std::any_of(in.redis_down.begin(), in.redis_down.end(), [&](const Window& w) {
      return s.sent >= w.from && s.answered <= w.to;
    });
    if (in_outage) ++r.false_acks_outage;
    if (!stored) ++r.false_acks_not_stored;
    if (in_outage || !stored) {
      ++r.false_acks;
      sample(r.false_ack_ids, s.id);
    }
  }

  for (const auto& [id, list] : by_id) {
    if (list.size() < 2 || !sent.count(id)) continue;
    r.duplicates += list.size() - 1;
    std::set<std::string> events;
    for (const Delivery* d : list) events.insert(d->event_id);
    if (events.size() > 1) {  // one callback became two events: idempotency broke
      r.duplicates_unexplained += list.size() - 1;
      sample(r.unexplained_ids, id);
      continue;
    }
    std::vector<const Delivery*> ordered = list;
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const Delivery* a, const Delivery* b) { return a->attempt < b->attempt; });
    auto recorded = in.attempts.find(ordered.front()->event_id);
    for (size_t i = 0; i + 1 < ordered.size(); ++i) {
      const int attempt = ordered[i]->attempt;
      const AttemptResult* record = nullptr;
      if (recorded != in.attempts.end())
        for (const AttemptResult& a : recorded->second)
          if (a.attempt == attempt) record = &a;
      if (ordered[i + 1]->attempt == attempt || (record && record->result == "delivered")) {
        ++r.duplicates_unexplained;
        sample(r.unexplained_ids, id);
      } else if (!record) {
        ++r.duplicates_lease;
      } else {
        ++r.duplicates_answer_lost;
      }
    }
  }
  return r;
}

std::string LedgerReport::line() const {
  std::ostringstream o;
  o << "sent " << sent << "  2xx " << acked << "  non-2xx " << rejected;
  bool first = true;
  for (const auto& [status, n] : statuses) {
    if (is2xx(status) || status == 0) continue;
    o << (first ? " (" : ", ") << status << ": " << n;
    first = false;
  }
  if (!first) o << ")";
  o << "  no-answer " << no_answer << "  delivered " << delivered << " (unacked " << unacked_delivered
    << ")  lost " << lost << "  false-acks " << false_acks << "  stuck " << stuck << "  dup " << duplicates
    << " (lease " << duplicates_lease << ", answer lost " << duplicates_answer_lost << ", unexplained "
    << duplicates_unexplained << ")";
  if (unknown) o << "  unknown " << unknown;
  return o.str();
}

std::string seconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace payhook::reliability
