// The Print Management commands (print_commands.cpp): `lpm print-groups create|update|delete|list`,
// `lpm print-users list|set|remove|sync|import`, `lpm print-policy show|set` and `lpm quota`. Each is a
// person op the local agent forwards to the directory with the caller's session (docs/protocol.md §5.1.1,
// "Print Management"); the directory checks the caller's roles. The CSV import goes through import-start with
// the kind print-users (docs/imports.md).
//
// Output: text for people by default, --json for scripts. Exit codes as every `lpm` command: 0;
// 1 after "lpm: <code>: <message>" on stderr (a batch command: when any item failed, after a line
// per item on stdout); 2 for usage errors.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "commands.h"
#include "lpm/error.h"
#include "lpm/protocol/ops_print.h"

namespace CLI {
class App;
}

namespace lpm::cli {

// The sample file of the Print Management import (PM-4: the import dialog offers it for
// download), as `lpm print-users import --sample` prints it; docs/samples/print-users-sample.csv
// and tests/fixtures/print-users-sample.csv hold the same bytes.
std::string_view print_users_sample();

// A group's quota: "500" or "none".
std::string group_quota_text(const std::optional<int64_t> &quota);
// A user's quota: their own ("500"), else their group's ("300 (group)"), else "none".
std::string user_quota_text(const proto::PrintUserEntry &user);
// Tables for people: NAME QUOTA COLOUR MEMBERS (and DELETED (UTC) with deleted groups shown);
// EMAIL NAME PRINT GROUP QUOTA USED COLOUR (USED: impressions charged this month).
std::string print_groups_table(const std::vector<proto::PrintGroupEntry> &groups, bool with_deleted);
std::string print_users_table(const std::vector<proto::PrintUserEntry> &users);
// JSON lines (no trailing newline): every field; quotas null when unset.
std::string print_group_json(const proto::PrintGroupEntry &group);
std::string print_user_json(const proto::PrintUserEntry &user);
// `lpm quota`: what the user may still print this month, their quota and its source, the
// colour rule; for a user Print Management does not manage, that nothing limits them.
std::string quota_text(const proto::QuotaShowResult &quota);
// "N Print Management users of M users in User Accounts" (AMB-18: both counts).
std::string pm_counts_text(uint64_t pm_users, uint64_t enterprise_users);
// What "Import from User Accounts" did or, for a dry run, would do: counts, then the e-mails
// added and removed, a line each ("added: a, b"), with "... and N more" past those listed.
std::string sync_text(const proto::PrintUsersSyncResult &result);
// PM-3: "Import from User Accounts" is confirmed twice. Shows the preview (a dry run's result)
// on tty_fd and asks twice; true only for two yeses. Errors as confirm_on (admin_commands.h).
Result<bool> confirm_sync_on(int tty_fd, const proto::PrintUsersSyncResult &preview);

class PrintCommands {
public:
  PrintCommands(CLI::App &app, const std::string &socket_help);
  // The exit code of the command parsed, or nullopt when none of these was.
  std::optional<int> run();

private:
  void add_policy(CLI::App &app, const std::string &socket_help);
  std::optional<int64_t> quota() const {
    return quota_value_ >= 0 ? std::optional<int64_t>(quota_value_) : std::nullopt;
  }
  std::string socket_;
  bool json_ = false;
  std::string name_;
  std::vector<std::string> names_;
  std::vector<std::string> emails_;
  int64_t quota_value_ = -1; // -1: no --quota
  bool no_quota_ = false;
  bool color_ = false;
  bool no_color_ = false;
  std::string rename_;
  std::vector<std::string> add_;
  std::vector<std::string> remove_;
  bool all_ = false;
  std::string group_;
  bool no_group_ = false;
  uint64_t limit_ = 0;
  bool yes_ = false;
  bool sample_ = false;
  ImportArgs import_;
  std::string zone_;
  std::string color_denied_;
  std::string for_;
  std::vector<std::pair<CLI::App *, std::function<int()>>> commands_;
};

} // namespace lpm::cli
