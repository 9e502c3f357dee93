#include "http/response_decoder.h"

#include <llhttp.h>

#include <algorithm>
#include <string_view>

#include "common/text.h"

namespace payhook::http {

struct ResponseDecoder::Impl {
  llhttp_t parser{};
  size_t max_body = 0;
  ClientResponse response;
  std::string error;
  size_t header_bytes = 0;  // fed while the final header section was not complete yet
  bool head = false;
  bool begun = false;
  bool header_phase = true;  // before the end of the final answer's header section
  bool interim = false;      // the message being parsed is a 1xx answer
  bool field_open = false;
  bool complete = false;
  bool cut = false;
  bool keep_alive = false;
  bool leftover = false;
  bool dead = false;

  static Impl* of(llhttp_t* p) { return static_cast<Impl*>(p->data); }

  int fail(const char* reason) {
    error = reason;
    return HPE_USER;
  }

  static int onMessageBegin(llhttp_t* p) noexcept {
    auto* d = of(p);
    d->response.headers.clear();
    d->response.status = 0;
    d->field_open = false;
    d->interim = false;
    return 0;
  }

  static int onHeaderField(llhttp_t* p, const char* at, size_t len) noexcept {
    auto* d = of(p);
    if (!d->field_open) {
      d->field_open = true;
      d->response.headers.emplace_back();
    }
    d->response.headers.back().name.append(at, len);
    return 0;
  }

  static int onHeaderFieldComplete(llhttp_t* p) noexcept {
    auto* d = of(p);
    d->field_open = false;
    for (auto& c : d->response.headers.back().name) c = lowerAscii(c);
    return 0;
  }

  static int onHeaderValue(llhttp_t* p, const char* at, size_t len) noexcept {
    of(p)->response.headers.back().value.append(at, len);
    return 0;
  }

  static int onHeaderValueComplete(llhttp_t* p) noexcept {
    auto& value = of(p)->response.headers.back().value;
    const auto trimmed = trim(value);
    if (trimmed.size() != value.size()) value = std::string(trimmed);
    return 0;
  }

  // Return values are llhttp's: 1 means "no body follows".
  static int onHeadersComplete(llhttp_t* p) noexcept {
    auto* d = of(p);
    const int status = llhttp_get_status_code(p);
    if (status < 100) return d->fail("invalid status code");
    // The connection would change protocol: nothing payhook sends asks for that.
    if (status == 101) return d->fail("unexpected 101 Switching Protocols");
    if (status < 200) {
      d->interim = true;
      return 1;
    }
    d->header_phase = false;
    d->response.status = status;
    if (d->head) return 1;
    if ((p->flags & F_CONTENT_LENGTH) != 0)
      d->response.body.reserve(static_cast<size_t>(std::min<uint64_t>(p->content_length, d->max_body)));
    return 0;
  }

  static int onBody(llhttp_t* p, const char* at, size_t len) noexcept {
    auto* d = of(p);
    auto& body = d->response.body;
    const size_t room = d->max_body - std::min(d->max_body, body.size());
    if (len > room) {
      body.append(at, room);
      d->response.truncated = true;
      d->response.error = "response body larger than " + std::to_string(d->max_body) + " bytes, cut";
      d->cut = true;
      return HPE_USER;  // stops here: a peer cannot make us read without bound
    }
    body.append(at, len);
    return 0;
  }

  static int onMessageComplete(llhttp_t* p) noexcept {
    auto* d = of(p);
    if (d->interim) {
      d->interim = false;
      return 0;  // the final answer follows on the same connection
    }
    d->complete = true;
    d->keep_alive = llhttp_should_keep_alive(p) != 0;
    // Stop at the end of this answer: whatever follows was not asked for.
    return HPE_PAUSED;
  }

  static const llhttp_settings_t* settings() {
    static const llhttp_settings_t s = [] {
      llhttp_settings_t s;
      llhttp_settings_init(&s);
      s.on_message_begin = &Impl::onMessageBegin;
      s.on_header_field = &Impl::onHeaderField;
      s.on_header_field_complete = &Impl::onHeaderFieldComplete;
      s.on_header_value = &Impl::onHeaderValue;
      s.on_header_value_complete = &Impl::onHeaderValueComplete;
      s.on_headers_complete = &Impl::onHeadersComplete;
      s.on_body = &Impl::onBody;
      s.on_message_complete = &Impl::onMessageComplete;
      return s;
    }();
    return &s;
  }

  State die(std::string reason) {
    dead = true;
    if (error.empty()) error = std::move(reason);
    return State::kError;
  }
};

ResponseDecoder::ResponseDecoder(size_t max_body) : impl_(std::make_unique<Impl>()) {
  impl_->max_body = max_body;
  start(false);
}

ResponseDecoder::~ResponseDecoder() = default;

void ResponseDecoder::start(bool head) {
  auto& d = *impl_;
  llhttp_init(&d.parser, HTTP_RESPONSE, Impl::settings());
  // Lines ended by a bare LF: curl reads such answers, so apps that send them kept working with it.
  llhttp_set_lenient_optional_cr_before_lf(&d.parser, 1);
  d.parser.data = &d;
  d.response = ClientResponse{};
  d.error.clear();
  d.header_bytes = 0;
  d.head = head;
  d.begun = false;
  d.header_phase = true;
  d.interim = false;
  d.field_open = false;
  d.complete = false;
  d.cut = false;
  d.keep_alive = false;
  d.leftover = false;
  d.dead = false;
}

ResponseDecoder::Progress ResponseDecoder::feed(const char* data, size_t len) {
  auto& d = *impl_;
  if (d.dead) return {State::kError, 0};
  if (d.complete) return {State::kComplete, 0};
  if (len == 0) return {State::kNeedMore, 0};
  d.begun = true;
  const llhttp_errno_t err = llhttp_execute(&d.parser, data, len);
  if (err == HPE_OK) {
    if (d.header_phase) {
      d.header_bytes += len;
      if (d.header_bytes > kMaxHeaderBytes) return {d.die("response header section too large"), 0};
    }
    return {State::kNeedMore, len};
  }
  const auto consumed = static_cast<size_t>(llhttp_get_error_pos(&d.parser) - data);
  if (err == HPE_PAUSED && d.complete) {
    d.leftover = consumed < len;
    return {State::kComplete, consumed};
  }
  if (err == HPE_USER && d.cut) {
    d.complete = true;
    return {State::kComplete, consumed};
  }
  if (!d.error.empty()) return {d.die(d.error), 0};  // one of ours, whatever code llhttp reports it under
  const char* reason = llhttp_get_error_reason(&d.parser);
  return {d.die(std::string("malformed response: ") + (reason ? reason : llhttp_errno_name(err))), 0};
}

ResponseDecoder::State ResponseDecoder::finish() {
  auto& d = *impl_;
  if (d.dead) return State::kError;
  if (d.complete) return State::kComplete;
  if (!d.begun) return d.die("server closed the connection without answering");
  // Only a close-delimited body completes here; anything else was cut short by the close.
  if (llhttp_finish(&d.parser) == HPE_PAUSED && d.complete) {
    d.keep_alive = false;
    return State::kComplete;
  }
  return d.die("server closed the connection before the response was complete");
}

ClientResponse ResponseDecoder::takeResponse() {
  return std::move(impl_->response);
}

bool ResponseDecoder::begun() const {
  return impl_->begun;
}

bool ResponseDecoder::reusable() const {
  const auto& d = *impl_;
  return d.complete && d.keep_alive && !d.cut && !d.leftover;
}

const std::string& ResponseDecoder::error() const {
  return impl_->error;
}

}  // namespace payhook::http
