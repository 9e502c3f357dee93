// Connection: one accepted HTTP/1.x stream (TCP or unix socket). Private to the http layer.
//
// State machine, one request at a time so pipelined requests are answered strictly in order:
//
//   kReading --request complete--> kInFlight --Responder::send--> kWriting --written--> kReading ...
//       |                                                            |
//       +--decoder error: answer 4xx/501--> kWriting --written--> kShutdown --FIN sent--> kClosed
//                                           (and "connection: close" answers take the same path)
//
// While a request is in flight or its answer is being written, bytes that arrive are only buffered (up to
// kMaxBuffered, then reading pauses); they are parsed once the answer has been written.
//
// One timer per connection, armed by phase (h2o keeps its timers inside the connection the same way). Each
// phase has a deadline that reads do not push back, so no trickle of bytes holds a connection for ever:
//   - header timeout: from the connection's start, or from the first byte of a later request, until the
//     header section is complete. On expiry the connection is closed without an answer: the peer has not
//     said enough to deserve one, and a slow-headers attacker gets no bytes back.
//   - body deadline: the body must be complete body_timeout after the end of the header section. Within
//     that, after body_rate_grace it must have averaged min_body_rate bytes/s: as with Apache's
//     mod_reqtimeout MinRate, each min_body_rate bytes received buy one second beyond the grace, so reads
//     move this deadline, but never past body_timeout. Closed without an answer, like the header timeout.
//   - write timeout: from the start of writing an answer until it is written whole (and, for a closing
//     answer, until the FIN has gone out). A peer that pipelines requests and never reads ends here: its
//     input pauses at kMaxBuffered, and the answer that fills its socket is the one that times out.
//   - idle timeout: between keep-alive requests.
//   - none while the handler holds the request: the application bounds its own work.
//
// Lifetime: the uv handle is a member, so the object must outlive uv_close(). The connection owns itself
// (self_) from init() until its close callback, which tells the host and drops that reference; Responders
// hold only weak references. Nothing is deleted inside a callback before uv_close() has completed.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/http_message.h"
#include "http/request_decoder.h"
#include "http/server.h"
#include "uv/handle.h"

namespace payhook::http {

// What a connection needs from the server that accepted it. Called on the loop thread only.
class ConnectionHost {
 public:
  virtual const ServerLimits& limits() const = 0;
  // Hands a complete request to the application.
  virtual void dispatch(Request&& request, Responder responder) = 0;
  // In-flight accounting: a request was handed over / its answer was sent or abandoned.
  virtual void requestStarted() = 0;
  virtual void requestFinished() = 0;
  // The connection's handle is closed; it is about to be freed.
  virtual void connectionClosed(Connection* connection) = 0;

 protected:
  ~ConnectionHost() = default;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class Kind { kTcp, kPipe };

  Connection(ConnectionHost* host, Kind kind);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Initialises the stream handle on `loop` (libuv status). From success on, the connection owns itself
  // and must be ended with close().
  int init(uv_loop_t* loop);
  uv_stream_t* stream() { return &h_.stream; }
  // After uv_accept(): reads the peer address (unless readPeer() did) and starts reading.
  void start();

  // From Responder::send(). `seq` names the request being answered (0: whichever is in flight); an answer
  // to a request that is not the one in flight, or a second answer, is dropped.
  void send(uint64_t seq, Response response);

  // Server shutdown: an idle keep-alive connection closes now, a busy one after the answer to its current
  // request, and a fresh one (no request yet) after the answer to its first, if it comes within
  // kDrainGraceMs (and the header timeout).
  void drain();
  // Closes the handle at once; pending writes are cancelled. Idempotent.
  void close();
  // The server is going away: stop reporting to it.
  void detach() { host_ = nullptr; }

  bool inFlight() const { return state_ == State::kInFlight; }
  // What closing this connection for a newcomer at max_connections would cost (Server sheds kIdle ones
  // first, then kStalled ones, oldest first):
  //   kIdle: between keep-alive requests; clients expect such a close and retry on a new connection.
  //   kStalled: receiving a request or writing an answer; a legitimate peer is done in milliseconds, so the
  //     oldest of these is the likeliest to be slow on purpose. The written answer's request is already
  //     handled; the peer that did not read it is told nothing more.
  //   kNever: the handler holds the request (or the connection is closing): its work is bounded by the
  //     application's own timeouts, and closing it would turn a stored callback into a provider's retry.
  enum class Shed { kNever, kIdle, kStalled };
  Shed shedClass() const;
  // Since when (uv_hrtime) it has been in that class: the start of its current request (headers and body
  // alike), of its idle wait, or of the answer being written.
  uint64_t shedSince() const { return timer_phase_ == TimerPhase::kBody ? request_since_ : phase_since_; }

  // The peer's address ("unix" for a unix socket), known once start() or readPeer() has run.
  const std::string& peer() const { return peer_; }
  // After uv_accept(), before start(): reads the peer address only.
  void readPeer();

 private:
  enum class State { kReading, kInFlight, kWriting, kShutdown, kClosed };
  enum class TimerPhase { kNone, kHeaders, kIdle, kBody, kWrite };

  static constexpr size_t kMaxBuffered = 64 * 1024;
  // At shutdown, how long a connection that has not sent its first request yet may still send one.
  static constexpr uint64_t kDrainGraceMs = 1000;

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void onWritten(uv_write_t* req, int status) noexcept;
  static void onContinueWritten(uv_write_t* req, int status) noexcept;
  static void onShutdown(uv_shutdown_t* req, int status) noexcept;
  static void onClosed(uv_handle_t* handle) noexcept;

  void onData(const char* data, size_t len);
  void onTimeout();
  void onResponseWritten();

  // Feeds bytes to the decoder while a new request may be started; returns how many were used.
  size_t parse(const char* data, size_t len);
  void parseBuffered();
  void dispatch();
  void writeContinue();
  void writeResponse(Response&& response, bool close_after);
  void fail(int status, const char* reason);
  void shutdownAndClose();
  void startReading();
  void stopReading();
  void updateTimer(bool progress = false);
  void armBodyTimer();

  union Stream {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  };

  ConnectionHost* host_;
  Kind kind_;
  ServerLimits limits_;
  Stream h_{};
  std::shared_ptr<Connection> self_;
  uv::Timer timer_;
  TimerPhase timer_phase_ = TimerPhase::kNone;
  uint64_t phase_since_ = 0;    // uv_hrtime() when timer_phase_ last changed
  uint64_t request_since_ = 0;  // uv_hrtime() when the current request's header phase began
  uint64_t body_start_ms_ = 0;  // uv_now() at the end of the header section
  uint64_t body_bytes_ = 0;     // read since then
  RequestDecoder decoder_;
  State state_ = State::kReading;

  std::string in_;  // bytes read but not yet given to the decoder, from in_pos_ on
  size_t in_pos_ = 0;
  std::string peer_;

  uint64_t seq_ = 0;  // number of the request in flight or last answered
  bool keep_alive_ = false;
  bool http10_ = false;
  bool head_ = false;
  bool served_any_ = false;
  bool reading_ = false;
  bool draining_ = false;
  bool close_after_write_ = false;

  uv_write_t write_req_{};
  uv_write_t continue_req_{};
  uv_shutdown_t shutdown_req_{};
  std::string out_head_;  // reused between answers
  std::string out_body_;
};

}  // namespace payhook::http
