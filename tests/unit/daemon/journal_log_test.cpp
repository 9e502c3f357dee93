#include "daemon/journal_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/log.h"

namespace payhook::daemon {
namespace {

TEST(JournalFieldName, UpperCasesAndReplacesWhatTheJournalRefuses) {
  EXPECT_EQ(journalFieldName("route"), "ROUTE");
  EXPECT_EQ(journalFieldName("event_id"), "EVENT_ID");
  EXPECT_EQ(journalFieldName("retry-after.ms"), "RETRY_AFTER_MS");
  EXPECT_EQ(journalFieldName("_secret"), "SECRET");  // a leading underscore is journald's own namespace
  EXPECT_EQ(journalFieldName("2xx"), "XX");
  EXPECT_EQ(journalFieldName("--"), "");
  EXPECT_EQ(journalFieldName(std::string(100, 'a')).size(), 64u);
}

class StderrIsJournal : public ::testing::Test {
 protected:
  void TearDown() override { ::unsetenv("JOURNAL_STREAM"); }
};

TEST_F(StderrIsJournal, OnlyWhenJournalStreamNamesStderrItself) {
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(stderrIsJournal());
  struct stat st {};
  ASSERT_EQ(::fstat(2, &st), 0);
  const std::string dev = std::to_string(st.st_dev), ino = std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", (dev + ":" + ino).c_str(), 1);
  EXPECT_TRUE(stderrIsJournal());
  // Inherited by a child whose stderr was redirected elsewhere: another inode.
  ::setenv("JOURNAL_STREAM", (dev + ":" + std::to_string(st.st_ino + 1)).c_str(), 1);
  EXPECT_FALSE(stderrIsJournal());
  ::setenv("JOURNAL_STREAM", "garbage", 1);
  EXPECT_FALSE(stderrIsJournal());
}

struct Captured {
  log::Level level;
  std::string msg;
  std::vector<std::string> keys;
};
std::vector<Captured> g_captured;
bool g_take = true;

bool capture(log::Level level, std::string_view msg, std::initializer_list<log::Field> fields) {
  Captured c{level, std::string(msg), {}};
  for (const auto& f : fields) c.keys.emplace_back(f.key);
  g_captured.push_back(c);
  return g_take;
}

TEST(StructuredWriter, TakesTheLineInsteadOfStderrUntilItDeclines) {
  g_captured.clear();
  log::setStructuredWriter(&capture);
  log::warn("delivery failed", {{"target", "orders"}, {"attempt", 3}});
  g_take = false;  // the journal went away: the line still goes somewhere (stderr)
  log::error("reload refused");
  log::setStructuredWriter(nullptr);
  log::info("after");
  ASSERT_EQ(g_captured.size(), 2u);
  EXPECT_EQ(g_captured[0].level, log::Level::kWarn);
  EXPECT_EQ(g_captured[0].msg, "delivery failed");
  EXPECT_EQ(g_captured[0].keys, (std::vector<std::string>{"target", "attempt"}));
  EXPECT_EQ(g_captured[1].msg, "reload refused");
  g_take = true;
}

TEST(TextOf, RendersFieldsAsTheTextFormatDoes) {
  EXPECT_EQ(log::textOf("reload refused", {{"problem", "a.toml:3: x"}, {"routes", 4}, {"ok", false}}),
            "reload refused problem=\"a.toml:3: x\" routes=4 ok=false");
}

}  // namespace
}  // namespace payhook::daemon
