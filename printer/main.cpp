// lpm-release: the printer-side release station.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "lpm/log.h"
#include "lpm/protocol/stream.h"

int main(int argc, char **argv) {
  lpm::proto::ignore_sigpipe();
  lpm::log_set_component("release");
  CLI::App app{"lpm-release: badge in at a printer and pull the user's held jobs from their workstations"};
  app.require_subcommand(1);

  lpm::printer::InitArgs init;
  auto *init_cmd =
      app.add_subcommand("init", "Create the station's data folder, TLS identity and state database");
  init_cmd->add_option("--data", init.data, "Data folder")->required();

  lpm::printer::EnrollArgs enroll;
  auto *enroll_cmd = app.add_subcommand("enroll", "Enroll the station's key with the directory as a printer");
  enroll_cmd->add_option("--data", enroll.data, "Data folder")->required();
  enroll_cmd->add_option("--directory", enroll.directory, "Directory address HOST:PORT")->required();
  enroll_cmd->add_option("--directory-fingerprint", enroll.directory_fingerprint, "Directory key fingerprint (several, comma-separated, while its identity rotates)")
      ->required();
  enroll_cmd->add_option("--token", enroll.token, "Enrollment token (kind printer)")->required();
  enroll_cmd->add_option("--name", enroll.name, "Printer name shown to administrators")->required();

  lpm::printer::RunArgs run;
  auto *run_cmd =
      app.add_subcommand("run", "Read badge ids from standard input and release each user's jobs");
  run_cmd->add_option("--data", run.data, "Data folder")->required();
  run_cmd->add_option("--directory", run.directory, "Directory address HOST:PORT")->required();
  run_cmd->add_option("--directory-fingerprint", run.directory_fingerprint, "Directory key fingerprint (several, comma-separated, while its identity rotates)")
      ->required();
  run_cmd
      ->add_option("--device", run.device,
                   "Print device URI: ipp://HOST[:PORT]/PATH, ipps://..., socket://HOST[:9100], file:///DIR")
      ->required();
  run_cmd
      ->add_option("--device-timeout-ms", run.device_timeout_ms,
                   "IPP: how long to wait after the last byte for the device to finish the job (its counts)")
      ->capture_default_str()
      ->check(CLI::Range(100u, 3600000u));
  run_cmd
      ->add_option("--timeout-ms", run.timeout_ms, "Connect + TLS handshake timeout per workstation address")
      ->check(CLI::Range(1u, 600000u));
  run_cmd->add_flag("--no-resume", run.no_resume,
                    "Forget TLS sessions before each badge, so every workstation contact is a full handshake");
  run_cmd->add_option("--name", run.name, "Printer name reported with each job (default: the enrolled name)");
  run_cmd->add_option("--badge-device", run.badge_device,
                      "Read badges from this input device (Linux evdev, /dev/input/eventN), grabbed so that no "
                      "console sees its keystrokes; default: standard input");
  run_cmd->add_flag("--no-prompts", run.no_prompts,
                    "Never ask for a PIN or offer to register an unknown badge (an unattended station only reports)");
  run_cmd->add_option("--prompt-timeout-ms", run.prompt_timeout_ms, "Cancel a question unanswered this long")
      ->capture_default_str()
      ->check(CLI::Range(1000u, 3600000u));
  run_cmd->add_flag(
      "--lan-discovery", run.lan_discovery,
      "Also try the addresses DNS-SD finds on this LAN for a workstation whose advertised key is "
      "the directory's (a workstation that moved is still reached; needs an mDNS daemon)");
  run_cmd->add_flag(
      "--offline-release", run.offline,
      "Release without the directory when it is unreachable (issue 8; the enterprise turns it on with `lpm "
      "badges policy set --offline-hours N`): keep a printer certificate and an encrypted table of badges and "
      "workstations, synced every 15 minutes, and sign tickets here when badge-in cannot reach the directory. "
      "With --lan-discovery, workstations found on the LAN are contacted too");
  run_cmd->add_flag("--interactive", run.interactive,
                    "After each badge, list the user's jobs (title, pages, workstation, age) and ask which to "
                    "print or delete, with copies, sides or monochrome where the job allows late binding");

  lpm::printer::DiscoverArgs discover;
  auto *discover_cmd = app.add_subcommand(
      "discover", "List the agents advertised on this LAN (DNS-SD, _lpm-release._tcp) as they come and go: "
                  "found/updated/lost lines with workstation id, key fingerprint, host, port and addresses");
  discover_cmd->add_option("--seconds", discover.seconds, "Browse this long; 0 until SIGINT or SIGTERM")
      ->capture_default_str();
  discover_cmd->add_flag("--json", discover.json, "One JSON object per change");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    // Help is a success; anything else is a usage error.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*init_cmd) return lpm::printer::command_init(init);
  if (*enroll_cmd) return lpm::printer::command_enroll(enroll);
  if (*run_cmd) return lpm::printer::command_run(run);
  if (*discover_cmd) return lpm::printer::command_discover(discover);
  return 2;
}
