// The shop's app for delivery tests: a payhook::http::Server on its own loop thread in the test process,
// answering each request from a script of replies and recording what it got and when. It can also hold
// requests unanswered (a slow app) until the test releases them.
#pragma once

#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/server.h"
#include "support/loop_thread.h"
#include "support/wait.h"

namespace payhook::testing {

// One scripted answer: a status, extra headers (e.g. retry-after), and how long the app takes to send it.
struct SinkReply {
  int status = 200;
  std::vector<http::Header> headers = {};
  uint64_t delay_ms = 0;
};

// What the sink got: the request and when it was complete (steady clock).
struct SinkHit {
  http::Request request;
  std::chrono::steady_clock::time_point at;
  bool held = false;  // received while holding

  std::string webhookId() const {
    const std::string* id = request.header("webhook-id");
    return id ? *id : std::string();
  }
};

// The n-th request gets replies[n] (the last one from then on), unless the sink holds: then the request is
// recorded and left unanswered until release(). Answers still waiting for their delay when the sink is
// destroyed are dropped.
class Sink {
 public:
  explicit Sink(std::vector<SinkReply> replies) : replies_(std::move(replies)) {
    if (replies_.empty()) replies_.push_back({});
    loop_.call([this] {
      server_ = std::make_unique<http::Server>(
          loop_.loop(), http::ServerLimits{}, [this](http::Request&& r, http::Responder resp) {
            SinkReply reply;
            bool hold = false;
            {
              std::lock_guard<std::mutex> lock(mu_);
              hold = holding_;
              if (hold) {
                held_.push_back(resp);
              } else {
                reply = replies_.at(std::min(answered_, replies_.size() - 1));
                ++answered_;
              }
              hits_.push_back({r, std::chrono::steady_clock::now(), hold});
            }
            if (!hold) answer(resp, reply);
          });
      (void)server_->listen("127.0.0.1:0");
      url_ = "http://" + server_->boundAddresses().at(0) + "/events";
    });
  }
  // Statuses only: Sink sink({500, 200}).
  explicit Sink(std::initializer_list<int> statuses) : Sink(repliesOf(statuses)) {}
  ~Sink() {
    loop_.call([this] {
      server_->closeAll();
      server_.reset();
    });
  }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  const std::string& url() const { return url_; }

  // From now on requests are recorded but not answered.
  void hold() {
    std::lock_guard<std::mutex> lock(mu_);
    holding_ = true;
  }
  // Stops holding and answers every held request whose connection is still open with `reply` (answers to
  // connections that are gone are dropped). Later requests follow the script again.
  void release(SinkReply reply = {}) {
    std::vector<http::Responder> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      holding_ = false;
      held.swap(held_);
    }
    loop_.call([&] {
      for (auto& r : held) r.send(response(reply));
    });
  }

  std::vector<SinkHit> hits() {
    std::lock_guard<std::mutex> lock(mu_);
    return hits_;
  }
  std::vector<http::Request> received() {
    std::vector<http::Request> out;
    for (auto& h : hits()) out.push_back(std::move(h.request));
    return out;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return hits_.size();
  }
  // How often each webhook-id arrived.
  std::map<std::string, int> idCounts() {
    std::map<std::string, int> out;
    for (const auto& h : hits()) ++out[h.webhookId()];
    return out;
  }

 private:
  static std::vector<SinkReply> repliesOf(std::initializer_list<int> statuses) {
    std::vector<SinkReply> out;
    for (int s : statuses) out.push_back({s, {}});
    return out;
  }
  // Sends the reply now, or after its delay from a timer on the sink's loop (on the loop only).
  void answer(const http::Responder& resp, const SinkReply& reply) {
    if (reply.delay_ms == 0) {
      resp.send(response(reply));
      return;
    }
    struct Delayed {
      uv_timer_t timer;
      http::Responder resp;
      http::Response response;
    };
    auto* d = new Delayed{{}, resp, response(reply)};
    uv_timer_init(loop_.loop(), &d->timer);
    d->timer.data = d;
    uv_timer_start(
        &d->timer,
        [](uv_timer_t* t) {
          auto* d = static_cast<Delayed*>(t->data);
          d->resp.send(std::move(d->response));  // nothing when the connection or the server is gone
          uv_close(reinterpret_cast<uv_handle_t*>(t),
                   [](uv_handle_t* h) { delete static_cast<Delayed*>(h->data); });
        },
        reply.delay_ms, 0);
  }
  static http::Response response(const SinkReply& reply) {
    return http::Response{reply.status, "text/plain", "sink says " + std::to_string(reply.status),
                          reply.headers, false};
  }

  LoopThread loop_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
  std::mutex mu_;
  std::vector<SinkReply> replies_;
  size_t answered_ = 0;  // requests answered from the script
  bool holding_ = false;
  std::vector<http::Responder> held_;
  std::vector<SinkHit> hits_;
};

}  // namespace payhook::testing
