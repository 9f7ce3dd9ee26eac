// The commands for workstations, enrollment tokens and printers: lpm workstations
// list|show|bind|unbind|deregister, lpm tokens create|list|revoke, lpm printers enroll|list|revoke,
// and the fleet's document retention policy, lpm retention show|set. Each is a person
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

// Retention durations as people type them: "none", "8h", "24h", "2d" ... (RT-2, AMB-19). The
// parser takes exactly proto::kRetentionChoicesHours ("1d" and "48h" too); bad_request otherwise.
std::string retention_text(uint32_t hours);
Result<uint32_t> retention_hours_parse(const std::string &text);

class DeviceCommands {
public:
  DeviceCommands(CLI::App &app, const std::string &socket_help);
  // The exit code of the command parsed, or nullopt when none of these was.
  std::optional<int> run();

private:
  int print_batch(const proto::BatchResult &result, const char *what) const;
  int print_retention(const proto::RetentionPolicyResult &policy) const;

  std::string socket_;
  bool json_ = false;
  std::string workstation_;
  std::string email_;
  bool yes_ = false;
  std::string kind_;
  int64_t uses_ = 1;
  int64_t ttl_hours_ = 24;
  std::vector<std::string> printers_;
  std::vector<std::string> tokens_;
  std::string name_;
  bool all_ = false;
  std::string released_;
  std::string unreleased_;
  std::vector<std::pair<CLI::App *, std::function<int()>>> commands_;
};

} // namespace lpm::cli
