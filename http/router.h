// Router: exact-path dispatch from (method, path) to a caller-chosen target index.
//
// Paths are compared byte for byte, still percent-encoded, with no prefix or pattern matching: every
// endpoint a provider calls is a fixed path. HEAD is an ordinary method here; a route that wants HEAD
// lists it. Built once at start-up (add), then only read (match), so lookups need no locking.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace payhook::http {

class Router {
 public:
  struct Match {
    enum Kind { kFound, kNotFound, kMethodNotAllowed } kind = kNotFound;
    size_t target = 0;  // the index given to add(); meaningful for kFound
    std::string allow;  // for kMethodNotAllowed: the path's methods, "GET, POST", for the Allow header
  };

  // Routes `path` to `target` for each of `methods` (case-sensitive, "GET"). Fails on a path already
  // added, an empty method list, or a path that does not start with '/'.
  Status add(std::string path, std::vector<std::string> methods, size_t target);

  // Allocates nothing unless the answer is kMethodNotAllowed.
  Match match(std::string_view method, std::string_view path) const;

  size_t size() const { return routes_.size(); }

 private:
  struct Route {
    std::vector<std::string> methods;
    std::string allow;
    size_t target = 0;
  };
  // Transparent hashing lets match() look up a string_view without building a std::string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Route, Hash, std::equal_to<>> routes_;
};

}  // namespace payhook::http
