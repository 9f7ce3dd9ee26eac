// org.freedesktop.Notifications over sd-bus (desktop_notifications.h).
#include "desktop_notifications.h"

#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lpm::cli {

namespace {

constexpr const char *kService = "org.freedesktop.Notifications";
constexpr const char *kPath = "/org/freedesktop/Notifications";

std::string errno_name(int negative_errno) {
  return std::strerror(-negative_errno);
}

// Frees an sd-bus error and message when the scope ends.
struct CallScope {
  sd_bus_error error{};
  sd_bus_message *request = nullptr;
  sd_bus_message *reply = nullptr;
  ~CallScope() {
    sd_bus_error_free(&error);
    sd_bus_message_unref(request);
    sd_bus_message_unref(reply);
  }
};

} // namespace

std::string notification_text(const std::string &plain) {
  std::string out;
  out.reserve(plain.size());
  for (char c : plain) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out.push_back(c);
  }
  return out;
}

Result<std::unique_ptr<DesktopNotifications>> DesktopNotifications::open_session() {
  const char *address = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  const char *runtime = std::getenv("XDG_RUNTIME_DIR");
  std::string where = address && *address   ? std::string(address)
                      : runtime && *runtime ? std::string(runtime) + "/bus"
                                            : std::string();
  if (where.empty())
    return make_error(Errc::unavailable,
                      "no session bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is "
                      "set (start `lpm notify` inside your desktop session)");
  sd_bus *bus = nullptr;
  int r = sd_bus_open_user(&bus);
  const char *unique = nullptr;
  // The connection is made lazily; asking for our unique name waits for the bus's Hello reply.
  if (r >= 0) r = sd_bus_get_unique_name(bus, &unique);
  if (r < 0) {
    sd_bus_flush_close_unref(bus);
    return make_error(Errc::unavailable, "no session bus at " + where + ": " + errno_name(r));
  }
  return std::unique_ptr<DesktopNotifications>(new DesktopNotifications(bus));
}

DesktopNotifications::~DesktopNotifications() {
  sd_bus_flush_close_unref(bus_);
}

Result<uint32_t> DesktopNotifications::show(const std::string &summary, const std::string &body) {
  CallScope call;
  int r = sd_bus_message_new_method_call(bus_, &call.request, kService, kPath, kService, "Notify");
  // Notify(app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout):
  // no actions, normal urgency, the server's default timeout.
  if (r >= 0)
    r = sd_bus_message_append(call.request, "susss", "lpm", 0u, "printer", summary.c_str(),
                              notification_text(body).c_str());
  if (r >= 0) r = sd_bus_message_append(call.request, "as", 0);
  if (r >= 0) r = sd_bus_message_append(call.request, "a{sv}", 1, "urgency", "y", 1);
  if (r >= 0) r = sd_bus_message_append(call.request, "i", -1);
  if (r < 0) return make_error(Errc::internal, "cannot build the Notify call: " + errno_name(r));
  r = sd_bus_call(bus_, call.request, kCallTimeoutMs * 1000, &call.error, &call.reply);
  if (r < 0) {
    if (r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE || r == -ESHUTDOWN)
      return make_error(Errc::io_error, "the session bus connection is lost: " + errno_name(r));
    std::string why = sd_bus_error_is_set(&call.error) ? std::string(call.error.name) + ": " +
                                                             (call.error.message ? call.error.message : "")
                                                       : errno_name(r);
    return make_error(Errc::unavailable, "no notification server answers on the session bus (" + why + ")");
  }
  uint32_t id = 0;
  r = sd_bus_message_read(call.reply, "u", &id);
  if (r < 0) return make_error(Errc::protocol_error, "the notification server's answer: " + errno_name(r));
  return id;
}

} // namespace lpm::cli
