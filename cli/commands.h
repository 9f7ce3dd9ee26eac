// The `lpm` commands, as functions the argument parser (app.cpp) calls. Each returns the exit
// code: 0, or 1 after one clear line on stderr.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lpm::cli {

// Where the local agent listens: $LPM_AGENT_SOCKET when set and not empty, else
// /run/lpm/agent.sock.
std::string default_socket_path();
// The MIME type for a file name's extension (.pdf, .ps, .txt, .pwg, .urf; case-insensitive),
// else application/octet-stream.
std::string guess_format(std::string_view file_name);

struct PrintArgs {
  std::string file;
  std::string socket; // empty: default_socket_path()
  std::string title;  // empty: the file's base name
  uint64_t copies = 1;
  std::string format;              // empty: guess_format(file)
  std::string sides = "one-sided"; // one-sided, two-sided-long-edge, two-sided-short-edge
  std::string color = "color";     // color, monochrome
};
// Uploads a document to the local agent (submit-job); prints "job <id> held for release (<n> bytes)".
int command_print(const PrintArgs &args);

struct JobsArgs {
  std::string socket;
  bool json = false; // one JSON object per job and line, every field (for scripts)
};
// Lists the caller's jobs on the local agent (local-jobs) as a table: id, title, state, pages,
// size, age.
int command_jobs(const JobsArgs &args);

struct JobsDeleteArgs {
  std::string socket;
  std::string job;
};
// Deletes one of the caller's jobs (delete-job); prints "job <id> deleted".
int command_jobs_delete(const JobsDeleteArgs &args);

// The administrative commands (users show/add/delete, badges, roles, groups, password-policy,
// audit) are declared in admin_commands.h.
//
// The directory through the local agent (directory_commands.cpp). The agent binds the caller's
// OS account to the directory user at login and keeps the login's refresh token; the other
// commands are person ops it forwards with a fresh session. Without a login they fail with
// unauthenticated (the agent's message says to run `lpm login`).

struct LoginArgs {
  std::string socket;
  std::string email;           // empty: asked on the terminal
  bool password_stdin = false; // one line of stdin instead of asking on the terminal (echo off)
  bool json = false;
};
// Logs in (agent op login); prints "logged in as <email> (<name>) on this workstation as
// <account>; roles: <roles>". The password is never printed.
int command_login(const LoginArgs &args);

struct LogoutArgs {
  std::string socket;
};
// Forgets this account's login on the agent (logout); prints "logged out".
int command_logout(const LogoutArgs &args);

struct WhoamiArgs {
  std::string socket;
  bool json = false;
};
// The directory user this account is logged in as: e-mail, user id, roles (whoami).
int command_whoami(const WhoamiArgs &args);

struct UsersListArgs {
  std::string socket;
  bool json = false;  // one JSON object per user and line
  uint64_t limit = 0; // 0: every user (page after page)
};
// The directory's users as a table: EMAIL, NAME, DEPARTMENT, PASSWORD (users-list).
int command_users_list(const UsersListArgs &args);

struct ImportArgs {
  std::string socket;
  std::string kind; // "users" or "badges"
  std::string file;
  bool strict = false;
  bool password_links = false; // users only
  bool no_wait = false;
  bool json = false;
};
// Uploads a users or badges CSV file (import-start; refused here over 1,048,576 bytes); prints
// "import <id>: <n> records", then, unless no_wait, follows it to its end (progress on a
// terminal's stderr) and prints the summary and the log rows that failed or carry a reason.
// Exit 0 once the import ran, even when some records failed; 1 when the file was refused whole.
int command_import(const ImportArgs &args);

struct ImportsShowArgs {
  std::string socket;
  std::string import;
  bool json = false;
};
// One import: its summary and every log row (import-show, page after page).
int command_imports_show(const ImportsShowArgs &args);

struct NotifyArgs {
  std::string socket;
};
// The desktop notifier (notify_command.cpp): shows a notification on the session bus for each
// of the caller's jobs the agent stores, until SIGINT/SIGTERM (exit 0). Exit 1 when there is no
// session bus, the agent refuses (account not bound, DisplayNotifications off) or the bus goes.
int command_notify(const NotifyArgs &args);

struct ConsoleInitArgs {
  std::string data;
};
// Creates an admin console's data folder (0700) and TLS identity; prints "fingerprint <hex>".
int command_console_init(const ConsoleInitArgs &args);

struct ConsoleEnrollArgs {
  std::string data;
  std::string directory;
  std::string directory_fingerprint;
  std::string token;
  std::string name; // empty: the host name
};
// Enrolls the console's key with the directory (kind console), creating the data folder and
// identity first when `console init` was not run; prints "enrolled <id>".
int command_console_enroll(const ConsoleEnrollArgs &args);

struct ReportArgs {
  // With a console data folder: per-user totals (report-totals) as the enrolled console.
  std::string data;
  std::string accounting;
  std::string accounting_fingerprint;
  // Without: a usage report through the local agent, for the caller's login (usage-report).
  std::string socket;
  std::string type = "summary";
  std::string level = "user";
  std::string entity; // "" at user level: yourself
  std::string from, to;
  uint64_t last = 30;
  std::string zone; // "" = this machine's zone
  uint64_t top = 10;
  std::string csv; // a file, or - for stdout
};
// With --data: asks the accounting server for per-user totals (report-totals, as the enrolled
// console) and prints them as a table: user, jobs, pages, bytes. Without: asks the local agent
// for a usage report as the caller's login may see it and prints its table (or CSV with --csv).
int command_report(const ReportArgs &args);
int command_console_totals(const ReportArgs &args);
// The IANA name of this machine's time zone: $TZ when it names one, else what /etc/localtime
// links to, else "UTC".
std::string local_zone_name();

} // namespace lpm::cli
