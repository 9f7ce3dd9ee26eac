// `lpm doctor` (issue 7): what is wrong on this workstation, for an administrator or the user in
// front of it. The agent answers agent-status (docs/protocol.md); the command then looks for
// itself at what the agent cannot see: the release port accepting connections, and the CUPS
// queue that feeds the agent. One line per check; exit 0 only when every check passed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpm/protocol/ops.h"

namespace lpm::cli {

// What the command found out beside the agent's answer.
struct DoctorProbes {
  bool release_port_open = false;
  std::string release_error; // why the release port did not accept, when it did not
  bool cups_found = false;   // lpstat ran
  bool queue_found = false;  // lpstat knows the queue
  std::string queue_uri;     // its device URI
};

struct DoctorCheck {
  std::string name; // agent, directory, clock, release port, print queue, disk, accounting
  bool ok = false;
  std::string detail;
};

// How far the workstation's clock may be from the directory's: tickets live 60 s.
inline constexpr int64_t kMaxClockSkewMs = 30 * 1000;
// A data folder with less room than this is reported (jobs stop being accepted when it is full).
inline constexpr uint64_t kMinFreeBytes = 256ULL * 1024 * 1024;

// The checks after the agent answered, in order (agent, directory, clock, release port, print
// queue, disk, accounting). Pure: the tests give it any status.
std::vector<DoctorCheck> doctor_checks(const proto::AgentStatusResult &status, const DoctorProbes &probes);
// "ok    name: detail" / "FAIL  name: detail".
std::string doctor_line(const DoctorCheck &check);
// The device URI lpstat -v printed for `queue` ("device for Q: URI"); "" when none.
std::string lpstat_device_uri(const std::string &lpstat_output, const std::string &queue);

struct DoctorArgs {
  std::string socket;
  bool json = false;
};
int command_doctor(const DoctorArgs &args);

} // namespace lpm::cli
