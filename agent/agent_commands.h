// The lpm-agent subcommands, callable without the command line (main.cpp parses it).
// Each returns an error value with a one-line message; main prints it and exits 1.
#pragma once

#include <string>

#include "lpm/error.h"
#include "lpm/packaging/configuration.h"

namespace lpm::agent {

// Creates DataFolder (0700), the TLS identity and state.db. Prints "fingerprint <hex>".
Status agent_init(const packaging::AgentConfig &config);
// Enrolls with the directory and stores the workstation id and ticket key in state.db.
// Prints "workstation <id>".
Status agent_enroll(const packaging::AgentConfig &config, const std::string &token, const std::string &name);
// Prints what an installer needs from a checked configuration, one KEY=VALUE per line: queue,
// default_printer, capture_host (bracketed when IPv6), capture_port, release_port, data_folder,
// control_socket, and whether the data folder is already initialised and enrolled (yes/no). Creates nothing.
Status agent_check_config(const packaging::AgentConfig &config);
// Prints the TLS key fingerprint alone on a line.
Status agent_fingerprint(const packaging::AgentConfig &config);
// Runs the daemon until SIGINT or SIGTERM: control socket, capture listeners (IPP printer, raw),
// release service, registration, accounting outbox, claim expiry and retention. Prints
// "ipp <port>" and "raw <port>" (the capture listeners), then "ready <release-port>", once the
// control socket and every listener are bound.
Status agent_serve(const packaging::AgentConfig &config);

} // namespace lpm::agent
