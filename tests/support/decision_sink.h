// The shop's decision app for the synchronous Decide flows (YooMoney checkOrder, allpay v2): a
// payhook::http::Server on its own loop thread in the test process, answering with a JSON body.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/server.h"
#include "support/loop_thread.h"

namespace payhook::testing {

// The shop's decision app. Answers every request with `answer` (JSON body), or holds it unanswered when
// `hold` is set; records what it received.
class DecisionSink {
 public:
  DecisionSink() {
    loop_.call([this] {
      server_ = std::make_unique<http::Server>(
          loop_.loop(), http::ServerLimits{}, [this](http::Request&& r, http::Responder resp) {
            std::lock_guard<std::mutex> lock(mu_);
            received_.push_back(r);
            if (hold_) {
              held_.push_back(resp);
              return;
            }
            http::Response out{200, "application/json", answer_, {}, false};
            resp.send(std::move(out));
          });
      (void)server_->listen("127.0.0.1:0");
      url_ = "http://" + server_->boundAddresses().at(0) + "/decide";
    });
  }
  ~DecisionSink() {
    loop_.call([this] {
      server_->closeAll();
      server_.reset();
    });
  }
  const std::string& url() const { return url_; }
  void answer(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    answer_ = std::move(body);
  }
  void hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  std::vector<http::Request> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  LoopThread loop_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
  std::mutex mu_;
  std::string answer_ = R"({"accept":true})";
  bool hold_ = false;
  std::vector<http::Request> received_;
  std::vector<http::Responder> held_;
};

}  // namespace payhook::testing
