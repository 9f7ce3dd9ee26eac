// The commands around releasing (release_commands.cpp): `lpm delegates add|remove|list` (PM-7),
// `lpm pin set|clear` (the badge PIN), `lpm badges policy show|set` (PIN and self-registration at
// printers) and `lpm users set-federated` (BD-5). Each is a person op the local agent forwards to
// the directory with the caller's session (docs/protocol.md §5.1.2). Exit codes as every `lpm`
// command: 0; 1 after one line "lpm: <code>: <message>" on stderr; 2 for usage errors.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/ops_release.h"

namespace CLI {
class App;
}

namespace lpm::cli {

// `lpm delegates list` as text: the two lists, "none" when empty.
std::string delegates_text(const proto::DelegatesListResult &listed);
// A badge PIN as `lpm pin set` takes it: 4 to 12 digits. bad_request saying so otherwise.
Status pin_check(const std::string &pin);

class ReleaseCommands {
public:
  // Adds `delegates` and `pin` to app, `policy` to badges and `set-federated` to users.
  ReleaseCommands(CLI::App &app, CLI::App &users, CLI::App &badges, const std::string &socket_help);
  // The exit code of the command parsed, or nullopt when none of these was.
  std::optional<int> run();

private:
  std::string socket_;
  bool json_ = false;
  std::string email_;     // the delegate, or the user federated
  std::string for_email_; // --for: another user
  bool pin_stdin_ = false;
  bool off_ = false;
  std::string pin_policy_;
  std::string self_register_;
  int64_t offline_hours_ = -1;
  std::vector<std::pair<CLI::App *, std::function<int()>>> commands_;
};

} // namespace lpm::cli
