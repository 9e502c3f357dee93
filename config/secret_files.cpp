#include "config/secret_files.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/base64.h"

namespace payhook::config {
namespace {

// Secrets are a few lines; a cap keeps a mistaken path (a log file, /dev/zero) from eating memory.
constexpr off_t kMaxSecretFileBytes = 1 << 20;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<SecretFile> readWhole(const std::string& path) {
  // O_NONBLOCK: a FIFO named by mistake must not hang start-up before the S_ISREG check refuses it.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) return Error{"cannot read " + path + ": " + std::strerror(errno)};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error{"cannot read " + path + ": " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) return Error{"cannot read " + path + ": not a regular file"};
  if (st.st_size > kMaxSecretFileBytes) {
    return Error{"cannot read " + path + ": larger than " + std::to_string(kMaxSecretFileBytes) + " bytes"};
  }
  std::string buffer(static_cast<size_t>(st.st_size), '\0');
  size_t filled = 0;
  while (filled < buffer.size()) {
    const ssize_t n = ::read(fd.get(), buffer.data() + filled, buffer.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      sodium_memzero(buffer.data(), buffer.size());
      return Error{"cannot read " + path + ": " + std::strerror(saved)};
    }
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  buffer.resize(filled);
  // Moving keeps the one heap buffer; Secret wipes it when dropped.
  return SecretFile{path, Secret(std::move(buffer)), static_cast<unsigned>(st.st_mode & 07777)};
}

}  // namespace

Result<SecretFile> readSecretFile(std::string_view written, const std::string& config_dir,
                                  const Environment& env) {
  namespace fs = std::filesystem;
  const fs::path given{std::string(written)};
  if (given.is_absolute()) return readWhole(given.string());
  if (!env.credentials_directory.empty()) {
    // systemd's LoadCredential= names credentials flat ("demo.whsec"), while a config written for a plain
    // install names them by path ("secrets/demo.whsec"): try the path, then its file name, then the name a
    // whole directory gets (LoadCredential=secrets:/etc/payhook/secrets gives "secrets_demo.whsec").
    const fs::path dir_form =
        given.has_parent_path()
            ? fs::path(given.parent_path().filename().string() + "_" + given.filename().string())
            : given.filename();
    for (const fs::path& candidate :
         {fs::path(env.credentials_directory) / given, fs::path(env.credentials_directory) / given.filename(),
          fs::path(env.credentials_directory) / dir_form}) {
      std::error_code ec;
      if (fs::exists(candidate, ec)) return readWhole(candidate.lexically_normal().string());
    }
  }
  auto result = readWhole((fs::path(config_dir) / given).lexically_normal().string());
  if (!result && !env.credentials_directory.empty()) {
    return Error{result.error().message + " (not in the credentials directory " + env.credentials_directory +
                 " either)"};
  }
  return result;
}

std::string exposureWarning(const SecretFile& file, const Environment& env) {
  if ((file.mode & (S_IRGRP | S_IROTH)) == 0) return {};
  if (!env.credentials_directory.empty()) {
    const std::string dir = std::filesystem::path(env.credentials_directory).lexically_normal().string();
    if (file.path.starts_with(dir.ends_with('/') ? dir : dir + "/")) return {};
  }
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", file.mode & 07777);
  return file.path + " is readable by group or others (mode " + mode +
         "); chmod 600 it, or pass it to payhookd as a systemd credential";
}

bool isPrefixedBase64Key(std::string_view value, std::string_view prefix, size_t min_bytes,
                         size_t max_bytes) {
  if (!value.starts_with(prefix)) return false;
  const std::string_view encoded = value.substr(prefix.size());
  if (encoded.empty()) return false;
  auto decoded = decodeBase64(encoded);
  if (!decoded) return false;
  const bool ok = decoded->size() >= min_bytes && decoded->size() <= max_bytes;
  sodium_memzero(decoded->data(), decoded->size());
  return ok;
}

}  // namespace payhook::config
