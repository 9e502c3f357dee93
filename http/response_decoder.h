// ResponseDecoder: the answer to one HTTP/1.x request over llhttp, with no socket in sight. The plain
// transport keeps one per connection and starts it again for every request it sends.
//
//   d.start(is_head);
//   auto p = d.feed(data, len);   // kNeedMore: read more; kComplete: takeResponse(); kError: close
//   on EOF: d.finish()            // ends a close-delimited body, or says the answer was cut short
//
// Interim answers (1xx) are parsed and dropped: status, headers and body are those of the final answer.
// Header names come out in lower case, values without surrounding white space. A body longer than
// max_body is cut: the first max_body bytes are kept, truncated is set, the error says so, and the
// connection must not be reused since the rest of the body is still on the way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "http/client.h"

namespace payhook::http {

class ResponseDecoder {
 public:
  enum class State {
    kNeedMore,  // every byte given was consumed; the answer is not complete yet
    kComplete,  // the final answer is complete (or cut at max_body): takeResponse()
    kError,     // not a valid answer: error() says why; the connection is done
  };
  struct Progress {
    State state;
    size_t consumed;  // bytes used; after kComplete, any rest is bytes the server should not have sent
  };

  // Header section bytes of one answer, interim answers included; curl allows about as much per line.
  static constexpr size_t kMaxHeaderBytes = 64 * 1024;

  explicit ResponseDecoder(size_t max_body);
  ~ResponseDecoder();
  ResponseDecoder(const ResponseDecoder&) = delete;
  ResponseDecoder& operator=(const ResponseDecoder&) = delete;

  // Prepares for the answer to a new request. `head`: the request was HEAD, so the answer has no body
  // whatever its Content-Length says.
  void start(bool head);

  Progress feed(const char* data, size_t len);
  // The peer closed its side. kComplete when that ends a close-delimited body; kError otherwise (also when
  // no byte came at all: begun() tells that case apart).
  State finish();

  // Moves out the finished answer (after kComplete).
  ClientResponse takeResponse();

  // Any byte of an answer seen since start(): a request that failed before that may be sent again.
  bool begun() const;
  // After kComplete: the connection may carry another request (keep-alive, not cut, nothing left over).
  bool reusable() const;
  // After kError: a short reason (static text or llhttp's), never bytes of the answer.
  const std::string& error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace payhook::http
