// The pieces of the directory commands (directory_commands.cpp: login, logout, whoami, users,
// badges, imports) that need no agent: the checks made before anything is sent, the person ops'
// arguments as the agent forwards them, and how answers are shown. The commands themselves are
// declared in commands.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/msg.h"
#include "lpm/protocol/ops_admin.h"

namespace lpm::cli {

// The directory refuses an import file over this many bytes (UA-10; AMB-10: 1 MB = 1,048,576
// bytes, inclusive); `lpm` refuses it before uploading anything.
using proto::kMaxImportFileBytes;

// too_large, naming the file and both sizes, when size_bytes is over kMaxImportFileBytes.
Status check_import_size(const std::string &file, uint64_t size_bytes);

// The password for `lpm login --password-stdin`: one line of `fd`, without its '\n'.
// Errors: bad_request when it is empty (or the input ended first), too_large over
// proto::kMaxPasswordField bytes, io_error.
Result<std::string> read_password_from(int fd);

// A person op's arguments as `lpm` sends them inside a forward request: the op's request
// without "session" (the agent adds the caller's).
proto::MapWriter page_args(const std::string &after, uint64_t limit);
proto::MapWriter import_show_args(const std::string &import, const std::string &after, uint64_t limit);
proto::MapWriter import_start_args(const std::string &kind, const std::string &file_name, uint64_t size_bytes,
                                   bool strict, bool password_links);

// "admin, users", or "none".
std::string roles_text(const std::vector<std::string> &roles);
// "logged in as E (NAME) on this workstation as ACCOUNT; roles: R" (no parentheses without a name).
std::string login_text(const proto::AgentLoginResult &login);
// The display name, else first and last name.
std::string user_name(const proto::UserEntry &user);
// "N records: A applied (W with warnings), F failed".
std::string import_summary_text(const proto::ImportShowResult &import);
// A table of the log rows (RECORD LINE KEY RESULT REASON): with only_notable, just the rows that
// failed or carry a reason; "" when no row qualifies.
std::string import_log_table(const std::vector<proto::ImportLogEntry> &log, bool only_notable);

// JSON lines (no trailing newline) for --json: every field of each.
std::string user_json(const proto::UserEntry &user);
std::string import_summary_json(const proto::ImportShowResult &import);
std::string import_log_json(const proto::ImportLogEntry &entry);

} // namespace lpm::cli
