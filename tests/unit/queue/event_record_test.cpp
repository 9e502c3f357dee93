#include "queue/event_record.h"

#include <gtest/gtest.h>

#include <string>

namespace payhook::queue::record {
namespace {

Event sample() {
  Event e;
  e.id = "0190a000-0000-7000-8000-000000000001";
  e.type = "yoomoney.payment_aviso";
  e.route = "shop";
  e.provider = "yoomoney";
  e.received_at_ms = 1790000000123;
  e.verified = true;
  e.data_json = R"({"sum":"10.00"})";
  e.idempotency_key = "aviso:1";
  e.raw.method = "POST";
  e.raw.path = "/yoomoney/aviso";
  e.raw.query = "";
  e.raw.content_type = "application/x-www-form-urlencoded";
  e.raw.body = std::string("a=1:2&b=\0\r\n9:", 13);  // colons, digits and NUL inside a part
  return e;
}

std::string packedOf(const Event& e) {
  std::string at, out;
  const Parts parts = partsOf(e, at);
  appendPacked(out, parts);
  EXPECT_EQ(out.size(), packedSize(parts));
  return out;
}

TEST(EventRecord, PacksEachPartAsLengthColonBytes) {
  Event e = sample();
  e.raw.body = "x";
  EXPECT_EQ(
      packedOf(e),
      "13:179000000012322:yoomoney.payment_aviso4:shop8:yoomoney1:115:{\"sum\":\"10.00\"}7:aviso:14:POST"
      "15:/yoomoney/aviso0:33:application/x-www-form-urlencoded1:x");
}

TEST(EventRecord, RoundTripsEveryPart) {
  const Event e = sample();
  const std::string packed = packedOf(e);
  auto parts = unpack(packed);
  ASSERT_TRUE(parts.has_value());
  Event back;
  fill(*parts, back);
  EXPECT_EQ(back.type, e.type);
  EXPECT_EQ(back.route, e.route);
  EXPECT_EQ(back.provider, e.provider);
  EXPECT_EQ(back.received_at_ms, e.received_at_ms);
  EXPECT_TRUE(back.verified);
  EXPECT_EQ(back.data_json, e.data_json);
  EXPECT_EQ(back.idempotency_key, e.idempotency_key);
  EXPECT_EQ(back.raw.method, e.raw.method);
  EXPECT_EQ(back.raw.path, e.raw.path);
  EXPECT_EQ(back.raw.query, "");
  EXPECT_EQ(back.raw.content_type, e.raw.content_type);
  EXPECT_EQ(back.raw.body, e.raw.body);
}

TEST(EventRecord, RefusesWhatIsNotExactlyTwelveParts) {
  const std::string good = packedOf(sample());
  EXPECT_FALSE(unpack(""));
  EXPECT_FALSE(unpack(good.substr(0, good.size() - 1)));  // the last part cut short
  EXPECT_FALSE(unpack(good + "0:"));                      // a thirteenth part
  EXPECT_FALSE(unpack(good + "x"));                       // trailing bytes
  std::string eleven = good.substr(0, good.rfind("13:a=1"));
  EXPECT_FALSE(unpack(eleven));
  EXPECT_FALSE(unpack("013:1790000000123" + good.substr(16)));          // a leading zero
  EXPECT_FALSE(unpack("+13:1790000000123" + good.substr(16)));          // a sign
  EXPECT_FALSE(unpack(":1790000000123" + good.substr(16)));             // no length
  EXPECT_FALSE(unpack("99999999999999999999999:x" + good.substr(16)));  // beyond size_t
  EXPECT_FALSE(unpack("18446744073709551615:x"));                       // longer than what is left
}

TEST(EventRecord, AReceivedAtThatIsNotANumberReadsAsZero) {
  Parts parts{};
  parts[0] = "soon";
  Event e;
  e.received_at_ms = 5;
  fill(parts, e);
  EXPECT_EQ(e.received_at_ms, 0);
  EXPECT_FALSE(e.verified);
}

// The listing: four values, then the keys the store indexes, one per line.
TEST(EventRecord, ListingPacksValuesThenKeys) {
  EventListing l{{"2003", "55"}, "87.10", "RUB", "paymentAviso", "succeeded"};
  EXPECT_EQ(packListing(l), "87.10\nRUB\npaymentAviso\nsucceeded\n2003\n55");
  const EventListing back = unpackListing(packListing(l));
  EXPECT_EQ(back.keys, l.keys);
  EXPECT_EQ(back.amount, "87.10");
  EXPECT_EQ(back.currency, "RUB");
  EXPECT_EQ(back.status, "paymentAviso");
  EXPECT_EQ(back.outcome, "succeeded");
  EXPECT_EQ(packListing(EventListing{}), "\n\n\n");
  EXPECT_TRUE(unpackListing("").keys.empty());
}

// A value cannot break the lines; a key that no operator types, or a repeated one, is not indexed.
TEST(EventRecord, ListingKeepsItsLinesWhateverTheValues) {
  EventListing l{{"a\nb", "", std::string(kListingKeyMax + 1, 'k'), "ok", "ok",
                  std::string(kListingKeyMax, 'k'), std::string("nul\0", 4), "tab\there"},
                 "1\n2",
                 "R\rUB",
                 "s\x7f",
                 "o"};
  const EventListing back = unpackListing(packListing(l));
  EXPECT_EQ(back.keys, (std::vector<std::string>{"ok", std::string(kListingKeyMax, 'k')}));
  EXPECT_EQ(back.amount, "1 2");
  EXPECT_EQ(back.currency, "R UB");
  EXPECT_EQ(back.status, "s ");
  EXPECT_EQ(back.outcome, "o");
  EXPECT_FALSE(isListingKey("tab\there"));
  EXPECT_TRUE(isListingKey("ЗАКАЗ-2003"));
}

}  // namespace
}  // namespace payhook::queue::record
