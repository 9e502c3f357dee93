#include "handlers/form.h"

#include <algorithm>

namespace payhook::handlers {

Result<Form> Form::parse(std::string_view text) {
  Form form;
  while (!text.empty()) {
    size_t amp = text.find('&');
    std::string_view part = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string name, value;
    if (!percentDecode(part.substr(0, eq), &name, true))
      return Error{"malformed percent escape in a parameter name"};
    if (eq != std::string_view::npos && !percentDecode(part.substr(eq + 1), &value, true))
      return Error{"malformed percent escape in parameter " + name};
    form.pairs_.emplace_back(std::move(name), std::move(value));
  }
  // Sorted, not a pairwise scan: a hostile request may carry ten thousand parameters.
  std::vector<const std::string*> names;
  names.reserve(form.pairs_.size());
  for (const auto& p : form.pairs_) names.push_back(&p.first);
  std::sort(names.begin(), names.end(), [](const auto* a, const auto* b) { return *a < *b; });
  auto dup =
      std::adjacent_find(names.begin(), names.end(), [](const auto* a, const auto* b) { return *a == *b; });
  if (dup != names.end()) return Error{"parameter " + **dup + " is given more than once"};
  return form;
}

const std::string* Form::get(std::string_view name) const {
  for (const auto& [k, v] : pairs_)
    if (k == name) return &v;
  return nullptr;
}

}  // namespace payhook::handlers
