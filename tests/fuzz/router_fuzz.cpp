// Router: arbitrary (method, path) lookups against a few fixed routes, and the fuzzed path as a route of
// its own. Input: method NUL path NUL extra-method.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/router.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using payhook::http::Router;

void addFixed(Router& router) {
  // The shapes payhookd registers: provider paths with one or two methods, admin probes with HEAD.
  FUZZ_CHECK(router.add("/hooks/demo", {"POST"}, 0).ok());
  FUZZ_CHECK(router.add("/hooks/yoomoney", {"POST", "GET", "POST"}, 1).ok());
  FUZZ_CHECK(router.add("/healthz", {"GET", "HEAD"}, 2).ok());
  FUZZ_CHECK(router.add("/", {"GET"}, 3).ok());
  FUZZ_CHECK(router.add("/hooks/a%2Fb", {"PUT"}, 4).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto fields = payhook::fuzz::splitFields(payhook::fuzz::asView(data, size), 3);
  const std::string_view method = fields[0], path = fields[1], extra = fields[2];

  Router router;
  addFixed(router);
  const size_t fixed = router.size();

  const Router::Match m = router.match(method, path);
  switch (m.kind) {
    case Router::Match::kFound:
      FUZZ_CHECK(m.target < fixed);
      FUZZ_CHECK(m.allow.empty());
      break;
    case Router::Match::kMethodNotAllowed:
      FUZZ_CHECK(!m.allow.empty());
      break;
    case Router::Match::kNotFound:
      break;
  }

  // The fuzzed path as a route: refused when it is malformed or already taken, else found by its methods.
  const bool had = router.match("GET", path).kind != Router::Match::kNotFound;
  const auto added = router.add(std::string(path), {std::string(method), std::string(extra)}, 99);
  const bool valid = !path.empty() && path.front() == '/' && !had && !method.empty() && !extra.empty();
  FUZZ_CHECK(added.ok() == valid);
  if (added.ok()) {
    FUZZ_CHECK(router.size() == fixed + 1);
    const auto found = router.match(method, path);
    FUZZ_CHECK(found.kind == Router::Match::kFound && found.target == 99);
    FUZZ_CHECK(router.match(extra, path).kind == Router::Match::kFound);
    const auto other = router.match(std::string(method) + "X", path);
    if (std::string(method) + "X" != extra) {
      FUZZ_CHECK(other.kind == Router::Match::kMethodNotAllowed);
      FUZZ_CHECK(other.allow ==
                 (method == extra ? std::string(method) : std::string(method) + ", " + std::string(extra)));
    }
  } else {
    FUZZ_CHECK(router.size() == fixed);
  }
  return 0;
}
