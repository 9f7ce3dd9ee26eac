// lpm-accounting: the command line. Parsing only; each command lives in commands.cpp.
#include <string>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "lpm/log.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/stream.h"

namespace {

const CLI::Validator kFingerprint(
    [](std::string &text) -> std::string {
      return lpm::proto::fingerprint_valid(text) ? "" : "must be 64 lower-case hex digits (a key's SHA-256)";
    },
    "FINGERPRINT");

const CLI::Validator kEndpoint(
    [](std::string &text) -> std::string {
      auto ep = lpm::proto::parse_endpoint(text);
      return ep.ok() ? "" : ep.error().message;
    },
    "HOST:PORT");

} // namespace

int main(int argc, char **argv) {
  lpm::proto::ignore_sigpipe();
  lpm::log_set_component("accounting");

  CLI::App app{"lpm-accounting: stores each job record once and answers reports"};
  app.require_subcommand(1);

  std::string data;
  auto add_data = [&data](CLI::App *cmd) {
    cmd->add_option("--data", data, "data folder (identity.key, identity.crt, state.db)")->required();
  };

  CLI::App *init =
      app.add_subcommand("init", "create the data folder, this server's TLS identity and state.db");
  add_data(init);

  CLI::App *fingerprint =
      app.add_subcommand("fingerprint", "print this server's key fingerprint (agents pin it)");
  add_data(fingerprint);

  lpm::accounting::EnrollArgs enroll_args;
  CLI::App *enroll =
      app.add_subcommand("enroll", "enroll this server's key with the directory (kind accounting)");
  add_data(enroll);
  enroll->add_option("--directory", enroll_args.directory, "directory address")->required()->check(kEndpoint);
  enroll
      ->add_option("--directory-fingerprint", enroll_args.directory_fingerprint,
                   "the directory's key (pinned)")
      ->required()
      ->check(kFingerprint);
  enroll->add_option("--token", enroll_args.token, "enrollment token of kind accounting")->required();
  enroll->add_option("--name", enroll_args.name, "name shown to administrators (default: host name)");

  lpm::accounting::ServeArgs serve_args;
  CLI::App *serve =
      app.add_subcommand("serve", "serve post-records, report-totals and usage-report until SIGINT/SIGTERM");
  add_data(serve);
  serve
      ->add_option("--people-refresh", serve_args.people_refresh_s,
                   "seconds between readings of the directory's people (print group, department, name "
                   "stamped on records; deleted users anonymised)")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  serve->add_option("--listen", serve_args.listen, "address to listen on (port 0 picks one)")
      ->capture_default_str()
      ->check(kEndpoint);
  serve->add_option("--directory", serve_args.directory, "directory address")->required()->check(kEndpoint);
  serve
      ->add_option("--directory-fingerprint", serve_args.directory_fingerprint,
                   "the directory's key (pinned)")
      ->required()
      ->check(kFingerprint);

  std::string backup_file;
  CLI::App *backup = app.add_subcommand(
      "backup", "copy state.db with SQLite's online backup (safe while serving); the file is 0600");
  add_data(backup);
  backup->add_option("--file", backup_file, "where to write it (must not exist)")->required();
  CLI::App *restore = app.add_subcommand(
      "restore", "replace state.db with a backup (the server must be stopped; the old one is kept)");
  add_data(restore);
  restore->add_option("--file", backup_file, "the backup file")->required();
  CLI::App *compact = app.add_subcommand(
      "compact", "rewrite state.db without its free pages (VACUUM; the server must be stopped; needs about "
                 "the database's size free)");
  add_data(compact);

  lpm::accounting::ReportArgs report_args;
  CLI::App *report = app.add_subcommand(
      "report", "usage reports from state.db (no --type: per-user totals of printed records, all time)");
  add_data(report);
  report->add_option("--type", report_args.type,
                     "summary, by-printer, by-workstation, by-site, daily, top-users, or (enterprise level) "
                     "by-group or by-department");
  report->add_option("--level", report_args.level, "enterprise, group, department or user")->capture_default_str();
  report->add_option(
      "--entity", report_args.entity,
      "the user (id, e-mail or name), print group (id or name) or department (not at enterprise level)");
  CLI::Option *from_option = report->add_option("--from", report_args.from, "first local day, YYYY-MM-DD");
  report->add_option("--to", report_args.to, "last local day, YYYY-MM-DD (default: --from, or today)");
  report->add_option("--last", report_args.last, "today and the N-1 local days before it (without --from)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1100))
      ->excludes(from_option);
  report->add_option("--zone", report_args.zone, "IANA time zone the days run in")->capture_default_str();
  report->add_option("--top", report_args.top, "rows of a top-users report")->capture_default_str()->check(
      CLI::Range(1, 100000));
  report->add_option("--csv", report_args.csv, "write the table as CSV (UTF-8 with BOM) to this file, - for stdout");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    // --help exits 0; every real usage error exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (*init) return lpm::accounting::command_init(data);
  if (*fingerprint) return lpm::accounting::command_fingerprint(data);
  if (*enroll) {
    enroll_args.data = data;
    return lpm::accounting::command_enroll(enroll_args);
  }
  if (*serve) {
    serve_args.data = data;
    return lpm::accounting::command_serve(serve_args);
  }
  if (*backup) return lpm::accounting::command_backup(data, backup_file);
  if (*restore) return lpm::accounting::command_restore(data, backup_file);
  if (*compact) return lpm::accounting::command_compact(data);
  if (*report) {
    report_args.data = data;
    return lpm::accounting::command_report(report_args);
  }
  return 2;
}
