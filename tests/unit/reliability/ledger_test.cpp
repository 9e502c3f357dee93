// The ledger's arithmetic on hand-made runs: what counts as lost, as a false ack, and which duplicates an
// expired lease or a lost answer explains.
#include "tests/reliability/ledger.h"

#include <gtest/gtest.h>

namespace payhook::reliability {
namespace {

using std::chrono::milliseconds;

const TimePoint kT0{};

TimePoint at(int ms) {
  return kT0 + milliseconds(ms);
}

Send send(const std::string& id, int status, int sent_ms = 0, int answered_ms = 1) {
  return Send{id, 0, at(sent_ms), at(answered_ms), status};
}

Stored delivered(const std::string& event) {
  return Stored{event, true, "delivered"};
}

TEST(Ledger, EveryAckDeliveredOnceIsClean) {
  LedgerInput in;
  in.sends = {send("a", 204), send("b", 204)};
  in.deliveries = {{"a", "ev-a", 1, at(5)}, {"b", "ev-b", 1, at(6)}};
  in.stored = {{"a", delivered("ev-a")}, {"b", delivered("ev-b")}};
  LedgerReport r = reconcile(in);
  EXPECT_EQ(r.sent, 2u);
  EXPECT_EQ(r.acked, 2u);
  EXPECT_EQ(r.delivered, 2u);
  EXPECT_EQ(r.lost + r.false_acks + r.stuck + r.duplicates + r.unknown, 0u);
  EXPECT_EQ(r.line(),
            "sent 2  2xx 2  non-2xx 0  no-answer 0  delivered 2 (unacked 0)  lost 0  false-acks 0  stuck 0  "
            "dup 0 (lease 0, answer lost 0, unexplained 0)");
}

TEST(Ledger, AnAckNeverDeliveredIsLostAndItsPendingEventStuck) {
  LedgerInput in;
  in.sends = {send("a", 204)};
  in.stored = {{"a", Stored{"ev-a", true, "retrying"}}};
  LedgerReport r = reconcile(in);
  EXPECT_EQ(r.lost, 1u);
  EXPECT_EQ(r.stuck, 1u);
  EXPECT_EQ(r.false_acks, 0u);
  EXPECT_EQ(r.lost_ids, std::vector<std::string>{"a"});
}

TEST(Ledger, UnacknowledgedRequestsAreCountedNeverBlamed) {
  LedgerInput in;
  in.sends = {send("timeout-stored", 0), send("503", 503), send("reset", 0)};
  in.deliveries = {{"timeout-stored", "ev-1", 1, at(9)}};
  in.stored = {{"timeout-stored", delivered("ev-1")}, {"503", {}}, {"reset", {}}};
  LedgerReport r = reconcile(in);
  EXPECT_EQ(r.no_answer, 2u);
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(r.unacked_stored, 1u);
  EXPECT_EQ(r.unacked_delivered, 1u);
  EXPECT_EQ(r.lost + r.false_acks + r.stuck, 0u);
  EXPECT_NE(r.line().find("non-2xx 1 (503: 1)"), std::string::npos) << r.line();
}

TEST(Ledger, A2xxWhollyInsideARedisOutageOrWithoutAnEventIsAFalseAck) {
  LedgerInput in;
  in.sends = {send("inside", 204, 110, 120), send("straddles", 204, 90, 110), send("absent", 204, 300, 301),
              send("hash-gone", 204, 300, 301)};
  in.deliveries = {{"inside", "ev-1", 1, at(500)},
                   {"straddles", "ev-2", 1, at(500)},
                   {"absent", "ev-3", 1, at(500)},
                   {"hash-gone", "ev-4", 1, at(500)}};
  in.stored = {{"inside", delivered("ev-1")},
               {"straddles", delivered("ev-2")},
               {"absent", {}},
               {"hash-gone", Stored{"ev-4", false, ""}}};
  in.redis_down = {{at(100), at(200)}};
  LedgerReport r = reconcile(in);
  EXPECT_EQ(r.false_acks, 3u);
  EXPECT_EQ(r.false_acks_outage, 1u);
  EXPECT_EQ(r.false_acks_not_stored, 2u);
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.false_ack_ids, (std::vector<std::string>{"inside", "absent", "hash-gone"}));
}

TEST(Ledger, DuplicatesAreAttributedByWhatRedisRecordedOfTheEarlierAttempt) {
  LedgerInput in;
  in.sends = {send("lease", 204), send("answer", 204), send("recorded", 204), send("twice", 204),
              send("same-attempt", 204)};
  in.deliveries = {
      // attempt 1 has no record: the killed process never completed it; its lease expired.
      {"lease", "ev-l", 2, at(20)},
      {"lease", "ev-l", 1, at(10)},
      // attempt 1 is recorded as a retry: the app's answer never reached payhookd.
      {"answer", "ev-a", 1, at(10)},
      {"answer", "ev-a", 2, at(20)},
      // attempt 1 is recorded delivered, yet attempt 2 came: unexplained.
      {"recorded", "ev-r", 1, at(10)},
      {"recorded", "ev-r", 2, at(20)},
      // one callback, two events: idempotency broke.
      {"twice", "ev-t1", 1, at(10)},
      {"twice", "ev-t2", 1, at(20)},
      // the same attempt delivered twice.
      {"same-attempt", "ev-s", 1, at(10)},
      {"same-attempt", "ev-s", 1, at(20)},
  };
  for (const auto& [id, ev] : std::vector<std::pair<std::string, std::string>>{{"lease", "ev-l"},
                                                                               {"answer", "ev-a"},
                                                                               {"recorded", "ev-r"},
                                                                               {"twice", "ev-t1"},
                                                                               {"same-attempt", "ev-s"}})
    in.stored[id] = delivered(ev);
  in.attempts = {{"ev-l", {{2, "delivered"}}},
                 {"ev-a", {{1, "retry"}, {2, "delivered"}}},
                 {"ev-r", {{1, "delivered"}, {2, "delivered"}}},
                 {"ev-s", {{1, "delivered"}}}};
  LedgerReport r = reconcile(in);
  EXPECT_EQ(r.duplicates, 5u);
  EXPECT_EQ(r.duplicates_lease, 1u);
  EXPECT_EQ(r.duplicates_answer_lost, 1u);
  EXPECT_EQ(r.duplicates_unexplained, 3u);
  EXPECT_EQ(r.delivered, 5u);
  EXPECT_EQ(r.deliveries, 10u);
  EXPECT_EQ(r.lost, 0u);
}

TEST(Ledger, DeliveriesOfIdsNeverSentAreUnknown) {
  LedgerInput in;
  in.deliveries = {{"ghost", "ev-g", 1, at(1)}, {"", "ev-x", 1, at(2)}};
  LedgerReport r = reconcile(in);
  EXPECT_EQ(r.unknown, 2u);
  EXPECT_EQ(r.delivered, 0u);
}

TEST(Ledger, SecondsHaveOneDecimal) {
  EXPECT_EQ(seconds(milliseconds(420)), "0.4 s");
  EXPECT_EQ(seconds(milliseconds(61'260)), "61.3 s");
}

}  // namespace
}  // namespace payhook::reliability
