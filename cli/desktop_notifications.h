// Desktop notifications for `lpm notify`: org.freedesktop.Notifications.Notify on the user's
// session bus, through sd-bus (libsystemd). Blocking calls with a short timeout: the notifier
// does nothing else while it shows one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "lpm/error.h"

struct sd_bus;

namespace lpm::cli {

class DesktopNotifications {
public:
  static constexpr uint64_t kCallTimeoutMs = 5000;

  // Connects to the session bus named by $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus.
  // unavailable, with a message saying which, when neither is set or nothing answers there.
  static Result<std::unique_ptr<DesktopNotifications>> open_session();
  ~DesktopNotifications();
  DesktopNotifications(const DesktopNotifications &) = delete;
  DesktopNotifications &operator=(const DesktopNotifications &) = delete;

  // Shows one notification (application "lpm", icon "printer"); returns the server's id.
  // `body` is plain text (escaped here for servers that read markup). unavailable when no
  // notification server answers on the bus; io_error when the bus connection itself is lost.
  Result<uint32_t> show(const std::string &summary, const std::string &body);

private:
  explicit DesktopNotifications(sd_bus *bus) : bus_(bus) {}
  sd_bus *bus_;
};

// The markup-safe form of plain text for a notification body (&, < and > escaped).
std::string notification_text(const std::string &plain);

} // namespace lpm::cli
