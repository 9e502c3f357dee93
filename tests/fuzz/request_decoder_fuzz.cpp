// Drives RequestDecoder the way Connection does (http/connection.cpp): bytes arrive in reads, are
// appended to a buffer, and fed until the decoder wants more, reports an error, or finishes a request that
// is taken before the rest of the buffer is fed. A request without keep-alive, or an error, ends the
// connection, as does the end of the input (EOF).
//
// Input: two bytes choosing where the first read ends, one byte choosing the size of the later reads
// (0: everything in one read), then the bytes from the wire.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_decoder.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using payhook::http::RequestDecoder;

// Small limits, so that the fuzzer reaches every 413 and 431 path within its default input size.
payhook::http::ServerLimits fuzzLimits() {
  payhook::http::ServerLimits limits;
  limits.max_body = 4 * 1024;
  limits.max_header_bytes = 2 * 1024;
  limits.max_headers = 20;
  return limits;
}

class FakeConnection {
 public:
  FakeConnection() : limits_(fuzzLimits()), decoder_(limits_) {}

  bool open() const { return open_; }

  // Connection::onData() then Connection::parse(): buffer, then feed while reading is allowed.
  void onData(std::string_view bytes) {
    in_.append(bytes);
    while (open_ && pos_ < in_.size()) feedOnce();
  }

 private:
  void feedOnce() {
    // A fresh heap block of exactly the unread bytes for every feed(): a pointer the decoder kept from an
    // earlier call, or a read past `len`, becomes an error ASan reports. (The connection feeds from its
    // read buffer first and from a copy of the leftovers later, so the decoder must not hold on to either.)
    std::vector<char> chunk(in_.begin() + static_cast<std::ptrdiff_t>(pos_), in_.end());
    const auto progress = decoder_.feed(chunk.data(), chunk.size());
    FUZZ_CHECK(progress.consumed <= chunk.size());
    pos_ += progress.consumed;
    switch (progress.state) {
      case RequestDecoder::State::kNeedMore:
        // Connection::parse() loops while bytes remain: consuming less here would spin forever.
        FUZZ_CHECK(progress.consumed == chunk.size());
        FUZZ_CHECK(decoder_.phase() != RequestDecoder::Phase::kDone);
        break;
      case RequestDecoder::State::kContinueWanted:
        FUZZ_CHECK(progress.consumed > 0);  // the same loop must move forward
        FUZZ_CHECK(decoder_.phase() == RequestDecoder::Phase::kBody);
        (void)decoder_.http10();  // Connection::writeContinue() asks
        break;
      case RequestDecoder::State::kRequestReady:
        onRequest(progress.consumed);
        break;
      case RequestDecoder::State::kError:
        onError(progress.consumed);
        break;
    }
  }

  // Connection::dispatch(), then the answer is written and the buffered rest is parsed.
  void onRequest(size_t consumed) {
    FUZZ_CHECK(consumed > 0);
    FUZZ_CHECK(decoder_.phase() == RequestDecoder::Phase::kDone);
    const bool keep_alive = decoder_.keepAlive();
    (void)decoder_.http10();
    (void)decoder_.isHead();
    payhook::http::Request request = decoder_.takeRequest();
    FUZZ_CHECK(decoder_.phase() == RequestDecoder::Phase::kIdle);
    FUZZ_CHECK(!request.method.empty());
    FUZZ_CHECK(request.body.size() <= limits_.max_body);
    FUZZ_CHECK(request.headers.size() <= limits_.max_headers);
    for (const auto& h : request.headers) {
      for (char c : h.name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));  // handlers look names up in lower case
    }
    if (!keep_alive) open_ = false;  // the answer carries "connection: close"
  }

  // Connection::fail(): answer the status and close.
  void onError(size_t consumed) {
    FUZZ_CHECK(consumed == 0);
    const int status = decoder_.errorStatus();
    FUZZ_CHECK(status == 400 || status == 413 || status == 431 || status == 501);
    FUZZ_CHECK(decoder_.errorReason() != nullptr);
    FUZZ_CHECK(decoder_.phase() == RequestDecoder::Phase::kDone);
    // The decoder is dead from now on.
    const char again[] = "GET / HTTP/1.1\r\n\r\n";
    const auto p = decoder_.feed(again, sizeof again - 1);
    FUZZ_CHECK(p.state == RequestDecoder::State::kError && p.consumed == 0);
    FUZZ_CHECK(decoder_.errorStatus() == status);
    open_ = false;
  }

  payhook::http::ServerLimits limits_;
  RequestDecoder decoder_;
  std::string in_;  // Connection::in_ without the compaction, which does not change what is fed
  size_t pos_ = 0;
  bool open_ = true;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const size_t first_read_seed = (size_t{data[0]} << 8) | data[1];
  const size_t later_read_size = data[2];
  std::string_view wire = payhook::fuzz::asView(data + 3, size - 3);

  FakeConnection conn;
  // libuv never reports an empty read, so neither does this loop.
  const size_t first = first_read_seed % (wire.size() + 1);
  if (first > 0) conn.onData(wire.substr(0, first));
  wire.remove_prefix(first);
  while (conn.open() && !wire.empty()) {
    const size_t n = later_read_size == 0 ? wire.size() : std::min(wire.size(), later_read_size);
    conn.onData(wire.substr(0, n));
    wire.remove_prefix(n);
  }
  return 0;  // EOF: the connection closes with whatever was under way
}
