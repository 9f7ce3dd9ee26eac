// lpm-agent: the workstation agent (README.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "agent_commands.h"
#include "lpm/files.h"
#include "lpm/log.h"
#include "lpm/packaging/configuration.h"
#include "lpm/protocol/stream.h"

namespace {

int report(const lpm::Status &status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "lpm-agent: %s\n", status.error().to_string().c_str());
  return 1;
}

// "HOST:PORT[,HOST:PORT...]" for --directory and --accounting.
lpm::Result<std::vector<lpm::proto::Endpoint>> parse_endpoints(const std::string &flag, const std::string &text) {
  std::vector<lpm::proto::Endpoint> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string one = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto ep = lpm::proto::parse_endpoint(one);
    if (!ep.ok())
      return lpm::make_error(lpm::Errc::bad_request, flag + ": \"" + one + "\" is not HOST:PORT (" +
                                                         ep.error().message + ")");
    out.push_back(*ep);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

struct Flags {
  std::string config_path = "/etc/lpm/configuration.xml";
  std::string data_dir;
  std::string control_socket;
  uint16_t ipp_port = 0;
  uint16_t release_port = 0;
  std::string directory;
  std::string accounting;
};

lpm::Result<lpm::packaging::AgentOverrides> overrides_from(const Flags &f) {
  lpm::packaging::AgentOverrides o;
  if (!f.data_dir.empty()) {
    if (f.data_dir.front() != '/')
      return lpm::make_error(lpm::Errc::bad_request, "--data-dir must be an absolute path");
    o.data_folder = f.data_dir;
  }
  if (!f.control_socket.empty()) {
    if (f.control_socket.front() != '/')
      return lpm::make_error(lpm::Errc::bad_request, "--control-socket must be an absolute path");
    o.control_socket = f.control_socket;
  }
  if (f.ipp_port) o.capture_port = f.ipp_port;
  if (f.release_port) o.release_port = f.release_port;
  if (!f.directory.empty()) {
    auto eps = parse_endpoints("--directory", f.directory);
    if (!eps.ok()) return eps.error();
    o.directory = *eps;
  }
  if (!f.accounting.empty()) {
    auto eps = parse_endpoints("--accounting", f.accounting);
    if (!eps.ok()) return eps.error();
    o.accounting = *eps;
  }
  return o;
}

} // namespace

int main(int argc, char **argv) {
  lpm::proto::ignore_sigpipe();
  lpm::log_set_component("agent");
  CLI::App app{
      "lpm-agent: holds print jobs on this workstation until their owner releases them at a printer"};
  app.require_subcommand(1);

  Flags flags;
  std::string token;
  std::string token_file;
  std::string name;
  // Every subcommand reads the same configuration, and the flags override what it says.
  auto add_config = [&](CLI::App *cmd) {
    cmd->add_option("--config", flags.config_path, "configuration.xml of this agent")
        ->capture_default_str();
    cmd->add_option("--data-dir", flags.data_dir, "override <DataFolder>");
    cmd->add_option("--control-socket", flags.control_socket, "override <ControlSocket>");
    cmd->add_option("--ipp-port", flags.ipp_port, "override the port of <CaptureListen> (IPP, loopback)");
    cmd->add_option("--release-port", flags.release_port, "override the port of <ReleaseListen>");
    cmd->add_option("--directory", flags.directory, "override the directory address(es): HOST:PORT[,HOST:PORT]");
    cmd->add_option("--accounting", flags.accounting,
                    "override the accounting server address(es): HOST:PORT[,HOST:PORT]");
  };
  CLI::App *init = app.add_subcommand("init", "create the agent's TLS identity and state in DataFolder");
  add_config(init);
  CLI::App *enroll = app.add_subcommand("enroll", "enroll this workstation with the directory (once)");
  add_config(enroll);
  auto *token_opt =
      enroll->add_option("--token", token, "enrollment token from `lpm tokens create --kind workstation`");
  auto *token_file_opt = enroll->add_option("--token-file", token_file,
                                            "read the enrollment token from this file (a client package's "
                                            "install.sh: the token never shows in ps)");
  token_opt->excludes(token_file_opt);
  enroll->add_option("--name", name, "name shown to administrators (default: the host name)");
  CLI::App *serve = app.add_subcommand("serve", "run the agent until SIGINT or SIGTERM");
  add_config(serve);
  CLI::App *fingerprint = app.add_subcommand("fingerprint", "print the agent's TLS key fingerprint");
  add_config(fingerprint);
  CLI::App *check = app.add_subcommand(
      "check-config",
      "check configuration.xml and print what an installer needs from it (KEY=VALUE lines: "
      "queue, default_printer, capture_host, capture_port, release_port, data_folder, control_socket, "
      "initialised, enrolled)");
  add_config(check);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  auto overrides = overrides_from(flags);
  if (!overrides.ok()) {
    std::fprintf(stderr, "lpm-agent: %s\n", overrides.error().to_string().c_str());
    return 2;
  }
  auto config = lpm::packaging::load_agent_config(flags.config_path, *overrides);
  if (!config.ok()) return report(config.error());
  if (init->parsed()) return report(lpm::agent::agent_init(*config));
  if (enroll->parsed()) {
    if (!token_file.empty()) {
      auto text = lpm::read_file(token_file, 4096);
      if (!text.ok()) return report(text.error());
      token = *text;
      while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
        token.pop_back();
    }
    if (token.empty())
      return report(lpm::make_error(lpm::Errc::bad_request, "enroll needs --token or --token-file"));
    return report(lpm::agent::agent_enroll(*config, token, name));
  }
  if (check->parsed()) return report(lpm::agent::agent_check_config(*config));
  if (fingerprint->parsed()) return report(lpm::agent::agent_fingerprint(*config));
  return report(lpm::agent::agent_serve(*config));
}
