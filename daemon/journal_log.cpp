#include "daemon/journal_log.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/log.h"

namespace payhook::daemon {
namespace {

std::string valueText(const std::variant<std::string_view, int64_t, double, bool>& value) {
  if (const auto* s = std::get_if<std::string_view>(&value)) return log::bounded(*s);
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", std::get<double>(value));
  return buf;
}

bool writeToJournal(log::Level level, std::string_view msg, std::initializer_list<log::Field> fields) {
  std::vector<std::string> parts;
  parts.reserve(4 + fields.size());
  // MESSAGE reads like the text format, so `systemctl status` and plain `journalctl` show the fields too.
  parts.push_back("MESSAGE=" + log::textOf(msg, fields));
  parts.push_back("PRIORITY=" + std::to_string(journalPriority(level)));
  parts.push_back(std::string("LEVEL=") + log::levelName(level));
  parts.emplace_back("SYSLOG_IDENTIFIER=payhookd");
  for (const auto& f : fields) {
    std::string name = journalFieldName(f.key);
    // A field named like one of the four above, or with no usable name, is kept under a FIELD_ prefix.
    if (name.empty() || name == "MESSAGE" || name == "PRIORITY" || name == "LEVEL" ||
        name == "SYSLOG_IDENTIFIER")
      name = "FIELD_" + name;
    parts.push_back(name + "=" + valueText(f.value));
  }
  std::vector<iovec> iov(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) iov[i] = {parts[i].data(), parts[i].size()};
  return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
}

}  // namespace

int journalPriority(log::Level level) {
  switch (level) {
    case log::Level::kDebug:
      return 7;  // LOG_DEBUG
    case log::Level::kInfo:
      return 6;  // LOG_INFO
    case log::Level::kWarn:
      return 4;  // LOG_WARNING
    case log::Level::kError:
      return 3;  // LOG_ERR
  }
  return 6;
}

bool stderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  uintmax_t dev = 0, ino = 0;
  if (std::sscanf(stream, "%" SCNuMAX ":%" SCNuMAX, &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(2, &st) != 0) return false;
  return static_cast<uintmax_t>(st.st_dev) == dev && static_cast<uintmax_t>(st.st_ino) == ino;
}

std::string journalFieldName(std::string_view key) {
  std::string name;
  for (char c : key) {
    if (name.size() == 64) break;
    if (c >= 'a' && c <= 'z')
      name += static_cast<char>(c - 'a' + 'A');
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
      name += c;
    else if (!name.empty())
      name += '_';
  }
  while (!name.empty() && name.front() >= '0' && name.front() <= '9') name.erase(0, 1);
  return name;
}

void logToJournal() {
  log::setStructuredWriter(&writeToJournal);
}

}  // namespace payhook::daemon
