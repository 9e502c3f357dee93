// RouteKeys for a provider's reader: the route's TableReader and the loader's secret files.
#include <unistd.h>

#include <filesystem>

#include "config/loader.h"
#include "config/route_key_reader.h"

namespace payhook::config {

bool Loader::RouteKeyReader::has(std::string_view key) const {
  return t_.has(key);
}

void Loader::RouteKeyReader::touch(std::string_view key) {
  t_.find(key);
}

std::optional<std::string> Loader::RouteKeyReader::string(std::string_view key, bool allow_empty) {
  return t_.string(key, allow_empty);
}

std::optional<std::string> Loader::RouteKeyReader::identifier(std::string_view key) {
  const toml::node* node = t_.find(key);
  if (node == nullptr) return std::nullopt;
  if (const auto* text = node->as_string(); text != nullptr && !text->get().empty()) return text->get();
  if (const auto* number = node->as_integer(); number != nullptr && number->get() >= 0)
    return std::to_string(number->get());
  if (node->is_string()) {
    t_.error(key, "must not be empty");
  } else {
    t_.wrongType(key, *node, "a string");
  }
  return std::nullopt;
}

std::optional<std::string> Loader::RouteKeyReader::choice(std::string_view key,
                                                          std::initializer_list<std::string_view> allowed) {
  return t_.choice(key, allowed);
}

std::optional<std::vector<std::string>> Loader::RouteKeyReader::stringArray(
    std::string_view key, const std::function<std::string(std::string_view)>& check) {
  return t_.stringArray(key, check);
}

std::optional<uint64_t> Loader::RouteKeyReader::integer(std::string_view key, uint64_t min) {
  return t_.integer(key, min);
}

std::optional<uint64_t> Loader::RouteKeyReader::duration(std::string_view key, uint64_t min_ms) {
  return t_.duration(key, min_ms);
}

std::optional<uint64_t> Loader::RouteKeyReader::size(std::string_view key, uint64_t min_bytes) {
  return t_.size(key, min_bytes);
}

std::optional<std::vector<std::string>> Loader::RouteKeyReader::command(std::string_view key,
                                                                        std::string_view when_empty) {
  const toml::node* node = t_.find(key);
  if (node == nullptr) return std::nullopt;
  const auto* array = node->as_array();
  if (array == nullptr) {
    t_.wrongType(key, *node, "an array of strings");
    return std::nullopt;
  }
  if (array->empty()) {
    t_.error(key, when_empty);
    return std::nullopt;
  }
  std::vector<std::string> argv;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const auto* text = element.as_string();
    std::string problem;
    if (text == nullptr) {
      problem = "expected a string, got " + describeType(element);
    } else if (text->get().find('\0') != std::string::npos) {
      problem = "must not contain NUL";
    } else if (i == 0 && text->get().empty()) {
      problem = "must not be empty";
    } else if (i == 0) {
      // Like secret files: a relative program is found beside the config, and run by its absolute path.
      std::filesystem::path program(text->get());
      if (program.is_relative()) program = std::filesystem::path(loader_.config_.dir) / program;
      std::error_code ec;
      program = std::filesystem::absolute(program, ec).lexically_normal();
      if (!std::filesystem::exists(program, ec)) {
        problem = program.string() + " does not exist";
      } else if (!std::filesystem::is_regular_file(program, ec) || ::access(program.c_str(), X_OK) != 0) {
        problem = program.string() + " is not an executable file";
      } else {
        argv.push_back(program.string());
      }
    } else {
      argv.push_back(text->get());
    }
    if (!problem.empty())
      loader_.diag_.error(lineOf(element), t_.keyPath(key) + "[" + std::to_string(i) + "]", problem);
  }
  if (argv.size() != array->size()) return std::nullopt;
  return argv;
}

std::optional<RouteKeys::KeyText> Loader::RouteKeyReader::keyText(std::string_view base, bool is_secret) {
  auto text = loader_.readSecretKey(t_, base, is_secret);
  if (!text) return std::nullopt;
  return KeyText{std::move(text->text), std::move(text->origin)};
}

std::optional<Secret> Loader::RouteKeyReader::secret(std::string_view base) {
  return loader_.readSingleSecret(t_, base);
}

std::optional<std::vector<Secret>> Loader::RouteKeyReader::secretLines(std::string_view base,
                                                                       std::string_view key_prefix,
                                                                       size_t min_bytes, size_t max_bytes) {
  return loader_.readSecretLines(t_, base, key_prefix, min_bytes, max_bytes);
}

bool Loader::RouteKeyReader::tokenLongEnough(std::string_view base, const Secret& token) {
  return loader_.checkTokenLength(t_, base, token);
}

void Loader::RouteKeyReader::missingSecret(std::string_view base, std::string_view why) {
  loader_.reportMissingSecret(t_, base, why);
}

void Loader::RouteKeyReader::error(std::string_view key, std::string_view message) {
  t_.error(key, message);
}

void Loader::RouteKeyReader::warning(std::string_view key, std::string_view message) {
  t_.warning(key, message);
}

}  // namespace payhook::config
