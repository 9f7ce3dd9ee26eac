// The Print Management commands (print_commands.h): print groups and Print Management's own user
// list, each a person op forwarded by the local agent.
#include "print_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include <CLI/CLI.hpp>

#include "admin_commands.h"
#include "agent_link.h"
#include "command_loop.h"
#include "lpm/files.h"
#include "table.h"

namespace lpm::cli {
namespace {

// The sample of docs/imports.md: a user put in a group with a quota of their own, one in the
// same group on the group's quota, one left in their group with a new quota of their own.
constexpr std::string_view kPrintUsersSample = "EMAIL,GROUP,QUOTA\n"
                                               "jdoe@company.com,Group 1,500\n"
                                               "llane@company.com,Group 1,\n"
                                               "ckent@company.com,,200\n";

nlohmann::json quota_json(const std::optional<int64_t> &quota) {
  return quota ? nlohmann::json(*quota) : nlohmann::json(nullptr);
}

int usage_error(const std::string &message) {
  std::fprintf(stderr, "lpm: %s\n", message.c_str());
  return 2;
}

void print_text(const std::string &text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

void print_change(const proto::PrintGroupsChangeResult &r, const char *verb, bool json) {
  if (json) {
    nlohmann::json moved = nlohmann::json::array();
    for (const auto &m : r.moved)
      moved.push_back({{"email", m.email}, {"from", m.from}});
    nlohmann::json o = nlohmann::json::parse(print_group_json(r.group), nullptr, false);
    o["renamed_from"] = r.renamed_from;
    o["added"] = r.added;
    o["removed"] = r.removed;
    o["moved"] = moved;
    print_json_line(json_text(o));
    return;
  }
  std::printf("%s print group \"%s\": quota %s, colour %s, %llu members", verb,
              printable(r.group.name).c_str(), group_quota_text(r.group.quota).c_str(),
              r.group.color_allowed ? "allowed" : "not allowed",
              static_cast<unsigned long long>(r.group.members));
  if (!r.renamed_from.empty())
    std::printf(" (renamed from \"%s\": a group name holds none of ! @ # $ %% ^ & * ; + ? / \\ [ ], AMB-8)",
                printable(r.renamed_from).c_str());
  std::printf("\n");
  if (r.added || r.removed)
    std::printf("%llu added, %llu removed\n", static_cast<unsigned long long>(r.added),
                static_cast<unsigned long long>(r.removed));
  // AMB-17: a user has one print group; joining this one took them out of another.
  for (const auto &m : r.moved)
    std::printf("moved %s from print group \"%s\" (a user belongs to one print group)\n",
                printable(m.email).c_str(), printable(m.from).c_str());
}

// Asks on the terminal when there is one; refuses without (a script says --yes).
Result<int> open_terminal(const std::string &why) {
  if (::isatty(STDIN_FILENO) == 0)
    return make_error(Errc::bad_request, why + " and standard input is not a terminal: add --yes");
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0) return make_error(Errc::unavailable, "no terminal to confirm on: add --yes");
  return tty;
}

std::string emails_line(const char *label, const std::vector<std::string> &emails, uint64_t total) {
  if (total == 0) return "";
  std::string line = std::string(label) + ":";
  for (size_t i = 0; i < emails.size(); i++)
    line += (i ? ", " : " ") + printable(emails[i]);
  if (total > emails.size()) line += " ... and " + std::to_string(total - emails.size()) + " more";
  return line + "\n";
}

} // namespace

// ---- what the commands show ------------------------------------------------------------------

std::string_view print_users_sample() {
  return kPrintUsersSample;
}

std::string group_quota_text(const std::optional<int64_t> &quota) {
  return quota ? std::to_string(*quota) : "none";
}

std::string user_quota_text(const proto::PrintUserEntry &user) {
  if (user.quota) return std::to_string(*user.quota);
  if (user.group_quota) return std::to_string(*user.group_quota) + " (group)";
  return "none";
}

std::string print_groups_table(const std::vector<proto::PrintGroupEntry> &groups, bool with_deleted) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(groups.size());
  for (const auto &g : groups) {
    std::vector<std::string> row{g.name, group_quota_text(g.quota), g.color_allowed ? "yes" : "no",
                                 std::to_string(g.members)};
    if (with_deleted) row.push_back(g.deleted_ms ? utc_text(g.deleted_ms) : "-");
    rows.push_back(std::move(row));
  }
  std::vector<Column> columns{{"NAME"}, {"QUOTA", true}, {"COLOUR"}, {"MEMBERS", true}};
  if (with_deleted) columns.push_back({"DELETED (UTC)"});
  return format_table(columns, rows);
}

std::string print_users_table(const std::vector<proto::PrintUserEntry> &users) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(users.size());
  for (const auto &u : users)
    rows.push_back({u.email, u.display_name.empty() ? "-" : u.display_name, u.group.empty() ? "-" : u.group,
                    user_quota_text(u), std::to_string(u.used), u.color_allowed ? "yes" : "no"});
  return format_table({{"EMAIL"}, {"NAME"}, {"PRINT GROUP"}, {"QUOTA", true}, {"USED", true}, {"COLOUR"}},
                      rows);
}

std::string print_group_json(const proto::PrintGroupEntry &g) {
  return json_text({{"id", g.id},
                    {"name", g.name},
                    {"quota", quota_json(g.quota)},
                    {"color_allowed", g.color_allowed},
                    {"members", g.members},
                    {"created_ms", g.created_ms},
                    {"deleted_ms", g.deleted_ms}});
}

std::string print_user_json(const proto::PrintUserEntry &u) {
  return json_text({{"user", u.user},
                    {"email", u.email},
                    {"display_name", u.display_name},
                    {"group", u.group},
                    {"quota", quota_json(u.quota)},
                    {"group_quota", quota_json(u.group_quota)},
                    {"color_allowed", u.color_allowed},
                    {"imported_ms", u.imported_ms},
                    {"used", u.used}});
}

std::string pm_counts_text(uint64_t pm_users, uint64_t enterprise_users) {
  return std::to_string(pm_users) + " Print Management " + (pm_users == 1 ? "user" : "users") + " of " +
         std::to_string(enterprise_users) + " " + (enterprise_users == 1 ? "user" : "users") +
         " in User Accounts";
}

std::string sync_text(const proto::PrintUsersSyncResult &r) {
  std::string text = r.dry_run ? "Import from User Accounts would add " + std::to_string(r.added) +
                                     " and remove " + std::to_string(r.removed) + "; afterwards "
                               : "Import from User Accounts: " + std::to_string(r.added) + " added, " +
                                     std::to_string(r.removed) + " removed; now ";
  text += pm_counts_text(r.pm_users, r.enterprise_users) + "\n";
  text += emails_line(r.dry_run ? "to add" : "added", r.added_emails, r.added);
  text += emails_line(r.dry_run ? "to remove" : "removed", r.removed_emails, r.removed);
  return text;
}

Result<bool> confirm_sync_on(int tty_fd, const proto::PrintUsersSyncResult &preview) {
  std::string shown = sync_text(preview);
  if (tty_fd >= 0 && ::write(tty_fd, shown.data(), shown.size()) < 0)
    return make_error(Errc::io_error, "cannot write to the terminal: " + errno_text());
  auto first = confirm_on(tty_fd, "Import from User Accounts? [y/N] ");
  if (!first.ok() || !*first) return first;
  return confirm_on(tty_fd, "Are you sure? It adds " + std::to_string(preview.added) + " and removes " +
                                std::to_string(preview.removed) + " Print Management users. [y/N] ");
}

// ---- the command line ------------------------------------------------------------------------

PrintCommands::PrintCommands(CLI::App &app, const std::string &socket_help) {
  auto common = [this, &socket_help](CLI::App *cmd, const char *json_help) {
    cmd->add_option("--socket", socket_, socket_help);
    cmd->add_flag("--json", json_, json_help);
  };
  auto add = [this](CLI::App *cmd, std::function<int()> run) { commands_.emplace_back(cmd, std::move(run)); };
  const char *batch_json = "One JSON object per item and line: key, result, reason";
  const std::string quota_help = "Quota in impressions per calendar month (0 to " +
                                 std::to_string(proto::kMaxQuota) + "); every printed job counts against it";
  auto quota_range = CLI::Range(int64_t{0}, proto::kMaxQuota);

  // ---- print-groups create|update|delete|list (GR-6 ... GR-9)
  auto *groups = app.add_subcommand(
      "print-groups",
      "Manage Print Management's print groups: quotas and colour for their members, the groups "
      "reports know; unrelated to account groups (GR-6; needs a login)");
  groups->require_subcommand(1);

  auto *create = groups->add_subcommand(
      "create", "Create a print group with a unique name (GR-7; ! @ # $ % ^ & * ; + ? / \\ [ ] become _)");
  create->add_option("NAME", name_, "Print group name (at most 80 characters)")->required();
  create->add_option("--quota", quota_value_, quota_help)->check(quota_range);
  create->add_flag("--color", color_, "Members may print in colour (default: not)");
  common(create, "One JSON object: the group, renamed_from");
  add(create, [this] {
    auto r = run_person_op<proto::PrintGroupsChangeResult>(
        socket_, proto::op::print_groups_create, proto::PrintGroupsCreateRequest{"", name_, quota(), color_});
    if (!r.ok()) return fail(r.error());
    print_change(*r, "created", json_);
    return 0;
  });

  auto *update = groups->add_subcommand(
      "update", "Edit a print group: name, quota, colour, members added and removed, saved together in one "
                "change or not at all (GR-8). A member added leaves any other print group (one per user)");
  update->add_option("NAME", name_, "The print group, as it is named now")->required();
  update->add_option("--rename", rename_, "A new name (at most 80 characters)");
  auto *update_quota = update->add_option("--quota", quota_value_, quota_help)->check(quota_range);
  update->add_flag("--no-quota", no_quota_, "Remove the group's quota")->excludes(update_quota);
  auto *update_color = update->add_flag("--color", color_, "Members may print in colour");
  update->add_flag("--no-color", no_color_, "Members may not print in colour")->excludes(update_color);
  update->add_option("--add", add_, "Members to add: e-mails of Print Management users (at most 500)");
  update->add_option("--remove", remove_, "Members to remove (at most 500)");
  common(update, "One JSON object: the group, renamed_from, added, removed, moved");
  add(update, [this] {
    proto::PrintGroupsUpdateRequest request;
    request.name = name_;
    request.rename = rename_;
    request.quota = quota();
    request.clear_quota = no_quota_;
    if (color_ || no_color_) request.color_allowed = color_;
    request.add_members = add_;
    request.remove_members = remove_;
    if (rename_.empty() && !quota() && !no_quota_ && !color_ && !no_color_ && add_.empty() && remove_.empty())
      return usage_error(
          "nothing to change: give --rename, --quota, --no-quota, --color, --no-color, --add or "
          "--remove");
    auto r = run_person_op<proto::PrintGroupsChangeResult>(socket_, proto::op::print_groups_update, request);
    if (!r.ok()) return fail(r.error());
    print_change(*r, "updated", json_);
    return 0;
  });

  auto *remove = groups->add_subcommand(
      "delete",
      "Delete print groups: their members are left in no print group; reports keep the groups (GR-9)");
  remove->add_option("NAME", names_, "Print group names (at most 500)")->required();
  common(remove, batch_json);
  add(remove, [this] {
    auto r = run_person_op<proto::BatchResult>(socket_, proto::op::print_groups_delete,
                                               proto::PrintGroupsDeleteRequest{"", names_});
    if (!r.ok()) return fail(r.error());
    return report_batch(*r, json_, "print groups");
  });

  auto *list = groups->add_subcommand("list", "List the print groups: quota, colour, member count");
  list->add_flag("--all", all_, "Deleted print groups too (kept for reports, GR-9)");
  common(list, "One JSON object per print group and line");
  add(list, [this] {
    AgentLink link;
    if (Status opened = link.open(socket_); !opened.ok()) return fail(opened.error());
    std::vector<proto::PrintGroupEntry> shown;
    proto::PrintGroupsListRequest request{"", "", "", proto::kMaxPage, all_};
    for (;;) {
      auto page = forward<proto::PrintGroupsListResult>(link.agent(), proto::op::print_groups_list,
                                                        person_args(request));
      if (!page.ok()) return fail(page.error());
      for (const auto &g : page->groups) {
        if (json_) {
          print_json_line(print_group_json(g));
          continue;
        }
        if (shown.size() == kMaxTableRows)
          return fail(make_error(Errc::too_large, "more than " + std::to_string(kMaxTableRows) +
                                                      " print groups: --json lists every one"));
        shown.push_back(g);
      }
      // A cursor that does not move would page forever.
      if (page->next.empty() || (page->next == request.after && page->next_id == request.after_id)) break;
      request.after = page->next;
      request.after_id = page->next_id;
    }
    if (Status closed = link.close(); !closed.ok()) return fail(closed.error());
    if (json_) return 0;
    if (shown.empty()) {
      std::fputs(all_ ? "no print groups\n" : "no print groups (--all shows deleted ones)\n", stdout);
      return 0;
    }
    print_text(print_groups_table(shown, all_));
    return 0;
  });

  // ---- print-users list|set|remove|sync|import (PM-2 ... PM-4)
  auto *users = app.add_subcommand(
      "print-users",
      "Print Management's own user list: who is in it, their print group and quota (PM-2; needs a "
      "login). Users come in with `lpm print-users sync` (Import from User Accounts)");
  users->require_subcommand(1);

  auto *users_list = users->add_subcommand(
      "list", "List Print Management's users: print group, quota (their own, or their group's), colour; then "
              "how many of User Accounts' users that is (AMB-18)");
  users_list->add_option("--group", group_, "Only the members of this print group");
  users_list->add_option("--limit", limit_, "List at most N users (default: all)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
  common(users_list, "One JSON object per user and line, then one with pm_users and enterprise_users");
  add(users_list, [this] {
    AgentLink link;
    if (Status opened = link.open(socket_); !opened.ok()) return fail(opened.error());
    std::vector<proto::PrintUserEntry> shown;
    proto::PrintUsersListRequest request;
    request.group = group_;
    uint64_t listed = 0, pm_users = 0, enterprise_users = 0;
    bool cut_short = false;
    for (;;) {
      request.page.limit = limit_ ? std::min<uint64_t>(proto::kMaxPage, limit_ - listed) : proto::kMaxPage;
      auto page = forward<proto::PrintUsersListResult>(link.agent(), proto::op::print_users_list,
                                                       person_args(request));
      if (!page.ok()) return fail(page.error());
      pm_users = page->pm_users;
      enterprise_users = page->enterprise_users;
      for (const auto &u : page->users) {
        listed++;
        if (json_) {
          print_json_line(print_user_json(u));
          continue;
        }
        if (shown.size() == kMaxTableRows) {
          cut_short = true;
          break;
        }
        shown.push_back(u);
      }
      if (cut_short || (limit_ && listed >= limit_)) break;
      if (page->next.empty() || page->next == request.page.after) break;
      request.page.after = page->next;
    }
    if (Status closed = link.close(); !closed.ok()) return fail(closed.error());
    if (json_) {
      print_json_line(json_text({{"pm_users", pm_users}, {"enterprise_users", enterprise_users}}));
      return 0;
    }
    if (shown.empty())
      std::fputs(group_.empty() ? "no Print Management users: `lpm print-users sync` imports them from User "
                                  "Accounts\n"
                                : "no members\n",
                 stdout);
    else
      print_text(print_users_table(shown));
    if (cut_short)
      std::printf("(only the first %zu users are listed; --json lists every one)\n", shown.size());
    std::printf("%s\n", pm_counts_text(pm_users, enterprise_users).c_str());
    return 0;
  });

  auto *set = users->add_subcommand(
      "set",
      "Set users' print group and/or their own quota (they must be Print Management users already, PM-2); "
      "a user joining a group leaves their other one (one per user, AMB-17)");
  set->add_option("EMAIL", emails_, "E-mail addresses (at most 500)")->required();
  auto *set_group = set->add_option("--group", group_, "Put them in this print group");
  set->add_flag("--no-group", no_group_, "Take them out of their print group")->excludes(set_group);
  auto *set_quota =
      set->add_option("--quota", quota_value_, quota_help + ", their own: it overrides the group's")
          ->check(quota_range);
  set->add_flag("--group-quota", no_quota_, "Drop their own quota: their print group's applies")
      ->excludes(set_quota);
  common(set, batch_json);
  add(set, [this] {
    if (group_.empty() && !no_group_ && !quota() && !no_quota_)
      return usage_error("nothing to change: give --group, --no-group, --quota or --group-quota");
    proto::PrintUsersSetRequest request;
    request.emails = emails_;
    request.group = group_;
    request.no_group = no_group_;
    request.quota = quota();
    request.group_quota = no_quota_;
    auto r = run_person_op<proto::BatchResult>(socket_, proto::op::print_users_set, request);
    if (!r.ok()) return fail(r.error());
    return report_batch(*r, json_, "users");
  });

  auto *users_remove = users->add_subcommand(
      "remove", "Take users out of Print Management (Import from User Accounts brings back those who still "
                "hold a print role)");
  users_remove->add_option("EMAIL", emails_, "E-mail addresses (at most 500)")->required();
  common(users_remove, batch_json);
  add(users_remove, [this] {
    auto r = run_person_op<proto::BatchResult>(socket_, proto::op::print_users_remove,
                                               proto::PrintUsersRemoveRequest{"", emails_});
    if (!r.ok()) return fail(r.error());
    return report_batch(*r, json_, "users");
  });

  auto *sync = users->add_subcommand(
      "sync",
      "Import from User Accounts (PM-3): add every user holding Print Release Management User or Serverless "
      "Print Management User, remove those who no longer do. Shows what it would do, then asks twice for "
      "confirmation on the terminal; --yes skips both questions. Nothing is automatic: run it again after "
      "users or roles change (TS-15, TS-16)");
  sync->add_flag("--yes", yes_, "Do not ask (needed when standard input is not a terminal)");
  common(sync, "One JSON object: added, removed, pm_users, enterprise_users, added_emails, removed_emails");
  add(sync, [this] {
    if (!yes_) {
      auto tty = open_terminal("import from User Accounts is confirmed twice (PM-3)");
      if (!tty.ok()) return fail(tty.error());
      auto preview = run_person_op<proto::PrintUsersSyncResult>(socket_, proto::op::print_users_sync,
                                                                proto::PrintUsersSyncRequest{"", true});
      Result<bool> confirmed = preview.ok() ? confirm_sync_on(*tty, *preview) : Result<bool>(preview.error());
      ::close(*tty);
      if (!confirmed.ok()) return fail(confirmed.error());
      if (!*confirmed) {
        std::fprintf(stderr, "lpm: nothing imported (not confirmed)\n");
        return 1;
      }
    }
    auto r = run_person_op<proto::PrintUsersSyncResult>(socket_, proto::op::print_users_sync,
                                                        proto::PrintUsersSyncRequest{"", false});
    if (!r.ok()) return fail(r.error());
    if (json_)
      print_json_line(json_text({{"added", r->added},
                                 {"removed", r->removed},
                                 {"pm_users", r->pm_users},
                                 {"enterprise_users", r->enterprise_users},
                                 {"added_emails", r->added_emails},
                                 {"removed_emails", r->removed_emails}}));
    else
      print_text(sync_text(*r));
    return 0;
  });

  import_.kind = "print-users";
  auto *import = users->add_subcommand(
      "import",
      "Set Print Management users' print group and quota from an EMAIL,GROUP,QUOTA CSV file (at most "
      "1,048,576 bytes; PM-4, docs/imports.md) and follow it to its end. It never creates users or "
      "print groups");
  import->add_option("FILE", import_.file, "CSV file");
  import->add_flag("--sample", sample_, "Print the sample file (EMAIL,GROUP,QUOTA) and exit");
  import->add_flag("--strict", import_.strict,
                   "Refuse records with fewer values than the header (default: the missing ones are taken as "
                   "empty, with a warning)");
  import->add_flag("--no-wait", import_.no_wait, "Print the import's id and return at once");
  import->add_option("--socket", import_.socket, socket_help);
  import->add_flag("--json", import_.json, "JSON lines: the import's summary, then one object per log row");
  add(import, [this] {
    if (sample_) {
      print_text(std::string(print_users_sample()));
      return 0;
    }
    if (import_.file.empty())
      return usage_error("give the CSV FILE to import, or --sample to print the sample");
    return command_import(import_);
  });
  add_policy(app, socket_help);
}

void PrintCommands::add_policy(CLI::App &app, const std::string &socket_help) {
  // ---- print-policy show|set (AMB-17)
  auto *policy = app.add_subcommand(
      "print-policy", "Show or set how quotas and colour apply at printers (AMB-17; needs a login)");
  policy->require_subcommand(1);
  auto *show = policy->add_subcommand("show", "Show the quota time zone and what happens to colour jobs of "
                                              "users who may not print in colour");
  auto *set = policy->add_subcommand("set", "Change the quota time zone and/or the colour rule");
  set->add_option("--quota-zone", zone_,
                  "IANA time zone whose calendar months quotas run in (default UTC), e.g. Europe/Paris");
  set->add_option("--color-denied", color_denied_,
                  "A colour job of a user whose print group does not allow colour: mono (printed in "
                  "monochrome where the device can, else refused; the default) or refuse")
      ->check(CLI::IsMember({proto::kColorDeniedMono, proto::kColorDeniedRefuse}));
  for (CLI::App *cmd : {show, set}) {
    cmd->add_option("--socket", socket_, socket_help);
    cmd->add_flag("--json", json_, "One JSON object: quota_zone, color_denied");
  }
  auto print_policy = [this](const Result<proto::PrintPolicyResult> &answer) {
    if (!answer.ok()) return fail(answer.error());
    if (json_) {
      print_json_line(
          json_text({{"quota_zone", answer->quota_zone}, {"color_denied", answer->color_denied}}));
      return 0;
    }
    std::printf("quota-zone %s\ncolor-denied %s\n", printable(answer->quota_zone).c_str(),
                answer->color_denied.c_str());
    return 0;
  };
  commands_.emplace_back(show, [this, print_policy] {
    return print_policy(run_person_op<proto::PrintPolicyResult>(socket_, proto::op::print_policy_show,
                                                                proto::SessionRequest{}));
  });
  // ---- quota (AMB-17)
  auto *quota =
      app.add_subcommand("quota", "What you (or, with --for, another user) may still print this month, "
                                  "and whether in colour (AMB-17; needs a login)");
  quota->add_option("--for", for_, "Another user's e-mail (needs a role that reads users)");
  quota->add_option("--socket", socket_, socket_help);
  quota->add_flag("--json", json_,
                  "One JSON object: email, counted, quota, own_quota, group, color_allowed, month, "
                  "quota_zone, used, held, left, color_denied");
  commands_.emplace_back(quota, [this] {
    proto::QuotaShowRequest request;
    request.email = for_;
    auto q = run_person_op<proto::QuotaShowResult>(socket_, proto::op::quota_show, request);
    if (!q.ok()) return fail(q.error());
    if (json_) {
      print_json_line(json_text({{"email", q->email},
                                 {"counted", q->counted},
                                 {"quota", quota_json(q->quota)},
                                 {"own_quota", q->own_quota},
                                 {"group", q->group},
                                 {"color_allowed", q->color_allowed},
                                 {"month", q->month},
                                 {"quota_zone", q->quota_zone},
                                 {"used", q->used},
                                 {"held", q->held},
                                 {"left", q->left},
                                 {"color_denied", q->color_denied}}));
      return 0;
    }
    print_text(quota_text(*q));
    return 0;
  });
  commands_.emplace_back(set, [this, print_policy] {
    if (zone_.empty() && color_denied_.empty())
      return usage_error("print-policy set: give --quota-zone, --color-denied or both");
    proto::PrintPolicySetRequest request;
    request.quota_zone = zone_;
    request.color_denied = color_denied_;
    return print_policy(
        run_person_op<proto::PrintPolicyResult>(socket_, proto::op::print_policy_set, request));
  });
}

std::string quota_text(const proto::QuotaShowResult &q) {
  std::string who = printable(q.email);
  if (!q.counted) return who + ": no quota and no colour limit (not a Print Management user)\n";
  std::string text;
  std::string when = q.month + " (" + printable(q.quota_zone) + ")";
  if (q.quota) {
    text = who + ": " + std::to_string(q.left) + " of " + std::to_string(*q.quota) + " impressions left in " +
           when + ": " + std::to_string(q.used) + " used";
    if (q.held > 0) text += ", " + std::to_string(q.held) + " held by a release in progress";
    text += "\n";
    text += "quota: " + std::to_string(*q.quota) + " impressions a month (" +
            (q.own_quota ? std::string("their own") : "print group \"" + printable(q.group) + "\"") + ")\n";
  } else {
    text = who + ": no quota; " + std::to_string(q.used) + " impressions used in " + when + "\n";
  }
  if (q.color_allowed)
    text += "colour: allowed\n";
  else if (q.color_denied == proto::kColorDeniedRefuse)
    text += "colour: not allowed (" + std::string(q.group.empty() ? "in no print group" : "print group") +
            "): colour jobs are refused\n";
  else
    text += "colour: not allowed (" + std::string(q.group.empty() ? "in no print group" : "print group") +
            "): colour jobs print in monochrome where the printer can, else are refused\n";
  return text;
}

std::optional<int> PrintCommands::run() {
  for (auto &[cmd, command] : commands_)
    if (cmd->parsed()) return command();
  return std::nullopt;
}

} // namespace lpm::cli
