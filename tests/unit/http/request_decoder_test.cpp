#include "http/request_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace payhook::http {
namespace {

using State = RequestDecoder::State;

// What a connection would see after feeding a byte stream in the given pieces.
struct Decoded {
  std::vector<Request> requests;
  std::vector<bool> keep_alive;
  int continues = 0;
  int error = 0;
};

// Feeds `pieces` one after another the way a connection does: unconsumed bytes stay buffered and are fed
// again, ahead of the next piece, once the finished request has been taken.
Decoded decode(const ServerLimits& limits, const std::vector<std::string_view>& pieces) {
  RequestDecoder d(limits);
  Decoded out;
  std::string buf;
  size_t pos = 0;
  for (auto piece : pieces) {
    buf.append(piece);
    while (pos < buf.size()) {
      auto p = d.feed(buf.data() + pos, buf.size() - pos);
      EXPECT_LE(p.consumed, buf.size() - pos);
      pos += p.consumed;
      if (p.state == State::kError) {
        out.error = d.errorStatus();
        return out;
      }
      if (p.state == State::kContinueWanted) ++out.continues;
      if (p.state == State::kRequestReady) {
        out.keep_alive.push_back(d.keepAlive());
        out.requests.push_back(d.takeRequest());
      }
      if (p.state == State::kNeedMore) {
        EXPECT_EQ(pos, buf.size());
      }
    }
  }
  return out;
}

Decoded decode(std::string_view whole, const ServerLimits& limits = {}) {
  return decode(limits, {whole});
}

void expectSameRequests(const Decoded& a, const Decoded& b, const std::string& context) {
  ASSERT_EQ(a.error, b.error) << context;
  ASSERT_EQ(a.requests.size(), b.requests.size()) << context;
  EXPECT_EQ(a.keep_alive, b.keep_alive) << context;
  for (size_t i = 0; i < a.requests.size(); ++i) {
    const auto& x = a.requests[i];
    const auto& y = b.requests[i];
    EXPECT_EQ(x.method, y.method) << context;
    EXPECT_EQ(x.path, y.path) << context;
    EXPECT_EQ(x.query, y.query) << context;
    EXPECT_EQ(x.body, y.body) << context;
    ASSERT_EQ(x.headers.size(), y.headers.size()) << context;
    for (size_t h = 0; h < x.headers.size(); ++h) {
      EXPECT_EQ(x.headers[h].name, y.headers[h].name) << context;
      EXPECT_EQ(x.headers[h].value, y.headers[h].value) << context;
    }
  }
}

const std::string kPost =
    "POST /yoomoney/aviso?shop=1&x=%20y HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\n"
    "X-Mixed-CASE:   padded value  \r\n"
    "Empty:\r\n"
    "Content-Length: 11\r\n"
    "\r\n"
    "a=1&b=2&c=3";

const std::string kChunked =
    "POST /hooks/x HTTP/1.1\r\n"
    "Host: h\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5;name=value\r\n"
    "hello\r\n"
    "6;a=\"quoted\";b\r\n"
    " world\r\n"
    "0\r\n"
    "X-Trailer: t\r\n"
    "\r\n";

TEST(RequestDecoderTest, ParsesMethodPathQueryHeadersAndBody) {
  auto d = decode(kPost);
  ASSERT_EQ(d.error, 0);
  ASSERT_EQ(d.requests.size(), 1u);
  const Request& r = d.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/yoomoney/aviso");
  EXPECT_EQ(r.query, "shop=1&x=%20y");
  EXPECT_EQ(r.body, "a=1&b=2&c=3");
  ASSERT_EQ(r.headers.size(), 5u);
  EXPECT_EQ(r.headers[0].name, "host");
  EXPECT_EQ(r.headers[2].name, "x-mixed-case");
  EXPECT_EQ(r.headers[2].value, "padded value");
  ASSERT_NE(r.header("empty"), nullptr);
  EXPECT_EQ(*r.header("empty"), "");
  EXPECT_EQ(*r.header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_TRUE(r.peer.empty());
  EXPECT_TRUE(d.keep_alive[0]);
}

TEST(RequestDecoderTest, PathWithoutQueryAndEmptyQuery) {
  auto d = decode("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b? HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(d.requests.size(), 2u);
  EXPECT_EQ(d.requests[0].path, "/a");
  EXPECT_EQ(d.requests[0].query, "");
  EXPECT_EQ(d.requests[1].path, "/b");
  EXPECT_EQ(d.requests[1].query, "");
  EXPECT_TRUE(d.requests[0].body.empty());
}

TEST(RequestDecoderTest, SplitAtEveryByteBoundaryParsesIdentically) {
  const std::string stream = kPost + kChunked + "GET /x?y=z HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  const auto whole = decode(stream);
  ASSERT_EQ(whole.error, 0);
  ASSERT_EQ(whole.requests.size(), 3u);
  EXPECT_EQ(whole.keep_alive, (std::vector<bool>{true, true, false}));
  for (size_t i = 0; i <= stream.size(); ++i) {
    std::string_view s(stream);
    expectSameRequests(whole, decode({}, {s.substr(0, i), s.substr(i)}), "split at " + std::to_string(i));
  }
  // Three-way splits around every position catch state carried across more than one boundary.
  for (size_t i = 1; i + 2 <= stream.size(); i += 3) {
    std::string_view s(stream);
    expectSameRequests(whole, decode({}, {s.substr(0, i), s.substr(i, 2), s.substr(i + 2)}),
                       "split at " + std::to_string(i) + "+2");
  }
}

TEST(RequestDecoderTest, OneByteAtATimeParsesIdentically) {
  const std::string stream = kPost + kChunked;
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < stream.size(); ++i) bytes.push_back(std::string_view(stream).substr(i, 1));
  expectSameRequests(decode(stream), decode({}, bytes), "byte by byte");
}

TEST(RequestDecoderTest, PipelinedRequestsComeOutOneByOneInOrder) {
  const std::string a = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string b = "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  const std::string c = "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string all = a + b + c;
  RequestDecoder d({});
  size_t pos = 0;
  auto p = d.feed(all.data(), all.size());
  ASSERT_EQ(p.state, State::kRequestReady);
  EXPECT_EQ(p.consumed, a.size());  // stops exactly at the end of the first request
  EXPECT_EQ(d.phase(), RequestDecoder::Phase::kDone);
  EXPECT_EQ(d.takeRequest().path, "/1");
  pos += p.consumed;
  p = d.feed(all.data() + pos, all.size() - pos);
  ASSERT_EQ(p.state, State::kRequestReady);
  EXPECT_EQ(p.consumed, b.size());
  auto r2 = d.takeRequest();
  EXPECT_EQ(r2.path, "/2");
  EXPECT_EQ(r2.body, "abc");
  ASSERT_NE(r2.header("host"), nullptr);
  EXPECT_EQ(*r2.header("host"), "h");             // its own, not the previous request's
  EXPECT_EQ(r2.header("content-type"), nullptr);  // nothing leaks from the previous request
  pos += p.consumed;
  p = d.feed(all.data() + pos, all.size() - pos);
  ASSERT_EQ(p.state, State::kRequestReady);
  EXPECT_EQ(p.consumed, c.size());
  EXPECT_EQ(d.takeRequest().path, "/3");
  EXPECT_EQ(d.phase(), RequestDecoder::Phase::kIdle);
  p = d.feed(all.data() + all.size(), 0);
  EXPECT_EQ(p.state, State::kNeedMore);
}

TEST(RequestDecoderTest, ChunkedBodyWithExtensionsAndTrailers) {
  auto d = decode(kChunked);
  ASSERT_EQ(d.error, 0);
  ASSERT_EQ(d.requests.size(), 1u);
  EXPECT_EQ(d.requests[0].body, "hello world");
  // Trailers are dropped: handlers see only the header section.
  EXPECT_EQ(d.requests[0].header("x-trailer"), nullptr);
  EXPECT_EQ(d.requests[0].headers.size(), 2u);
  EXPECT_TRUE(d.keep_alive[0]);
}

TEST(RequestDecoderTest, PhasesFollowTheRequest) {
  RequestDecoder d({});
  EXPECT_EQ(d.phase(), RequestDecoder::Phase::kIdle);
  std::string head = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n";
  EXPECT_EQ(d.feed(head.data(), head.size()).state, State::kNeedMore);
  EXPECT_EQ(d.phase(), RequestDecoder::Phase::kHeaders);
  std::string end = "\r\nx";
  EXPECT_EQ(d.feed(end.data(), end.size()).state, State::kNeedMore);
  EXPECT_EQ(d.phase(), RequestDecoder::Phase::kBody);
  EXPECT_EQ(d.feed("y", 1).state, State::kRequestReady);
  EXPECT_EQ(d.phase(), RequestDecoder::Phase::kDone);
  EXPECT_EQ(d.takeRequest().body, "xy");
  EXPECT_EQ(d.phase(), RequestDecoder::Phase::kIdle);
}

TEST(RequestDecoderTest, ContentLengthOverLimitIs413BeforeAnyBodyByte) {
  ServerLimits limits;
  limits.max_body = 10;
  RequestDecoder d(limits);
  // Only the header section: the answer must not wait for a single body byte.
  std::string head = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n";
  auto p = d.feed(head.data(), head.size());
  EXPECT_EQ(p.state, State::kError);
  EXPECT_EQ(d.errorStatus(), 413);
  EXPECT_EQ(d.phase(), RequestDecoder::Phase::kDone);
  // Dead from now on.
  EXPECT_EQ(d.feed("0123456789a", 11).state, State::kError);
  EXPECT_EQ(d.errorStatus(), 413);

  EXPECT_EQ(decode("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", limits).error, 0);
  EXPECT_EQ(decode("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999\r\n\r\n", limits).error,
            413);
}

TEST(RequestDecoderTest, ChunkedBodyOverLimitIs413AtTheCrossingChunk) {
  ServerLimits limits;
  limits.max_body = 10;
  RequestDecoder d(limits);
  std::string first = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n";
  EXPECT_EQ(d.feed(first.data(), first.size()).state, State::kNeedMore);
  // The chunk header announcing 3 more bytes crosses 10: refused before its data arrives.
  std::string crossing = "3\r\n";
  EXPECT_EQ(d.feed(crossing.data(), crossing.size()).state, State::kError);
  EXPECT_EQ(d.errorStatus(), 413);

  EXPECT_EQ(decode("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n8\r\n12345678\r\n2\r\nab\r\n0\r\n\r\n",
                   limits)
                .error,
            0);
  EXPECT_EQ(
      decode("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n", limits)
          .error,
      413);
}

// RFC 9112 section 3.2: Host is required in HTTP/1.1 and never allowed twice; otherwise a proxy in front
// and payhook could each read another host.
TEST(RequestDecoderTest, HostIsRequiredOnceInHttp11) {
  EXPECT_EQ(decode("POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n").error, 400);
  EXPECT_EQ(decode("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n").error, 400);
  EXPECT_EQ(decode("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n").error, 400);
  auto http10 = decode("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(http10.error, 0);
  EXPECT_EQ(http10.requests.size(), 1u);
  auto empty = decode("GET / HTTP/1.1\r\nHost:\r\n\r\n");  // an empty Host is allowed (no authority)
  EXPECT_EQ(empty.error, 0);
  // Checked per request: the second request of a connection is refused on its own.
  auto d = decode("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  EXPECT_EQ(d.error, 400);
  ASSERT_EQ(d.requests.size(), 1u);
  EXPECT_EQ(d.requests[0].path, "/a");
}

TEST(RequestDecoderTest, TooManyHeaderLinesIs431) {
  ServerLimits limits;
  limits.max_headers = 3;
  EXPECT_EQ(decode("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", limits).error, 0);
  // Decided at the fourth name, before the header section ends.
  EXPECT_EQ(decode("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC", limits).error, 431);
}

TEST(RequestDecoderTest, TooLargeHeaderSectionIs431) {
  const std::string request =
      "GET /path HTTP/1.1\r\nHost: example\r\nX-Long: " + std::string(60, 'v') + "\r\n\r\n";
  ServerLimits limits;
  limits.max_header_bytes = request.size();
  EXPECT_EQ(decode(request, limits).error, 0);
  limits.max_header_bytes = 64;
  EXPECT_EQ(decode(request, limits).error, 431);
  // Detected while the header section is still open, byte by byte as well.
  const std::string open = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(200, 'v');
  EXPECT_EQ(decode(open, limits).error, 431);
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < open.size(); ++i) bytes.push_back(std::string_view(open).substr(i, 1));
  EXPECT_EQ(decode(limits, bytes).error, 431);
  // A long target counts as well.
  EXPECT_EQ(decode("GET /" + std::string(100, 'p') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits).error, 431);
  // Whitespace that produces no header bytes of its own still counts.
  EXPECT_EQ(decode("GET / HTTP/1.1\r\nHost: h\r\nX:" + std::string(200, ' '), limits).error, 431);
}

TEST(RequestDecoderTest, HeaderLimitsApplyPerRequestNotPerConnection) {
  ServerLimits limits;
  limits.max_header_bytes = 64;
  limits.max_headers = 3;
  std::string one = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
  std::string stream;
  for (int i = 0; i < 20; ++i) stream += one;
  auto d = decode(stream, limits);
  EXPECT_EQ(d.error, 0);
  EXPECT_EQ(d.requests.size(), 20u);
}

TEST(RequestDecoderTest, TrailersShareTheHeaderLimits) {
  ServerLimits limits;
  limits.max_headers = 2;
  EXPECT_EQ(
      decode(
          "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
          limits)
          .error,
      431);
}

TEST(RequestDecoderTest, ExpectContinueIsReportedAfterTheHeaderSection) {
  const std::string head = "POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
  RequestDecoder d({});
  const std::string all = head + "hello";
  auto p = d.feed(all.data(), all.size());
  ASSERT_EQ(p.state, State::kContinueWanted);
  EXPECT_EQ(p.consumed, head.size());
  EXPECT_EQ(d.phase(), RequestDecoder::Phase::kBody);
  p = d.feed(all.data() + head.size(), all.size() - head.size());
  ASSERT_EQ(p.state, State::kRequestReady);
  EXPECT_EQ(d.takeRequest().body, "hello");

  EXPECT_EQ(decode("POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n0\r\n\r\n")
                .continues,
            1);
  // Nothing to wait for: no interim answer.
  EXPECT_EQ(
      decode("POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n").continues,
      0);
  EXPECT_EQ(decode("GET /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n").continues, 0);
  // Too large: 413 instead of inviting the body.
  ServerLimits small;
  small.max_body = 4;
  auto big = decode(head + "hello", small);
  EXPECT_EQ(big.continues, 0);
  EXPECT_EQ(big.error, 413);
}

TEST(RequestDecoderTest, MalformedRequestsAre400) {
  EXPECT_EQ(decode("GARBAGE\r\n\r\n").error, 400);
  EXPECT_EQ(decode("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").error, 400);  // a TLS hello
  EXPECT_EQ(decode("GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n").error, 400);
  EXPECT_EQ(decode("GET / HTTP/9.9\r\n\r\n").error, 400);
  EXPECT_EQ(decode("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n").error, 400);
  EXPECT_EQ(decode("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd").error,
            400);
  // Both framings at once is the classic smuggling vector.
  EXPECT_EQ(
      decode("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
          .error,
      400);
  EXPECT_EQ(decode("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").error, 400);
  EXPECT_EQ(decode("GET / HTTP/1.1\nHost: x\n\n").error, 400);  // bare LF
}

TEST(RequestDecoderTest, UnsupportedTransferEncodingIs501) {
  EXPECT_EQ(decode("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n").error,
            501);
  EXPECT_EQ(decode("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n").error, 501);
  // Chunked applied twice is a framing error that llhttp reports itself.
  EXPECT_EQ(decode("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n0\r\n\r\n")
                .error,
            400);
  EXPECT_EQ(decode("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n").error, 0);
}

TEST(RequestDecoderTest, KeepAliveFollowsHttp11AndHttp10Rules) {
  auto d = decode(
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
      "GET /b HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(d.keep_alive, (std::vector<bool>{true, true, false}));

  RequestDecoder h10({});
  std::string plain = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_EQ(h10.feed(plain.data(), plain.size()).state, State::kRequestReady);
  EXPECT_FALSE(h10.keepAlive());
  EXPECT_TRUE(h10.http10());

  RequestDecoder ka({});
  std::string asked = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
  ASSERT_EQ(ka.feed(asked.data(), asked.size()).state, State::kRequestReady);
  EXPECT_TRUE(ka.keepAlive());
  EXPECT_TRUE(ka.http10());
  ka.takeRequest();
  std::string next = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT_EQ(ka.feed(next.data(), next.size()).state, State::kRequestReady);
  EXPECT_FALSE(ka.http10());
}

TEST(RequestDecoderTest, HeadIsFlaggedAndUpgradeEndsTheConnection) {
  RequestDecoder d({});
  std::string head = "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT_EQ(d.feed(head.data(), head.size()).state, State::kRequestReady);
  EXPECT_TRUE(d.isHead());
  EXPECT_EQ(d.takeRequest().method, "HEAD");

  RequestDecoder u({});
  std::string up = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nrest";
  auto p = u.feed(up.data(), up.size());
  ASSERT_EQ(p.state, State::kRequestReady);
  EXPECT_FALSE(u.keepAlive());  // answered as a plain request, then the connection closes
  EXPECT_EQ(u.takeRequest().path, "/ws");
}

TEST(RequestDecoderTest, LeadingEmptyLinesBetweenRequestsAreTolerated) {
  auto d = decode(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx\r\nGET /n HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(d.error, 0);
  ASSERT_EQ(d.requests.size(), 2u);
  EXPECT_EQ(d.requests[1].path, "/n");
}

TEST(RequestDecoderTest, ChunkExtensionsAreBoundedWhereverTheBytesSplit) {
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  // A few extensions are allowed (and dropped).
  auto ok = decode(head + "3;sig=abcdef;n\r\nabc\r\n0\r\n\r\n");
  ASSERT_EQ(ok.error, 0);
  ASSERT_EQ(ok.requests.size(), 1u);
  EXPECT_EQ(ok.requests[0].body, "abc");

  // A megabyte of extension on a one-byte chunk is refused early, not read to its end.
  const std::string flood = head + "1;x=" + std::string(1 << 20, 'a');
  RequestDecoder d({});
  auto p = d.feed(flood.data(), flood.size());
  EXPECT_EQ(p.state, State::kError);
  EXPECT_EQ(d.errorStatus(), 400);

  // The same, arriving in small reads after the header section.
  std::vector<std::string> pieces{head, "1;x="};
  for (int i = 0; i < 64; ++i) pieces.push_back(std::string(1024, 'a'));
  EXPECT_EQ(decode(ServerLimits{}, std::vector<std::string_view>(pieces.begin(), pieces.end())).error, 400);
}

TEST(RequestDecoderTest, ChunkedFramingBeyondTwiceMaxBodyIs413) {
  ServerLimits limits;
  limits.max_body = 1024;
  limits.max_header_bytes = 1024;
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  // One-byte chunks: 6 wire bytes for each byte of payload, well within max_body but not within 3 KiB.
  std::string tiny;
  for (int i = 0; i < 1000; ++i) tiny += "1\r\nx\r\n";
  EXPECT_EQ(decode(limits, {head, tiny, "0\r\n\r\n"}).error, 413);
  // Chunk sizes padded with zeros carry no payload at all.
  EXPECT_EQ(decode(limits, {head, std::string(4096, '0')}).error, 413);
  // Chunks of 64 bytes fit.
  std::string fair;
  for (int i = 0; i < 15; ++i) fair += "40\r\n" + std::string(64, 'y') + "\r\n";
  auto d = decode(limits, {head, fair, "0\r\n\r\n"});
  ASSERT_EQ(d.error, 0);
  ASSERT_EQ(d.requests.size(), 1u);
  EXPECT_EQ(d.requests[0].body.size(), 15u * 64);
}

}  // namespace
}  // namespace payhook::http
