// A blocking HTTP/1.1 client for tests: raw bytes out, parsed responses in (llhttp in response mode).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace payhook::testing {

struct HttpResponse {
  int status = 0;                              // 0: connection failed or closed before an answer
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// An open connection to "host:port" or "unix:/path". Responses are read in order, so pipelining works.
class HttpConnection {
 public:
  explicit HttpConnection(const std::string& address);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  // Reads one response; status 0 when the peer closed first or `timeout_ms` passed.
  HttpResponse read(int timeout_ms = 10'000);
  // True when the peer closed the connection within `timeout_ms` (EOF or reset).
  bool waitClosed(int timeout_ms);

 private:
  int fd_ = -1;
  std::string buffer_;  // bytes received but not yet parsed
};

// One request on a fresh connection.
HttpResponse httpRequest(const std::string& address, const std::string& method, const std::string& path,
                         const std::vector<std::pair<std::string, std::string>>& headers = {},
                         const std::string& body = {});

}  // namespace payhook::testing
