// Drives ResponseDecoder the way the plain transport does (http/plain_transport.cpp): each answer is read
// in pieces into a fresh decoder state (start()), fed until it completes or fails, and a complete answer
// that leaves the connection reusable lets the next bytes be the answer to a next request. The end of the
// input is the server's close (finish()).
//
// Input: one byte of flags (bit 0: the first request is HEAD; bits 1-2: the body cap), one byte choosing
// the size of the reads (0: everything in one read), then the bytes from the wire.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/response_decoder.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using payhook::http::ClientResponse;
using payhook::http::ResponseDecoder;

constexpr size_t kCaps[] = {0, 16, 1024, 64 * 1024};

void checkAnswer(const ClientResponse& r, size_t cap) {
  FUZZ_CHECK(r.status >= 200 && r.status <= 999);  // never 0 (a transport error) nor an interim status
  FUZZ_CHECK(r.body.size() <= cap);
  FUZZ_CHECK(!r.truncated || r.body.size() == cap);
  FUZZ_CHECK(r.truncated == !r.error.empty());
  for (const auto& h : r.headers) {
    for (char c : h.name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    if (!h.value.empty()) {
      FUZZ_CHECK(h.value.front() != ' ' && h.value.front() != '\t');
      FUZZ_CHECK(h.value.back() != ' ' && h.value.back() != '\t');
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool head = (data[0] & 1) != 0;
  const size_t cap = kCaps[(data[0] >> 1) & 3];
  const size_t read_size = data[1];
  std::string_view wire = payhook::fuzz::asView(data + 2, size - 2);

  ResponseDecoder d(cap);
  d.start(head);
  bool open = true;
  while (open && !wire.empty()) {
    // A fresh heap block per read, as from the socket: a pointer kept across feeds shows up in ASan.
    const size_t n = read_size == 0 ? wire.size() : std::min(wire.size(), read_size);
    std::vector<char> chunk(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
    wire.remove_prefix(n);
    size_t pos = 0;
    while (open && pos < chunk.size()) {
      const auto p = d.feed(chunk.data() + pos, chunk.size() - pos);
      FUZZ_CHECK(p.consumed <= chunk.size() - pos);
      FUZZ_CHECK(d.begun());
      pos += p.consumed;
      switch (p.state) {
        case ResponseDecoder::State::kNeedMore:
          FUZZ_CHECK(pos == chunk.size());
          break;
        case ResponseDecoder::State::kComplete: {
          const bool reusable = d.reusable();
          checkAnswer(d.takeResponse(), cap);
          // Leftover bytes make the connection unusable, as they do in the transport.
          if (!reusable || pos < chunk.size()) {
            open = false;
            break;
          }
          d.start(false);
          FUZZ_CHECK(!d.begun());
          break;
        }
        case ResponseDecoder::State::kError:
          FUZZ_CHECK(p.consumed == 0);
          FUZZ_CHECK(!d.error().empty());
          FUZZ_CHECK(d.feed("x", 1).state == ResponseDecoder::State::kError);
          open = false;
          break;
      }
    }
  }
  if (open && d.begun()) {
    const auto state = d.finish();
    if (state == ResponseDecoder::State::kComplete) {
      FUZZ_CHECK(!d.reusable());
      checkAnswer(d.takeResponse(), cap);
    } else {
      FUZZ_CHECK(state == ResponseDecoder::State::kError && !d.error().empty());
    }
  }
  return 0;
}
