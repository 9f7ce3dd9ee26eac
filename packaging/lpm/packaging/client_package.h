// The client package (issue 7, PK-4, PK-5, §5.3 of the seed): one .tar.gz an administrator
// copies to workstations. Inside, one folder `lpm-client/` holds
//
//   configuration.xml        every choice of the package (DESIGN §8), mode 0600
//   lpm-agent_VERSION_ARCH.deb   the agent
//   lpm-agent.service        the systemd unit the .deb installs (for the administrator to read)
//   enrollment.token         the workstation enrollment token, when the package has one (0600)
//   install.sh               installs all of it; reads configuration.xml only from its own folder
//   README.txt               what the package holds and how to install it
//
// `lpm package create` / `lpm package default` (cli/) fill the options; docs/packaging.md.
#pragma once

#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/packaging/configuration.h"

namespace lpm::packaging {

// The only print driver type a Linux package can carry: IPP Everywhere (driverless). The seed's
// PCL XL and colour drivers are Windows and macOS drivers.
inline constexpr const char *kDriverEverywhere = "everywhere";

struct ClientPackageOptions {
  AgentConfig config;     // what configuration.xml says
  bool serverless = true; // "enable serverless print release" (the only mode here)
  std::string driver = kDriverEverywhere;
  std::string enrollment_token; // "" : install.sh installs but does not enroll
  std::string agent_deb;        // the lpm-agent .deb to ship
  std::string output;           // the .tar.gz to write (never over an existing file)
};

// A package's configuration before any option: the agent's system paths (DataFolder
// /var/lib/lpm-agent, ControlSocket /run/lpm/agent.sock, which the unit provides), release
// port 9443, capture ports 9167/9168, everything else at DESIGN §9's defaults, and DefaultQueue
// made the OS default printer.
AgentConfig package_default_config();

// Checks the package's choices: the driver type, serverless enabled, the token's text, and a
// configuration that reads back as itself. bad_request naming the option ("--driver: ...").
Status check_package_choices(const ClientPackageOptions &options);
// check_package_choices, and the directory and accounting server named with their keys.
Status check_client_package(const ClientPackageOptions &options);

// Checks, then writes options.output. Returns the names of the files in the archive's folder.
// The .deb must be an lpm-agent package (dpkg-deb reads its control file and its unit).
Result<std::vector<std::string>> build_client_package(const ClientPackageOptions &options);

// install.sh as shipped (packaging/install.sh, embedded at build time).
const std::string &install_script_text();

} // namespace lpm::packaging
