// The pure parts of queue::Operator: the list cursor, the names it accepts, and the JSON shapes payhookctl
// --json and the admin API share.
#include "queue/operator.h"

#include <gtest/gtest.h>

#include "queue/operator_json.h"

namespace payhook::queue {
namespace {

TEST(ListCursor, RoundTrips) {
  const ListCursor c{1'795'687'200'123, 3};
  EXPECT_EQ(encodeCursor(c), "1795687200123.3");
  auto d = decodeCursor(encodeCursor(c));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->score, c.score);
  EXPECT_EQ(d->skip, c.skip);
}

TEST(ListCursor, RefusesAnythingElse) {
  for (const char* bad :
       {"", ".", "1.", ".1", "1", "a.1", "1.b", "-1.0", "1.-1", "1.2.3", "1 .2", "99999999999999999999.0"})
    EXPECT_FALSE(decodeCursor(bad)) << bad;
}

TEST(Names, EventIdsAndRoutes) {
  EXPECT_TRUE(isValidName("0190b2c4-7e1f-7c3a-9d2e-1a2b3c4d5e6f"));
  EXPECT_TRUE(isValidName("@shop-integra"));
  EXPECT_TRUE(isValidName("shop.v2_x:1"));
  EXPECT_FALSE(isValidName(""));
  EXPECT_FALSE(isValidName("a b"));
  EXPECT_FALSE(isValidName("a|b"));
  EXPECT_FALSE(isValidName("{payhook}:ev:x"));
  EXPECT_FALSE(isValidName(std::string(129, 'a')));
  EXPECT_TRUE(isListState("all"));
  EXPECT_TRUE(isListState("stored"));
  EXPECT_FALSE(isListState("leased"));
}

TEST(OperatorJson, SummaryShape) {
  EventSummary e;
  e.id = "ev1";
  e.state = "dead";
  e.route = "shop";
  e.provider = "yoomoney";
  e.type = "yoomoney.payment_aviso";
  e.received_at_ms = 1'795'687'200'123;
  e.verified = true;
  TargetState t;
  t.name = "orders";
  t.status = "dead";
  t.attempts = 3;
  t.dead_at_ms = 1'795'687'260'000;
  t.reason = "HTTP 410";
  e.targets.push_back(t);
  e.last_attempt = R"({"attempt":3,"status":410})";
  e.listing.keys = {"2003", "9001"};
  e.listing.amount = "87.10";
  e.listing.currency = "RUB";
  e.listing.status = "paymentAviso";
  e.listing.outcome = "succeeded";
  auto j = toJson(e);
  EXPECT_EQ(
      j.dump(),
      R"({"id":"ev1","state":"dead","route":"shop","provider":"yoomoney","type":"yoomoney.payment_aviso",)"
      R"("received_at":"2026-11-26T10:00:00.123Z","verified":true,"key":"2003","keys":["2003","9001"],)"
      R"("amount":"87.10","currency":"RUB","status":"paymentAviso","outcome":"succeeded","targets":[{"name":"orders","status":"dead",)"
      R"("attempts":3,"dead_at":"2026-11-26T10:01:00.000Z","reason":"HTTP 410"}],)"
      R"("last_attempt":{"attempt":3,"status":410}})");
}

TEST(OperatorJson, PageRetryAndPurge) {
  ListPage p;
  p.next_cursor = "5.1";
  p.scanned = 7;
  EXPECT_EQ(toJson(p).dump(), R"({"events":[],"next_cursor":"5.1","scanned":7})");
  p.next_cursor.clear();
  EXPECT_EQ(toJson(p)["next_cursor"], nullptr);
  RetryResult r;
  r.id = "x";
  r.outcome = RetryResult::Outcome::kRetried;
  r.revived = {"orders"};
  r.state = "pending";
  EXPECT_EQ(
      toJson(std::vector<RetryResult>{r}).dump(),
      R"({"results":[{"id":"x","result":"retried","revived":["orders"],"hurried":[],"state":"pending"}],)"
      R"("retried":1})");
  EXPECT_EQ(purgeJson(BulkReport{2, 1, 3}, 1'795'687'200'000).dump(),
            R"({"purged":2,"skipped":1,"cutoff":"2026-11-26T10:00:00.000Z"})");
  EXPECT_EQ(embedJson("not json"), "not json");
  EXPECT_EQ(embedJson(""), nullptr);
}

}  // namespace
}  // namespace payhook::queue
