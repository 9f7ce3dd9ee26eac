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
  std::string format; // empty: guess_format(file)
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
  std::string data;
  std::string accounting;
  std::string accounting_fingerprint;
};
// Asks the accounting server for per-user totals (report-totals, as the enrolled console) and
// prints them as a table: user, jobs, pages, bytes.
int command_report(const ReportArgs &args);

} // namespace lpm::cli
