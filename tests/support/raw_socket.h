// Raw loopback HTTP/1.1 for tests that play misbehaving clients byte by byte.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace payhook::testing {

inline std::string rawRequest(const std::string& method, const std::string& path,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::string& body, bool with_length = true) {
  std::string out = method + " " + path + " HTTP/1.1\r\nhost: 127.0.0.1\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  if (with_length) out += "content-length: " + std::to_string(body.size()) + "\r\n";
  return out + "\r\n" + body;
}

// A raw loopback TCP socket the test drives byte by byte. Sends never raise SIGPIPE.
// `source`, when given, is the local address to connect from (127.0.0.2 and up are loopback too, so one
// test can play several clients); `rcvbuf`, when positive, shrinks the receive buffer before connecting, so
// a peer that never reads stalls the server's writes quickly.
class RawSocket {
 public:
  explicit RawSocket(const std::string& address, const std::string& source = "", int rcvbuf = 0) {
    const size_t colon = address.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    bool ok = true;
    if (rcvbuf > 0) ok = ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0;
    if (ok && !source.empty()) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
      ok = ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0;
    }
    if (!ok || ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawSocket() { closeNow(); }
  RawSocket(RawSocket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  RawSocket& operator=(RawSocket&&) = delete;
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  int fd() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void closeNow() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Blocking send of everything; false on an error (the peer closed or reset).
  bool sendAll(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Non-blocking send: bytes taken by the kernel, 0 when its buffers are full, -1 on an error.
  ssize_t sendSome(std::string_view bytes) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    return n;
  }
  bool readable(int timeout_ms) const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
  }
  // Everything until EOF, a reset or `timeout_ms`; *closed tells whether the peer ended the connection.
  std::string readUntilClosed(int timeout_ms, bool* closed = nullptr) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    if (closed) *closed = false;
    char buf[16 * 1024];
    while (std::chrono::steady_clock::now() < end) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now())
              .count();
      if (!readable(static_cast<int>(std::max<int64_t>(left, 1)))) continue;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (closed) *closed = true;
      break;
    }
    return out;
  }

 private:
  int fd_ = -1;
};

// "HTTP/1.1 413 ..." -> 413; 0 when the bytes do not start with a status line.
inline int statusOf(const std::string& raw) {
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || raw.size() < 12) return 0;
  return std::atoi(raw.c_str() + 9);
}

}  // namespace payhook::testing
