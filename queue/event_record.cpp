#include "queue/event_record.h"

#include <algorithm>
#include <charconv>

namespace payhook::queue::record {
namespace {

size_t digits(size_t n) {
  size_t d = 1;
  while (n >= 10) {
    n /= 10;
    ++d;
  }
  return d;
}

void appendValue(std::string& out, std::string_view v) {
  for (char c : v) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
}

}  // namespace

bool isListingKey(std::string_view key) {
  if (key.empty() || key.size() > kListingKeyMax) return false;
  for (char c : key)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

void appendListing(std::string& out, const EventListing& l) {
  for (const std::string* v : {&l.amount, &l.currency, &l.status, &l.outcome}) {
    appendValue(out, *v);
    out += '\n';
  }
  for (size_t i = 0; i < l.keys.size(); ++i) {
    const std::string& k = l.keys[i];
    if (!isListingKey(k) || std::find(l.keys.begin(), l.keys.begin() + i, k) != l.keys.begin() + i) continue;
    out += k;
    out += '\n';
  }
  out.pop_back();
}

std::string packListing(const EventListing& listing) {
  std::string out;
  appendListing(out, listing);
  return out;
}

EventListing unpackListing(std::string_view packed) {
  EventListing l;
  std::string* fields[] = {&l.amount, &l.currency, &l.status, &l.outcome};
  size_t n = 0, pos = 0;
  while (pos <= packed.size()) {
    size_t nl = packed.find('\n', pos);
    if (nl == std::string_view::npos) nl = packed.size();
    const std::string_view line = packed.substr(pos, nl - pos);
    if (n < 4)
      fields[n]->assign(line);
    else if (!line.empty())
      l.keys.emplace_back(line);
    ++n;
    pos = nl + 1;
  }
  return l;
}

Parts partsOf(const Event& e, std::string& received_at) {
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof(buf), e.received_at_ms).ptr;
  received_at.assign(buf, end);
  return Parts{received_at,       e.type,       e.route,    e.provider,  e.verified ? "1" : "0", e.data_json,
               e.idempotency_key, e.raw.method, e.raw.path, e.raw.query, e.raw.content_type,     e.raw.body};
}

size_t packedSize(const Parts& parts) {
  size_t n = 0;
  for (auto p : parts) n += digits(p.size()) + 1 + p.size();
  return n;
}

void appendPacked(std::string& out, const Parts& parts) {
  for (auto p : parts) {
    char buf[24];
    auto end = std::to_chars(buf, buf + sizeof(buf), p.size()).ptr;
    out.append(buf, end);
    out += ':';
    out.append(p);
  }
}

std::optional<Parts> unpack(std::string_view packed) {
  Parts parts;
  size_t pos = 0;
  for (auto& part : parts) {
    const size_t colon = packed.find(':', pos);
    // A length is 1 to 20 digits with no sign or leading zero: one spelling per value.
    if (colon == std::string_view::npos || colon == pos || colon - pos > 20) return std::nullopt;
    if (packed[pos] == '0' && colon - pos > 1) return std::nullopt;
    size_t len = 0;
    auto [end, ec] = std::from_chars(packed.data() + pos, packed.data() + colon, len);
    if (ec != std::errc() || end != packed.data() + colon) return std::nullopt;
    if (len > packed.size() - colon - 1) return std::nullopt;
    part = packed.substr(colon + 1, len);
    pos = colon + 1 + len;
  }
  if (pos != packed.size()) return std::nullopt;
  return parts;
}

void fill(const Parts& p, Event& e) {
  int64_t at = 0;
  auto [end, ec] = std::from_chars(p[0].data(), p[0].data() + p[0].size(), at);
  e.received_at_ms = (ec == std::errc() && end == p[0].data() + p[0].size()) ? at : 0;
  e.type = p[1];
  e.route = p[2];
  e.provider = p[3];
  e.verified = p[4] == "1";
  e.data_json = p[5];
  e.idempotency_key = p[6];
  e.raw.method = p[7];
  e.raw.path = p[8];
  e.raw.query = p[9];
  e.raw.content_type = p[10];
  e.raw.body = p[11];
}

}  // namespace payhook::queue::record
