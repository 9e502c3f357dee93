// The outbound client alone: N POSTs of about 600 bytes, C at a time, to one URL through http::Client,
// once over the lean http:// transport and once over libcurl. Prints requests per second and the process's
// CPU time (user + system, getrusage) per request for each. Point it at something that answers at once,
// e.g. a one-worker nginx with `return 204;` on loopback, so the client is what is measured.
//
//   bench_client http://127.0.0.1:8080/hook [N=20000] [C=64] [lean|curl|both]
#include <sys/resource.h>
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "http/client.h"

namespace {

using payhook::http::Client;
using payhook::http::ClientOptions;
using payhook::http::ClientRequest;
using payhook::http::ClientResponse;

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

ClientRequest deliveryLike(const std::string& url) {
  ClientRequest r;
  r.url = url;
  r.headers = {{"content-type", "application/json"},
               {"webhook-id", "evt_2Nq7XfKp1c9WzB3yH0aLmR"},
               {"webhook-timestamp", "1767686400"},
               {"webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="}};
  r.body = R"({"type":"payment.succeeded","timestamp":"2026-01-06T08:00:00Z","data":{"id":"pay_)";
  while (r.body.size() < 580) r.body += "0123456789";
  r.body += R"("}})";
  r.timeout_ms = 10'000;
  return r;
}

struct Run {
  double seconds = 0;
  double cpu = 0;
  long ok = 0;
  long failed = 0;
  std::string first_error;
};

// Keeps `concurrency` requests going until `total` have been sent, then lets the loop end.
Run run(const std::string& url, bool lean, long total, long concurrency) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  ClientOptions o;
  o.lean_http = lean;
  o.max_idle_connections = 4 * concurrency;
  Run out;
  {
    Client client(&loop, o);
    const ClientRequest proto = deliveryLike(url);
    long sent = 0, limit = 0;
    std::function<void()> next = [&] {
      if (sent >= limit) return;
      ++sent;
      client.send(proto, [&](ClientResponse r) {
        if (r.status >= 200 && r.status < 300) {
          ++out.ok;
        } else if (out.failed++ == 0) {
          out.first_error = r.status ? std::to_string(r.status) : r.error;
        }
        next();
      });
    };
    auto burst = [&](long n) {
      sent = 0;
      limit = n;
      for (long i = 0; i < concurrency; ++i) next();
      uv_run(&loop, UV_RUN_DEFAULT);
    };
    // Warm-up: the connections are opened and used before the clock starts.
    burst(std::min(total, 2 * concurrency));
    out = Run{};
    const uint64_t t0 = uv_hrtime();
    const double c0 = cpuSeconds();
    burst(total);
    out.seconds = static_cast<double>(uv_hrtime() - t0) / 1e9;
    out.cpu = cpuSeconds() - c0;
    client.shutdown();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s URL [N=20000] [C=64] [lean|curl|both]\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  const long total = argc > 2 ? std::atol(argv[2]) : 20'000;
  const long concurrency = argc > 3 ? std::atol(argv[3]) : 64;
  const std::string which = argc > 4 ? argv[4] : "both";
  std::printf("%-6s %9s %9s %12s %14s %8s\n", "path", "requests", "seconds", "requests/s", "cpu us/request",
              "failed");
  for (const bool lean : {true, false}) {
    if (which != "both" && which != (lean ? "lean" : "curl")) continue;
    const Run r = run(url, lean, total, concurrency);
    const double n = static_cast<double>(r.ok + r.failed);
    std::printf("%-6s %9ld %9.2f %12.0f %14.1f %8ld%s%s\n", lean ? "lean" : "curl", r.ok + r.failed,
                r.seconds, n / r.seconds, r.cpu * 1e6 / n, r.failed, r.failed ? "  first error: " : "",
                r.first_error.c_str());
  }
  return 0;
}
