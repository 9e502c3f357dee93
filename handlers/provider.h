// A provider, whole: its route keys (read by the provider itself), its handler and, for a provider whose
// shop decides after the provider was answered, the follow-up that carries the decision out. Each provider
// folder (handlers/<provider>/) defines one Provider; handlers/registry.cpp lists them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "handlers/handler.h"
#include "handlers/status_source.h"

namespace payhook::handlers {

// One call to the provider's API, prepared from a stored event and its decision. Its payload goes through
// the route's program (FollowUp::program()) or FollowUp::transform() before url() builds the request.
class PendingCall {
 public:
  virtual ~PendingCall() = default;
  virtual std::string_view name() const = 0;     // for logs, e.g. the API method
  virtual std::string_view payload() const = 0;  // what the program or transform() receives
  virtual std::string url(std::string_view transformed) const = 0;
};

// The decision of a shop that decides after the provider was answered (Handler::decidesLater()): the
// route's decision target receives every event as a delivery; its 2xx answer is read by decide(), kept on
// the event, and carried out by a job of the pseudo-target "@<route>", an HTTP GET to the provider's API
// retried like a delivery.
class FollowUp {
 public:
  virtual ~FollowUp() = default;

  struct Decided {
    std::string decision_json;  // kept on the event; read back by prepare()
    std::string call;           // what will be called, for the log
    // What the operator should know (an answer completed into the default refusal, parts ignored).
    std::vector<std::string> warnings;
  };
  // Every 2xx answer of the decision target is a decision: one that is no clear decision is the route's
  // default refusal.
  virtual Decided decide(int status, std::string_view body, int64_t now_ms) const = 0;

  // The call for `decision_json` and the stored event's data; an error when nothing can be sent.
  virtual Result<std::shared_ptr<const PendingCall>> prepare(std::string_view decision_json,
                                                             std::string_view data_json) const = 0;

  // An external program every call's payload goes through (stdin to stdout) before url(), run off the loop
  // by the delivery engine; null: transform() runs in process instead.
  struct Program {
    std::string key;  // the route key that names it, the prefix of its failures ("crypt_command: ...")
    std::vector<std::string> argv;
    std::vector<std::string> env;  // "NAME=value" added to the program's environment
    uint64_t timeout_ms = 5'000;
    size_t max_output = 64 * 1024;
  };
  virtual const Program* program() const { return nullptr; }
  virtual std::string transform(std::string_view payload) const { return std::string(payload); }

  // The provider's answer to a call: the reason it failed, or nothing when it succeeded.
  virtual std::optional<std::string> failure(int status, std::string_view body) const = 0;

  // Said once when the route is loaded (e.g. a built-in transform only fit for tests); empty: nothing.
  virtual std::string caution() const { return {}; }
};

// The re-check of a provider whose notifications carry no signature (YooKassa): the notification is stored
// unverified with one job, for the pseudo-target "@<route>", that fetches the object from the provider's
// API and is retried like a delivery. Only an object the API confirms is forwarded, as the API reports it:
// the route's `forward` jobs are queued by the same script that records the confirmation. An object the
// API contradicts is kept for the operator and never forwarded.
class Recheck {
 public:
  virtual ~Recheck() = default;

  // A GET to the provider's API. The headers carry the shop's credentials: they are never logged.
  struct Call {
    std::string url;
    std::vector<http::Header> headers;
  };
  // The call for a stored event; an error when its data names nothing to fetch (the job is buried).
  virtual Result<Call> request(const Event& event) const = 0;

  struct Outcome {
    enum class Kind {
      kConfirmed,  // the API reports the status the notification announced: forward `event`
      kRefuted,    // the API reports another status, or no such object: keep, never forward
      kFailed,     // no usable answer (network, 5xx, credentials refused): retried like a delivery
    };
    Kind kind = Kind::kFailed;
    // kConfirmed: the stored event with its data and listing rebuilt from the API's object. kRefuted: the
    // stored event with its listing saying so, so that an operator's search shows no outcome it claimed.
    // kConfirmed: `event.order` is the expected order the confirmation settles (README "Expected payments").
    Event event;
    std::string note;  // what the API said, for the operator; never secret material
  };
  // Reads the API's answer to request(event). `now_ms` stamps the confirmation.
  virtual Outcome judge(const Event& event, int status, std::string_view body, int64_t now_ms) const = 0;
};

struct Provider {
  config::ProviderConfig config;
  // Builds the route's handler from its settings. Errors are "key: message" (the caller prefixes FILE:LINE).
  std::function<Result<std::unique_ptr<Handler>>(const config::RouteConfig&)> handler;
  // The route's follow-up, or null when it has none; unset for providers without one.
  std::function<std::shared_ptr<const FollowUp>(const config::RouteConfig&)> follow_up = nullptr;
  // The route's re-check (Recheck), or null; unset for providers whose callbacks are signed.
  std::function<std::shared_ptr<const Recheck>(const config::RouteConfig&)> recheck = nullptr;
  // The route's order-status API for expected orders, or null when the route has none configured; unset
  // for providers without one.
  std::function<std::shared_ptr<const StatusSource>(const config::RouteConfig&)> status_source = nullptr;
};

}  // namespace payhook::handlers
