// A stand-in for a desktop's notification daemon, for tests of `lpm notify`: owns
// org.freedesktop.Notifications on the session bus in $DBUS_SESSION_BUS_ADDRESS and appends one
// line per Notify call to LOG_FILE ("app<TAB>summary<TAB>body"). Prints "ready" once it owns the
// name. Runs until killed (the test stops it by PID).
// Usage: lpm_test_notification_server LOG_FILE
#include <fcntl.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

const char *g_log_path = nullptr;
uint32_t g_next_id = 1;

int on_notify(sd_bus_message *m, void *, sd_bus_error *) {
  const char *app = nullptr;
  uint32_t replaces = 0;
  const char *icon = nullptr;
  const char *summary = nullptr;
  const char *body = nullptr;
  int r = sd_bus_message_read(m, "susss", &app, &replaces, &icon, &summary, &body);
  if (r < 0) return r;
  // Actions, hints and the timeout are not recorded; the message is checked to carry them.
  if ((r = sd_bus_message_skip(m, "asa{sv}i")) < 0) return r;
  std::string line = std::string(app) + "\t" + summary + "\t" + body + "\n";
  int fd = ::open(g_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  ssize_t written = ::write(fd, line.data(), line.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(line.size())) return -EIO;
  return sd_bus_reply_method_return(m, "u", g_next_id++);
}

int on_capabilities(sd_bus_message *m, void *, sd_bus_error *) {
  return sd_bus_reply_method_return(m, "as", 1, "body");
}

int on_server_information(sd_bus_message *m, void *, sd_bus_error *) {
  return sd_bus_reply_method_return(m, "ssss", "lpm-test", "lpm", "1.0", "1.2");
}

int on_close_notification(sd_bus_message *m, void *, sd_bus_error *) {
  return sd_bus_reply_method_return(m, "");
}

const sd_bus_vtable kVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Notify", "susssasa{sv}i", "u", on_notify, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("GetCapabilities", "", "as", on_capabilities, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("GetServerInformation", "", "ssss", on_server_information, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("CloseNotification", "u", "", on_close_notification, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

int die(const char *what, int r) {
  std::fprintf(stderr, "lpm_test_notification_server: %s: %s\n", what, std::strerror(-r));
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s LOG_FILE\n", argv[0]);
    return 2;
  }
  g_log_path = argv[1];
  sd_bus *bus = nullptr;
  int r = sd_bus_open_user(&bus);
  if (r < 0) return die("session bus", r);
  r = sd_bus_add_object_vtable(bus, nullptr, "/org/freedesktop/Notifications",
                               "org.freedesktop.Notifications", kVtable, nullptr);
  if (r < 0) return die("object", r);
  r = sd_bus_request_name(bus, "org.freedesktop.Notifications", 0);
  if (r < 0) return die("name org.freedesktop.Notifications", r);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    r = sd_bus_process(bus, nullptr);
    if (r < 0) return die("process", r);
    if (r > 0) continue;
    r = sd_bus_wait(bus, UINT64_MAX);
    if (r < 0 && r != -EINTR) return die("wait", r);
  }
}
