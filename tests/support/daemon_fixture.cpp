#include "support/daemon_fixture.h"

#include "support/store_inspect.h"

namespace payhook::testing {

DaemonProcess& DaemonFixture::createDaemon(DaemonOptions options) {
  if (options.redis_url.empty()) options.redis_url = redis_.url();
  daemon_ = std::make_unique<DaemonProcess>(std::move(options));
  return *daemon_;
}

void DaemonFixture::writeSecret(const std::string& name, const std::string& content) {
  writeFile(daemon_->dir() + "/secrets/" + name, content);
}

void DaemonFixture::startDaemon(int ready_timeout_ms) {
  ASSERT_TRUE(daemon_->start()) << daemon_->logs();
  ASSERT_TRUE(daemon_->waitReady(200, ready_timeout_ms)) << daemon_->logs();
}

void DaemonFixture::TearDown() {
  if (daemon_) {
    EXPECT_EQ(daemon_->stop(), 0) << daemon_->logs();
  }
}

void DaemonFixture::expectNothingStored() {
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  EXPECT_EQ(countKeys(redis_, "{payhook}:idem:*"), 0u);
  EXPECT_EQ(queuedJobCount(redis_), 0);
}

std::string DaemonFixture::field(const std::string& event_id, const std::string& name) {
  return redis_.command({"HGET", "{payhook}:ev:" + event_id, name}).str;
}

std::vector<nlohmann::json> DaemonFixture::attempts(const std::string& event_id) {
  std::vector<nlohmann::json> out;
  for (const auto& e : redis_.command({"LRANGE", "{payhook}:attempts:" + event_id, "0", "-1"}).elements)
    out.push_back(nlohmann::json::parse(e.str, nullptr, false));
  return out;
}

}  // namespace payhook::testing
