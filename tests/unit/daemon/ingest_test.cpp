#include "daemon/ingest.h"

#include <gtest/gtest.h>

namespace payhook::daemon {
namespace {

class NullStore final : public queue::EventStore {
 public:
  void store(const Event&, const queue::StoreSpec&, Done) override {}
  bool ready() const override { return true; }
  void findStored(const std::string&, const std::string&, LookupDone) override {}
  void findStoredEvent(const std::string&, const std::string&, EventLookupDone) override {}
  void putNote(const std::string&, const std::string&, const std::string&, uint64_t, LookupDone) override {}
  void storeUnlessNoted(const Event&, const queue::StoreSpec&, const std::string&, Done) override {}
};

http::Request from(std::string peer, std::vector<std::string> xff) {
  http::Request r;
  r.peer = std::move(peer);
  for (auto& v : xff) r.headers.push_back({"x-forwarded-for", std::move(v)});
  return r;
}

class ClientAddressTest : public ::testing::Test {
 protected:
  Ingest ingest(std::vector<std::string> proxies) {
    IngestOptions o;
    for (const auto& p : proxies) o.trusted_proxies.push_back(*Cidr::parse(p));
    return Ingest(store_, clock_, o);
  }
  NullStore store_;
  FakeClock clock_;
};

TEST_F(ClientAddressTest, UntrustedPeersCannotClaimAnAddress) {
  auto in = ingest({});
  EXPECT_EQ(in.clientAddress(from("203.0.113.5", {"10.9.9.9"})), "203.0.113.5");
  auto proxied = ingest({"127.0.0.1/32"});
  EXPECT_EQ(proxied.clientAddress(from("203.0.113.5", {"10.9.9.9"})), "203.0.113.5");
}

TEST_F(ClientAddressTest, TrustedProxyHopsAreWalkedFromTheRight) {
  auto in = ingest({"127.0.0.1/32", "10.0.0.0/8"});
  EXPECT_EQ(in.clientAddress(from("127.0.0.1", {"198.51.100.7"})), "198.51.100.7");
  EXPECT_EQ(in.clientAddress(from("127.0.0.1", {"6.6.6.6, 198.51.100.7, 10.1.2.3"})), "198.51.100.7");
  EXPECT_EQ(in.clientAddress(from("127.0.0.1", {})), "127.0.0.1");
  EXPECT_EQ(in.clientAddress(from("127.0.0.1", {"garbage"})), "garbage");
}

TEST_F(ClientAddressTest, AForgedFirstLineCannotHideTheProxysOwnLine) {
  // The client sent "X-Forwarded-For: 10.9.9.9"; the proxy appended its view on a second line.
  auto in = ingest({"127.0.0.1/32"});
  EXPECT_EQ(in.clientAddress(from("127.0.0.1", {"10.9.9.9", "6.6.6.6"})), "6.6.6.6");
}

TEST_F(ClientAddressTest, UnixSocketPeersAreTrustedOnlyWhenListed) {
  // nginx's plain proxy_pass passes the client's own X-Forwarded-For through: not trusted by default.
  auto untrusted = ingest({});
  EXPECT_EQ(untrusted.clientAddress(from("unix", {"198.51.100.7"})), "unix");
  IngestOptions o;
  o.trust_unix_peers = true;
  Ingest trusted(store_, clock_, o);
  EXPECT_EQ(trusted.clientAddress(from("unix", {"198.51.100.7"})), "198.51.100.7");
  EXPECT_EQ(trusted.clientAddress(from("unix", {})), "unix");
  // A TCP peer whose address could not be read is never a proxy.
  EXPECT_EQ(trusted.clientAddress(from("", {"198.51.100.7"})), "");
}

}  // namespace
}  // namespace payhook::daemon
