#include "http/request_decoder.h"

#include <llhttp.h>

#include <cstdint>
#include <string_view>

#include "common/text.h"

namespace payhook::http {
namespace {

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Per header line, the bytes the spans do not show (": " and CRLF); used only for trailers, whose
// position in the input is not tracked.
constexpr uint64_t kLineOverhead = 4;

// Chunk extensions of one request, in total. No client payhook serves sends any; a few signatures would fit.
constexpr uint64_t kMaxChunkExtensionBytes = 4 * 1024;

uint64_t saturatingAdd(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

}  // namespace

struct RequestDecoder::Impl {
  llhttp_t parser{};
  ServerLimits limits;

  Request request;
  Header trailer;  // scratch for trailer lines, which are checked and dropped

  // Where the current feed() started: span positions relative to it give exact header-section sizes.
  const char* feed_data = nullptr;
  // Header-section bytes of the current request consumed by earlier feed() calls.
  uint64_t carried = 0;
  uint64_t trailer_bytes = 0;
  uint64_t header_lines = 0;
  uint64_t extension_bytes = 0;  // chunk extensions of the current request, which are parsed and dropped
  uint64_t body_wire = 0;        // every byte after the header section: payload, framing and trailers

  bool begun = false;        // on_message_begin seen for the current request
  bool header_phase = true;  // before the end of the header section
  bool in_trailers = false;  // after the last chunk
  bool field_open = false;   // a header name is being accumulated
  bool paused = false;       // llhttp is paused and must be resumed before the next execute
  bool continue_wanted = false;
  bool headers_ended = false;  // paused at the end of the header section, to learn where the body starts
  bool ready = false;
  bool dead = false;
  bool upgrade = false;  // the request asked to switch protocols; we answer it and stop
  bool keep_alive = false;
  bool http10 = false;
  bool head = false;
  bool te_unsupported = false;
  int te_lines = 0;
  int host_lines = 0;
  bool expect_continue = false;

  int error_status = 0;
  const char* error_reason = "";

  static Impl* of(llhttp_t* p) { return static_cast<Impl*>(p->data); }

  int fail(int status, const char* reason) {
    error_status = status;
    error_reason = reason;
    return HPE_USER;
  }

  // Checks the header section against max_header_bytes given that the span [at, at+len) was seen.
  bool headerBytesExceeded(const char* at, size_t len) const {
    auto end = static_cast<uint64_t>((at + len) - feed_data);
    return carried + end > limits.max_header_bytes;
  }

  // Trailer lines share the header limits; they are counted from their spans.
  int onTrailerSpan(size_t len) {
    trailer_bytes += len;
    if (trailer_bytes > limits.max_header_bytes) return fail(431, "trailers too large");
    return 0;
  }

  static int onMessageBegin(llhttp_t* p) noexcept {
    auto* d = of(p);
    d->begun = true;
    d->header_phase = true;
    d->in_trailers = false;
    d->field_open = false;
    d->header_lines = 0;
    d->trailer_bytes = 0;
    d->extension_bytes = 0;
    d->body_wire = 0;
    d->te_unsupported = false;
    d->te_lines = 0;
    d->host_lines = 0;
    d->expect_continue = false;
    d->continue_wanted = false;
    return 0;
  }

  static int onUrl(llhttp_t* p, const char* at, size_t len) noexcept {
    auto* d = of(p);
    if (d->headerBytesExceeded(at, len)) return d->fail(431, "request line too long");
    d->request.path.append(at, len);
    return 0;
  }

  static int onUrlComplete(llhttp_t* p) noexcept {
    auto* d = of(p);
    auto& path = d->request.path;
    auto q = path.find('?');
    if (q != std::string::npos) {
      d->request.query.assign(path, q + 1);
      path.resize(q);
    }
    return 0;
  }

  // Method and version are read from llhttp once the header section is complete; their spans are
  // watched only for the size limit.
  static int onRequestLineSpan(llhttp_t* p, const char* at, size_t len) noexcept {
    auto* d = of(p);
    if (d->headerBytesExceeded(at, len)) return d->fail(431, "request line too long");
    return 0;
  }

  static int onHeaderField(llhttp_t* p, const char* at, size_t len) noexcept {
    auto* d = of(p);
    if (d->in_trailers) {
      if (!d->field_open) {
        d->field_open = true;
        d->trailer.name.clear();
        d->trailer.value.clear();
        if (++d->header_lines > d->limits.max_headers) return d->fail(431, "too many trailer lines");
        if (int rc = d->onTrailerSpan(kLineOverhead)) return rc;
      }
      return d->onTrailerSpan(len);
    }
    if (d->headerBytesExceeded(at, len)) return d->fail(431, "header section too large");
    if (!d->field_open) {
      d->field_open = true;
      if (++d->header_lines > d->limits.max_headers) return d->fail(431, "too many header lines");
      d->request.headers.emplace_back();
    }
    d->request.headers.back().name.append(at, len);
    return 0;
  }

  static int onHeaderFieldComplete(llhttp_t* p) noexcept {
    auto* d = of(p);
    d->field_open = false;
    if (d->in_trailers) return 0;
    for (auto& c : d->request.headers.back().name) c = lowerAscii(c);
    return 0;
  }

  static int onHeaderValue(llhttp_t* p, const char* at, size_t len) noexcept {
    auto* d = of(p);
    if (d->in_trailers) return d->onTrailerSpan(len);
    if (d->headerBytesExceeded(at, len)) return d->fail(431, "header section too large");
    d->request.headers.back().value.append(at, len);
    return 0;
  }

  static int onHeaderValueComplete(llhttp_t* p) noexcept {
    auto* d = of(p);
    if (d->in_trailers) return 0;
    auto& h = d->request.headers.back();
    auto trimmed = trim(h.value);
    if (trimmed.size() != h.value.size()) h.value = std::string(trimmed);
    if (h.name == "transfer-encoding") {
      // A second Transfer-Encoding line makes a list of codings, which we cannot decode either.
      if (++d->te_lines > 1 || !equalsNoCase(h.value, "chunked")) d->te_unsupported = true;
    } else if (h.name == "expect") {
      d->expect_continue = equalsNoCase(h.value, "100-continue");
    } else if (h.name == "host") {
      ++d->host_lines;
    }
    return 0;
  }

  static int onHeadersComplete(llhttp_t* p) noexcept {
    auto* d = of(p);
    d->header_phase = false;
    if (d->te_unsupported) return d->fail(501, "unsupported transfer-encoding");
    // RFC 9112 section 3.2: an HTTP/1.1 request without Host, or any request with two, is refused; a proxy
    // in front and payhook could otherwise disagree on which host (and which route) was meant.
    if (d->host_lines > 1) return d->fail(400, "more than one Host header");
    if (d->host_lines == 0 && llhttp_get_http_major(p) == 1 && llhttp_get_http_minor(p) >= 1)
      return d->fail(400, "HTTP/1.1 request without a Host header");
    const bool has_length = (p->flags & F_CONTENT_LENGTH) != 0;
    const bool chunked = (p->flags & F_CHUNKED) != 0;
    if (has_length && p->content_length > d->limits.max_body)
      return d->fail(413, "content-length over max_body");
    d->request.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
    d->http10 = llhttp_get_http_major(p) == 1 && llhttp_get_http_minor(p) == 0;
    d->head = llhttp_get_method(p) == HTTP_HEAD;
    if (has_length) d->request.body.reserve(static_cast<size_t>(p->content_length));
    const bool body_follows = chunked || (has_length && p->content_length > 0);
    if (d->expect_continue && body_follows) {
      d->continue_wanted = true;
      return HPE_PAUSED;
    }
    // A chunked body's wire size is not its payload size: feed() counts it from the exact end of the
    // header section, which only a pause reveals.
    if (chunked) {
      d->headers_ended = true;
      return HPE_PAUSED;
    }
    return 0;
  }

  static int onBody(llhttp_t* p, const char* at, size_t len) noexcept {
    auto* d = of(p);
    // Chunk headers are checked first; this catches whatever slips past them.
    if (d->request.body.size() + len > d->limits.max_body) return d->fail(413, "body over max_body");
    d->request.body.append(at, len);
    return 0;
  }

  static int onChunkHeader(llhttp_t* p) noexcept {
    auto* d = of(p);
    // The chunk size is known before its bytes arrive: refuse the chunk that would cross the limit.
    if (p->content_length > d->limits.max_body - d->request.body.size())
      return d->fail(413, "chunked body over max_body");
    if (p->content_length == 0) d->in_trailers = true;
    return 0;
  }

  // payhook ignores chunk extensions, and llhttp keeps none of their bytes, but without a count a body of
  // a few bytes could carry gigabytes of them.
  static int onChunkExtension(llhttp_t* p, const char*, size_t len) noexcept {
    auto* d = of(p);
    d->extension_bytes += len;
    if (d->extension_bytes > kMaxChunkExtensionBytes) return d->fail(400, "chunk extensions too long");
    return 0;
  }
  static int onChunkExtensionNameComplete(llhttp_t* p) noexcept {
    return onChunkExtension(p, nullptr, 2);  // ';' and '=' (or the end of the line)
  }

  uint64_t bodyWireLimit() const {
    return saturatingAdd(saturatingAdd(limits.max_body, limits.max_body), limits.max_header_bytes);
  }

  static int onMessageComplete(llhttp_t* p) noexcept {
    auto* d = of(p);
    d->ready = true;
    d->upgrade = llhttp_get_upgrade(p) != 0;
    d->keep_alive = llhttp_should_keep_alive(p) != 0 && !d->upgrade;
    // Stop here so the caller can answer this request before the next one is parsed.
    return HPE_PAUSED;
  }

  static const llhttp_settings_t* settings() {
    static const llhttp_settings_t s = [] {
      llhttp_settings_t s;
      llhttp_settings_init(&s);
      s.on_message_begin = &Impl::onMessageBegin;
      s.on_url = &Impl::onUrl;
      s.on_url_complete = &Impl::onUrlComplete;
      s.on_method = &Impl::onRequestLineSpan;
      s.on_version = &Impl::onRequestLineSpan;
      s.on_header_field = &Impl::onHeaderField;
      s.on_header_field_complete = &Impl::onHeaderFieldComplete;
      s.on_header_value = &Impl::onHeaderValue;
      s.on_header_value_complete = &Impl::onHeaderValueComplete;
      s.on_headers_complete = &Impl::onHeadersComplete;
      s.on_body = &Impl::onBody;
      s.on_chunk_header = &Impl::onChunkHeader;
      s.on_chunk_extension_name = &Impl::onChunkExtension;
      s.on_chunk_extension_value = &Impl::onChunkExtension;
      s.on_chunk_extension_name_complete = &Impl::onChunkExtensionNameComplete;
      s.on_message_complete = &Impl::onMessageComplete;
      return s;
    }();
    return &s;
  }

  Progress die(int status, const char* reason) {
    dead = true;
    if (error_status == 0) {
      error_status = status;
      error_reason = reason;
    }
    return {State::kError, 0};
  }
};

RequestDecoder::RequestDecoder(const ServerLimits& limits) : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  llhttp_init(&impl_->parser, HTTP_REQUEST, Impl::settings());
  impl_->parser.data = impl_.get();
}

RequestDecoder::~RequestDecoder() = default;

RequestDecoder::Progress RequestDecoder::feed(const char* data, size_t len) {
  auto& d = *impl_;
  if (d.dead) return {State::kError, 0};
  if (d.ready) return d.die(400, "request not taken before feeding");  // a caller bug, not the peer's
  if (d.upgrade) return d.die(400, "data after an upgrade request");
  if (d.paused) {
    llhttp_resume(&d.parser);
    d.paused = false;
  }
  d.continue_wanted = false;
  d.feed_data = data;
  // Where this feed's body-phase bytes begin: all of them when the header section ended earlier.
  size_t body_from = d.begun && !d.header_phase ? 0 : len;
  llhttp_errno_t err = llhttp_execute(&d.parser, data, len);
  if (err == HPE_PAUSED && d.headers_ended) {
    d.headers_ended = false;
    body_from = static_cast<size_t>(llhttp_get_error_pos(&d.parser) - data);
    llhttp_resume(&d.parser);
    err = llhttp_execute(&d.parser, data + body_from, len - body_from);
  }
  if (err == HPE_OK) {
    if (d.header_phase) {
      // Whitespace and empty lines produce no span; the exact count catches them here.
      d.carried += len;
      if (d.carried > d.limits.max_header_bytes) return d.die(431, "header section too large");
    } else if (body_from < len) {
      // Payload is held to max_body by the chunk headers; this bounds what else the body may carry (chunk
      // sizes padded with zeros, tiny chunks, white space in trailers), none of which is kept.
      d.body_wire += len - body_from;
      if (d.body_wire > d.bodyWireLimit()) return d.die(413, "chunked framing too large");
    }
    return {State::kNeedMore, len};
  }
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    const auto consumed = static_cast<size_t>(llhttp_get_error_pos(&d.parser) - data);
    if (d.ready) {
      // An upgrade pause cannot be resumed with llhttp_resume; `upgrade` refuses further input instead.
      d.paused = err == HPE_PAUSED;
      return {State::kRequestReady, consumed};
    }
    if (d.continue_wanted && err == HPE_PAUSED) {
      d.paused = true;
      return {State::kContinueWanted, consumed};
    }
    return d.die(400, "unexpected pause");
  }
  if (d.error_status != 0) return d.die(d.error_status, d.error_reason);
  return d.die(400, llhttp_errno_name(err));
}

Request RequestDecoder::takeRequest() {
  auto& d = *impl_;
  Request out = std::move(d.request);
  d.request = Request{};
  d.ready = false;
  d.begun = false;
  d.header_phase = true;
  d.carried = 0;
  return out;
}

bool RequestDecoder::keepAlive() const {
  return impl_->keep_alive;
}
bool RequestDecoder::http10() const {
  return impl_->http10;
}
bool RequestDecoder::isHead() const {
  return impl_->head;
}

RequestDecoder::Phase RequestDecoder::phase() const {
  const auto& d = *impl_;
  if (d.dead || d.ready) return Phase::kDone;
  if (d.header_phase) return d.begun ? Phase::kHeaders : Phase::kIdle;
  return Phase::kBody;
}

int RequestDecoder::errorStatus() const {
  return impl_->error_status;
}
const char* RequestDecoder::errorReason() const {
  return impl_->error_reason;
}

}  // namespace payhook::http
