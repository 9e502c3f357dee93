#include "http/connection.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "common/log.h"
#include "common/text.h"

namespace payhook::http {
namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// Bytes that would let a header value end the header section early (response splitting).
bool unsafeForHeader(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}
bool unsafeName(std::string_view s) {
  return s.empty() || s.find_first_of(":\r\n \t") != std::string_view::npos;
}

std::string peerOf(uv_tcp_t* tcp) {
  sockaddr_storage ss{};
  int len = sizeof(ss);
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&ss), text, sizeof(text));
    return text;
  }
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&ss), text, sizeof(text));
    std::string_view v(text);
    // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; trusted_proxies and logs want a.b.c.d.
    constexpr std::string_view kMapped = "::ffff:";
    if (v.substr(0, kMapped.size()) == kMapped && v.find('.') != std::string_view::npos)
      return std::string(v.substr(kMapped.size()));
    return text;
  }
  return {};
}

const char* errorBody(int status) {
  switch (status) {
    case 400:
      return "bad request\n";
    case 413:
      return "request body too large\n";
    case 431:
      return "request header fields too large\n";
    case 501:
      return "transfer-encoding not implemented\n";
    default:
      return "error\n";
  }
}

}  // namespace

Connection::Connection(ConnectionHost* host, Kind kind)
    : host_(host), kind_(kind), limits_(host->limits()), decoder_(limits_) {}

Connection::~Connection() = default;

int Connection::init(uv_loop_t* loop) {
  int rc = kind_ == Kind::kTcp ? uv_tcp_init(loop, &h_.tcp) : uv_pipe_init(loop, &h_.pipe, 0);
  if (rc != 0) return rc;
  h_.handle.data = this;
  self_ = shared_from_this();
  timer_ = uv::Timer(loop);
  return 0;
}

void Connection::readPeer() {
  // "unix" is not an address, so no CIDR ever matches it; trusted_proxies names it explicitly.
  peer_ = kind_ == Kind::kTcp ? peerOf(&h_.tcp) : "unix";
}

void Connection::start() {
  if (peer_.empty()) readPeer();
  // Answers are small and written whole; waiting for Nagle would only add latency.
  if (kind_ == Kind::kTcp) uv_tcp_nodelay(&h_.tcp, 1);
  startReading();
  updateTimer();
}

// --- reading -------------------------------------------------------------------------------------

void Connection::onAlloc(uv_handle_t*, size_t, uv_buf_t* buf) noexcept {
  // One buffer per loop thread serves every connection: onRead consumes or copies it before the next
  // read, so an idle connection costs no read buffer at all.
  static thread_local char storage[64 * 1024];
  *buf = uv_buf_init(storage, sizeof(storage));
}

void Connection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread < 0) {
    // EOF counts as the peer leaving even with a request in flight: a provider that gave up is far more
    // common than one that half-closes and waits, and the Responder then drops the answer instead of
    // writing it into the void. (A half-closing client loses its answer; curl and providers do not.)
    if (nread != UV_EOF)
      log::debug("http connection read error", {{"error", uv_strerror(static_cast<int>(nread))}});
    self->close();
    return;
  }
  if (nread == 0) return;  // EAGAIN: nothing to do
  self->onData(buf->base, static_cast<size_t>(nread));
}

void Connection::onData(const char* data, size_t len) {
  if (state_ == State::kShutdown || state_ == State::kClosed) return;
  if (timer_phase_ == TimerPhase::kBody) body_bytes_ += len;
  if (state_ == State::kReading && in_pos_ == in_.size()) {
    // Fast path: parse straight from the read buffer, keep only what the next request needs.
    in_.clear();
    in_pos_ = 0;
    size_t used = parse(data, len);
    // Leftovers are the start of the next request, unless the connection ends after this answer.
    const bool ending = state_ == State::kClosed || state_ == State::kShutdown ||
                        (state_ == State::kWriting && close_after_write_);
    if (used < len && !ending) in_.assign(data + used, len - used);
  } else {
    in_.append(data, len);
    if (state_ == State::kReading) parseBuffered();
  }
  if (state_ == State::kInFlight || state_ == State::kWriting) {
    if (in_.size() - in_pos_ >= kMaxBuffered) stopReading();  // the peer runs ahead: let TCP push back
  }
  updateTimer(/*progress=*/true);
}

size_t Connection::parse(const char* data, size_t len) {
  size_t used = 0;
  while (state_ == State::kReading && used < len) {
    auto p = decoder_.feed(data + used, len - used);
    used += p.consumed;
    switch (p.state) {
      case RequestDecoder::State::kNeedMore:
        break;
      case RequestDecoder::State::kContinueWanted:
        writeContinue();
        break;
      case RequestDecoder::State::kRequestReady:
        dispatch();
        break;
      case RequestDecoder::State::kError:
        fail(decoder_.errorStatus(), decoder_.errorReason());
        return used;
    }
  }
  return used;
}

void Connection::parseBuffered() {
  size_t used = parse(in_.data() + in_pos_, in_.size() - in_pos_);
  in_pos_ += used;
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > in_.size() / 2) {
    in_.erase(0, in_pos_);  // keep the buffer from creeping forward forever
    in_pos_ = 0;
  }
}

void Connection::startReading() {
  if (reading_ || state_ == State::kClosed || state_ == State::kShutdown) return;
  if (uv_read_start(&h_.stream, &Connection::onAlloc, &Connection::onRead) == 0) reading_ = true;
}

void Connection::stopReading() {
  if (!reading_) return;
  uv_read_stop(&h_.stream);
  reading_ = false;
}

// --- requests and answers -----------------------------------------------------------------------

void Connection::dispatch() {
  keep_alive_ = decoder_.keepAlive();
  http10_ = decoder_.http10();
  head_ = decoder_.isHead();
  Request request = decoder_.takeRequest();
  request.peer = peer_;
  state_ = State::kInFlight;
  const uint64_t seq = ++seq_;
  updateTimer();
  if (!host_) {
    close();
    return;
  }
  host_->requestStarted();
  try {
    host_->dispatch(std::move(request), Responder(weak_from_this(), seq));
  } catch (const std::exception& e) {
    log::error("http request handler threw", {{"error", e.what()}});
    send(seq, Response::text(500, "internal error\n"));
  } catch (...) {
    log::error("http request handler threw");
    send(seq, Response::text(500, "internal error\n"));
  }
}

void Connection::send(uint64_t seq, Response response) {
  if (state_ != State::kInFlight || seq != seq_) return;
  if (host_) host_->requestFinished();
  const bool close_after = response.close || !keep_alive_ || draining_;
  writeResponse(std::move(response), close_after);
}

void Connection::writeResponse(Response&& response, bool close_after) {
  int status = response.status;
  if (status < 200 || status > 999) {
    // An interim or nonsense status would leave the peer waiting for a final answer.
    log::error("http handler answered with an invalid status", {{"status", status}});
    response = Response::text(500, "internal error\n");
    status = 500;
  }
  const bool no_body = status == 204 || status == 304;
  out_head_.clear();
  out_head_.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reasonPhrase(status));
  out_head_.append("\r\n");
  if (!response.content_type.empty() && !unsafeForHeader(response.content_type))
    out_head_.append("content-type: ").append(response.content_type).append("\r\n");
  for (const auto& h : response.headers) {
    if (unsafeName(h.name) || unsafeForHeader(h.value)) {
      log::debug("http answer header dropped: unsafe bytes", {{"name", h.name}});
      continue;
    }
    // Framing is the server's business: these would contradict the headers it writes itself.
    if (equalsIgnoreCase(h.name, "content-length") || equalsIgnoreCase(h.name, "transfer-encoding")) continue;
    if (equalsIgnoreCase(h.name, "connection")) {
      if (equalsIgnoreCase(h.value, "close")) close_after = true;
      continue;
    }
    out_head_.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  if (!no_body)
    out_head_.append("content-length: ").append(std::to_string(response.body.size())).append("\r\n");
  if (close_after) {
    out_head_.append("connection: close\r\n");
  } else if (http10_) {
    out_head_.append("connection: keep-alive\r\n");  // HTTP/1.0 closes unless told otherwise
  }
  out_head_.append("\r\n");
  if (no_body || head_) {
    out_body_.clear();
  } else {
    out_body_ = std::move(response.body);
  }

  close_after_write_ = close_after;
  state_ = State::kWriting;
  uv_buf_t bufs[2] = {uv_buf_init(out_head_.data(), static_cast<unsigned>(out_head_.size())),
                      uv_buf_init(out_body_.data(), static_cast<unsigned>(out_body_.size()))};
  unsigned nbufs = out_body_.empty() ? 1 : 2;
  // Most answers fit the socket buffer: writing them here spares libuv's write request, its deferred
  // callback and the epoll_ctl that re-arms the socket after it. Only with no request input buffered, so
  // finishing the answer here never parses (and answers) the next request from inside this call.
  if (in_pos_ == in_.size()) {
    const int n = uv_try_write(&h_.stream, bufs, nbufs);
    if (n == static_cast<int>(bufs[0].len + (nbufs == 2 ? bufs[1].len : 0))) {
      onResponseWritten();
      return;
    }
    if (n > 0) {
      size_t done = static_cast<size_t>(n);
      if (done >= bufs[0].len) {  // the head went out whole: the rest of the body is the one buffer left
        done -= bufs[0].len;
        bufs[0] = uv_buf_init(bufs[1].base + done, static_cast<unsigned>(bufs[1].len - done));
        nbufs = 1;
      } else {
        bufs[0] = uv_buf_init(bufs[0].base + done, static_cast<unsigned>(bufs[0].len - done));
      }
    } else if (n != UV_EAGAIN) {
      log::debug("http write failed", {{"error", uv_strerror(n)}});
      close();
      return;
    }
  }
  write_req_.data = this;
  int rc = uv_write(&write_req_, &h_.stream, bufs, nbufs, &Connection::onWritten);
  if (rc != 0) {
    log::debug("http write failed", {{"error", uv_strerror(rc)}});
    close();
    return;
  }
  updateTimer();
}

void Connection::onWritten(uv_write_t* req, int status) noexcept {
  auto* self = static_cast<Connection*>(req->data);
  if (status < 0) {
    self->close();  // also UV_ECANCELED while closing: close() is idempotent
    return;
  }
  self->onResponseWritten();
}

void Connection::onResponseWritten() {
  if (state_ != State::kWriting) return;
  // A large body is not worth keeping for the next, probably small, answer.
  if (out_body_.capacity() > kMaxBuffered) std::string().swap(out_body_);
  out_body_.clear();
  if (close_after_write_ || draining_) {
    shutdownAndClose();
    return;
  }
  served_any_ = true;
  state_ = State::kReading;
  parseBuffered();
  if (state_ == State::kReading) startReading();
  updateTimer();
}

void Connection::writeContinue() {
  // HTTP/1.0 peers do not know interim answers (RFC 9110 15.2); they send the body regardless.
  http10_ = decoder_.http10();
  if (http10_) return;
  uv_buf_t buf = uv_buf_init(const_cast<char*>(kContinue.data()), static_cast<unsigned>(kContinue.size()));
  continue_req_.data = this;
  int rc = uv_write(&continue_req_, &h_.stream, &buf, 1, &Connection::onContinueWritten);
  if (rc != 0) close();
}

void Connection::onContinueWritten(uv_write_t* req, int status) noexcept {
  if (status < 0) static_cast<Connection*>(req->data)->close();
}

void Connection::fail(int status, const char* reason) {
  log::debug("http request rejected", {{"status", status}, {"reason", reason}, {"peer", peer_}});
  // Nothing more will be parsed: for a 413 in particular the body is not read, only refused.
  stopReading();
  in_.clear();
  in_pos_ = 0;
  http10_ = false;
  head_ = false;
  writeResponse(Response::text(status, errorBody(status)), /*close=*/true);
}

// --- closing ------------------------------------------------------------------------------------

void Connection::shutdownAndClose() {
  if (state_ == State::kClosed || state_ == State::kShutdown) return;
  state_ = State::kShutdown;
  stopReading();
  // uv_shutdown sends FIN once the queued answer is flushed; closing at once could turn unread input
  // into a reset that destroys the answer on its way to the peer.
  shutdown_req_.data = this;
  if (uv_shutdown(&shutdown_req_, &h_.stream, &Connection::onShutdown) != 0) close();
}

void Connection::onShutdown(uv_shutdown_t* req, int) noexcept {
  static_cast<Connection*>(req->data)->close();
}

void Connection::drain() {
  draining_ = true;
  if (state_ == State::kReading && decoder_.phase() == RequestDecoder::Phase::kIdle &&
      in_pos_ == in_.size()) {
    if (served_any_) {
      close();  // between keep-alive requests: the peer knows to retry on a new connection
      return;
    }
    // Accepted a moment ago, its first request most likely already on the way (or unread in the socket):
    // closing it would fail a request that a restart must not fail. It gets a short grace to send one.
    timer_phase_ = TimerPhase::kHeaders;
    timer_.start(std::min<uint64_t>(limits_.header_timeout_ms, kDrainGraceMs), [this] { onTimeout(); });
  }
  // Otherwise: a request being received, handled or answered finishes first; its answer says close.
}

void Connection::close() {
  if (state_ == State::kClosed) return;
  const bool was_in_flight = state_ == State::kInFlight;
  state_ = State::kClosed;
  reading_ = false;
  timer_.close();
  timer_phase_ = TimerPhase::kNone;
  if (was_in_flight && host_) host_->requestFinished();
  uv_close(&h_.handle, &Connection::onClosed);
}

void Connection::onClosed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<Connection*>(handle->data);
  // The last strong reference may be this one; it is released at the end of this callback, after
  // libuv is done with the handle.
  std::shared_ptr<Connection> keep = std::move(self->self_);
  if (self->host_) self->host_->connectionClosed(self);
}

// --- timers -------------------------------------------------------------------------------------

void Connection::updateTimer(bool progress) {
  TimerPhase want = TimerPhase::kNone;
  switch (state_) {
    case State::kReading:
      switch (decoder_.phase()) {
        case RequestDecoder::Phase::kIdle:
          want = served_any_ ? TimerPhase::kIdle : TimerPhase::kHeaders;
          break;
        case RequestDecoder::Phase::kHeaders:
          want = TimerPhase::kHeaders;
          break;
        case RequestDecoder::Phase::kBody:
          want = TimerPhase::kBody;
          break;
        case RequestDecoder::Phase::kDone:
          want = TimerPhase::kNone;
          break;
      }
      break;
    case State::kWriting:
    case State::kShutdown:
      want = TimerPhase::kWrite;
      break;
    case State::kInFlight:
    case State::kClosed:
      want = TimerPhase::kNone;
      break;
  }
  if (want == timer_phase_) {
    // Only the body's rate deadline moves with reads; every other deadline is fixed when its phase begins.
    if (progress && want == TimerPhase::kBody) armBodyTimer();
    return;
  }
  phase_since_ = uv_hrtime();  // ns: connections accepted in one loop turn still differ
  if (want == TimerPhase::kHeaders) request_since_ = phase_since_;
  timer_phase_ = want;
  switch (want) {
    case TimerPhase::kNone:
      timer_.stop();
      return;
    case TimerPhase::kHeaders:
      timer_.start(limits_.header_timeout_ms, [this] { onTimeout(); });
      return;
    case TimerPhase::kIdle:
      timer_.start(limits_.idle_timeout_ms, [this] { onTimeout(); });
      return;
    case TimerPhase::kBody:
      body_start_ms_ = uv_now(h_.handle.loop);
      body_bytes_ = 0;
      armBodyTimer();
      return;
    case TimerPhase::kWrite:
      timer_.start(limits_.write_timeout_ms, [this] { onTimeout(); });
      return;
  }
}

void Connection::armBodyTimer() {
  uint64_t deadline = body_start_ms_ + limits_.body_timeout_ms;
  if (limits_.min_body_rate > 0) {
    // Bytes read since the header section ended, at min_body_rate bytes/s, buy time beyond the grace.
    const uint64_t earned = body_bytes_ * 1000 / limits_.min_body_rate;
    deadline = std::min(deadline, body_start_ms_ + limits_.body_rate_grace_ms + earned);
  }
  const uint64_t now = uv_now(h_.handle.loop);
  timer_.start(deadline > now ? deadline - now : 0, [this] { onTimeout(); });
}

void Connection::onTimeout() {
  const bool slow_body =
      timer_phase_ == TimerPhase::kBody && uv_now(h_.handle.loop) - body_start_ms_ < limits_.body_timeout_ms;
  const char* what = timer_phase_ == TimerPhase::kHeaders ? "header timeout"
                     : timer_phase_ == TimerPhase::kIdle  ? "idle timeout"
                     : slow_body                          ? "body below min_body_rate"
                     : timer_phase_ == TimerPhase::kBody  ? "body timeout"
                                                          : "write timeout";
  log::debug("http connection closed", {{"reason", what}, {"peer", peer_}});
  close();
}

Connection::Shed Connection::shedClass() const {
  switch (state_) {
    case State::kReading:
      if (timer_phase_ == TimerPhase::kIdle) return Shed::kIdle;
      return timer_phase_ == TimerPhase::kNone ? Shed::kNever : Shed::kStalled;
    case State::kWriting:
    case State::kShutdown:
      return Shed::kStalled;
    case State::kInFlight:
    case State::kClosed:
      return Shed::kNever;
  }
  return Shed::kNever;
}

}  // namespace payhook::http
