// Fuzz target: what the release station reads from people and from its configuration (issue 5).
// The first byte picks the parser, the rest is its input:
//   0: the --interactive choice line (printer/interactive.h parse_choice) against a fixed list
//      of three jobs, on a device that applies settings and on one that does not;
//   1: key events of a card reader (printer/badge_device.h): the bytes as input_event records;
//   2: a socket:// device URI (printer/device_socket.h parse_socket_uri).
// Checks what the parsers promise: a refusal is bad_request with a message; accepted choices
// name only listed jobs with settings in range, and late binding only where it is allowed;
// badge lines never exceed the reader's cap; an accepted URI has a host and a port.
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "badge_device.h"
#include "device_socket.h"
#include "interactive.h"

using namespace lpm;
using namespace lpm::printer;

namespace {

std::vector<ListedJob> listed_jobs() {
  std::vector<ListedJob> jobs;
  for (int i = 0; i < 3; i++) {
    ListedJob j;
    j.job.id = "job-" + std::to_string(i);
    j.job.title = "title " + std::to_string(i);
    j.job.late_binding = i != 1; // job 2 allows no late binding
    j.workstation = "ws";
    jobs.push_back(j);
  }
  return jobs;
}

void check_choice(std::string_view text) {
  static const std::vector<ListedJob> jobs = listed_jobs();
  for (bool applies : {true, false}) {
    auto c = parse_choice(text, jobs, applies);
    if (!c.ok()) {
      if (c.error().code != Errc::bad_request || c.error().message.empty()) std::abort();
      continue;
    }
    for (const auto &[index, choice] : *c) {
      if (index >= jobs.size()) std::abort();
      const PrintSettings &s = choice.settings;
      if (s.copies < 1 || s.copies > 99) std::abort();
      if (s.sides != "one-sided" && s.sides != "two-sided-long-edge" && s.sides != "two-sided-short-edge")
        std::abort();
      bool late = s.copies != 1 || s.sides != "one-sided" || s.color != "color";
      if (late && (!applies || !jobs[index].job.late_binding)) std::abort();
    }
  }
}

void check_key_events(const uint8_t *data, size_t size) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) std::abort();
  {
    auto device = BadgeDevice::from_fd(&loop, fds[0], "fuzz");
    if (!device.ok()) std::abort();
    for (size_t at = 0; at + sizeof(input_event) <= size; at += sizeof(input_event)) {
      input_event event;
      std::memcpy(&event, data + at, sizeof event);
      (*device)->feed(event);
      while (auto line = (*device)->take_line()) {
        if (line->ok() && line->value().size() > 1024) std::abort();
        if (!line->ok() && line->error().message.empty()) std::abort();
      }
    }
  }
  ::close(fds[1]);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) std::abort();
}

void check_socket_uri(std::string_view text) {
  auto at = parse_socket_uri(text);
  if (!at.ok()) {
    if (at.error().code != Errc::bad_request || at.error().message.empty()) std::abort();
    return;
  }
  if (at->host.empty() || at->port == 0) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 4096) return 0;
  std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);
  switch (data[0] % 3) {
  case 0: check_choice(text); break;
  case 1: check_key_events(data + 1, size - 1); break;
  default: check_socket_uri(text); break;
  }
  return 0;
}
