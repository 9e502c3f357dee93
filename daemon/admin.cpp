#include "daemon/admin.h"

namespace payhook::daemon {

void Admin::handle(http::Request&& request, http::Responder responder) const {
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (request.path == "/healthz") {
    // Answering at all proves the loop runs.
    responder.send(get ? http::Response::text(200, "ok\n")
                       : http::Response::text(405, "method not allowed\n").withHeader("allow", "GET, HEAD"));
    return;
  }
  if (request.path == "/readyz") {
    if (!get) {
      responder.send(http::Response::text(405, "method not allowed\n").withHeader("allow", "GET, HEAD"));
      return;
    }
    const std::string why = not_ready_();
    responder.send(why.empty() ? http::Response::text(200, "ready\n")
                               : http::Response::text(503, "not ready: " + why + "\n"));
    return;
  }
  if (request.path == "/metrics") {
    if (!get) {
      responder.send(http::Response::text(405, "method not allowed\n").withHeader("allow", "GET, HEAD"));
      return;
    }
    responder.send(http::Response{200, "text/plain; version=0.0.4; charset=utf-8", metrics_(), {}, false});
    return;
  }
  responder.send(http::Response::text(404, "not found\n"));
}

}  // namespace payhook::daemon
