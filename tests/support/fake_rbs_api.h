// A fake RBS gateway REST API for the expected-orders tests: a payhook::http::Server on its own loop thread
// answering POST /payment/rest/getOrderStatusExtended.do as PROTOCOLS' section on it describes, from a
// table of order states the test sets. It can be told to fail (503) its next N requests, and counts the
// requests per order and the credentials they carried.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/query.h"
#include "http/server.h"
#include "support/loop_thread.h"

namespace payhook::testing {

class FakeRbsApi {
 public:
  FakeRbsApi() {
    loop_.call([this] {
      server_ = std::make_unique<http::Server>(
          loop_.loop(), http::ServerLimits{},
          [this](http::Request&& r, http::Responder resp) { resp.send(answer(r)); });
      (void)server_->listen("127.0.0.1:0");
      base_ = "http://" + server_->boundAddresses().at(0) + "/payment/rest";
    });
  }
  ~FakeRbsApi() {
    loop_.call([this] {
      server_->closeAll();
      server_.reset();
    });
  }
  FakeRbsApi(const FakeRbsApi&) = delete;
  FakeRbsApi& operator=(const FakeRbsApi&) = delete;

  // The route's api_base.
  const std::string& base() const { return base_; }

  // The orderStatus answered for `order` (orderId or orderNumber as asked); unknown orders: errorCode 6.
  void setStatus(const std::string& order, int order_status, const std::string& md_order = "") {
    std::lock_guard<std::mutex> lock(mu_);
    orders_[order] = {order_status, md_order};
  }
  // The next `n` requests get 503.
  void failNext(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = n;
  }
  int requests(const std::string& order) {
    std::lock_guard<std::mutex> lock(mu_);
    return hits_[order];
  }
  int requestsTotal() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [o, c] : hits_) n += c;
    return n;
  }
  // When each request arrived, in order.
  std::vector<std::chrono::steady_clock::time_point> times() {
    std::lock_guard<std::mutex> lock(mu_);
    return times_;
  }
  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }

 private:
  struct Order {
    int status = 0;
    std::string md_order;
  };
  http::Response answer(const http::Request& r) {
    std::lock_guard<std::mutex> lock(mu_);
    if (r.method != "POST" || r.path != "/payment/rest/getOrderStatusExtended.do")
      return http::Response::text(404, "not found\n");
    bodies_.push_back(r.body);
    times_.push_back(std::chrono::steady_clock::now());
    auto pairs = parseQuery(r.body);
    std::map<std::string, std::string> form;
    if (pairs)
      for (auto& [k, v] : *pairs) form[k] = v;
    const std::string order = form.count("orderId") ? form["orderId"] : form["orderNumber"];
    ++hits_[order];
    if (fail_ > 0) {
      --fail_;
      return http::Response::text(503, "gateway busy\n");
    }
    nlohmann::json j;
    if (form["userName"] != "shop-api" || form["password"] != "api-secret-pw") {
      j = {{"errorCode", "5"}, {"errorMessage", "Access denied"}};
    } else if (auto it = orders_.find(order); it == orders_.end()) {
      j = {{"errorCode", "6"}, {"errorMessage", "Order not found"}};
    } else {
      j = {{"errorCode", "0"},     {"errorMessage", "Success"},
           {"orderNumber", order}, {"orderStatus", it->second.status},
           {"actionCode", 0},      {"amount", 100050},
           {"currency", "643"}};
      if (!it->second.md_order.empty())
        j["attributes"] = nlohmann::json::array({{{"name", "mdOrder"}, {"value", it->second.md_order}}});
    }
    return http::Response{200, "application/json", j.dump(), {}, false};
  }

  LoopThread loop_;
  std::unique_ptr<http::Server> server_;
  std::string base_;
  std::mutex mu_;
  std::map<std::string, Order> orders_;
  std::map<std::string, int> hits_;
  std::vector<std::string> bodies_;
  std::vector<std::chrono::steady_clock::time_point> times_;
  int fail_ = 0;
};

}  // namespace payhook::testing
