// daemon/subprocess.h on a private loop with /bin/sh: output, failures, the timeout killing the whole
// process group, and an owner that goes away. Every test runs the loop to its end, which also proves that
// no handle is left open (the child reaped, the pipes and the timer closed).
#include "uv/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

namespace payhook::uv {
namespace {

class SubprocessTest : public ::testing::Test {
 protected:
  // As payhookd does: a child that exits without reading its input must not kill the writer.
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
  void TearDown() override {
    // Nothing may be left for the loop: a close callback still pending would be a leak.
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  SubprocessOptions sh(const std::string& script, uint64_t timeout_ms = 5'000) {
    SubprocessOptions o;
    o.argv = {"/bin/sh", "-c", script};
    o.env = childEnvironment({});
    o.timeout_ms = timeout_ms;
    return o;
  }

  // Runs `options` to the end of the loop; the result, or nullopt when `done` never ran.
  std::optional<Result<std::string>> run(const SubprocessOptions& options, const std::string& input = "") {
    std::optional<Result<std::string>> out;
    auto started = Subprocess::start(&loop_, options, input, [&](Result<std::string> r) {
      out = std::move(r);
      running_.reset();  // the owner may go away inside its callback
    });
    if (!started) return Result<std::string>(started.error());
    running_ = std::move(*started);
    EXPECT_FALSE(out.has_value());  // never inside start()
    uv_run(&loop_, UV_RUN_DEFAULT);
    return out;
  }

  uv_loop_t loop_{};
  std::unique_ptr<Subprocess> running_;
};

TEST_F(SubprocessTest, InputInOutputOutTrailingLineBreaksTrimmed) {
  auto out = run(sh("cat; echo"), "{\"a\":1}");
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(out->ok()) << out->error().message;
  EXPECT_EQ(out->value(), "{\"a\":1}");
  // More than a pipe holds, both ways.
  const std::string big(300'000, 'x');
  SubprocessOptions o = sh("cat");
  o.max_output = 400'000;
  out = run(o, big);
  ASSERT_TRUE(out.has_value() && out->ok());
  EXPECT_EQ(out->value(), big);
}

TEST_F(SubprocessTest, FailuresSayWhatHappenedAndNothingElse) {
  auto out = run(sh("cat >/dev/null; echo secret-output; exit 1"), "secret-input");
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->error().message, "exited with status 1");
  out = run(sh("kill -9 $$"));
  ASSERT_TRUE(out.has_value() && !out->ok());
  EXPECT_EQ(out->error().message, "killed by signal 9");
  out = run(sh("echo; echo"));
  ASSERT_TRUE(out.has_value() && !out->ok());
  EXPECT_EQ(out->error().message, "printed nothing");
  SubprocessOptions o = sh("head -c 100000 /dev/zero");
  o.max_output = 65'536;
  out = run(o);
  ASSERT_TRUE(out.has_value() && !out->ok());
  EXPECT_EQ(out->error().message, "printed more than 65536 bytes");
  // A program that does not read its input still decides by its exit and output.
  out = run(sh("echo ok"), std::string(1'000'000, 'x'));
  ASSERT_TRUE(out.has_value() && out->ok());
  EXPECT_EQ(out->value(), "ok");
}

TEST_F(SubprocessTest, AProgramThatCannotStartIsRefusedAtOnce) {
  SubprocessOptions o;
  o.argv = {"/nonexistent/encryptor"};
  bool called = false;
  auto started = Subprocess::start(&loop_, o, "x", [&](Result<std::string>) { called = true; });
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().message, "cannot start /nonexistent/encryptor: no such file or directory");
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_FALSE(called);
}

// The timeout kills the process group: also what the command started, which holds stdout open.
TEST_F(SubprocessTest, TimeoutKillsTheWholeGroup) {
  const std::string pidfile = ::testing::TempDir() + "/subprocess-grandchild.pid";
  const auto t0 = std::chrono::steady_clock::now();
  auto out = run(sh("sleep 30 & echo $! > " + pidfile + "; wait", 300));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->error().message, "timed out after 300ms");
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  int pid = 0;
  std::ifstream(pidfile) >> pid;
  ASSERT_GT(pid, 0);
  // Killed with its group (a zombie at most until init reaps it).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    gone = !std::getline(stat, line) || line.find(") Z ") != std::string::npos;
    if (!gone) usleep(20'000);
  }
  EXPECT_TRUE(gone) << pid;
  std::remove(pidfile.c_str());
  // Whole seconds read as such.
  out = run(sh("sleep 30", 1'000));
  ASSERT_TRUE(out.has_value() && !out->ok());
  EXPECT_EQ(out->error().message, "timed out after 1s");
}

TEST_F(SubprocessTest, DestroyingTheOwnerKillsTheChildAndCallsNothing) {
  bool called = false;
  auto started = Subprocess::start(&loop_, sh("sleep 30"), "", [&](Result<std::string>) { called = true; });
  ASSERT_TRUE(started.ok());
  uv_run(&loop_, UV_RUN_NOWAIT);
  started->reset();
  const auto t0 = std::chrono::steady_clock::now();
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_FALSE(called);
}

TEST_F(SubprocessTest, TheEnvironmentIsTheDaemonsLessSystemdsOwnPlusExtras) {
  ASSERT_EQ(setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1), 0);
  ASSERT_EQ(setenv("PAYHOOK_TEST_KEPT", "kept", 1), 0);
  ASSERT_EQ(setenv("CRYPT_KEY_FILE", "/old", 1), 0);
  SubprocessOptions o;
  o.argv = {"/bin/sh", "-c",
            "printf '%s|%s|%s' \"${NOTIFY_SOCKET-unset}\" \"$PAYHOOK_TEST_KEPT\" \"$CRYPT_KEY_FILE\""};
  o.env = childEnvironment({"CRYPT_KEY_FILE=/etc/payhook/integra.key"});
  auto out = run(o);
  unsetenv("NOTIFY_SOCKET");
  unsetenv("PAYHOOK_TEST_KEPT");
  unsetenv("CRYPT_KEY_FILE");
  ASSERT_TRUE(out.has_value() && out->ok()) << (out && !out->ok() ? out->error().message : "");
  EXPECT_EQ(out->value(), "unset|kept|/etc/payhook/integra.key");
}

}  // namespace
}  // namespace payhook::uv
