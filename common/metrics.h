// Prometheus metrics (text exposition format 0.0.4) for GET /metrics on the admin listener. Everything runs
// on the daemon's one loop, so plain integers suffice. Counters and histograms are created once per label
// set and then updated through a stable reference, so the hot path (a callback stored, a delivery answered)
// costs an increment, not a lookup; gauges are read from their owners when scraped.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace payhook::metrics {

class Counter {
 public:
  void inc(uint64_t n = 1) { value_ += n; }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_ = 0;
};

// Cumulative buckets with the upper bounds given at creation (seconds for latencies).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds) : bounds_(bounds), counts_(bounds->size(), 0) {}
  void observe(double value);
  const std::vector<double>& bounds() const { return *bounds_; }
  const std::vector<uint64_t>& counts() const { return counts_; }  // per bucket, not cumulative
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  const std::vector<double>* bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

// One metric name with its label names; a child per label-value tuple, created on first use.
template <class T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels, std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        labels_(std::move(labels)),
        bounds_(std::move(bounds)) {}

  // The child for these label values (as many as label names). The reference stays valid for the
  // registry's life: keep it where the value is updated often.
  T& with(std::initializer_list<std::string_view> values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::map<std::vector<std::string>, std::unique_ptr<T>>& children() const { return children_; }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  std::vector<double> bounds_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// A gauge's values at scrape time: one call per sample.
using GaugeSample = std::function<void(std::initializer_list<std::string_view> label_values, double value)>;

class Registry {
 public:
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> labels,
                               std::vector<double> bounds);
  // `read` is called on every scrape and reports the current samples through its argument.
  void gauge(std::string name, std::string help, std::vector<std::string> labels,
             std::function<void(const GaugeSample&)> read);
  // The same for a counter kept by its owner (a total that only grows, read at scrape time).
  void counterFrom(std::string name, std::string help, std::vector<std::string> labels,
                   std::function<void(const GaugeSample&)> read);

  // The whole exposition, families in registration order.
  std::string render() const;

  // Latency buckets in seconds, from 1 ms to 30 s.
  static std::vector<double> latencyBuckets();

 private:
  struct Gauge {
    const char* type;
    std::string name;
    std::string help;
    std::vector<std::string> labels;
    std::function<void(const GaugeSample&)> read;
  };
  struct Entry {
    enum class Kind { kCounter, kHistogram, kGauge } kind;
    size_t index;
  };
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<Gauge> gauges_;
  std::vector<Entry> order_;
};

// Label values escaped for the text format: backslash, double quote and newline.
std::string escapeLabelValue(std::string_view value);

}  // namespace payhook::metrics
