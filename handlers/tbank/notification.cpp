#include "handlers/tbank/notification.h"

#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "handlers/digest.h"

namespace payhook::handlers::tbank {
namespace {

using Json = nlohmann::json;

// Keeps the top level's scalars with their text and notes where a nested value sits; a number keeps the
// body's own spelling where the parser gives it (floats and integers too big for 64 bits), and an integer
// is its decimal text, which is the body's spelling for every integer JSON allows but "-0".
class TopLevelReader final : public nlohmann::json_sax<Json> {
 public:
  explicit TopLevelReader(Notification* out) : out_(out) {}
  bool too_deep = false;

  bool null() override { return add(Field::Kind::kNull, {}); }
  bool boolean(bool v) override { return add(Field::Kind::kBool, v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override { return add(Field::Kind::kNumber, std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add(Field::Kind::kNumber, std::to_string(v)); }
  bool number_float(number_float_t /*v*/, const string_t& s) override { return add(Field::Kind::kNumber, s); }
  bool string(string_t& v) override { return add(Field::Kind::kString, std::move(v)); }
  bool binary(binary_t& /*v*/) override { return false; }
  bool start_object(std::size_t /*n*/) override { return open(); }
  bool start_array(std::size_t /*n*/) override { return depth_ == 0 ? false : open(); }
  bool end_object() override { return --depth_, true; }
  bool end_array() override { return --depth_, true; }
  bool key(string_t& k) override {
    if (depth_ == 1) pending_key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t /*pos*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*e*/) override {
    return false;
  }

 private:
  bool open() {
    if (depth_ == 1) out_->fields.push_back(Field{std::move(pending_key_), Field::Kind::kNested, {}});
    if (++depth_ > kMaxDepth) {
      too_deep = true;
      return false;
    }
    return true;
  }
  bool add(Field::Kind kind, std::string text) {
    if (depth_ == 0) return false;  // a scalar as the whole body
    if (depth_ == 1) out_->fields.push_back(Field{std::move(pending_key_), kind, std::move(text)});
    return true;
  }

  Notification* out_;
  int depth_ = 0;
  std::string pending_key_;
};

// The index of the quote that closes the string opening at `open`; npos when it does not close.
size_t stringEnd(std::string_view text, size_t open) {
  for (size_t i = open + 1; i < text.size(); ++i) {
    if (text[i] == '\\')
      ++i;
    else if (text[i] == '"')
      return i;
  }
  return std::string_view::npos;
}

// Whether the JSON string `quoted` (quotes included) reads as `name`, escapes and all.
bool readsAs(std::string_view quoted, std::string_view name) {
  if (quoted.find('\\') == std::string_view::npos) return quoted.substr(1, quoted.size() - 2) == name;
  const Json value = Json::parse(quoted, nullptr, /*allow_exceptions=*/false);
  return value.is_string() && value.get_ref<const std::string&>() == name;
}

size_t skipBlanks(std::string_view text, size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) ++i;
  return i;
}

}  // namespace

const Field* Notification::find(std::string_view key) const {
  for (const auto& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}

Result<Notification> parseNotification(std::string_view body) {
  Notification n;
  TopLevelReader reader(&n);
  if (!Json::sax_parse(body, &reader, nlohmann::detail::input_format_t::json, /*strict=*/true))
    return Error{reader.too_deep ? "the body nests too deep" : "the body is not a JSON object"};
  std::vector<std::string_view> keys;
  keys.reserve(n.fields.size());
  for (const auto& f : n.fields) keys.push_back(f.key);
  std::sort(keys.begin(), keys.end());
  // Which copy would the Token cover, and which would the shop act on?
  if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) return Error{"the body repeats a key"};
  return n;
}

std::string tokenText(const Notification& notification, std::string_view password, Nulls nulls) {
  struct Part {
    std::string_view key;
    std::string_view value;
  };
  std::vector<Part> parts;
  parts.reserve(notification.fields.size() + 1);
  size_t size = password.size();
  for (const auto& f : notification.fields) {
    if (f.key == "Token" || f.kind == Field::Kind::kNested) continue;
    if (f.kind == Field::Kind::kNull && nulls == Nulls::kSkipped) continue;
    const std::string_view value = f.kind == Field::Kind::kNull ? std::string_view("null") : f.text;
    parts.push_back({f.key, value});
    size += value.size();
  }
  parts.push_back({"Password", password});
  std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) { return a.key < b.key; });
  std::string text;
  // Reserved once, so appending never reallocates and leaves a copy of the password behind unwiped.
  text.reserve(size);
  for (const auto& p : parts) text.append(p.value);
  return text;
}

std::string token(const Notification& notification, const Secret& password, Nulls nulls) {
  std::string text = tokenText(notification, password.reveal(), nulls);
  std::string hex = hashHex(HashAlgorithm::kSha256, text, HexCase::kLower);
  sodium_memzero(text.data(), text.size());
  return hex;
}

bool hasNull(const Notification& notification) {
  return std::any_of(notification.fields.begin(), notification.fields.end(),
                     [](const Field& f) { return f.kind == Field::Kind::kNull; });
}

std::string withBlankedToken(std::string body) {
  int depth = 0;
  bool expect_key = false;
  size_t i = 0;
  while (i < body.size()) {
    const char c = body[i];
    if (c == '"') {
      const size_t end = stringEnd(body, i);
      if (end == std::string::npos) return body;
      const bool is_token =
          depth == 1 && expect_key && readsAs(std::string_view(body).substr(i, end - i + 1), "Token");
      expect_key = false;
      i = end + 1;
      if (!is_token) continue;
      size_t v = skipBlanks(body, i);
      if (v < body.size() && body[v] == ':') v = skipBlanks(body, v + 1);
      if (v < body.size() && body[v] == '"') {
        const size_t value_end = stringEnd(body, v);
        if (value_end == std::string::npos) return body;
        body.erase(v + 1, value_end - v - 1);
        i = v + 2;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
      expect_key = c == '{' && depth == 1;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 1) {
      expect_key = true;
    }
    ++i;
  }
  return body;
}

}  // namespace payhook::handlers::tbank
