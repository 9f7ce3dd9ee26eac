// `lpm package create` and `lpm package default` (issue 7, PK-4, PK-5, seed §5.3): the client
// package administrators copy to workstations (packaging/lpm/packaging/client_package.h,
// docs/packaging.md). Options are checked where they are parsed and a refusal names the option
// ("--printed-lifespan-hours: must be 0 or more hours, not -1"). Exit codes: 0 written, 1 refused
// or failed, 2 a usage error.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/packaging/client_package.h"

namespace CLI {
class App;
}

namespace lpm::cli {

// What was typed, before it is checked (strings and signed numbers, so that "-1" reaches our
// checks and gets a message naming its option).
struct PackageArgs {
  std::string output;
  std::string agent_deb;
  std::string from;
  std::string directory;
  std::string directory_fingerprint;
  std::string accounting;
  std::string accounting_fingerprint;
  std::string token;
  int64_t token_uses = 0;
  int64_t token_days = 30;
  std::string socket;
  bool json = false;
  // `create` only (the seed's options, then ours).
  std::optional<bool> notifications;
  std::optional<int64_t> delete_unused_folders_days; // 0: never
  std::optional<bool> serverless;
  std::optional<int64_t> printed_lifespan_hours;
  std::optional<int64_t> unprinted_lifespan_hours;
  std::optional<bool> late_binding;
  std::optional<bool> track_deleted;
  std::optional<std::string> site;
  std::optional<int64_t> reporting_interval;
  std::string driver = packaging::kDriverEverywhere;
  std::optional<std::string> queue;
  std::optional<bool> default_printer;
  std::vector<std::string> binds; // ACCOUNT=USER_UUID
  std::optional<int64_t> release_port;
  std::optional<int64_t> capture_port;
  std::optional<int64_t> raw_port;
  std::optional<bool> lan_discovery;
  std::optional<int64_t> offline_window_hours;
};

// The package options the arguments say, the token aside (it may need the directory). `base`
// is the configuration to start from (package_default_config(), or --from's).
Result<packaging::ClientPackageOptions> package_options(const PackageArgs &args, packaging::AgentConfig base);

class PackageCommands {
public:
  PackageCommands(CLI::App &app, const std::string &socket_help);
  // The exit code of the command parsed, or nullopt when neither was.
  std::optional<int> run();

private:
  int build(bool custom);
  PackageArgs args_;
  CLI::App *create_ = nullptr;
  CLI::App *default_ = nullptr;
};

} // namespace lpm::cli
