// Routes: the keys every provider shares, the provider's own keys (read by the provider through RouteKeys),
// and retry policies.
#include <algorithm>
#include <set>

#include "config/address.h"
#include "config/loader.h"
#include "config/route_key_reader.h"
#include "config/secret_files.h"
#include "config/units.h"

namespace payhook::config {
namespace {

const std::vector<std::string_view> kCommonRouteKeys{"name",      "provider", "path",
                                                     "forward",   "decision", "decision_timeout",
                                                     "allow_ips", "retry",    "idempotency_ttl"};

const std::vector<std::string_view> kRetryKeys{"schedule",     "backoff",      "initial", "multiplier",
                                               "max_interval", "max_attempts", "max_age", "jitter"};
const std::vector<std::string_view> kExponentialKeys{"backoff", "initial", "multiplier", "max_interval",
                                                     "max_attempts"};

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

// Why `path` cannot be a mount point, or empty when it can.
std::string checkPath(std::string_view path) {
  if (!path.starts_with('/')) return quote(path) + " must start with '/'";
  if (path == "/") return "\"/\" cannot be a mount point; use a prefix such as \"/hooks/shop\"";
  if (path.ends_with('/')) return quote(path) + " must not end with '/'";
  if (path.find('?') != std::string_view::npos) return quote(path) + " must not contain '?'";
  if (path.find('#') != std::string_view::npos) return quote(path) + " must not contain '#'";
  if (path.find("//") != std::string_view::npos) return quote(path) + " must not contain \"//\"";
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return quote(path) + " must not contain spaces or control characters";
  }
  return {};
}

}  // namespace

const ProviderConfig* Loader::findProvider(std::string_view name) const {
  for (const ProviderConfig& provider : providers_) {
    if (provider.name == name) return &provider;
  }
  return nullptr;
}

std::string Loader::providerList() const {
  std::string list;
  for (const ProviderConfig& provider : providers_) {
    if (!list.empty()) list += ", ";
    list += provider.name;
  }
  return list;
}

std::string Loader::checkTargetName(std::string_view name) const {
  if (target_index_.contains(name)) return {};
  std::vector<std::string_view> names;
  for (const auto& [defined, index] : target_index_) names.push_back(defined);
  std::string message = quote(name) + " is not a defined target";
  if (config_.targets.empty()) return message + " (there are no [[targets]])";
  return unknownKeyMessage(name, names, message);
}

void Loader::readRoutes(const toml::node& node) {
  const auto* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    diag_.error(lineOf(node), "routes",
                "expected an array of tables ([[routes]]), got " + describeType(node));
    return;
  }
  for (size_t i = 0; i < array->size(); ++i) {
    TableReader t(diag_, *array->get(i)->as_table(), "routes[" + std::to_string(i) + "]");
    RouteConfig route;
    route.loc = {config_.file, t.line()};
    route.key_lines = t.keyLines();
    readRoute(t, route);
    const ProviderConfig* provider = findProvider(route.provider);
    t.reportUnread([&](std::string_view key) -> std::string {
      std::vector<std::string_view> owners;
      for (const ProviderConfig& p : providers_) {
        if (std::find(p.keys.begin(), p.keys.end(), key) != p.keys.end()) owners.push_back(p.name);
      }
      if (!owners.empty()) {
        // With an unknown provider, the provider itself is already reported; a second message would be noise.
        if (provider == nullptr) return {};
        std::string list;
        for (std::string_view owner : owners) list += (list.empty() ? "" : ", ") + std::string(owner);
        return "not a key for provider \"" + route.provider + "\"; it belongs to " + list;
      }
      std::vector<std::string_view> candidates = kCommonRouteKeys;
      if (provider != nullptr)
        candidates.insert(candidates.end(), provider->keys.begin(), provider->keys.end());
      return unknownKeyMessage(key, candidates);
    });
    config_.routes.push_back(std::move(route));
  }
}

void Loader::readRoute(TableReader& t, RouteConfig& route) {
  const size_t index = config_.routes.size();
  if (auto name = t.string("name")) {
    if (auto [it, inserted] = route_index_.emplace(*name, index); !inserted) {
      t.error("name", quote(*name) + " is already used by routes[" + std::to_string(it->second) + "] (line " +
                          std::to_string(config_.routes[it->second].loc.line) + ")");
    } else if (!std::all_of(name->begin(), name->end(), isNameChar)) {
      t.error("name", quote(*name) + " may contain only letters, digits, '-', '_' and '.'");
    }
    route.name = *name;
  } else if (!t.has("name")) {
    t.error("name", "is required");
  }

  if (auto provider = t.string("provider")) {
    if (findProvider(*provider) == nullptr) {
      t.error("provider", quote(*provider) + " is not a known provider; expected one of " + providerList());
    } else {
      route.provider = *provider;
    }
  } else if (!t.has("provider")) {
    t.error("provider", "is required; one of " + providerList());
  }

  if (auto path = t.string("path")) {
    if (std::string problem = checkPath(*path); !problem.empty()) {
      t.error("path", problem);
    } else if (auto [it, inserted] = path_index_.emplace(*path, index); !inserted) {
      t.error("path", quote(*path) + " is already used by routes[" + std::to_string(it->second) + "] (line " +
                          std::to_string(config_.routes[it->second].loc.line) + ")");
    }
    route.path = *path;
  } else if (!t.has("path")) {
    t.error("path",
            "is required, e.g. \"/hooks/" + (route.name.empty() ? std::string("shop") : route.name) + "\"");
  }

  std::set<std::string, std::less<>> forwarded;
  auto check_forward = [&](std::string_view name) -> std::string {
    if (std::string problem = checkTargetName(name); !problem.empty()) return problem;
    if (!forwarded.emplace(name).second) return quote(name) + " is listed twice";
    return {};
  };
  if (auto forward = t.stringArray("forward", check_forward)) route.forward = std::move(*forward);
  if (auto decision = t.string("decision")) {
    if (std::string problem = checkTargetName(*decision); !problem.empty()) t.error("decision", problem);
    route.decision = *decision;
  }
  if (!t.has("forward") && !t.has("decision")) {
    t.error("forward", "is required: name the [[targets]] that receive this route's events");
  } else if (t.has("forward") && t.table().get("forward")->is_array() &&
             t.table().get("forward")->as_array()->empty() && !t.has("decision")) {
    t.error("forward", "is empty: events would be stored but delivered nowhere");
  }
  if (auto v = t.duration("decision_timeout", 1)) route.decision_timeout_ms = *v;
  if (auto v = t.stringArray("allow_ips", [](std::string_view text) {
        auto cidr = parseCidr(text);
        return cidr ? std::string() : cidr.error().message;
      })) {
    route.allow_ips = std::move(*v);
  }
  if (t.has("retry")) readRetry(t, route.retry);
  if (auto v = t.duration("idempotency_ttl", 1'000)) route.idempotency_ttl_s = *v / 1'000;

  if (const ProviderConfig* provider = findProvider(route.provider)) readProviderKeys(t, *provider, route);
  checkReplayWindow(t, route);
}

void Loader::readProviderKeys(TableReader& t, const ProviderConfig& provider, RouteConfig& route) {
  RouteKeyReader keys(*this, t);
  const size_t errors_before = diag_.errorCount();
  auto settings = provider.read(keys, route);
  // A reader that reported nothing but returned nothing still fails the load, with the key to look at.
  if (!settings && diag_.errorCount() == errors_before)
    t.error("provider", "the provider's keys could not be read");
  route.settings = std::move(settings);
}

void Loader::readRetry(TableReader& parent, RetryPolicy& policy) {
  const toml::table* table = parent.subtable("retry");
  if (table == nullptr) return;
  TableReader t(diag_, *table, parent.keyPath("retry"));
  if (t.has("schedule")) {
    bool mixed = false;
    for (std::string_view key : kExponentialKeys) {
      if (t.find(key) != nullptr) {
        t.error(key, "cannot be combined with schedule; use either schedule or backoff = \"exponential\"");
        mixed = true;
      }
    }
    const toml::node* node = t.find("schedule");
    const auto* array = node->as_array();
    if (array == nullptr) {
      t.wrongType("schedule", *node, "an array of durations");
    } else if (array->empty()) {
      t.error("schedule", "must list at least one delay, e.g. [\"5s\", \"5m\", \"30m\"]");
    } else {
      std::vector<uint64_t> schedule;
      bool ok = true;
      for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        const std::string key = t.keyPath("schedule") + "[" + std::to_string(i) + "]";
        const auto* text = element.as_string();
        if (text == nullptr) {
          diag_.error(lineOf(element), key,
                      "expected a duration string such as \"5m\", got " + describeType(element) +
                          (element.is_integer() ? "; units are required" : ""));
          ok = false;
          continue;
        }
        auto delay = parseDurationExplained(text->get());
        if (!delay) {
          diag_.error(lineOf(element), key, delay.error().message);
          ok = false;
        } else if (*delay == 0) {
          diag_.error(lineOf(element), key, "must be positive");
          ok = false;
        } else {
          schedule.push_back(*delay);
        }
      }
      if (ok && !mixed) {
        policy.schedule_ms = std::move(schedule);
        policy.exponential = false;
      }
    }
  } else if (t.has("backoff")) {
    if (t.choice("backoff", {"exponential"})) {
      policy.exponential = true;
      // One source of truth for the scheduler: an exponential policy carries no schedule.
      policy.schedule_ms.clear();
    }
    if (auto v = t.duration("initial", 1)) policy.initial_ms = *v;
    if (auto v = t.number("multiplier", 1.0, std::numeric_limits<double>::infinity())) policy.multiplier = *v;
    if (auto v = t.duration("max_interval", 1)) policy.max_interval_ms = *v;
    if (auto v = t.integer("max_attempts", 1)) policy.max_attempts = *v;
    if (policy.max_interval_ms < policy.initial_ms) {
      t.error(t.has("max_interval") ? "max_interval" : "initial",
              "max_interval (" + formatDuration(policy.max_interval_ms) + ") is shorter than initial (" +
                  formatDuration(policy.initial_ms) + ")");
    }
  } else {
    for (std::string_view key : kExponentialKeys) {
      if (t.find(key) != nullptr)
        t.error(key, "needs backoff = \"exponential\" (or give a schedule instead)");
    }
  }
  if (auto v = t.duration("max_age", 1)) policy.max_age_ms = *v;
  if (auto v = t.number("jitter", 0.0, 1.0)) policy.jitter = *v;
  t.reportUnread([](std::string_view key) { return unknownKeyMessage(key, kRetryKeys); });
}

}  // namespace payhook::config
