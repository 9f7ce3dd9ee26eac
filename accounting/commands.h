// The lpm-accounting commands, one function each (main.cpp only parses the command line).
// Each returns the process exit code: 0 on success, 1 after printing one error line on stderr.
#pragma once

#include <cstdint>
#include <string>

namespace lpm::accounting {

struct EnrollArgs {
  std::string data;
  std::string directory;             // HOST:PORT
  std::string directory_fingerprint; // pinned
  std::string token;
  std::string name; // shown to administrators; the host name when empty
};

struct ServeArgs {
  std::string data;
  std::string listen = "127.0.0.1:9720";
  std::string directory;
  std::string directory_fingerprint;
  // How often the people (print groups, departments, names) are read from the directory again.
  uint32_t people_refresh_s = 300;
};

// Creates the data folder (0700), the TLS identity and state.db; prints "fingerprint <hex>".
// Running it again keeps the existing identity.
int command_init(const std::string &data);
// Prints this server's key fingerprint alone on a line (what agents pin).
int command_fingerprint(const std::string &data);
// Enrolls this server's key with the directory as kind accounting; prints "enrolled <id>".
int command_enroll(const EnrollArgs &args);
// Runs the service until SIGINT or SIGTERM; prints "ready <port>" once the listener is bound.
int command_serve(const ServeArgs &args);
// Copies state.db to `file` (0600, never over an existing file) while the server may be serving;
// prints "backup written to FILE (N records)".
int command_backup(const std::string &data, const std::string &file);
// Replaces state.db with the backup in `file` once it is checked (an accounting database of this
// or an older schema); the server must be stopped. The replaced database is kept beside it.
int command_restore(const std::string &data, const std::string &file);
// `lpm-accounting compact`: rewrites state.db without its free pages (VACUUM), under the
// folder's lock (conflict while a server serves it); brings an older store to this schema first.
int command_compact(const std::string &data);
// Prints the per-user totals of every printed record in state.db: user, jobs, pages, bytes.
struct ReportArgs {
  std::string data;
  std::string type; // "" = the per-user totals table
  std::string level = "enterprise";
  std::string entity;
  std::string from, to;
  int last = 30;
  std::string zone = "UTC";
  size_t top = 10;
  std::string csv;
};
int command_report(const ReportArgs &args);

} // namespace lpm::accounting
