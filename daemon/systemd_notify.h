// The systemd conversation (sd_notify): READY=1, RELOADING=1, STOPPING=1, STATUS=. Harmless without
// systemd: sd_notify does nothing when $NOTIFY_SOCKET is unset.
#pragma once

#include <string_view>

namespace payhook::daemon {

void notifyReady(std::string_view status);
void notifyReloading();
void notifyStopping();
void notifyStatus(std::string_view status);

}  // namespace payhook::daemon
