#include "tests/reliability/ledger_sink.h"

#include <uv.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

namespace payhook::reliability {

LedgerSink::LedgerSink(uint64_t answer_delay_ms) : answer_delay_ms_(answer_delay_ms) {
  loop_.call([this] { listen(); });
}

LedgerSink::~LedgerSink() {
  down();
}

void LedgerSink::listen() {
  server_ = std::make_unique<http::Server>(
      loop_.loop(), http::ServerLimits{},
      [this](http::Request&& r, http::Responder resp) { onRequest(std::move(r), std::move(resp)); });
  auto st = server_->listen(address_.empty() ? "127.0.0.1:0" : address_);
  if (!st) {
    server_.reset();
    return;
  }
  if (address_.empty()) address_ = server_->boundAddresses().at(0);
}

void LedgerSink::down() {
  loop_.call([this] {
    if (!server_) return;
    server_->closeAll();
    server_.reset();
  });
}

void LedgerSink::up() {
  // The port was ours a moment ago; a connection of payhookd's in TIME_WAIT does not block the bind
  // (libuv sets SO_REUSEADDR), but retry briefly in case something else raced us.
  const auto end = SteadyClock::now() + std::chrono::seconds(2);
  while (true) {
    bool ok = loop_.call([this] {
      if (!server_) listen();
      return server_ != nullptr;
    });
    if (ok) return;
    if (SteadyClock::now() > end)
      throw std::runtime_error("LedgerSink: cannot listen on " + address_ + " again");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void LedgerSink::onRequest(http::Request&& request, http::Responder responder) {
  Delivery d;
  d.at = SteadyClock::now();
  if (const std::string* id = request.header("webhook-id")) d.event_id = *id;
  auto body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_object()) {
    auto data = body.find("data");
    if (data != body.end() && data->is_object()) {
      auto id = data->find("webhook_id");
      if (id != data->end() && id->is_string()) d.ledger_id = id->get<std::string>();
    }
    auto attempt = body.find("attempt");
    if (attempt != body.end() && attempt->is_number_integer()) d.attempt = attempt->get<int>();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++seen_[d.ledger_id];
    deliveries_.push_back(std::move(d));
  }
  if (answer_delay_ms_ == 0) {
    responder.send(http::Response::empty(204));
    return;
  }
  // Answered from a timer; when the app went down() meanwhile, the connection is gone and the answer with it.
  struct Delayed {
    uv_timer_t timer;
    http::Responder responder;
  };
  auto* later = new Delayed{{}, std::move(responder)};
  uv_timer_init(loop_.loop(), &later->timer);
  later->timer.data = later;
  uv_timer_start(
      &later->timer,
      [](uv_timer_t* t) {
        auto* d = static_cast<Delayed*>(t->data);
        d->responder.send(http::Response::empty(204));
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<Delayed*>(h->data); });
      },
      answer_delay_ms_, 0);
}

std::vector<Delivery> LedgerSink::deliveries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return deliveries_;
}

size_t LedgerSink::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return deliveries_.size();
}

size_t LedgerSink::missing(const std::vector<std::string>& ids) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& id : ids) n += seen_.count(id) == 0;
  return n;
}

bool LedgerSink::firstAfter(TimePoint t, TimePoint* at) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& d : deliveries_)
    if (d.at >= t) {
      *at = d.at;
      return true;
    }
  return false;
}

}  // namespace payhook::reliability
