// The administrative commands (admin_commands.h): users, badges, roles, account groups, the
// password policy and the audit log, each a person op forwarded by the local agent.
#include "admin_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include <CLI/CLI.hpp>

#include "agent_link.h"
#include "directory_commands.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "password_prompt.h"
#include "table.h"

namespace lpm::cli {
namespace {

std::string joined(const std::vector<std::string> &items) {
  if (items.empty()) return "none";
  std::string out;
  for (const auto &i : items)
    out += (out.empty() ? "" : ", ") + printable(i);
  return out;
}

nlohmann::json badge_json(const proto::UserBadge &b) {
  return {{"badge", b.badge},
          {"temporary", b.temporary},
          {"created_ms", b.created_ms},
          {"expires_ms", b.expires_ms}};
}

nlohmann::json badges_json(const std::vector<proto::UserBadge> &badges) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto &b : badges)
    out.push_back(badge_json(b));
  return out;
}

// Which scope and subject a role command names; a usage error (exit 2) unless exactly one.
Result<proto::RoleChangeRequest> role_subject(const RoleSubjectArgs &to, bool required) {
  int named = (to.email.empty() ? 0 : 1) + (to.group.empty() ? 0 : 1) + (to.enterprise ? 1 : 0);
  if (named > 1 || (required && named == 0))
    return make_error(Errc::bad_request, "name exactly one of --email, --group or --enterprise");
  proto::RoleChangeRequest r;
  r.scope = !to.email.empty() ? "user" : !to.group.empty() ? "group" : to.enterprise ? "enterprise" : "";
  r.email = to.email;
  r.group = to.group;
  return r;
}

int usage_error(const Error &error) {
  std::fprintf(stderr, "lpm: %s\n", error.message.c_str());
  return 2;
}

// The audit log's rows as a table, JSON lines or a CSV file, written as pages arrive.
class AuditOutput {
public:
  explicit AuditOutput(const AuditArgs &args) : args_(args) {}
  ~AuditOutput() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(partial_.c_str());
    }
  }
  AuditOutput(const AuditOutput &) = delete;
  AuditOutput &operator=(const AuditOutput &) = delete;

  Status begin() {
    if (args_.csv.empty()) return {};
    // Written beside the target and renamed at the end: a failed export leaves no half file.
    partial_ = args_.csv + ".partial";
    fd_ = ::open(partial_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) return make_error(Errc::io_error, "cannot create " + partial_ + ": " + errno_text());
    return write(std::string(kUtf8Bom) + audit_csv_header());
  }
  Status add(const proto::AuditRow &entry) {
    count_++;
    if (fd_ >= 0) return write(audit_csv_record(entry));
    if (args_.json) {
      print_json_line(json_text({{"id", entry.id},
                                 {"at_ms", entry.at_ms},
                                 {"actor", entry.actor},
                                 {"action", entry.action},
                                 {"detail", entry.detail}}));
      return {};
    }
    if (rows_.size() == kMaxTableRows)
      return make_error(Errc::too_large, "more than " + std::to_string(kMaxTableRows) +
                                             " entries: use --json or --csv FILE for that many");
    rows_.push_back(
        {std::to_string(entry.id), utc_text(entry.at_ms), entry.actor, entry.action, entry.detail});
    return {};
  }
  Status finish() {
    if (fd_ >= 0) {
      if (::fsync(fd_) != 0)
        return make_error(Errc::io_error, "cannot write " + partial_ + ": " + errno_text());
      ::close(fd_);
      fd_ = -1;
      if (::rename(partial_.c_str(), args_.csv.c_str()) != 0) {
        Error e = make_error(Errc::io_error,
                             "cannot rename " + partial_ + " to " + args_.csv + ": " + errno_text());
        ::unlink(partial_.c_str());
        return e;
      }
      std::printf("wrote %zu entries to %s\n", count_, args_.csv.c_str());
      return {};
    }
    if (args_.json) return {};
    if (rows_.empty()) {
      std::printf("no entries\n");
      return {};
    }
    std::string table =
        format_table({{"ID", true}, {"TIME (UTC)"}, {"ACTOR"}, {"ACTION"}, {"DETAIL"}}, rows_);
    std::fwrite(table.data(), 1, table.size(), stdout);
    return {};
  }

private:
  Status write(const std::string &bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return make_error(Errc::io_error, "cannot write " + partial_ + ": " + errno_text());
      done += static_cast<size_t>(n);
    }
    return {};
  }

  const AuditArgs &args_;
  std::string partial_;
  int fd_ = -1;
  size_t count_ = 0;
  std::vector<std::vector<std::string>> rows_;
};

} // namespace

// ---- what the commands show ------------------------------------------------------------------

std::string utc_text(int64_t ms) {
  if (ms == 0) return "-";
  time_t seconds = static_cast<time_t>(ms / 1000);
  tm parts{};
  if (!gmtime_r(&seconds, &parts)) return std::to_string(ms);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &parts);
  return text;
}

std::string badge_text(const proto::UserBadge &badge, int64_t now_ms) {
  std::string text = printable(badge.badge);
  if (!badge.temporary) return text + " (permanent)";
  return text + " (temporary, " + (badge.expires_ms > now_ms ? "expires " : "expired ") +
         utc_text(badge.expires_ms) + ")";
}

std::string user_show_text(const proto::UsersShowResult &shown, int64_t now_ms) {
  const proto::UserEntry &u = shown.user;
  std::vector<std::string> badges;
  for (const auto &b : shown.badges)
    badges.push_back(badge_text(b, now_ms));
  std::string badges_line;
  for (const auto &b : badges)
    badges_line += (badges_line.empty() ? "" : "; ") + b;
  const std::pair<const char *, std::string> lines[] = {
      {"e-mail", printable(u.email)},
      {"user", printable(u.id)},
      {"first name", printable(u.first_name)},
      {"last name", printable(u.last_name)},
      {"display name", printable(u.display_name)},
      {"short name", printable(u.short_name)},
      {"department", printable(u.department)},
      {"cost center", printable(u.cost_center)},
      {"attributes", printable(u.custom_attributes)},
      {"password", u.has_password ? "set" : "none (a password-change link is due)"},
      {"federated", shown.federated ? "yes (badges and password from the corporate directory)" : "no"},
      {"badge PIN", shown.pin_set ? "set" : "none"},
      {"created", utc_text(u.created_ms)},
      {"groups", joined(shown.groups)},
      {"badges", badges_line.empty() ? "none" : badges_line},
      {"user roles", joined(shown.roles)},
      {"effective roles", joined(shown.effective_roles)},
  };
  std::string text;
  for (const auto &[label, value] : lines) {
    std::string head = std::string(label) + ":";
    text += head + std::string(head.size() < 17 ? 17 - head.size() : 1, ' ') + value + "\n";
  }
  return text;
}

std::string user_show_json(const proto::UsersShowResult &shown) {
  nlohmann::json o = nlohmann::json::parse(user_json(shown.user), nullptr, false);
  if (o.is_discarded()) o = nlohmann::json::object();
  o["groups"] = shown.groups;
  o["badges"] = badges_json(shown.badges);
  o["roles"] = shown.roles;
  o["effective_roles"] = shown.effective_roles;
  o["federated"] = shown.federated;
  o["pin_set"] = shown.pin_set;
  return json_text(o);
}

std::string batch_line(const proto::ItemOutcome &item) {
  std::string line = printable(item.result) + " " + printable(item.key);
  if (item.reason.empty()) return line;
  return line + (item.result == "failed" || item.result == "unchanged" ? ": " : " (") +
         printable(item.reason) + (item.result == "failed" || item.result == "unchanged" ? "" : ")");
}

int report_batch(const proto::BatchResult &result, bool json, const char *items_name) {
  size_t failed = 0;
  for (const auto &item : result.items) {
    if (item.result == "failed") failed++;
    if (json)
      print_json_line(json_text({{"key", item.key}, {"result", item.result}, {"reason", item.reason}}));
    else
      std::printf("%s\n", batch_line(item).c_str());
  }
  if (failed == 0) return 0;
  std::fprintf(stderr, "lpm: %zu of %zu %s failed\n", failed, result.items.size(), items_name);
  return 1;
}

std::string audit_csv_header() {
  return csv_record({"ID", "TIME_UTC", "ACTOR", "ACTION", "DETAIL"});
}

std::string audit_csv_record(const proto::AuditRow &entry) {
  // The cell is plain "YYYY-MM-DD HH:MM:SS", which spreadsheets read as a date; empty when unknown.
  std::string time = entry.at_ms == 0 ? "" : utc_text(entry.at_ms);
  if (time.size() > 4 && time.compare(time.size() - 4, 4, " UTC") == 0) time.resize(time.size() - 4);
  return csv_record({std::to_string(entry.id), time, entry.actor, entry.action, entry.detail});
}

Result<bool> confirm_on(int tty_fd, const std::string &prompt) {
  auto line = prompt_line(tty_fd, prompt, 16, false);
  if (!line.ok()) return line.error();
  std::string answer;
  for (char c : *line)
    if (!std::isspace(static_cast<unsigned char>(c)))
      answer += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return answer == "y" || answer == "yes";
}

namespace {

// A new password: one line of standard input, or asked twice on the terminal with echo off.
// Only the directory checks it against the password policy.
Status read_new_password(bool from_stdin, std::string &password) {
  if (from_stdin) {
    auto line = read_password_from(STDIN_FILENO);
    if (!line.ok()) return line.error();
    password = std::move(*line);
    wipe(*line);
    return {};
  }
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0) return make_error(Errc::unavailable, "no terminal to ask for the password (use --password-stdin)");
  auto first = prompt_line(tty, "New password: ", proto::kMaxPasswordField, true);
  Status s = first.ok() ? Status() : Status(first.error());
  if (s.ok() && first->empty()) s = make_error(Errc::bad_request, "the password is empty; nothing was changed");
  Result<std::string> second = make_error(Errc::internal, "not asked");
  if (s.ok()) {
    second = prompt_line(tty, "The same password again: ", proto::kMaxPasswordField, true);
    if (!second.ok()) s = second.error();
  }
  ::close(tty);
  if (s.ok() && *first != *second) s = make_error(Errc::bad_request, "the two passwords differ; nothing was changed");
  if (s.ok()) password = *first;
  if (first.ok()) wipe(*first);
  if (second.ok()) wipe(*second);
  return s;
}

} // namespace

// ---- commands --------------------------------------------------------------------------------

int command_users_show(const UsersShowArgs &args) {
  auto shown = run_person_op<proto::UsersShowResult>(args.socket, proto::op::users_show,
                                                     proto::UsersShowRequest{"", args.email});
  if (!shown.ok()) return fail(shown.error());
  if (args.json)
    print_json_line(user_show_json(*shown));
  else
    std::fputs(user_show_text(*shown, wall_ms()).c_str(), stdout);
  return 0;
}

int command_users_add(const UsersAddArgs &args) {
  proto::UsersAddRequest request = args.user;
  if (args.password_stdin) {
    auto password = read_password_from(STDIN_FILENO);
    if (!password.ok()) return fail(password.error());
    request.password = std::move(*password);
  }
  auto added = run_person_op<proto::UsersAddResult>(args.socket, proto::op::users_add, request);
  wipe(request.password);
  if (!added.ok()) return fail(added.error());
  if (args.json) {
    print_json_line(user_json(added->user));
    return 0;
  }
  std::string email = printable(added->user.email);
  std::string password_note;
  if (added->password_link == "mailing")
    password_note = "; no password yet: a password link is being e-mailed to " + email;
  else if (added->password_link == "unsent")
    password_note = "; no password yet, and the directory has no mail command: give them a password link with "
                    "`lpm users password-link --email " + email + "`";
  else if (!added->user.has_password)
    password_note = "; no password yet: a password-change link is due";
  std::printf("created user %s (%s)%s\n", email.c_str(), printable(added->user.id).c_str(), password_note.c_str());
  return 0;
}

int command_users_password_link(const UsersPasswordLinkArgs &args) {
  proto::UsersPasswordLinkRequest request;
  request.email = args.email;
  auto issued =
      run_person_op<proto::UsersPasswordLinkResult>(args.socket, proto::op::users_password_link, request);
  if (!issued.ok()) return fail(issued.error());
  std::string email = printable(issued->email);
  bool handed = !issued->link.empty();
  int code = handed || issued->mailed ? 0 : 1;
  if (args.json) {
    nlohmann::json o = {{"email", issued->email},
                        {"expires_ms", issued->expires_ms},
                        {"mailed", issued->mailed},
                        {"mail_error", issued->mail_error}};
    if (handed) o["link"] = issued->link;
    print_json_line(json_text(o));
  } else if (issued->mailed) {
    std::printf("password link e-mailed to %s; it works once, until %s\n", email.c_str(),
                utc_text(issued->expires_ms).c_str());
  } else if (handed) {
    std::printf("The directory has no mail command, so nothing was e-mailed: hand this link to %s yourself, by a "
                "private channel (it sets their password). On their workstation they run:\n\n"
                "    lpm password set --link %s\n\n"
                "It works once, until %s; a newer link replaces it.\n",
                email.c_str(), printable(issued->link).c_str(), utc_text(issued->expires_ms).c_str());
  }
  if (code != 0)
    std::fprintf(stderr, "lpm: the password link for %s could not be e-mailed: %s (run the command again for a new "
                         "one)\n",
                 email.c_str(), printable(issued->mail_error).c_str());
  wipe(issued->link);
  return code;
}

int command_password_set(const PasswordSetArgs &args) {
  proto::PasswordLinkUseRequest request;
  request.link = args.link;
  if (Status read = read_new_password(args.password_stdin, request.password); !read.ok()) {
    wipe(request.link);
    return fail(read.error());
  }
  AgentLink link;
  Result<proto::PasswordLinkUseResult> used = make_error(Errc::internal, "not sent");
  if (Status opened = link.open(args.socket); !opened.ok()) {
    used = opened.error();
  } else {
    // Not person_args: this request has no session to leave out, and it holds two secrets.
    proto::MapWriter w;
    request.write(w);
    used = forward<proto::PasswordLinkUseResult>(link.agent(), proto::op::password_link_use, w);
    if (Status closed = link.close(); used.ok() && !closed.ok()) used = closed.error();
  }
  wipe(request.password);
  wipe(request.link);
  if (!used.ok()) return fail(used.error());
  std::printf("password set for %s: log in with `lpm login`\n", printable(used->email).c_str());
  return 0;
}

int command_users_delete(const UsersDeleteArgs &args) {
  if (args.emails.size() > proto::kMaxBatch)
    return fail(
        make_error(Errc::too_large, "at most " + std::to_string(proto::kMaxBatch) + " users at a time"));
  if (!args.yes) {
    const std::string what =
        std::to_string(args.emails.size()) + (args.emails.size() == 1 ? " user" : " users");
    // UA-6: deleting asks first; a script says --yes, since nobody is there to answer.
    if (::isatty(STDIN_FILENO) == 0)
      return fail(make_error(Errc::bad_request, "deleting " + what +
                                                    " needs a confirmation and standard input is not a "
                                                    "terminal: add --yes"));
    int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (tty < 0) return fail(make_error(Errc::unavailable, "no terminal to confirm on: add --yes"));
    auto confirmed = confirm_on(tty, "Delete " + what + "? [y/N] ");
    ::close(tty);
    if (!confirmed.ok()) return fail(confirmed.error());
    if (!*confirmed) {
      std::fprintf(stderr, "lpm: nothing deleted (not confirmed)\n");
      return 1;
    }
  }
  auto result = run_person_op<proto::BatchResult>(args.socket, proto::op::users_delete,
                                                  proto::UsersDeleteRequest{"", args.emails});
  if (!result.ok()) return fail(result.error());
  return report_batch(*result, args.json, "users");
}

int command_badges_add(const BadgesAddArgs &args) {
  auto added = run_person_op<proto::BadgesAddResult>(
      args.socket, proto::op::badges_add,
      proto::BadgesAddRequest{"", args.badge, args.email, args.temporary});
  if (!added.ok()) return fail(added.error());
  if (args.json) {
    print_json_line(json_text({{"badge", added->badge},
                               {"email", added->email},
                               {"temporary", added->temporary},
                               {"expires_ms", added->expires_ms},
                               {"replaced", added->replaced}}));
    return 0;
  }
  std::string kind = added->temporary ? "temporary, expires " + utc_text(added->expires_ms) : "permanent";
  std::printf("badge %s registered for %s (%s)", printable(added->badge).c_str(),
              printable(added->email).c_str(), kind.c_str());
  if (!added->replaced.empty())
    std::printf("; it replaces the %s badge %s", added->temporary ? "temporary" : "permanent",
                printable(added->replaced).c_str());
  std::printf("\n");
  return 0;
}

int command_badges_delete(const BadgesDeleteArgs &args) {
  auto result = run_person_op<proto::BatchResult>(args.socket, proto::op::badges_delete,
                                                  proto::BadgesDeleteRequest{"", args.badges});
  if (!result.ok()) return fail(result.error());
  return report_batch(*result, args.json, "badges");
}

int command_badges_find(const BadgesFindArgs &args) {
  auto found = run_person_op<proto::BadgesFindResult>(args.socket, proto::op::badges_find,
                                                      proto::BadgesFindRequest{"", args.query});
  if (!found.ok()) return fail(found.error());
  if (args.json) {
    print_json_line(
        json_text({{"user", found->user}, {"email", found->email}, {"badges", badges_json(found->badges)}}));
    return 0;
  }
  std::printf("user %s (%s)\n", printable(found->email).c_str(), printable(found->user).c_str());
  if (found->badges.empty()) {
    std::printf("no badges\n");
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  int64_t now = wall_ms();
  for (const auto &b : found->badges)
    rows.push_back({b.badge, b.temporary ? "temporary" : "permanent",
                    !b.temporary ? "-" : (b.expires_ms > now ? "" : "expired ") + utc_text(b.expires_ms)});
  std::string table = format_table({{"BADGE"}, {"KIND"}, {"EXPIRES"}}, rows);
  std::fwrite(table.data(), 1, table.size(), stdout);
  return 0;
}

int command_roles_change(const RolesChangeArgs &args) {
  auto request = role_subject(args.to, true);
  if (!request.ok()) return usage_error(request.error());
  request->role = args.role;
  auto changed = run_person_op<proto::RoleChangeResult>(
      args.socket, args.grant ? proto::op::roles_grant : proto::op::roles_revoke, *request);
  if (!changed.ok()) return fail(changed.error());
  if (args.json) {
    print_json_line(json_text({{"role", changed->role},
                               {"scope", changed->scope},
                               {"subject", changed->subject},
                               {"changed", changed->changed}}));
    return 0;
  }
  std::printf("%s %s at %s scope%s%s%s\n", args.grant ? "granted" : "revoked",
              printable(changed->role).c_str(), printable(changed->scope).c_str(),
              changed->subject.empty() ? ""
              : args.grant             ? " to "
                                       : " from ",
              printable(changed->subject).c_str(),
              changed->changed ? ""
              : args.grant     ? " (it was already granted)"
                               : " (it was not granted)");
  return 0;
}

int command_roles_list(const RolesListArgs &args) {
  auto subject = role_subject(args.of, false);
  if (!subject.ok()) return usage_error(subject.error());
  proto::RolesListRequest request{"", subject->scope, subject->email, subject->group};
  auto listed = run_person_op<proto::RolesListResult>(args.socket, proto::op::roles_list, request);
  if (!listed.ok()) return fail(listed.error());
  std::vector<std::vector<std::string>> rows;
  for (const auto &g : listed->grants) {
    if (args.json) {
      print_json_line(json_text({{"scope", g.scope},
                                 {"subject", g.subject},
                                 {"role", g.role},
                                 {"alias", g.alias},
                                 {"granted_ms", g.granted_ms}}));
      continue;
    }
    rows.push_back({g.scope, g.subject.empty() ? "-" : g.subject, g.role + " (" + g.alias + ")"});
  }
  if (args.json) return 0;
  if (rows.empty()) {
    std::printf("no role grants\n");
    return 0;
  }
  std::string table = format_table({{"SCOPE"}, {"TO"}, {"ROLE"}}, rows);
  std::fwrite(table.data(), 1, table.size(), stdout);
  return 0;
}

int command_roles_describe(const RolesDescribeArgs &args) {
  auto described = run_person_op<proto::RolesDescribeResult>(args.socket, proto::op::roles_describe,
                                                             proto::SessionRequest{""});
  if (!described.ok()) return fail(described.error());
  auto same = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  size_t shown = 0;
  for (const auto &role : described->roles) {
    if (!args.role.empty() && !same(args.role, role.name) && !same(args.role, role.alias)) continue;
    shown++;
    if (args.json) {
      print_json_line(json_text({{"name", role.name},
                                 {"alias", role.alias},
                                 {"description", role.description},
                                 {"platform", role.platform}}));
      continue;
    }
    std::printf("%s%s (%s)%s\n  %s\n", shown > 1 ? "\n" : "", printable(role.name).c_str(),
                printable(role.alias).c_str(), role.platform ? ", granted by the platform" : "",
                printable(role.description).c_str());
  }
  if (shown == 0) return fail(make_error(Errc::not_found, "no role is named \"" + args.role + "\""));
  return 0;
}

int command_groups_create(const GroupsCreateArgs &args) {
  auto created = run_person_op<proto::GroupsCreateResult>(args.socket, proto::op::groups_create,
                                                          proto::GroupsCreateRequest{"", args.name});
  if (!created.ok()) return fail(created.error());
  if (args.json) {
    print_json_line(
        json_text({{"id", created->id}, {"name", created->name}, {"renamed_from", created->renamed_from}}));
    return 0;
  }
  std::printf("created account group \"%s\"", printable(created->name).c_str());
  if (!created->renamed_from.empty())
    std::printf(" (renamed from \"%s\": a group name holds none of ! @ # $ %% ^ & * ; + ? / \\ [ ], AMB-8)",
                printable(created->renamed_from).c_str());
  std::printf("\n");
  return 0;
}

int command_groups_delete(const GroupsDeleteArgs &args) {
  auto result = run_person_op<proto::BatchResult>(args.socket, proto::op::groups_delete,
                                                  proto::GroupsDeleteRequest{"", args.names});
  if (!result.ok()) return fail(result.error());
  return report_batch(*result, args.json, "groups");
}

int command_groups_members(const GroupsMembersArgs &args) {
  auto result = run_person_op<proto::BatchResult>(
      args.socket, args.add ? proto::op::groups_add_members : proto::op::groups_remove_members,
      proto::GroupMembersRequest{"", args.name, args.emails});
  if (!result.ok()) return fail(result.error());
  return report_batch(*result, args.json, "users");
}

int command_groups_list(const GroupsListArgs &args) {
  AgentLink link;
  if (Status opened = link.open(args.socket); !opened.ok()) return fail(opened.error());
  std::vector<std::vector<std::string>> rows;
  std::string after;
  for (;;) {
    auto page = forward<proto::GroupsListResult>(
        link.agent(), proto::op::groups_list, person_args(proto::GroupsListRequest{"", after, proto::kMaxPage}));
    if (!page.ok()) return fail(page.error());
    for (const auto &g : page->groups) {
      if (args.json) {
        print_json_line(json_text(
            {{"id", g.id}, {"name", g.name}, {"members", g.members}, {"created_ms", g.created_ms}}));
        continue;
      }
      if (rows.size() == kMaxTableRows)
        return fail(make_error(Errc::too_large, "more than " + std::to_string(kMaxTableRows) +
                                                    " groups: --json lists every one"));
      rows.push_back({g.name, std::to_string(g.members)});
    }
    // A cursor that does not move would page forever.
    if (page->next.empty() || page->next == after) break;
    after = page->next;
  }
  if (Status closed = link.close(); !closed.ok()) return fail(closed.error());
  if (args.json) return 0;
  if (rows.empty()) {
    std::printf("no account groups\n");
    return 0;
  }
  std::string table = format_table({{"NAME"}, {"MEMBERS", true}}, rows);
  std::fwrite(table.data(), 1, table.size(), stdout);
  return 0;
}

int command_password_policy(const PasswordPolicyArgs &args) {
  auto policy =
      args.set
          ? run_person_op<proto::PasswordPolicyResult>(args.socket, proto::op::password_policy_set, *args.set)
          : run_person_op<proto::PasswordPolicyResult>(args.socket, proto::op::password_policy_show,
                                                       proto::SessionRequest{""});
  if (!policy.ok()) return fail(policy.error());
  if (args.json) {
    print_json_line(json_text({{"min_length", policy->min_length},
                               {"complexity", policy->complexity},
                               {"history", policy->history}}));
    return 0;
  }
  std::printf("min-length %u\ncomplexity %u\nhistory %u\n", policy->min_length, policy->complexity,
              policy->history);
  return 0;
}

int command_audit(const AuditArgs &args) {
  const bool from_start = args.all || args.after.has_value();
  if (!from_start && args.limit > proto::kMaxPage)
    return usage_error(
        make_error(Errc::bad_request, "the newest entries come in one answer: --limit is at most " +
                                          std::to_string(proto::kMaxPage) + " without --after or --all"));
  AuditOutput out(args);
  if (Status s = out.begin(); !s.ok()) return fail(s.error());
  AgentLink link;
  if (Status opened = link.open(args.socket); !opened.ok()) return fail(opened.error());
  uint64_t wanted = args.limit != 0 ? args.limit : from_start ? 0 : kAuditDefaultLimit;
  int64_t after = from_start ? (args.after ? *args.after : 0) : -1;
  uint64_t listed = 0;
  for (;;) {
    uint64_t page_size = proto::kMaxPage;
    if (wanted != 0) page_size = std::min<uint64_t>(page_size, wanted - listed);
    auto page = forward<proto::AuditListResult>(link.agent(), proto::op::audit_list,
                                                person_args(proto::AuditListRequest{"", after, page_size}));
    if (!page.ok()) return fail(page.error());
    for (const auto &entry : page->entries) {
      if (wanted != 0 && listed == wanted) break;
      listed++;
      if (Status s = out.add(entry); !s.ok()) return fail(s.error());
    }
    if (!from_start || (wanted != 0 && listed == wanted)) break;
    // A cursor that does not move would page forever.
    if (page->next <= after) break;
    after = page->next;
  }
  if (Status closed = link.close(); !closed.ok()) return fail(closed.error());
  if (Status s = out.finish(); !s.ok()) return fail(s.error());
  return 0;
}

// ---- the command line ------------------------------------------------------------------------

AdminCommands::AdminCommands(CLI::App &app, CLI::App &users, CLI::App &badges,
                             const std::string &socket_help) {
  auto common = [&socket_help](CLI::App *cmd, std::string &socket, bool &json, const char *json_help) {
    cmd->add_option("--socket", socket, socket_help);
    cmd->add_flag("--json", json, json_help);
  };
  auto add = [this](CLI::App *cmd, int (*command)(AdminCommands &)) { commands_.emplace_back(cmd, command); };
  const char *batch_json = "One JSON object per item and line: key, result, reason";

  // users show|add|delete
  auto *show = users.add_subcommand("show", "Show one user: profile, account groups, badges and roles");
  show->add_option("EMAIL", users_show_.email, "The user's complete e-mail address")->required();
  common(show, users_show_.socket, users_show_.json, "One JSON object with every field");
  add(show, [](AdminCommands &c) { return command_users_show(c.users_show_); });

  auto *create = users.add_subcommand("add", "Create a user (UA-4), with a password or without one");
  proto::UsersAddRequest &u = users_add_.user;
  create->add_option("--email", u.email, "E-mail address (lower-cased)")->required();
  create->add_option("--first-name", u.first_name, "First name");
  create->add_option("--last-name", u.last_name, "Last name");
  create->add_option("--display-name", u.display_name, "Display name (shown in prompts and reports)");
  create->add_option("--short-name", u.short_name, "Short name that also identifies the user");
  create->add_option("--department", u.department, "Department");
  create->add_option("--cost-center", u.cost_center, "Cost center");
  create->add_flag("--password-stdin", users_add_.password_stdin,
                   "Read the password from the first line of standard input (checked against the password "
                   "policy); without it the user gets no password and a password-change link is due");
  common(create, users_add_.socket, users_add_.json, "One JSON object: the user");
  add(create, [](AdminCommands &c) { return command_users_add(c.users_add_); });

  auto *remove = users.add_subcommand(
      "delete", "Delete users with their badges, memberships and roles (UA-6), after confirmation");
  remove->add_option("EMAIL", users_delete_.emails, "Complete e-mail addresses (at most 500)")->required();
  remove->add_flag("--yes", users_delete_.yes,
                   "Do not ask \"Delete N users? [y/N]\" (needed when standard input is not a terminal)");
  common(remove, users_delete_.socket, users_delete_.json, batch_json);
  add(remove, [](AdminCommands &c) { return command_users_delete(c.users_delete_); });

  auto *link = users.add_subcommand(
      "password-link", "E-mail a user a new password link to set their password with (UA-4); older links stop "
                       "working");
  link->add_option("--email", users_password_link_.email, "The user's complete e-mail address")->required();
  common(link, users_password_link_.socket, users_password_link_.json,
         "One JSON object: email, expires_ms, mailed, mail_error, and link when the directory has no mail command");
  add(link, [](AdminCommands &c) { return command_users_password_link(c.users_password_link_); });

  // password set: for someone who has no password yet, so no login either.
  auto *password = app.add_subcommand("password", "Set your password with the password link you were e-mailed");
  password->require_subcommand(1);
  auto *password_set = password->add_subcommand(
      "set", "Set your password with a password link (asked twice on the terminal); then `lpm login`");
  password_set->add_option("--link", password_set_.link, "The password link from the e-mail")->required();
  password_set->add_flag("--password-stdin", password_set_.password_stdin,
                         "Read the new password from the first line of standard input instead of asking twice");
  password_set->add_option("--socket", password_set_.socket, socket_help);
  add(password_set, [](AdminCommands &c) { return command_password_set(c.password_set_); });

  // badges add|delete|find
  auto *badge_add = badges.add_subcommand(
      "add", "Register a badge for a user (BD-2, BD-3); it replaces their badge of the same kind");
  badge_add->add_option("BADGE", badges_add_.badge, "Badge id, as the card reader delivers it")->required();
  badge_add->add_option("--email", badges_add_.email, "The user's e-mail address")->required();
  badge_add->add_flag("--temporary", badges_add_.temporary, "A temporary badge: it expires after 24 hours");
  common(badge_add, badges_add_.socket, badges_add_.json,
         "One JSON object: badge, email, temporary, replaced");
  add(badge_add, [](AdminCommands &c) { return command_badges_add(c.badges_add_); });

  auto *badge_delete = badges.add_subcommand("delete", "Delete badges (BD-6)");
  badge_delete->add_option("BADGE", badges_delete_.badges, "Complete badge ids (at most 500)")->required();
  common(badge_delete, badges_delete_.socket, badges_delete_.json, batch_json);
  add(badge_delete, [](AdminCommands &c) { return command_badges_delete(c.badges_delete_); });

  auto *badge_find = badges.add_subcommand(
      "find", "Find the badges of a user by complete e-mail, or a badge by complete id (BD-6, TS-4)");
  badge_find->add_option("QUERY", badges_find_.query, "A complete e-mail address or a complete badge id")
      ->required();
  common(badge_find, badges_find_.socket, badges_find_.json, "One JSON object: user, email, badges");
  add(badge_find, [](AdminCommands &c) { return command_badges_find(c.badges_find_); });

  // roles grant|revoke|list|describe
  auto *roles = app.add_subcommand("roles", "Grant, revoke, list and describe roles (needs a login)");
  roles->require_subcommand(1);
  auto subject = [](CLI::App *cmd, RoleSubjectArgs &to) {
    cmd->add_option("--email", to.email, "A user, by e-mail address (user scope)");
    cmd->add_option("--group", to.group, "An account group, whose members inherit its roles (group scope)");
    cmd->add_flag("--enterprise", to.enterprise, "The enterprise, whose users all inherit its roles");
  };
  roles_grant_.grant = true;
  auto *grant = roles->add_subcommand(
      "grant",
      "Grant a role to a user, an account group or the enterprise (RL-1, RL-3; platform roles: RL-15)");
  grant->add_option("ROLE", roles_grant_.role, "Role name or alias (`lpm roles describe` lists them)")
      ->required();
  subject(grant, roles_grant_.to);
  common(grant, roles_grant_.socket, roles_grant_.json, "One JSON object: role, scope, subject, changed");
  add(grant, [](AdminCommands &c) { return command_roles_change(c.roles_grant_); });

  roles_revoke_.grant = false;
  auto *revoke =
      roles->add_subcommand("revoke", "Revoke a role from a user, an account group or the enterprise");
  revoke->add_option("ROLE", roles_revoke_.role, "Role name or alias")->required();
  subject(revoke, roles_revoke_.to);
  common(revoke, roles_revoke_.socket, roles_revoke_.json, "One JSON object: role, scope, subject, changed");
  add(revoke, [](AdminCommands &c) { return command_roles_change(c.roles_revoke_); });

  auto *list =
      roles->add_subcommand("list", "List role grants: all, or those of one user, group or the enterprise");
  subject(list, roles_list_.of);
  common(list, roles_list_.socket, roles_list_.json, "One JSON object per grant and line");
  add(list, [](AdminCommands &c) { return command_roles_list(c.roles_list_); });

  auto *describe = roles->add_subcommand("describe", "Show what each role is for (RL-2)");
  describe->add_option("ROLE", roles_describe_.role, "One role's name or alias (default: every role)");
  common(describe, roles_describe_.socket, roles_describe_.json, "One JSON object per role and line");
  add(describe, [](AdminCommands &c) { return command_roles_describe(c.roles_describe_); });

  // groups create|delete|add|remove|list
  auto *groups = app.add_subcommand("groups", "Manage account groups and their members (needs a login)");
  groups->require_subcommand(1);
  auto *group_create = groups->add_subcommand(
      "create", "Create an account group with a unique name (GR-2; ! @ # $ % ^ & * ; + ? / \\ [ ] become _)");
  group_create->add_option("NAME", groups_create_.name, "Group name (at most 80 characters)")->required();
  common(group_create, groups_create_.socket, groups_create_.json, "One JSON object: id, name, renamed_from");
  add(group_create, [](AdminCommands &c) { return command_groups_create(c.groups_create_); });

  auto *group_delete = groups->add_subcommand(
      "delete", "Delete account groups: memberships and group roles go, users stay (GR-3)");
  group_delete->add_option("NAME", groups_delete_.names, "Group names (at most 500)")->required();
  common(group_delete, groups_delete_.socket, groups_delete_.json, batch_json);
  add(group_delete, [](AdminCommands &c) { return command_groups_delete(c.groups_delete_); });

  groups_add_.add = true;
  auto *group_add = groups->add_subcommand("add", "Add users to an account group (GR-4)");
  group_add->add_option("NAME", groups_add_.name, "Group name")->required();
  group_add->add_option("EMAIL", groups_add_.emails, "E-mail addresses (at most 500)")->required();
  common(group_add, groups_add_.socket, groups_add_.json, batch_json);
  add(group_add, [](AdminCommands &c) { return command_groups_members(c.groups_add_); });

  groups_remove_.add = false;
  auto *group_remove = groups->add_subcommand("remove", "Remove users from an account group (GR-4)");
  group_remove->add_option("NAME", groups_remove_.name, "Group name")->required();
  group_remove->add_option("EMAIL", groups_remove_.emails, "E-mail addresses (at most 500)")->required();
  common(group_remove, groups_remove_.socket, groups_remove_.json, batch_json);
  add(group_remove, [](AdminCommands &c) { return command_groups_members(c.groups_remove_); });

  auto *group_list = groups->add_subcommand("list", "List the account groups with their member counts");
  common(group_list, groups_list_.socket, groups_list_.json, "One JSON object per group and line");
  add(group_list, [](AdminCommands &c) { return command_groups_list(c.groups_list_); });

  // password-policy show|set
  auto *policy =
      app.add_subcommand("password-policy", "Show or set the password requirements (UA-3; needs a login)");
  policy->require_subcommand(1);
  auto *policy_show = policy->add_subcommand("show", "Show the minimum length, complexity and history");
  common(policy_show, policy_show_.socket, policy_show_.json,
         "One JSON object: min_length, complexity, history");
  add(policy_show, [](AdminCommands &c) { return command_password_policy(c.policy_show_); });
  auto *policy_set = policy->add_subcommand("set", "Replace the policy: all three values in one update");
  policy_set->add_option("--min-length", policy_values_.min_length, "Minimum length in characters (1-128)")
      ->required();
  policy_set
      ->add_option("--complexity", policy_values_.complexity,
                   "How many of lower case, upper case, digits and other characters a password uses (0-4)")
      ->required();
  policy_set
      ->add_option("--history", policy_values_.history,
                   "How many previous passwords may not be reused (0-24)")
      ->required();
  common(policy_set, policy_set_.socket, policy_set_.json,
         "One JSON object: min_length, complexity, history");
  add(policy_set, [](AdminCommands &c) {
    c.policy_set_.set = c.policy_values_;
    return command_password_policy(c.policy_set_);
  });

  // audit
  auto *audit = app.add_subcommand("audit", "Read the directory's audit log (needs a login)");
  audit
      ->add_option("--limit", audit_.limit,
                   "At most N entries (default: the newest 20; at most 500 without --after or --all)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
  audit->add_option("--after", audit_after_, "The entries after this id, oldest first")
      ->check(CLI::NonNegativeNumber);
  audit->add_flag("--all", audit_.all, "Every entry, oldest first");
  audit->add_option("--csv", audit_.csv,
                    "Write the entries to this CSV file (UTF-8 with BOM, RFC 4180) instead of printing them");
  common(audit, audit_.socket, audit_.json,
         "One JSON object per entry and line: id, at_ms, actor, action, detail");
  add(audit, [](AdminCommands &c) {
    if (c.audit_after_ >= 0) c.audit_.after = c.audit_after_;
    return command_audit(c.audit_);
  });
}

std::optional<int> AdminCommands::run() {
  for (auto &[cmd, command] : commands_)
    if (cmd->parsed()) return command(*this);
  return std::nullopt;
}

} // namespace lpm::cli
