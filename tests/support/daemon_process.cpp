#include "support/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "support/http_client.h"
#include "support/redis_server.h"

namespace payhook::testing {
namespace {

bool waitExit(pid_t pid, int timeout_ms, int* status) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string makeTempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "payhookd-test.XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

}  // namespace

std::string payhookdPath() {
  return PAYHOOKD_PATH;
}

std::string writeFile(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  return path;
}

int runProgram(const std::vector<std::string>& argv, std::string* output) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) output->append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

DaemonProcess::DaemonProcess(DaemonOptions options) : options_(std::move(options)), dir_(makeTempDir()) {
  address_ = options_.listen.empty() ? "127.0.0.1:" + std::to_string(freeTcpPort()) : options_.listen;
  admin_ = "127.0.0.1:" + std::to_string(freeTcpPort());
  std::filesystem::create_directories(dir_ + "/secrets");
  writeFile(dir_ + "/secrets/demo.whsec", std::string(kDemoSecret) + "\n");
  writeFile(dir_ + "/secrets/orders.whsec", "whsec_b3JkZXJzLXRhcmdldC1zZWNyZXQtMDEyMzQ1Njc=\n");
  std::string routes = options_.routes.empty() ? R"(
[[routes]]
name = "demo"
provider = "standard-webhooks"
path = "/hooks/demo"
secret_file = "secrets/demo.whsec"
forward = ["orders"]
)"
                                               : options_.routes;
  std::string targets = options_.targets.empty() ? R"(
[[targets]]
name = "orders"
url = "http://127.0.0.1:9/payhook"
secret_file = "secrets/orders.whsec"
timeout = "5s"
)"
                                                 : options_.targets;
  std::ostringstream cfg;
  cfg << "[server]\nlisten = [\"" << address_ << "\"]\nshutdown_timeout = \"" << options_.shutdown_timeout
      << "\"\n"
      << options_.extra_server << "\n"
      << "[admin]\nlisten = \"" << admin_ << "\"\n"
      << options_.extra_admin << "\n"
      << "[redis]\nurl = \"" << options_.redis_url << "\"\nstore_timeout = \"1s\"\n"
      << options_.extra_redis << "\n"
      << "[log]\nlevel = \"" << options_.log_level << "\"\n"
      << (options_.delivery.empty() ? "" : "[delivery]\n" + options_.delivery + "\n") << targets << routes;
  writeFile(configPath(), cfg.str());
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool DaemonProcess::start() {
  int log_fd = ::open((dir_ + "/payhookd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  // Everything the child needs is built before fork(): between fork and exec only async-signal-safe
  // calls are allowed, since the test may run other threads.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    if (entry.starts_with("LISTEN_") || entry.starts_with("NOTIFY_SOCKET=") || entry.starts_with("WATCHDOG_"))
      continue;
    env_strings.emplace_back(entry);
  }
  for (const auto& e : options_.env) env_strings.push_back(e);
  const bool activated = options_.listen_fd >= 0;
  if (activated) env_strings.push_back("LISTEN_FDS=1");
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  char listen_pid[32] = "LISTEN_PID=";  // its digits are written by the child, which alone knows its pid
  if (activated) envp.push_back(listen_pid);
  envp.push_back(nullptr);
  std::string config = configPath();
  char* argv[] = {const_cast<char*>(PAYHOOKD_PATH), const_cast<char*>("--config"), config.data(), nullptr};
  const int listen_fd = options_.listen_fd;

  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(log_fd, 2);
    ::dup2(log_fd, 1);
    if (activated) {
      if (listen_fd == 3)
        ::fcntl(3, F_SETFD, 0);  // dup2 onto itself would keep close-on-exec
      else
        ::dup2(listen_fd, 3);
      char digits[24];
      int n = 0;
      for (auto pid = static_cast<unsigned long>(::getpid()); pid > 0 || n == 0; pid /= 10)
        digits[n++] = static_cast<char>('0' + pid % 10);
      char* out = listen_pid + 11;
      while (n > 0) *out++ = digits[--n];
      *out = '\0';
    }
    ::execve(PAYHOOKD_PATH, argv, envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (httpRequest(admin_, "GET", "/healthz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int DaemonProcess::stop(int signum, int timeout_ms) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signum);
  int status = 0;
  if (!waitExit(pid_, timeout_ms, &status)) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

std::string DaemonProcess::logs() const {
  std::ifstream f(dir_ + "/payhookd.log");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool DaemonProcess::waitReady(int status, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (httpRequest(admin_, "GET", "/readyz").status == status) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace payhook::testing
