// Plain HTTP request and response values shared by the server, the router and the handlers.
// Handlers see only these, never a socket.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace payhook::http {

struct Header {
  std::string name;  // lower-case
  std::string value;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target before '?', still percent-encoded
  std::string query;   // the target after '?', without it; empty when absent
  std::vector<Header> headers;
  std::string body;
  std::string
      peer;  // client IP address as text ("127.0.0.1", "::1"); "unix" for unix sockets; empty if unknown

  // First value of a header; `name` must be lower-case. Null when absent.
  const std::string* header(std::string_view name) const {
    for (const auto& h : headers)
      if (h.name == name) return &h.value;
    return nullptr;
  }
  size_t headerCount(std::string_view name) const {
    size_t n = 0;
    for (const auto& h : headers) n += h.name == name;
    return n;
  }
};

struct Response {
  int status = 200;
  std::string content_type;  // empty: no content-type header
  std::string body;
  std::vector<Header> headers;  // extra headers, e.g. retry-after
  bool close = false;           // close the connection after sending

  static Response text(int status, std::string body) {
    return Response{status, "text/plain; charset=utf-8", std::move(body), {}, false};
  }
  static Response empty(int status) { return Response{status, {}, {}, {}, false}; }
  Response&& withHeader(std::string name, std::string value) && {
    headers.push_back({std::move(name), std::move(value)});
    return std::move(*this);
  }
};

const char* reasonPhrase(int status);

}  // namespace payhook::http
