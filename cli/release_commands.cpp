// The commands around releasing (release_commands.h): delegates, the badge PIN, the badge policy
// and federated users, each a person op forwarded by the local agent.
#include "release_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "admin_commands.h"
#include "agent_link.h"
#include "command_loop.h"
#include "lpm/ids.h"
#include "password_prompt.h"
#include "table.h"

namespace lpm::cli {
namespace {

// A PIN line is read with room to spare, so an over-long one is refused by pin_check's words.
constexpr size_t kMaxPinLine = 64;

// A secret that is wiped when it goes.
struct Secret {
  std::string text;
  Secret() = default;
  Secret(const Secret &) = delete;
  Secret &operator=(const Secret &) = delete;
  ~Secret() { wipe(text); }
};

// The new PIN: one line of standard input, or asked twice on the terminal with echo off.
Status read_new_pin(bool from_stdin, Secret &pin) {
  if (from_stdin) {
    auto line = read_line(STDIN_FILENO, kMaxPinLine);
    if (!line.ok()) return make_error(line.error().code, "standard input: " + line.error().message);
    pin.text = std::move(*line);
    wipe(*line);
    return pin_check(pin.text);
  }
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0) return make_error(Errc::unavailable, "no terminal to ask for the PIN (use --pin-stdin)");
  auto first = prompt_line(tty, "New PIN (4 to 12 digits): ", kMaxPinLine, true);
  Status s = first.ok() ? pin_check(*first) : Status(first.error());
  Secret again;
  if (s.ok()) {
    auto second = prompt_line(tty, "The same PIN again: ", kMaxPinLine, true);
    if (second.ok()) {
      again.text = std::move(*second);
      wipe(*second);
    } else {
      s = second.error();
    }
  }
  ::close(tty);
  if (first.ok()) {
    pin.text = std::move(*first);
    wipe(*first);
  }
  if (s.ok() && pin.text != again.text)
    s = make_error(Errc::bad_request, "the two PINs differ; nothing was changed");
  return s;
}

nlohmann::json entry_json(const char *relation, const proto::DelegateEntry &e) {
  return {{"relation", relation},           {"user", e.user},   {"email", e.email},
          {"display_name", e.display_name}, {"actor", e.actor}, {"created_ms", e.created_ms}};
}

std::string entries_table(const std::vector<proto::DelegateEntry> &entries) {
  if (entries.empty()) return "  none\n";
  std::vector<std::vector<std::string>> rows;
  rows.reserve(entries.size());
  for (const auto &e : entries)
    rows.push_back({e.email, e.display_name.empty() ? "-" : e.display_name, utc_text(e.created_ms)});
  std::string table = format_table({{"EMAIL"}, {"NAME"}, {"SINCE (UTC)"}}, rows);
  // Indented under its heading.
  std::string out;
  size_t at = 0;
  while (at < table.size()) {
    size_t end = table.find('\n', at);
    if (end == std::string::npos) end = table.size() - 1;
    out += "  " + table.substr(at, end - at + 1);
    at = end + 1;
  }
  return out;
}

} // namespace

std::string delegates_text(const proto::DelegatesListResult &listed) {
  std::string email = printable(listed.email);
  return "may release the jobs of " + email + " (delegates):\n" + entries_table(listed.delegates) + email +
         " may release the jobs of (delegators):\n" + entries_table(listed.delegators);
}

Status pin_check(const std::string &pin) {
  bool digits = std::all_of(pin.begin(), pin.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && pin.size() >= proto::kMinPinDigits && pin.size() <= proto::kMaxPinDigits) return {};
  return make_error(Errc::bad_request, "a PIN has " + std::to_string(proto::kMinPinDigits) + " to " +
                                           std::to_string(proto::kMaxPinDigits) + " digits (0-9)");
}

ReleaseCommands::ReleaseCommands(CLI::App &app, CLI::App &users, CLI::App &badges,
                                 const std::string &socket_help) {
  auto common = [this, &socket_help](CLI::App *cmd, const char *json_help) {
    cmd->add_option("--socket", socket_, socket_help);
    if (json_help) cmd->add_flag("--json", json_, json_help);
  };
  auto add = [this](CLI::App *cmd, std::function<int()> command) {
    commands_.emplace_back(cmd, std::move(command));
  };
  const char *for_help = "Another user's complete e-mail (needs an administrator's role)";

  // ---- delegates (PM-7) ----
  auto *delegates = app.add_subcommand(
      "delegates", "Who may release your jobs at a printer, and whose jobs you may release (needs a login)");
  delegates->require_subcommand(1);
  for (bool adding : {true, false}) {
    auto *cmd = delegates->add_subcommand(
        adding ? "add" : "remove", adding
                                       ? "Let a user release your jobs (or --for another user's) at printers"
                                       : "Stop a user from releasing your jobs (or --for another user's)");
    cmd->add_option("EMAIL", email_, "The delegate's complete e-mail")->required();
    cmd->add_option("--for", for_email_, for_help);
    common(cmd, "One JSON object: delegator, delegate, changed");
    add(cmd, [this, adding] {
      auto r = run_person_op<proto::DelegateChangeResult>(
          socket_, adding ? proto::op::delegates_add : proto::op::delegates_remove,
          proto::DelegateChangeRequest{"", email_, for_email_});
      if (!r.ok()) return fail(r.error());
      if (json_) {
        print_json_line(
            json_text({{"delegator", r->delegator}, {"delegate", r->delegate}, {"changed", r->changed}}));
        return 0;
      }
      std::printf("%s %s the jobs of %s%s\n", printable(r->delegate).c_str(),
                  adding ? "may release" : "may no longer release", printable(r->delegator).c_str(),
                  r->changed ? ""
                  : adding   ? " (already could)"
                             : " (was no delegate)");
      return 0;
    });
  }
  auto *list = delegates->add_subcommand("list", "Your delegates, and the users who delegated to you");
  list->add_option("--for", for_email_, for_help);
  common(list, "One JSON object per delegation and line: relation (delegate or delegator), user, email, "
               "display_name, actor, created_ms");
  add(list, [this] {
    auto r = run_person_op<proto::DelegatesListResult>(socket_, proto::op::delegates_list,
                                                       proto::DelegatesListRequest{"", for_email_});
    if (!r.ok()) return fail(r.error());
    if (!json_) {
      std::fputs(delegates_text(*r).c_str(), stdout);
      return 0;
    }
    for (const auto &e : r->delegates)
      print_json_line(json_text(entry_json("delegate", e)));
    for (const auto &e : r->delegators)
      print_json_line(json_text(entry_json("delegator", e)));
    return 0;
  });

  // ---- the badge PIN ----
  auto *pin = app.add_subcommand(
      "pin",
      "Your PIN for printers, asked after the badge when the enterprise's policy says so (needs a login)");
  pin->require_subcommand(1);
  auto *pin_set = pin->add_subcommand("set", "Set your PIN (4 to 12 digits), asked twice on the terminal");
  pin_set->add_flag("--pin-stdin", pin_stdin_, "Read the PIN from the first line of standard input instead");
  common(pin_set, nullptr);
  add(pin_set, [this] {
    Secret chosen;
    if (Status read = read_new_pin(pin_stdin_, chosen); !read.ok()) return fail(read.error());
    proto::PinSetRequest request{"", chosen.text};
    auto r = run_person_op<proto::PinChangeResult>(socket_, proto::op::pin_set, request);
    wipe(request.pin);
    if (!r.ok()) return fail(r.error());
    std::printf("PIN set for %s\n", printable(r->email).c_str());
    return 0;
  });
  auto *pin_clear =
      pin->add_subcommand("clear", "Remove your PIN, or --for another user's (an administrator)");
  pin_clear->add_option("--for", for_email_, for_help);
  common(pin_clear, "One JSON object: email, changed");
  add(pin_clear, [this] {
    auto r = run_person_op<proto::PinChangeResult>(socket_, proto::op::pin_clear,
                                                   proto::PinClearRequest{"", for_email_});
    if (!r.ok()) return fail(r.error());
    if (json_)
      print_json_line(json_text({{"email", r->email}, {"changed", r->changed}}));
    else
      std::printf("%s %s\n", r->changed ? "PIN cleared for" : "no PIN was set for",
                  printable(r->email).c_str());
    return 0;
  });

  // ---- the badge policy ----
  auto *policy = badges.add_subcommand("policy", "What printers ask after the badge, and self-registration");
  policy->require_subcommand(1);
  auto print_policy = [this](const proto::BadgesPolicyResult &p) {
    if (json_) {
      print_json_line(
          json_text({{"pin", p.pin}, {"self_register", p.self_register}, {"offline_hours", p.offline_hours}}));
      return 0;
    }
    std::printf("pin: %s\nself-register: %s\n", printable(p.pin).c_str(), printable(p.self_register).c_str());
    if (p.offline_hours > 0)
      std::printf("release without the directory: on (printer certificates last %lld h)\n",
                  static_cast<long long>(p.offline_hours));
    else
      std::printf("release without the directory: off\n");
    return 0;
  };
  auto *show = policy->add_subcommand("show", "Show the badge policy");
  common(show, "One JSON object: pin, self_register, offline_hours");
  add(show, [this, print_policy] {
    auto r = run_person_op<proto::BadgesPolicyResult>(socket_, proto::op::badges_policy_show,
                                                      proto::SessionRequest{""});
    return r.ok() ? print_policy(*r) : fail(r.error());
  });
  auto *set = policy->add_subcommand("set", "Change the badge policy (Enterprise or User Administrator)");
  set->add_option("--pin", pin_policy_,
                  "required: printers ask for the user's PIN after the badge; off: they do not")
      ->check(CLI::IsMember({"off", "required"}));
  set->add_option("--self-register", self_register_,
                  "on: an unknown badge may be registered at the printer by signing in (BD-1); off: only "
                  "administrators register badges")
      ->check(CLI::IsMember({"on", "off"}));
  set->add_option("--offline-hours", offline_hours_,
                  "Release without the directory (issue 8): release stations get printer certificates "
                  "lasting this many hours (1-24) and a table of badges, and release on their own while the "
                  "directory is unreachable; 0 turns it off (the default). Not with --pin required")
      ->check(CLI::Range(0, 24));
  common(set, "One JSON object: pin, self_register, offline_hours");
  add(set, [this, print_policy] {
    if (pin_policy_.empty() && self_register_.empty() && offline_hours_ < 0) {
      std::fprintf(stderr, "lpm: give --pin, --self-register or --offline-hours\n");
      return 2;
    }
    auto r = run_person_op<proto::BadgesPolicyResult>(
        socket_, proto::op::badges_policy_set,
        proto::BadgesPolicySetRequest{"", pin_policy_, self_register_, offline_hours_});
    return r.ok() ? print_policy(*r) : fail(r.error());
  });

  // ---- federated users (BD-5) ----
  auto *federated = users.add_subcommand(
      "set-federated", "Mark a user federated: their badges come from the corporate directory and are never "
                       "registered at a printer (BD-5); --off undoes it");
  federated->add_option("EMAIL", email_, "The user's complete e-mail")->required();
  federated->add_flag("--off", off_, "The user is no longer federated");
  common(federated, "One JSON object: email, federated, changed");
  add(federated, [this] {
    auto r = run_person_op<proto::UsersSetFederatedResult>(
        socket_, proto::op::users_set_federated, proto::UsersSetFederatedRequest{"", email_, !off_});
    if (!r.ok()) return fail(r.error());
    if (json_) {
      print_json_line(json_text({{"email", r->email}, {"federated", r->federated}, {"changed", r->changed}}));
      return 0;
    }
    std::printf("%s is %sfederated%s\n", printable(r->email).c_str(), r->federated ? "" : "no longer ",
                r->changed ? "" : " (no change)");
    return 0;
  });
}

std::optional<int> ReleaseCommands::run() {
  for (auto &[cmd, command] : commands_)
    if (cmd->parsed()) return command();
  return std::nullopt;
}

} // namespace lpm::cli
