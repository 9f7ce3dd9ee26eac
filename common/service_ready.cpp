#include "lpm/service_ready.h"

#include <systemd/sd-daemon.h>

#include <cstdio>
#include <cstring>

#include "lpm/log.h"

namespace lpm {

namespace {

void notify(const std::string &state) {
  // unset_environment = 0 keeps $NOTIFY_SOCKET, so STOPPING=1 can be sent later.
  int rc = sd_notify(0, state.c_str());
  if (rc < 0) LPM_WARN("could not tell the service manager \"%s\": %s", state.c_str(), std::strerror(-rc));
}

// STATUS= ends at the line's end: a newline in it would start another assignment.
std::string one_line(std::string text) {
  for (char &c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

} // namespace

void announce_ready(std::optional<unsigned> port, const std::string &status) {
  if (port) {
    std::printf("ready %u\n", *port);
    std::fflush(stdout);
  }
  notify("READY=1\nSTATUS=" + one_line(status));
}

void announce_stopping(const std::string &status) {
  notify("STOPPING=1\nSTATUS=" + one_line(status));
}

} // namespace lpm
