// Telling whoever started a daemon that it is ready, and that it is stopping.
//
// Scripts and tests read the "ready PORT" line on standard output; systemd (a unit with
// Type=notify, packaging/systemd/) reads READY=1 on $NOTIFY_SOCKET. Both are sent only once
// every listener is bound, so "started" means "accepts connections".
#pragma once

#include <optional>
#include <string>

namespace lpm {

// Prints "ready PORT" (when a port is given) and flushes standard output, then sends
// READY=1 with STATUS=status to the service manager when $NOTIFY_SOCKET is set. A failed
// notification is logged, not fatal: the daemon serves either way.
void announce_ready(std::optional<unsigned> port, const std::string &status);

// Sends STOPPING=1 (with STATUS=status) when $NOTIFY_SOCKET is set; nothing otherwise.
void announce_stopping(const std::string &status);

} // namespace lpm
