#include "app.h"

#include <CLI/CLI.hpp>

#include "admin_commands.h"
#include "commands.h"
#include "device_commands.h"
#include "doctor.h"
#include "lpm/log.h"
#include "package_commands.h"
#include "print_commands.h"
#include "release_commands.h"

namespace lpm::cli {

int lpm_main(int argc, const char *const *argv) {
  log_set_component("lpm");
  CLI::App app{"lpm: print and release jobs held on this workstation, and administer the network"};
  app.require_subcommand(1);
  const std::string socket_help = "Agent control socket (default: $LPM_AGENT_SOCKET or /run/lpm/agent.sock)";

  PrintArgs print;
  auto *print_cmd =
      app.add_subcommand("print", "Hold a document on this workstation until you badge in at a printer");
  print_cmd->add_option("FILE", print.file, "Document to print")->required();
  print_cmd->add_option("--socket", print.socket, socket_help);
  print_cmd->add_option("--title", print.title, "Job title (default: the file name)");
  print_cmd->add_option("--copies", print.copies, "Number of copies")->check(CLI::Range(1, 999));
  print_cmd->add_option("--format", print.format, "Document MIME type (default: guessed from the extension)");
  print_cmd
      ->add_option("--sides", print.sides, "one-sided (default), two-sided-long-edge or two-sided-short-edge")
      ->check(CLI::IsMember({"one-sided", "two-sided-long-edge", "two-sided-short-edge"}));
  print_cmd->add_option("--color", print.color, "color (default) or monochrome")
      ->check(CLI::IsMember({"color", "monochrome"}));

  DoctorArgs doctor;
  auto *doctor_cmd = app.add_subcommand(
      "doctor",
      "Say what is wrong on this workstation: the agent, the directory, the clock, the release port, "
      "the print queue, disk space, records waiting for the accounting server (exit 0: all is well)");
  doctor_cmd->add_option("--socket", doctor.socket, socket_help);
  doctor_cmd->add_flag("--json", doctor.json, "One JSON object per check: check, ok, detail");

  JobsArgs jobs;
  auto *jobs_cmd = app.add_subcommand("jobs", "List your jobs held on this workstation");
  jobs_cmd->add_option("--socket", jobs.socket, socket_help);
  jobs_cmd->add_flag("--json", jobs.json, "One JSON object per job and line, with every field");
  JobsDeleteArgs jobs_delete;
  auto *jobs_delete_cmd = jobs_cmd->add_subcommand("delete", "Delete one of your held or printed jobs");
  jobs_delete_cmd->add_option("ID", jobs_delete.job, "Job id (as `lpm jobs` lists it)")->required();
  jobs_delete_cmd->add_option("--socket", jobs_delete.socket, socket_help);

  LoginArgs login;
  auto *login_cmd = app.add_subcommand(
      "login",
      "Sign in to the directory with your e-mail address and password; binds this OS account to your "
      "directory user on this workstation (the agent keeps the login)");
  login_cmd->add_option("--email", login.email, "E-mail address (default: asked on the terminal)");
  login_cmd->add_flag(
      "--password-stdin", login.password_stdin,
      "Read the password from the first line of standard input instead of asking on the terminal");
  login_cmd->add_flag("--json", login.json, "One JSON object: user, email, display_name, os_account, roles");
  login_cmd->add_option("--socket", login.socket, socket_help);
  LogoutArgs logout;
  auto *logout_cmd =
      app.add_subcommand("logout", "Sign out: the agent forgets this account's directory login");
  logout_cmd->add_option("--socket", logout.socket, socket_help);
  WhoamiArgs whoami;
  auto *whoami_cmd =
      app.add_subcommand("whoami", "Show the directory user you are signed in as, and your roles");
  whoami_cmd->add_flag("--json", whoami.json, "One JSON object: user, email, roles");
  whoami_cmd->add_option("--socket", whoami.socket, socket_help);

  auto *users_cmd =
      app.add_subcommand("users", "List, show, add, delete and import the directory's users (needs a login)");
  users_cmd->require_subcommand(1);
  UsersListArgs users_list;
  auto *users_list_cmd =
      users_cmd->add_subcommand("list", "List the directory's users: e-mail, name, department, password set");
  users_list_cmd->add_flag("--json", users_list.json, "One JSON object per user and line, with every field");
  users_list_cmd->add_option("--limit", users_list.limit, "List at most N users (default: all)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
  users_list_cmd->add_option("--socket", users_list.socket, socket_help);
  // The options both imports share; users add --password-links.
  auto add_import = [&socket_help](CLI::App *parent, ImportArgs &import, const char *kind) {
    import.kind = kind;
    auto *cmd =
        parent->add_subcommand("import", std::string("Import a ") + kind +
                                             " CSV file (at most 1,048,576 bytes) and follow it to its end");
    cmd->add_option("FILE", import.file, "CSV file (docs/imports.md)")->required();
    cmd->add_flag("--strict", import.strict,
                  "Refuse records with fewer values than the header (default: the missing ones are taken as "
                  "empty, with a warning)");
    cmd->add_flag("--no-wait", import.no_wait, "Print the import's id and return at once");
    cmd->add_flag("--json", import.json, "JSON lines: the import's summary, then one object per log row");
    cmd->add_option("--socket", import.socket, socket_help);
    return cmd;
  };
  ImportArgs users_import;
  auto *users_import_cmd = add_import(users_cmd, users_import, "users");
  users_import_cmd->add_flag("--password-links", users_import.password_links,
                             "CREATE rows may leave PASSWORD empty: those users get a password-change link");

  auto *badges_cmd =
      app.add_subcommand("badges", "Add, delete, find and import the directory's badges (needs a login)");
  badges_cmd->require_subcommand(1);
  ImportArgs badges_import;
  auto *badges_import_cmd = add_import(badges_cmd, badges_import, "badges");
  // users show|add|delete, badges add|delete|find, roles, groups, password-policy, audit.
  AdminCommands admin(app, *users_cmd, *badges_cmd, socket_help);
  DeviceCommands devices(app, socket_help);
  PackageCommands packages(app, socket_help);
  PrintCommands print_management(app, socket_help);
  ReleaseCommands release(app, *users_cmd, *badges_cmd, socket_help);

  auto *imports_cmd = app.add_subcommand("imports", "Look at the directory's imports (needs a login)");
  imports_cmd->require_subcommand(1);
  ImportsShowArgs imports_show;
  auto *imports_show_cmd =
      imports_cmd->add_subcommand("show", "Show an import's summary and every record's outcome");
  imports_show_cmd->add_option("ID", imports_show.import, "Import id (as `lpm users import` printed it)")
      ->required();
  imports_show_cmd->add_flag("--json", imports_show.json,
                             "JSON lines: the import's summary, then one object per log row");
  imports_show_cmd->add_option("--socket", imports_show.socket, socket_help);

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
  notify_cmd->add_option("--socket", notify.socket, socket_help);

  ReportArgs report;
  auto *report_cmd = app.add_subcommand(
      "report", "Show your print usage from the accounting server (through this workstation's agent, after "
                "`lpm login`); with --data, per-user totals as an enrolled console");
  report_cmd->add_option("--socket", report.socket, socket_help);
  report_cmd
      ->add_option("--type", report.type,
                   "summary, by-printer, by-workstation, by-site, daily, top-users, or (enterprise level) "
                   "by-group or by-department")
      ->capture_default_str();
  report_cmd->add_option("--level", report.level, "user, group, department or enterprise")->capture_default_str();
  report_cmd->add_option(
      "--entity", report.entity,
      "the user (id, e-mail or name), print group (id or name) or department (default at user level: you)");
  auto *from_opt = report_cmd->add_option("--from", report.from, "first local day, YYYY-MM-DD");
  report_cmd->add_option("--to", report.to, "last local day, YYYY-MM-DD (default: --from)")->needs(from_opt);
  report_cmd->add_option("--last", report.last, "today and the N-1 local days before it (without --from)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1100))
      ->excludes(from_opt);
  report_cmd->add_option("--zone", report.zone, "IANA time zone the days run in (default: this machine's)");
  report_cmd->add_option("--top", report.top, "rows of a top-users report")->capture_default_str()->check(
      CLI::Range(1, 5000));
  report_cmd->add_option("--csv", report.csv, "write the table as CSV (UTF-8 with BOM) to this file, - for stdout");
  auto *data_opt = report_cmd->add_option("--data", report.data, "Console data folder (per-user totals)");
  auto *accounting_opt =
      report_cmd->add_option("--accounting", report.accounting, "Accounting server address HOST:PORT (with --data)")
          ->needs(data_opt);
  auto *accounting_fp_opt = report_cmd
                                ->add_option("--accounting-fingerprint", report.accounting_fingerprint,
                                             "Accounting server key fingerprint (with --data)")
                                ->needs(data_opt);
  data_opt->needs(accounting_opt)->needs(accounting_fp_opt);

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
  if (*doctor_cmd) return command_doctor(doctor);
  if (*login_cmd) return command_login(login);
  if (*logout_cmd) return command_logout(logout);
  if (*whoami_cmd) return command_whoami(whoami);
  if (auto code = admin.run()) return *code;
  if (auto code = devices.run()) return *code;
  if (auto code = packages.run()) return *code;
  if (auto code = print_management.run()) return *code;
  if (auto code = release.run()) return *code;
  if (*users_list_cmd) return command_users_list(users_list);
  if (*users_import_cmd) return command_import(users_import);
  if (*badges_import_cmd) return command_import(badges_import);
  if (*imports_show_cmd) return command_imports_show(imports_show);
  if (*console_init_cmd) return command_console_init(console_init);
  if (*console_enroll_cmd) return command_console_enroll(console_enroll);
  if (*report_cmd) return command_report(report);
  return 2;
}

} // namespace lpm::cli
