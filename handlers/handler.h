// Handler: one provider protocol as a pure function of (request, time, secrets) → Verdict.
// No loop and no I/O here; the daemon stores what a handler accepts and sends what it answers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/event.h"
#include "common/http_message.h"

namespace payhook::handlers {

// Refused: nothing is stored. `reason` is for the log and never carries secret material.
struct Reject {
  http::Response reply;
  std::string reason;
  std::string outcome = "rejected";  // metric label: "rejected", "forged", "malformed", "forbidden"
};

// Verified: store `event`, then send `ack`. A duplicate (same idempotency key) gets the same ack.
struct Accept {
  Event event;
  http::Response ack;
  // Set when the callback may be acknowledged only as a repeat of an event already stored (a signed
  // callback whose timestamp is outside the replay window, which guards new events only): the daemon
  // stores nothing, acks when the route holds the idempotency key, and sends this refusal when it does not.
  std::optional<Reject> unless_stored = std::nullopt;
};

// The provider waits for the shop's decision (YooMoney checkOrder, allpay v2): the daemon asks the route's
// decision target, stores the event with the decision, then sends handler.decided(...).
struct Decide {
  Event event;
  // false (YooMoney's check, before any payment): stored for audit only, every check its own record, and
  // not forwarded. true (allpay v2, a payment that happened): stored like an Accept's event, under its own
  // idempotency key and queued for the route's `forward` targets; a repeated callback is the duplicate of
  // the first, and is answered from the decision asked anew.
  bool deliver = false;
};

// The shop's answer to a decision request (README: a YooMoney check, allpay v2 and Integra's decision).
struct Decision {
  enum class Kind {
    kAccept,  // {"accept": true}
    kRefuse,  // {"accept": false, "code": N, "message": "..."}, or {"pending": true, ...} with `pending` set
    kFailed,  // no usable answer in time (timeout, network error, non-2xx, not JSON): a refusal
  };
  Kind kind = Kind::kFailed;
  // {"pending": true, "message": "..."}: the shop cannot decide yet. A provider that has such an answer
  // (allpay v2's PENDING, after which allpay sends the callback again) gives it; for any other the kind,
  // kRefuse, holds: not accepted. A flag rather than a Kind of its own, so a provider's switch over the
  // three kinds stays complete.
  bool pending = false;
  int code = 0;         // the app's refusal code, when it gave one
  std::string message;  // the app's refusal or pending message, or what failed (never secret material)
};

using Verdict = std::variant<Reject, Accept, Decide>;

// One endpoint a handler serves, relative to its route's `path` ("" is the path itself).
struct Endpoint {
  std::string suffix;
  std::vector<std::string> methods;
};

class Handler {
 public:
  virtual ~Handler() = default;

  virtual std::vector<Endpoint> endpoints() const = 0;

  // `endpoint` indexes endpoints(). `now_ms` is Unix milliseconds. The returned event has no id, no
  // received_at and no raw request: the daemon assigns the first two and moves the request into the third,
  // so the body is never copied.
  virtual Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const = 0;

  // The query string as kept in the event's raw request. A provider that carries a secret in the URL
  // (Integra's url token) removes it here, so it is never stored, forwarded or shown.
  virtual std::string storedQuery(std::string_view query) const { return std::string(query); }

  // The body as kept in the event's raw request (moved in, so the common case copies nothing). YooMoney
  // blanks its md5 here: MD5 over public fields and the shop password would let anyone who reads events
  // test password guesses offline.
  virtual std::string storedBody(std::string&& body) const { return std::move(body); }

  // A Decide flow's answer is kept as a note under noteKey() of its event, for the idempotency TTL; an
  // Accept whose noteKey() finds a note is shown it through annotate() before it is stored (YooMoney: the
  // aviso of an invoice the shop refused at checkOrder says so). Empty: no note is kept or read.
  virtual std::string noteKey(const Event& /*event*/) const { return {}; }
  // `note` is "<decision> <event id>": the decision ("accept", "refuse" or "failed") and the id of the event
  // that recorded it. Returns what the operator must be told (logged as a warning), or nothing.
  virtual std::string annotate(Event& /*event*/, std::string_view /*note*/) const { return {}; }

  // True when the route's `decision` target decides after the provider was answered (Integra): it then
  // receives every event as a delivery job, and its answer is carried out by the delivery engine.
  virtual bool decidesLater() const { return false; }

  // True when an accepted event is not yet true (an unsigned notification, YooKassa): it is stored with one
  // job, the route's re-check through the provider's API (handlers::Recheck), and reaches the route's
  // targets only once that confirms it.
  virtual bool verifiesFirst() const { return false; }

  // The sources a route accepts when its `allow_ips` is not given: the provider's published networks for a
  // provider whose callbacks are not signed; empty (any source) for the others.
  virtual std::vector<std::string> defaultAllowIps() const { return {}; }

  // For a Decide verdict, once the decision is recorded in the event and before it is stored: what the
  // decision does to the money (allpay: the shop's FAIL fails a payment its Status called a success).
  virtual void settle(Event& /*event*/, const Decision& /*decision*/) const {}

  // For a Decide verdict: the provider's answer once the decision is known and the event with its
  // decision is stored.
  virtual http::Response decided(const Event& /*event*/, const Decision& /*decision*/) const {
    return unavailable();
  }

  // The answer when the event could not be stored: the provider must try again later, and nothing was
  // acknowledged. Not every provider retries an HTTP 503 (README "Providers" says what it costs for each).
  virtual http::Response unavailable() const {
    return http::Response::text(503, "temporarily unavailable, retry later\n").withHeader("retry-after", "5");
  }
};

}  // namespace payhook::handlers
