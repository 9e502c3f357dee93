#include "http/router.h"

#include <algorithm>

namespace payhook::http {

Status Router::add(std::string path, std::vector<std::string> methods, size_t target) {
  if (path.empty() || path.front() != '/') return Error{"route path must start with '/': \"" + path + "\""};
  if (methods.empty()) return Error{"route " + path + " has no methods"};
  if (routes_.find(std::string_view(path)) != routes_.end()) return Error{"duplicate route path " + path};
  Route route;
  route.target = target;
  for (auto& m : methods) {
    if (m.empty()) return Error{"route " + path + " has an empty method"};
    // Listing a method twice is harmless; the Allow header should still name it once.
    if (std::find(route.methods.begin(), route.methods.end(), m) != route.methods.end()) continue;
    if (!route.allow.empty()) route.allow += ", ";
    route.allow += m;
    route.methods.push_back(std::move(m));
  }
  routes_.emplace(std::move(path), std::move(route));
  return Ok{};
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  auto it = routes_.find(path);
  if (it == routes_.end()) return Match{Match::kNotFound, 0, {}};
  const Route& route = it->second;
  for (const auto& m : route.methods)
    if (m == method) return Match{Match::kFound, route.target, {}};
  return Match{Match::kMethodNotAllowed, 0, route.allow};
}

}  // namespace payhook::http
