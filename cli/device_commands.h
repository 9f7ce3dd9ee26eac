// The commands for workstations, enrollment tokens and printers: lpm workstations
// list|show|bind|unbind|deregister, lpm tokens create, lpm printers list|revoke. Each is a person
// op forwarded by the local agent (docs/protocol.md §5.1.1). Exit codes as admin_commands.h: 0
// done, 1 refused or failed, 2 a usage error.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lpm/protocol/ops_admin.h"

namespace CLI {
class App;
}

namespace lpm::cli {

// The helpdesk view as text: one row per workstation (counts and hosts only, RL-12).
std::string workstations_table(const std::vector<proto::WorkstationEntry> &workstations);
std::string workstation_json(const proto::WorkstationEntry &workstation);

class DeviceCommands {
public:
  DeviceCommands(CLI::App &app, const std::string &socket_help);
  // The exit code of the command parsed, or nullopt when none of these was.
  std::optional<int> run();

private:
  std::string socket_;
  bool json_ = false;
  std::string workstation_;
  std::string email_;
  bool yes_ = false;
  std::string kind_;
  int64_t uses_ = 1;
  int64_t ttl_hours_ = 24;
  std::vector<std::string> printers_;
  std::vector<std::pair<CLI::App *, std::function<int()>>> commands_;
};

} // namespace lpm::cli
