#include "redis/command.h"

#include <hiredis/hiredis.h>

namespace payhook::redis {

void appendArrayHeader(std::string& out, size_t argc) {
  out += '*';
  appendNumber(out, argc);
  out += "\r\n";
}

void appendBulkParts(std::string& out, std::initializer_list<std::string_view> parts) {
  size_t len = 0;
  for (auto p : parts) len += p.size();
  out += '$';
  appendNumber(out, len);
  out += "\r\n";
  for (auto p : parts) out.append(p);
  out += "\r\n";
}

void appendBulk(std::string& out, std::string_view s) {
  appendBulkParts(out, {s});
}

std::string formatCommand(std::initializer_list<std::string_view> args) {
  std::string c;
  appendArrayHeader(c, args.size());
  for (std::string_view a : args) appendBulk(c, a);
  return c;
}

std::string_view replyText(const redisReply& r) {
  return std::string_view(r.str, r.len);
}

}  // namespace payhook::redis
