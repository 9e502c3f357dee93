#include "handlers/form.h"

#include <algorithm>

#include "common/query.h"
#include "common/untrusted_text.h"

namespace payhook::handlers {

Result<Form> Form::parse(std::string_view text, Repeats repeats) {
  Form form;
  auto pairs = parseQuery(text);
  if (!pairs) return pairs.error();
  form.pairs_ = std::move(*pairs);
  // Sorted, not a pairwise scan: a hostile request may carry ten thousand parameters.
  std::vector<const std::string*> names;
  names.reserve(form.pairs_.size());
  for (const auto& p : form.pairs_) names.push_back(&p.first);
  std::sort(names.begin(), names.end(), [](const auto* a, const auto* b) { return *a < *b; });
  auto same = [](const auto* a, const auto* b) { return *a == *b; };
  for (auto dup = std::adjacent_find(names.begin(), names.end(), same); dup != names.end();
       dup = std::adjacent_find(dup, names.end(), same)) {
    if (repeats == Repeats::kRefuse)
      return Error{"parameter " + quoteUntrusted(**dup) + " is given more than once"};
    form.repeated_.push_back(**dup);
    dup = std::find_if(dup, names.end(), [&](const auto* n) { return *n != **dup; });
  }
  return form;
}

size_t Form::count(std::string_view name) const {
  return static_cast<size_t>(
      std::count_if(pairs_.begin(), pairs_.end(), [&](const auto& p) { return p.first == name; }));
}

const std::string* Form::get(std::string_view name) const {
  for (const auto& [k, v] : pairs_)
    if (k == name) return &v;
  return nullptr;
}

std::string withBlankedValue(std::string text, std::string_view name) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('&', pos);
    if (end == std::string::npos) end = text.size();
    const size_t value = pos + name.size() + 1;
    if (value <= end && text.compare(pos, name.size(), name) == 0 && text[pos + name.size()] == '=') {
      text.erase(value, end - value);
      end = value;
    }
    pos = end + 1;
  }
  return text;
}

std::string phpUrlencode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 3);
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' || u == '_' ||
        u == '.') {
      out.push_back(c);
    } else if (u == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0f]);
    }
  }
  return out;
}

}  // namespace payhook::handlers
