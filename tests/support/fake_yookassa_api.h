// A fake YooKassa API v3 on loopback, for the re-check and expected-payment tests.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "http/server.h"
#include "support/loop_thread.h"

namespace payhook::testing {

// YooKassa's API as payhook sees it, on its own loop thread: GET /v3/<collection>/<id> answers the object
// set for that path (404 for any other) when the request carries the shop's basic authentication, 401
// otherwise; it can be told to answer 503 to the next N requests. Records every request.
class FakeYooKassaApi {
 public:
  explicit FakeYooKassaApi(std::string authorization) : authorization_(std::move(authorization)) {
    loop_.call([this] {
      server_ = std::make_unique<http::Server>(
          loop_.loop(), http::ServerLimits{}, [this](http::Request&& r, http::Responder resp) {
            http::Response out{404, "application/json", R"({"type":"error","code":"not_found"})", {}, false};
            {
              std::lock_guard<std::mutex> lock(mu_);
              requests_.push_back(r);
              const std::string* auth = r.header("authorization");
              if (fail_ > 0) {
                --fail_;
                out = http::Response{503, "application/json", R"({"type":"error"})", {}, false};
              } else if (!auth || *auth != authorization_) {
                out = http::Response{
                    401, "application/json", R"({"type":"error","code":"invalid_credentials"})", {}, false};
              } else if (auto it = objects_.find(r.path); r.method == "GET" && it != objects_.end()) {
                out = http::Response{200, "application/json", it->second, {}, false};
              }
            }
            resp.send(std::move(out));
          });
      (void)server_->listen("127.0.0.1:0");
      base_ = "http://" + server_->boundAddresses().at(0);
    });
  }
  ~FakeYooKassaApi() {
    loop_.call([this] {
      server_->closeAll();
      server_.reset();
    });
  }
  const std::string& base() const { return base_; }
  void set(const std::string& path, std::string object) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_[path] = std::move(object);
  }
  void failNext(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = n;
  }
  std::vector<http::Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  // The requests for `path`, answered or not.
  int requests(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& r : requests_) n += r.path == path;
    return n;
  }

 private:
  std::string authorization_;
  LoopThread loop_;
  std::unique_ptr<http::Server> server_;
  std::string base_;
  std::mutex mu_;
  std::map<std::string, std::string> objects_;
  int fail_ = 0;
  std::vector<http::Request> requests_;
};

}  // namespace payhook::testing
