// lpm-agent: the workstation agent (README.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "agent_commands.h"
#include "lpm/log.h"
#include "lpm/packaging/configuration.h"
#include "lpm/protocol/stream.h"

namespace {

int report(const lpm::Status &status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "lpm-agent: %s\n", status.error().to_string().c_str());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  lpm::proto::ignore_sigpipe();
  lpm::log_set_component("agent");
  CLI::App app{
      "lpm-agent: holds print jobs on this workstation until their owner releases them at a printer"};
  app.require_subcommand(1);

  std::string config_path;
  std::string token;
  std::string name;
  auto add_config = [&](CLI::App *cmd) {
    cmd->add_option("--config", config_path, "configuration.xml of this agent")->required();
  };
  CLI::App *init = app.add_subcommand("init", "create the agent's TLS identity and state in DataFolder");
  add_config(init);
  CLI::App *enroll = app.add_subcommand("enroll", "enroll this workstation with the directory (once)");
  add_config(enroll);
  enroll
      ->add_option("--token", token, "enrollment token from `lpm-directory token create --kind workstation`")
      ->required();
  enroll->add_option("--name", name, "name shown to administrators (default: the host name)");
  CLI::App *serve = app.add_subcommand("serve", "run the agent until SIGINT or SIGTERM");
  add_config(serve);
  CLI::App *fingerprint = app.add_subcommand("fingerprint", "print the agent's TLS key fingerprint");
  add_config(fingerprint);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  auto config = lpm::packaging::load_agent_config(config_path);
  if (!config.ok()) return report(config.error());
  if (init->parsed()) return report(lpm::agent::agent_init(*config));
  if (enroll->parsed()) return report(lpm::agent::agent_enroll(*config, token, name));
  if (fingerprint->parsed()) return report(lpm::agent::agent_fingerprint(*config));
  return report(lpm::agent::agent_serve(*config));
}
