#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace payhook::metrics {
namespace {

void appendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    auto end = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v)).ptr;
    out.append(buf, end);
  } else {
    char buf[32];
    auto end = std::to_chars(buf, buf + sizeof(buf), v).ptr;
    out.append(buf, end);
  }
}

void appendUnsigned(std::string& out, uint64_t v) {
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof(buf), v).ptr;
  out.append(buf, end);
}

// HELP text escapes backslash and newline only.
std::string escapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " " + escapeHelp(help) + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

// {a="x",b="y"} plus an optional extra pair (a histogram's le); nothing when there are no labels.
void labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
            std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += escapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void Histogram::observe(double value) {
  auto it = std::lower_bound(bounds_->begin(), bounds_->end(), value);
  if (it != bounds_->end()) ++counts_[static_cast<size_t>(it - bounds_->begin())];
  ++count_;
  sum_ += value;
}

template <class T>
T& Family<T>::with(std::initializer_list<std::string_view> values) {
  std::vector<std::string> key;
  key.reserve(values.size());
  for (auto v : values) key.emplace_back(v);
  key.resize(labels_.size());
  auto it = children_.find(key);
  if (it != children_.end()) return *it->second;
  std::unique_ptr<T> child;
  if constexpr (std::is_same_v<T, Histogram>)
    child = std::make_unique<T>(&bounds_);
  else
    child = std::make_unique<T>();
  T& ref = *child;
  children_.emplace(std::move(key), std::move(child));
  return ref;
}

template class Family<Counter>;
template class Family<Histogram>;

Family<Counter>& Registry::counter(std::string name, std::string help, std::vector<std::string> labels) {
  counters_.push_back(std::make_unique<Family<Counter>>(std::move(name), std::move(help), std::move(labels)));
  order_.push_back({Entry::Kind::kCounter, counters_.size() - 1});
  return *counters_.back();
}

Family<Histogram>& Registry::histogram(std::string name, std::string help, std::vector<std::string> labels,
                                       std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  histograms_.push_back(std::make_unique<Family<Histogram>>(std::move(name), std::move(help),
                                                            std::move(labels), std::move(bounds)));
  order_.push_back({Entry::Kind::kHistogram, histograms_.size() - 1});
  return *histograms_.back();
}

void Registry::gauge(std::string name, std::string help, std::vector<std::string> labels,
                     std::function<void(const GaugeSample&)> read) {
  gauges_.push_back({"gauge", std::move(name), std::move(help), std::move(labels), std::move(read)});
  order_.push_back({Entry::Kind::kGauge, gauges_.size() - 1});
}

void Registry::counterFrom(std::string name, std::string help, std::vector<std::string> labels,
                           std::function<void(const GaugeSample&)> read) {
  gauges_.push_back({"counter", std::move(name), std::move(help), std::move(labels), std::move(read)});
  order_.push_back({Entry::Kind::kGauge, gauges_.size() - 1});
}

std::vector<double> Registry::latencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::string Registry::render() const {
  std::string out;
  out.reserve(4096);
  for (const Entry& e : order_) {
    switch (e.kind) {
      case Entry::Kind::kCounter: {
        const auto& f = *counters_[e.index];
        header(out, f.name(), f.help(), "counter");
        for (const auto& [values, c] : f.children()) {
          out += f.name();
          labels(out, f.labels(), values);
          out += ' ';
          appendUnsigned(out, c->value());
          out += '\n';
        }
        break;
      }
      case Entry::Kind::kHistogram: {
        const auto& f = *histograms_[e.index];
        header(out, f.name(), f.help(), "histogram");
        for (const auto& [values, h] : f.children()) {
          uint64_t cumulative = 0;
          for (size_t i = 0; i < h->bounds().size(); ++i) {
            cumulative += h->counts()[i];
            std::string le;
            appendNumber(le, h->bounds()[i]);
            out += f.name() + "_bucket";
            labels(out, f.labels(), values, "le", le);
            out += ' ';
            appendUnsigned(out, cumulative);
            out += '\n';
          }
          out += f.name() + "_bucket";
          labels(out, f.labels(), values, "le", "+Inf");
          out += ' ';
          appendUnsigned(out, h->count());
          out += '\n';
          out += f.name() + "_sum";
          labels(out, f.labels(), values);
          out += ' ';
          appendNumber(out, h->sum());
          out += '\n';
          out += f.name() + "_count";
          labels(out, f.labels(), values);
          out += ' ';
          appendUnsigned(out, h->count());
          out += '\n';
        }
        break;
      }
      case Entry::Kind::kGauge: {
        const auto& g = gauges_[e.index];
        header(out, g.name, g.help, g.type);
        g.read([&](std::initializer_list<std::string_view> values, double value) {
          std::vector<std::string> v(values.begin(), values.end());
          out += g.name;
          labels(out, g.labels, v);
          out += ' ';
          appendNumber(out, value);
          out += '\n';
        });
        break;
      }
    }
  }
  return out;
}

}  // namespace payhook::metrics
