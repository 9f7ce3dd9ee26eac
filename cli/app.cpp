#include "app.h"

#include <CLI/CLI.hpp>

#include "commands.h"
#include "lpm/log.h"

namespace lpm::cli {

int lpm_main(int argc, const char *const *argv) {
  log_set_component("lpm");
  CLI::App app{"lpm: print and release jobs held on this workstation, and administer the network"};
  app.require_subcommand(1);

  PrintArgs print;
  auto *print_cmd =
      app.add_subcommand("print", "Hold a document on this workstation until you badge in at a printer");
  print_cmd->add_option("FILE", print.file, "Document to print")->required();
  print_cmd->add_option("--socket", print.socket,
                        "Agent control socket (default: $LPM_AGENT_SOCKET or /run/lpm/agent.sock)");
  print_cmd->add_option("--title", print.title, "Job title (default: the file name)");
  print_cmd->add_option("--copies", print.copies, "Number of copies")->check(CLI::Range(1, 999));
  print_cmd->add_option("--format", print.format, "Document MIME type (default: guessed from the extension)");
  print_cmd->add_option("--sides", print.sides, "one-sided (default), two-sided-long-edge or two-sided-short-edge")
      ->check(CLI::IsMember({"one-sided", "two-sided-long-edge", "two-sided-short-edge"}));
  print_cmd->add_option("--color", print.color, "color (default) or monochrome")
      ->check(CLI::IsMember({"color", "monochrome"}));

  JobsArgs jobs;
  auto *jobs_cmd = app.add_subcommand("jobs", "List your jobs held on this workstation");
  jobs_cmd->add_option("--socket", jobs.socket,
                       "Agent control socket (default: $LPM_AGENT_SOCKET or /run/lpm/agent.sock)");
  jobs_cmd->add_flag("--json", jobs.json, "One JSON object per job and line, with every field");
  JobsDeleteArgs jobs_delete;
  auto *jobs_delete_cmd = jobs_cmd->add_subcommand("delete", "Delete one of your held or printed jobs");
  jobs_delete_cmd->add_option("ID", jobs_delete.job, "Job id (as `lpm jobs` lists it)")->required();
  jobs_delete_cmd->add_option("--socket", jobs_delete.socket,
                              "Agent control socket (default: $LPM_AGENT_SOCKET or /run/lpm/agent.sock)");

  auto *console_cmd = app.add_subcommand("console", "Set up an administrator console identity");
  console_cmd->require_subcommand(1);
  ConsoleInitArgs console_init;
  auto *console_init_cmd =
      console_cmd->add_subcommand("init", "Create the console's data folder and TLS identity");
  console_init_cmd->add_option("--data", console_init.data, "Console data folder")->required();
  ConsoleEnrollArgs console_enroll;
  auto *console_enroll_cmd = console_cmd->add_subcommand(
      "enroll", "Enroll the console's key with the directory (token kind console)");
  console_enroll_cmd->add_option("--data", console_enroll.data, "Console data folder")->required();
  console_enroll_cmd->add_option("--directory", console_enroll.directory, "Directory address HOST:PORT")
      ->required();
  console_enroll_cmd
      ->add_option("--directory-fingerprint", console_enroll.directory_fingerprint,
                   "Directory key fingerprint")
      ->required();
  console_enroll_cmd->add_option("--token", console_enroll.token, "Enrollment token")->required();
  console_enroll_cmd->add_option("--name", console_enroll.name,
                                 "Console name shown to administrators (default: host name)");

  NotifyArgs notify;
  auto *notify_cmd = app.add_subcommand(
      "notify", "Show a desktop notification for each of your jobs held on this workstation (run it in "
                "your desktop session; stop it with Ctrl-C or SIGTERM)");
  notify_cmd->add_option("--socket", notify.socket,
                         "Agent control socket (default: $LPM_AGENT_SOCKET or /run/lpm/agent.sock)");

  ReportArgs report;
  auto *report_cmd = app.add_subcommand("report", "Show per-user print totals from the accounting server");
  report_cmd->add_option("--data", report.data, "Console data folder")->required();
  report_cmd->add_option("--accounting", report.accounting, "Accounting server address HOST:PORT")
      ->required();
  report_cmd
      ->add_option("--accounting-fingerprint", report.accounting_fingerprint,
                   "Accounting server key fingerprint")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    // Help is a success; anything else is a usage error.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*print_cmd) return command_print(print);
  if (*notify_cmd) return command_notify(notify);
  if (*jobs_delete_cmd) {
    if (jobs_delete.socket.empty()) jobs_delete.socket = jobs.socket;
    return command_jobs_delete(jobs_delete);
  }
  if (*jobs_cmd) return command_jobs(jobs);
  if (*console_init_cmd) return command_console_init(console_init);
  if (*console_enroll_cmd) return command_console_enroll(console_enroll);
  if (*report_cmd) return command_report(report);
  return 2;
}

} // namespace lpm::cli
