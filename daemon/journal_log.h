// Log lines into the journal's native protocol when payhookd's stderr is connected to journald (as under
// systemd): each line is one entry with MESSAGE, PRIORITY from the level, LEVEL, and every field under its
// upper-cased name (route -> ROUTE), so `journalctl -p warning` and `journalctl ROUTE=shop` work.
#pragma once

#include <string>
#include <string_view>

#include "common/log.h"

namespace payhook::daemon {

// True when $JOURNAL_STREAM names the device and inode of stderr, which is how systemd.exec(5) says a
// service learns that its stderr is the journal (and not a terminal or a file it was redirected to).
bool stderrIsJournal();

// The journal field name for a log field: upper case letters, digits and underscores, not starting with a
// digit or an underscore, at most 64 bytes. Empty when nothing usable is left.
std::string journalFieldName(std::string_view key);

// syslog's priority for a level: 7 debug, 6 info, 4 warn, 3 error.
int journalPriority(log::Level level);

// Sends log lines to the journal as native entries from now on (stderr when an entry cannot be sent).
void logToJournal();

}  // namespace payhook::daemon
