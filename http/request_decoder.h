// RequestDecoder: HTTP/1.x request framing over llhttp, with no socket in sight.
//
// Pull style, so that a connection can answer pipelined requests strictly in order: feed() consumes
// bytes only up to the end of one request and then stops, saying how many bytes it used. The caller
// takes the finished Request, answers it, and later feeds the bytes it had left over (and new ones).
//
//   RequestDecoder d(limits);
//   auto p = d.feed(data, len);          // p.consumed <= len
//   switch (p.state) {
//     case kNeedMore: read more, feed it;                 (every byte was consumed)
//     case kContinueWanted: write "100 Continue", feed data + p.consumed;
//     case kRequestReady: Request r = d.takeRequest(); later feed data + p.consumed;
//     case kError: answer d.errorStatus() and close;      (the decoder is dead from now on)
//   }
//
// Limits (from ServerLimits), each checked as early as the bytes allow:
//   - request line + header section over max_header_bytes, or more than max_headers header lines: 431.
//     Bytes are counted from the first byte after the previous request; trailers of a chunked body count
//     against the same two limits.
//   - Content-Length over max_body: 413 at the end of the header section, before any body byte is read.
//   - a chunked body whose size would pass max_body: 413 at the chunk header that crosses it.
//   - chunk extensions (parsed, never kept) over 4 KiB in one request: 400 as soon as the limit is passed.
//   - a chunked body whose bytes on the wire (sizes, extensions, line ends, payload and trailers) pass
//     2 * max_body + max_header_bytes: 413 at the end of the feed() that crossed it. Nothing of them is
//     kept, so this bounds the time a peer can keep a body going with framing alone.
//   - Transfer-Encoding other than exactly "chunked" (gzip, "gzip, chunked", ...): 501, since the
//     body could not be decoded (RFC 9112 6.1 allows 501 for codings the server does not understand).
//   - anything llhttp rejects (bad request line, bad header syntax, Content-Length with
//     Transfer-Encoding, invalid chunk size, ...): 400.
//
// Trailers of chunked bodies are checked for the limits and then dropped: handlers see only the headers
// sent before the body. Memory: the decoder keeps one Request under construction; takeRequest() moves it
// out, so the body and header strings travel to the handler without a copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/http_message.h"
#include "http/server.h"

namespace payhook::http {

class RequestDecoder {
 public:
  enum class State {
    kNeedMore,        // every byte given was consumed; the request is not complete yet
    kContinueWanted,  // header section complete with "Expect: 100-continue" and a body to come
    kRequestReady,    // a request is complete: takeRequest(); the rest of the bytes belong to the next one
    kError,           // the request is invalid: answer errorStatus() and close the connection
  };
  // Where the decoder is within the current request; the connection picks its timer by it.
  enum class Phase {
    kIdle,     // no byte of the next request seen yet
    kHeaders,  // inside the request line or header section
    kBody,     // header section complete, body being read
    kDone,     // request complete and not yet taken, or the decoder is dead
  };
  struct Progress {
    State state;
    size_t consumed;  // bytes of the input used; the caller passes the rest to the next feed()
  };

  explicit RequestDecoder(const ServerLimits& limits);
  ~RequestDecoder();
  RequestDecoder(const RequestDecoder&) = delete;
  RequestDecoder& operator=(const RequestDecoder&) = delete;

  // Consumes bytes until one request is complete, the header section of a 100-continue request is
  // complete, an error is found, or the input runs out. After kRequestReady, call takeRequest() before
  // feeding again. After kError every call returns kError and consumes nothing.
  Progress feed(const char* data, size_t len);

  // Moves out the finished request (valid once after kRequestReady); `peer` is left empty.
  Request takeRequest();
  // Of the request last reported ready: whether the connection may carry another request afterwards
  // (HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive").
  bool keepAlive() const;
  // Of the request last reported ready or under way: HTTP/1.0 peers need "connection: keep-alive" spelled
  // out in the answer to keep the connection.
  bool http10() const;
  // Of the request last reported ready: HEAD, whose answer carries no body.
  bool isHead() const;

  Phase phase() const;
  // The status to answer after kError: 400, 413, 431 or 501.
  int errorStatus() const;
  // A short reason for logs after kError (static text).
  const char* errorReason() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace payhook::http
