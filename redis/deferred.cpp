#include "redis/deferred.h"

#include <utility>

namespace payhook::redis {

Deferred::Deferred(uv_loop_t* loop, std::function<void()> before_each)
    : loop_(loop), before_each_(std::move(before_each)), timer_(loop) {}

Deferred::~Deferred() {
  if (destroyed_flag_) *destroyed_flag_ = true;
}

void Deferred::post(std::function<void()> call) {
  pending_.push_back(std::move(call));
  wake();
}

void Deferred::wake() {
  if (!open_) {  // closed while idle; a late call still gets its answer on the loop
    timer_ = uv::Timer(loop_);
    open_ = true;
  }
  if (!timer_.active()) timer_.start(0, [this] { drain(); });
}

void Deferred::closeWhenIdle() {
  closing_ = true;
  if (pending_.empty() && !destroyed_flag_) close();
}

void Deferred::close() {
  timer_.close();
  open_ = false;
}

void Deferred::drain() {
  if (before_each_) before_each_();
  bool destroyed = false;
  destroyed_flag_ = &destroyed;
  draining_.swap(pending_);
  for (auto& entry : draining_) {
    auto call = std::move(entry);
    call();
    if (destroyed) return;  // the owner is gone, with the rest of the batch
  }
  destroyed_flag_ = nullptr;
  draining_.clear();
  if (closing_ && pending_.empty()) close();
}

}  // namespace payhook::redis
