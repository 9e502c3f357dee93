#include "support/http_client.h"

#include <arpa/inet.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>

namespace payhook::testing {
namespace {

int connectTo(const std::string& address) {
  if (address.rfind("unix:", 0) == 0) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, address.c_str() + 5, sizeof sa.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  int port = std::stoi(address.substr(colon + 1));
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  bool v6 = host.find(':') != std::string::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  int rc;
  if (v6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, host.c_str(), &sa.sin6_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  if (rc != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct ParseState {
  HttpResponse* out = nullptr;
  std::string field;
  std::string value;
  bool in_value = false;
  bool done = false;

  void flushHeader() {
    if (!field.empty()) {
      for (auto& c : field) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out->headers[field] = value;
    }
    field.clear();
    value.clear();
    in_value = false;
  }
};

ParseState* stateOf(llhttp_t* p) {
  return static_cast<ParseState*>(p->data);
}

}  // namespace

HttpConnection::HttpConnection(const std::string& address) : fd_(connectTo(address)) {}

HttpConnection::~HttpConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool HttpConnection::send(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

HttpResponse HttpConnection::read(int timeout_ms) {
  HttpResponse resp;
  if (fd_ < 0) return resp;
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_header_field = [](llhttp_t* p, const char* at, size_t len) {
    auto* s = stateOf(p);
    if (s->in_value) s->flushHeader();
    s->field.append(at, len);
    return 0;
  };
  settings.on_header_value = [](llhttp_t* p, const char* at, size_t len) {
    auto* s = stateOf(p);
    s->in_value = true;
    s->value.append(at, len);
    return 0;
  };
  settings.on_headers_complete = [](llhttp_t* p) {
    stateOf(p)->flushHeader();
    stateOf(p)->out->status = p->status_code;
    return 0;
  };
  settings.on_body = [](llhttp_t* p, const char* at, size_t len) {
    stateOf(p)->out->body.append(at, len);
    return 0;
  };
  settings.on_message_complete = [](llhttp_t* p) {
    if (p->status_code == 100) {
      stateOf(p)->out->headers.clear();
      stateOf(p)->out->status = 0;
      return 0;
    }
    stateOf(p)->done = true;
    return static_cast<int>(HPE_PAUSED);
  };
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &settings);
  ParseState state;
  state.out = &resp;
  parser.data = &state;

  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto feed = [&]() {
    if (buffer_.empty()) return;
    llhttp_errno_t err = llhttp_execute(&parser, buffer_.data(), buffer_.size());
    if (err == HPE_PAUSED) {
      size_t used = static_cast<size_t>(llhttp_get_error_pos(&parser) - buffer_.data());
      buffer_.erase(0, used);
    } else if (err == HPE_OK) {
      buffer_.clear();
    } else {
      buffer_.clear();
      state.done = true;
      resp.status = -1;
    }
  };
  feed();
  while (!state.done) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return HttpResponse{};
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      // EOF ends a response without a length.
      if (llhttp_finish(&parser) == HPE_OK && resp.status > 0 && state.done) break;
      if (resp.status > 0 && llhttp_message_needs_eof(&parser)) break;
      return HttpResponse{};
    }
    buffer_.append(buf, static_cast<size_t>(n));
    feed();
  }
  return resp;
}

bool HttpConnection::waitClosed(int timeout_ms) {
  if (fd_ < 0) return true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
}

HttpResponse httpRequest(const std::string& address, const std::string& method, const std::string& path,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::string& body) {
  HttpConnection conn(address);
  if (!conn.connected()) return HttpResponse{};
  std::string req = method + " " + path + " HTTP/1.1\r\nhost: test\r\nconnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    req += "content-length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  if (!conn.send(req)) return HttpResponse{};
  return conn.read();
}

}  // namespace payhook::testing
