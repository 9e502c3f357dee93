// Secret: key material that is wiped from memory when dropped and can never be printed.
// There is deliberately no operator<< and no implicit conversion to string, so a secret cannot
// reach a log line or an error message by accident.
#pragma once

#include <sodium.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace payhook {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string bytes) { adopt(bytes); }
  Secret(const Secret& other) { adopt(std::string(other.bytes_)); }
  Secret& operator=(const Secret& other) {
    if (this != &other) {
      wipe();
      adopt(std::string(other.bytes_));
    }
    return *this;
  }
  // bytes_ is empty or on the heap (see adopt), so a move hands over the pointer and leaves no copy behind.
  Secret(Secret&& other) noexcept : bytes_(std::move(other.bytes_)) { other.bytes_.clear(); }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      wipe();
      bytes_ = std::move(other.bytes_);
      other.bytes_.clear();
    }
    return *this;
  }
  ~Secret() { wipe(); }

  // The raw bytes, for a signature function only.
  std::string_view reveal() const { return bytes_; }
  bool empty() const { return bytes_.empty(); }
  size_t size() const { return bytes_.size(); }

 private:
  // A short std::string keeps its characters inside the object (small-string optimisation), where moves
  // copy them and leave them behind. Keeping every secret on the heap makes moves pointer hand-overs.
  static constexpr size_t kHeapCapacity = 64;
  void adopt(std::string&& s) { adopt(s); }
  void adopt(std::string& s) {
    if (s.empty()) return;
    if (s.capacity() >= kHeapCapacity) {
      bytes_ = std::move(s);
      return;
    }
    bytes_.reserve(kHeapCapacity);
    bytes_.assign(s);
    sodium_memzero(s.data(), s.size());
    s.clear();
  }
  void wipe() {
    if (!bytes_.empty()) sodium_memzero(bytes_.data(), bytes_.size());
    bytes_.clear();
  }
  std::string bytes_;
};

// The keys in a key file's text: non-empty lines with surrounding white space removed, "#" note lines
// skipped; one key per line, several during rotation. `line_numbers`, when given, receives the 1-based
// line of each key, for messages.
std::vector<Secret> splitKeyLines(std::string_view text, std::vector<int>* line_numbers = nullptr);

// Constant-time equality for secrets and signatures of possibly different lengths.
inline bool constantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace payhook
