#include "http/response_decoder.h"

#include <string>

#include <gtest/gtest.h>

namespace payhook::http {
namespace {

using State = ResponseDecoder::State;

// Feeds `wire` in pieces of `step` bytes (0: at once) until the decoder stops asking for more.
ResponseDecoder::Progress feedAll(ResponseDecoder& d, const std::string& wire, size_t step = 0) {
  size_t pos = 0;
  ResponseDecoder::Progress p{State::kNeedMore, 0};
  while (pos < wire.size()) {
    const size_t n = step == 0 ? wire.size() - pos : std::min(step, wire.size() - pos);
    p = d.feed(wire.data() + pos, n);
    pos += p.consumed;
    if (p.state != State::kNeedMore) return {p.state, pos};
  }
  return {p.state, pos};
}

TEST(ResponseDecoder, ReadsStatusHeadersAndBodyInAnySplit) {
  const std::string wire =
      "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Padded:   spaced value  \r\n"
      "Content-Length: 11\r\n\r\n{\"ok\":true}";
  for (size_t step = 0; step <= wire.size(); ++step) {
    ResponseDecoder d(1024);
    const auto p = feedAll(d, wire, step);
    ASSERT_EQ(p.state, State::kComplete) << step;
    EXPECT_EQ(p.consumed, wire.size());
    EXPECT_TRUE(d.reusable());
    const auto r = d.takeResponse();
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, "{\"ok\":true}");
    ASSERT_NE(r.header("content-type"), nullptr) << step;
    EXPECT_EQ(*r.header("content-type"), "application/json");
    ASSERT_NE(r.header("x-padded"), nullptr);
    EXPECT_EQ(*r.header("x-padded"), "spaced value");
    EXPECT_FALSE(r.truncated);
    EXPECT_TRUE(r.error.empty());
  }
}

TEST(ResponseDecoder, AcceptsBareLineFeedsAsCurlDoes) {
  ResponseDecoder d(1024);
  const auto p = feedAll(d, "HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nok");
  ASSERT_EQ(p.state, State::kComplete) << d.error();
  const auto r = d.takeResponse();
  EXPECT_EQ(r.body, "ok");
  ASSERT_NE(r.header("x-a"), nullptr);
  EXPECT_EQ(*r.header("x-a"), "b");
}

TEST(ResponseDecoder, DecodesChunkedBodies) {
  ResponseDecoder d(1024);
  const auto p =
      feedAll(d,
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n"
              "Trailer: x\r\n\r\n");
  ASSERT_EQ(p.state, State::kComplete);
  EXPECT_TRUE(d.reusable());
  EXPECT_EQ(d.takeResponse().body, "abcde");
}

TEST(ResponseDecoder, SkipsInterimAnswers) {
  ResponseDecoder d(1024);
  const std::string wire =
      "HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
      "HTTP/1.1 204 No Content\r\nX-B: 2\r\n\r\n";
  const auto p = feedAll(d, wire, 7);
  ASSERT_EQ(p.state, State::kComplete);
  const auto r = d.takeResponse();
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.header("x-a"), nullptr);
  EXPECT_NE(r.header("x-b"), nullptr);
}

TEST(ResponseDecoder, AHeadAnswerEndsAfterItsHeaders) {
  ResponseDecoder d(1024);
  d.start(/*head=*/true);
  const auto p = feedAll(d, "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n");
  ASSERT_EQ(p.state, State::kComplete);
  EXPECT_TRUE(d.reusable());
  EXPECT_TRUE(d.takeResponse().body.empty());
}

TEST(ResponseDecoder, ACloseDelimitedBodyEndsAtFinish) {
  ResponseDecoder d(1024);
  auto p = feedAll(d, "HTTP/1.1 200 OK\r\n\r\npart one ", 4);
  EXPECT_EQ(p.state, State::kNeedMore);
  p = feedAll(d, "and two");
  EXPECT_EQ(p.state, State::kNeedMore);
  EXPECT_EQ(d.finish(), State::kComplete);
  EXPECT_FALSE(d.reusable());
  const auto r = d.takeResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "part one and two");
}

TEST(ResponseDecoder, TheBodyIsCutAtTheCap) {
  ResponseDecoder d(10);
  const auto p = feedAll(d, "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz", 5);
  ASSERT_EQ(p.state, State::kComplete);
  EXPECT_FALSE(d.reusable());
  const auto r = d.takeResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "abcdefghij");
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.error, "response body larger than 10 bytes, cut");
  EXPECT_NE(r.header("content-length"), nullptr);
}

TEST(ResponseDecoder, KeepAliveFollowsVersionAndConnectionHeader) {
  struct Case {
    const char* wire;
    bool reusable;
  };
  const Case cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true},
  };
  for (const auto& c : cases) {
    ResponseDecoder d(1024);
    ASSERT_EQ(feedAll(d, c.wire).state, State::kComplete) << c.wire;
    EXPECT_EQ(d.reusable(), c.reusable) << c.wire;
  }
}

TEST(ResponseDecoder, BytesAfterTheAnswerAreLeftAndForbidReuse) {
  ResponseDecoder d(1024);
  const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
  const auto p = d.feed(wire.data(), wire.size());
  ASSERT_EQ(p.state, State::kComplete);
  EXPECT_EQ(p.consumed, wire.find("okHTTP") + 2);
  EXPECT_FALSE(d.reusable());
}

TEST(ResponseDecoder, StartsAgainForTheNextAnswer) {
  ResponseDecoder d(1024);
  ASSERT_EQ(feedAll(d, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na").state, State::kComplete);
  EXPECT_EQ(d.takeResponse().body, "a");
  d.start(false);
  EXPECT_FALSE(d.begun());
  ASSERT_EQ(feedAll(d, "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb").state, State::kComplete);
  const auto r = d.takeResponse();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "b");
}

TEST(ResponseDecoder, ErrorsSayWhatWentWrong) {
  {
    ResponseDecoder d(1024);
    EXPECT_EQ(d.finish(), State::kError);
    EXPECT_FALSE(d.begun());
    EXPECT_NE(d.error().find("without answering"), std::string::npos) << d.error();
  }
  {
    ResponseDecoder d(1024);
    EXPECT_EQ(feedAll(d, "HTTP/1.1 200 OK\r\nContent-Le").state, State::kNeedMore);
    EXPECT_TRUE(d.begun());
    EXPECT_EQ(d.finish(), State::kError);
    EXPECT_NE(d.error().find("before the response was complete"), std::string::npos) << d.error();
  }
  {
    ResponseDecoder d(1024);
    EXPECT_EQ(feedAll(d, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").state, State::kNeedMore);
    EXPECT_EQ(d.finish(), State::kError);
  }
  {
    ResponseDecoder d(1024);
    EXPECT_EQ(feedAll(d, "<html>hello</html>\r\n\r\n").state, State::kError);
    EXPECT_NE(d.error().find("malformed response"), std::string::npos) << d.error();
    EXPECT_EQ(d.feed("x", 1).state, State::kError) << "the decoder stays dead";
  }
  {
    ResponseDecoder d(1024);
    EXPECT_EQ(feedAll(d, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n").state,
              State::kError);
  }
  {
    ResponseDecoder d(1024);
    const std::string many = "HTTP/1.1 200 OK\r\n" + std::string(ResponseDecoder::kMaxHeaderBytes, 'a');
    EXPECT_EQ(feedAll(d, many, 4096).state, State::kError);
    EXPECT_NE(d.error().find("too large"), std::string::npos) << d.error();
  }
}

}  // namespace
}  // namespace payhook::http
