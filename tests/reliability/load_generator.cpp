#include "tests/reliability/load_generator.h"

#include <chrono>
#include <ctime>
#include <memory>
#include <stdexcept>

#include "common/webhook_signature.h"
#include "support/http_client.h"

namespace payhook::reliability {
namespace {

using testing::HttpConnection;
using testing::HttpResponse;

std::string requestBytes(const std::string& address, const Secret& key, const std::string& id) {
  const std::string body = R"({"type":"ledger.entry","data":{"ledger_id":")" + id + R"("}})";
  const std::string ts = std::to_string(std::time(nullptr));
  std::string r;
  r.reserve(512);
  r += "POST /hooks/demo HTTP/1.1\r\nhost: " + address + "\r\ncontent-type: application/json\r\n";
  r += "content-length: " + std::to_string(body.size()) + "\r\n";
  r += "webhook-id: " + id + "\r\nwebhook-timestamp: " + ts + "\r\n";
  r += "webhook-signature: " + swh::signV1(key, id, ts, body) + "\r\n\r\n";
  r += body;
  return r;
}

}  // namespace

LoadGenerator::LoadGenerator(LoadOptions options) : options_(std::move(options)) {
  if (options_.addresses.empty() || options_.threads < 1 || options_.rate <= 0)
    throw std::invalid_argument("LoadGenerator: addresses, threads and rate are required");
}

LoadGenerator::~LoadGenerator() {
  stop();
}

void LoadGenerator::start() {
  per_thread_.assign(static_cast<size_t>(options_.threads), {});
  running_ = true;
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this, i] { run(i); });
}

void LoadGenerator::stop() {
  running_ = false;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::vector<Send> LoadGenerator::sends() const {
  std::vector<Send> out;
  for (const auto& v : per_thread_) out.insert(out.end(), v.begin(), v.end());
  return out;
}

void LoadGenerator::run(int thread) {
  auto key = swh::decodeSecret(options_.secret);
  if (!key) throw std::invalid_argument("LoadGenerator: bad secret");
  std::vector<Send>& log = per_thread_[static_cast<size_t>(thread)];
  const auto interval = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(options_.threads / options_.rate));
  const size_t n_addr = options_.addresses.size();
  size_t addr = static_cast<size_t>(thread) % n_addr;
  std::unique_ptr<HttpConnection> conn;
  auto next = SteadyClock::now();
  uint64_t seq = 0;

  while (running_) {
    std::this_thread::sleep_until(next);
    next += interval;
    // Behind by more than a second (payhookd was away): pace from now rather than burst to catch up.
    if (SteadyClock::now() > next + std::chrono::seconds(1)) next = SteadyClock::now();

    if (!conn || !conn->connected()) {
      conn.reset();
      for (size_t tried = 0; tried < n_addr && !conn; ++tried) {
        auto c = std::make_unique<HttpConnection>(options_.addresses[addr]);
        if (c->connected())
          conn = std::move(c);
        else
          addr = (addr + 1) % n_addr;
      }
      if (!conn) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        next = SteadyClock::now();
        continue;
      }
    }

    Send s;
    s.id = options_.id_prefix + "-" + std::to_string(thread) + "-" + std::to_string(seq++);
    s.instance = static_cast<int>(addr);
    const std::string bytes = requestBytes(options_.addresses[addr], *key, s.id);
    s.sent = SteadyClock::now();
    HttpResponse resp;
    if (conn->send(bytes)) resp = conn->read(options_.answer_timeout_ms);
    s.answered = SteadyClock::now();
    s.status = resp.status;
    if (resp.status == 0 || resp.header("connection") == "close") conn.reset();
    ++sent_;
    if (s.status >= 200 && s.status < 300) ++acked_;
    log.push_back(std::move(s));
  }
}

}  // namespace payhook::reliability
