#include "daemon/systemd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

namespace payhook::daemon {
namespace {

void send(const std::string& text) {
  sd_notify(0, text.c_str());
}

}  // namespace

void notifyReady(std::string_view status) {
  send("READY=1\nSTATUS=" + std::string(status));
}

void notifyReloading() {
  // MONOTONIC_USEC lets Type=notify-reload units match this message to the reload request.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1'000'000ull +
              static_cast<unsigned long long>(ts.tv_nsec) / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void notifyStopping() {
  send("STOPPING=1");
}

void notifyStatus(std::string_view status) {
  send("STATUS=" + std::string(status));
}

}  // namespace payhook::daemon
