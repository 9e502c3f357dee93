// RESP, the format of a command on the wire, written straight into one buffer: a command is built in place
// (keys from their parts, a large value copied once) and handed to hiredis already formatted.
#pragma once

#include <charconv>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

struct redisReply;

namespace payhook::redis {

template <class T>
void appendNumber(std::string& out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;
  out.append(buf, end);
}

// "*<argc>\r\n": the start of a command of `argc` arguments, its name included.
void appendArrayHeader(std::string& out, size_t argc);

// One bulk string made of `parts` concatenated, so a key is built in place.
void appendBulkParts(std::string& out, std::initializer_list<std::string_view> parts);

void appendBulk(std::string& out, std::string_view s);

// A whole command, its name and arguments, as one RESP string.
std::string formatCommand(std::initializer_list<std::string_view> args);

// A string, status or error reply's text.
std::string_view replyText(const redisReply& r);

}  // namespace payhook::redis
