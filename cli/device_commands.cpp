// The commands for workstations, enrollment tokens and printers (device_commands.h).
#include "device_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "admin_commands.h"
#include "agent_link.h"
#include "command_loop.h"
#include "lpm/ids.h"
#include "table.h"

namespace lpm::cli {
namespace {

int print_workstations(const proto::WorkstationsResult &result, bool json) {
  if (json) {
    for (const auto &w : result.workstations)
      print_json_line(workstation_json(w));
    return 0;
  }
  if (result.workstations.empty()) {
    std::printf("no workstations\n");
    return 0;
  }
  std::string table = workstations_table(result.workstations);
  std::fwrite(table.data(), 1, table.size(), stdout);
  return 0;
}

// Deregistering cannot be undone (the workstation must enroll again): asked first unless --yes.
Result<bool> confirmed(const std::string &question) {
  if (::isatty(STDIN_FILENO) == 0)
    return make_error(Errc::bad_request, "this needs a confirmation and standard input is not a terminal: add --yes");
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0) return make_error(Errc::unavailable, "no terminal to confirm on: add --yes");
  auto answer = confirm_on(tty, question);
  ::close(tty);
  return answer;
}

// Single quotes unless the text is plainly safe, so the printed command can be pasted.
std::string shell_quote(const std::string &text) {
  bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == ':' ||
           c == '-' || c == '_' || c == '[' || c == ']';
  });
  if (plain) return text;
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

} // namespace

std::string retention_text(uint32_t hours) {
  if (hours == 0) return "none";
  if (hours >= 48 && hours % 24 == 0) return std::to_string(hours / 24) + "d";
  return std::to_string(hours) + "h";
}

Result<uint32_t> retention_hours_parse(const std::string &text) {
  for (uint32_t choice : proto::kRetentionChoicesHours)
    if (text == retention_text(choice) || (choice == 24 && text == "1d") || (choice != 0 && text == std::to_string(choice) + "h"))
      return choice;
  return make_error(Errc::bad_request, "\"" + text + "\" is not a retention choice: none, 1h, 2h, 4h, 8h, 12h, 24h, "
                                       "2d, 3d, 7d, 14d or 30d");
}

std::string workstations_table(const std::vector<proto::WorkstationEntry> &workstations) {
  std::vector<std::vector<std::string>> rows;
  for (const auto &w : workstations) {
    std::string held;
    for (const auto &h : w.held)
      held += (held.empty() ? "" : ", ") + printable(h.email) + " (" + std::to_string(h.jobs) + ")";
    std::string bound;
    for (const auto &b : w.bound_users)
      bound += (bound.empty() ? "" : ", ") + printable(b);
    rows.push_back({printable(w.id), printable(w.name), w.seen_address.empty() ? "-" : printable(w.seen_address),
                    utc_text(w.last_seen_ms), std::to_string(w.held_jobs), held.empty() ? "-" : held,
                    bound.empty() ? "-" : bound});
  }
  return format_table({{"ID"},
                       {"NAME"},
                       {"ADDRESS"},
                       {"LAST SEEN (UTC)"},
                       {"HELD", true},
                       {"USERS WITH HELD JOBS"},
                       {"BOUND USERS"}},
                      rows);
}

std::string workstation_json(const proto::WorkstationEntry &w) {
  nlohmann::json held = nlohmann::json::array();
  for (const auto &h : w.held)
    held.push_back({{"email", h.email}, {"jobs", h.jobs}});
  return json_text({{"id", w.id},
                    {"name", w.name},
                    {"seen_address", w.seen_address},
                    {"last_seen_ms", w.last_seen_ms},
                    {"held_jobs", w.held_jobs},
                    {"bound_users", w.bound_users},
                    {"held", held}});
}

DeviceCommands::DeviceCommands(CLI::App &app, const std::string &socket_help) {
  auto common = [this, &socket_help](CLI::App *cmd, const char *json_help) {
    cmd->add_option("--socket", socket_, socket_help);
    cmd->add_flag("--json", json_, json_help);
  };
  auto add = [this](CLI::App *cmd, std::function<int()> command) { commands_.emplace_back(cmd, std::move(command)); };
  const char *ws_json = "One JSON object per workstation and line: id, name, seen_address, last_seen_ms, "
                        "held_jobs, bound_users, held [{email, jobs}]";
  const char *change_json = "One JSON object: id, name, email, changed";

  auto *ws = app.add_subcommand(
      "workstations", "The helpdesk view of workstations and held jobs; bind, unbind, deregister (needs a login)");
  ws->require_subcommand(1);
  auto *list = ws->add_subcommand("list", "Workstations: address, last seen, held jobs and whose (counts only)");
  common(list, ws_json);
  add(list, [this] {
    auto r = run_person_op<proto::WorkstationsResult>(socket_, proto::op::workstations_list,
                                                      proto::SessionRequest{});
    return r.ok() ? print_workstations(*r, json_) : fail(r.error());
  });

  auto *show = ws->add_subcommand("show", "One workstation by id or name, or where a user's jobs are held (--user)");
  show->add_option("WORKSTATION", workstation_, "The workstation's id or name");
  show->add_option("--user", email_, "The user's complete e-mail: the workstations holding their jobs");
  common(show, ws_json);
  add(show, [this] {
    if (workstation_.empty() == email_.empty()) {
      std::fprintf(stderr, "lpm: give a WORKSTATION or --user EMAIL, not both\n");
      return 2;
    }
    auto r = run_person_op<proto::WorkstationsResult>(
        socket_, proto::op::workstations_show, proto::WorkstationsShowRequest{"", workstation_, email_});
    return r.ok() ? print_workstations(*r, json_) : fail(r.error());
  });

  for (bool bind : {true, false}) {
    auto *cmd = ws->add_subcommand(bind ? "bind" : "unbind",
                                   bind ? "Let the workstation announce held jobs for the user (RL-11)"
                                        : "Stop taking the workstation's held jobs for the user (admin binding)");
    cmd->add_option("WORKSTATION", workstation_, "The workstation's id or name")->required();
    cmd->add_option("EMAIL", email_, "The user's complete e-mail")->required();
    common(cmd, change_json);
    add(cmd, [this, bind] {
      auto r = run_person_op<proto::WorkstationChangeResult>(
          socket_, bind ? proto::op::workstations_bind : proto::op::workstations_unbind,
          proto::WorkstationChangeRequest{"", workstation_, email_});
      if (!r.ok()) return fail(r.error());
      if (json_) {
        print_json_line(json_text({{"id", r->id}, {"name", r->name}, {"email", r->email}, {"changed", r->changed}}));
        return 0;
      }
      std::printf("%s %s %s workstation %s (%s)%s\n", bind ? "bound" : "unbound", printable(r->email).c_str(),
                  bind ? "to" : "from", printable(r->id).c_str(), printable(r->name).c_str(),
                  r->changed ? "" : bind ? " (it already was)" : " (it was not)");
      return 0;
    });
  }

  auto *dereg = ws->add_subcommand(
      "deregister", "Revoke the workstation's key: its held jobs stop counting at once (it must enroll again)");
  dereg->add_option("WORKSTATION", workstation_, "The workstation's id or name")->required();
  dereg->add_flag("--yes", yes_, "Do not ask for a confirmation (needed when standard input is not a terminal)");
  common(dereg, "One JSON object: id, name");
  add(dereg, [this] {
    if (!yes_) {
      auto ok = confirmed("Deregister workstation " + workstation_ + "? [y/N] ");
      if (!ok.ok()) return fail(ok.error());
      if (!*ok) {
        std::fprintf(stderr, "lpm: nothing deregistered (not confirmed)\n");
        return 1;
      }
    }
    auto r = run_person_op<proto::WorkstationChangeResult>(
        socket_, proto::op::workstations_deregister, proto::WorkstationChangeRequest{"", workstation_, ""});
    if (!r.ok()) return fail(r.error());
    if (json_)
      print_json_line(json_text({{"id", r->id}, {"name", r->name}}));
    else
      std::printf("deregistered workstation %s (%s)\n", printable(r->id).c_str(), printable(r->name).c_str());
    return 0;
  });

  auto *tokens = app.add_subcommand("tokens", "Enrollment tokens for workstations and devices (needs a login)");
  tokens->require_subcommand(1);
  auto *create = tokens->add_subcommand(
      "create", "Create an enrollment token; it is shown this once (the directory keeps only its hash)");
  create->add_option("--kind", kind_, "What it enrolls: workstation, printer, accounting or console")
      ->required()
      ->check(CLI::IsMember({"workstation", "printer", "accounting", "console"}));
  create->add_option("--uses", uses_, "How many enrollments it allows")->capture_default_str()->check(CLI::Range(1, 1000000));
  create->add_option("--ttl-hours", ttl_hours_, "Hours until it expires")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 3650));
  common(create, "One JSON object: token, kind, uses, expires_ms");
  add(create, [this] {
    auto r = run_person_op<proto::TokensCreateResult>(
        socket_, proto::op::tokens_create, proto::TokensCreateRequest{"", kind_, uses_, ttl_hours_});
    if (!r.ok()) return fail(r.error());
    if (json_)
      print_json_line(
          json_text({{"token", r->token}, {"kind", r->kind}, {"uses", r->uses}, {"expires_ms", r->expires_ms}}));
    else
      std::printf("%s\n", printable(r->token).c_str());
    return 0;
  });

  auto *tlist = tokens->add_subcommand("list", "Enrollment tokens still usable (never their text), newest first");
  tlist->add_flag("--all", all_, "Also tokens expired, used up or revoked");
  common(tlist, "One JSON object per token and line: id, kind, uses, uses_left, created_ms, expires_ms, "
                "revoked_ms, created_by");
  add(tlist, [this] {
    auto r = run_person_op<proto::TokensListResult>(socket_, proto::op::tokens_list,
                                                    proto::TokensListRequest{"", all_});
    if (!r.ok()) return fail(r.error());
    std::vector<std::vector<std::string>> rows;
    int64_t now = wall_ms();
    for (const auto &t : r->tokens) {
      if (json_) {
        print_json_line(json_text({{"id", t.id},
                                   {"kind", t.kind},
                                   {"uses", t.uses},
                                   {"uses_left", t.uses_left},
                                   {"created_ms", t.created_ms},
                                   {"expires_ms", t.expires_ms},
                                   {"revoked_ms", t.revoked_ms},
                                   {"created_by", t.created_by}}));
        continue;
      }
      std::string state = t.revoked_ms != 0    ? "revoked"
                          : t.uses_left <= 0   ? "used up"
                          : t.expires_ms <= now ? "expired"
                                                : "usable";
      rows.push_back({printable(t.id), printable(t.kind), std::to_string(t.uses_left) + "/" + std::to_string(t.uses),
                      utc_text(t.expires_ms), state, printable(t.created_by)});
    }
    if (json_) return 0;
    if (rows.empty()) {
      std::printf(all_ ? "no tokens\n" : "no usable tokens (--all shows the others)\n");
      return 0;
    }
    std::string table =
        format_table({{"ID"}, {"KIND"}, {"USES LEFT"}, {"EXPIRES (UTC)"}, {"STATE"}, {"CREATED BY"}}, rows);
    std::fwrite(table.data(), 1, table.size(), stdout);
    return 0;
  });
  auto *trevoke = tokens->add_subcommand("revoke", "Revoke enrollment tokens: they enroll nothing more (keys "
                                                   "already enrolled stay; revoke those with printers revoke or "
                                                   "workstations deregister)");
  trevoke->add_option("TOKEN", tokens_, "Token ids (as tokens list shows them) or token texts (at most 500)")
      ->required();
  common(trevoke, "One JSON object per item and line: key, result, reason");
  add(trevoke, [this] {
    auto r = run_person_op<proto::BatchResult>(socket_, proto::op::tokens_revoke,
                                               proto::TokensRevokeRequest{"", tokens_});
    if (!r.ok()) return fail(r.error());
    return print_batch(*r, "tokens");
  });

  auto *retention = app.add_subcommand(
      "retention", "The enterprise's document retention policy (RT-1, RT-2): how long jobs stay printable");
  retention->require_subcommand(1);
  auto *rshow = retention->add_subcommand("show", "Show the policy (any signed-in user)");
  common(rshow, "One JSON object: released_hours, unreleased_hours (0: no limit)");
  add(rshow, [this] {
    auto r = run_person_op<proto::RetentionPolicyResult>(socket_, proto::op::retention_show,
                                                         proto::SessionRequest{});
    return r.ok() ? print_retention(*r) : fail(r.error());
  });
  auto *rset = retention->add_subcommand(
      "set", "Set both durations at once (needs Print Release Management Administrator); agents apply it with "
             "their next heartbeat, as a ceiling on their package's lifespans");
  const std::string choices = "one of none, 1h, 2h, 4h, 8h, 12h, 24h, 2d, 3d, 7d, 14d, 30d";
  rset->add_option("--released", released_, "How long released (printed) jobs stay: " + choices)->required();
  rset->add_option("--unreleased", unreleased_, "How long unreleased jobs stay: " + choices)->required();
  common(rset, "One JSON object: released_hours, unreleased_hours");
  add(rset, [this] {
    auto released = retention_hours_parse(released_);
    if (!released.ok()) return fail(released.error());
    auto unreleased = retention_hours_parse(unreleased_);
    if (!unreleased.ok()) return fail(unreleased.error());
    auto r = run_person_op<proto::RetentionPolicyResult>(
        socket_, proto::op::retention_set, proto::RetentionSetRequest{"", *released, *unreleased});
    return r.ok() ? print_retention(*r) : fail(r.error());
  });

  auto *printers = app.add_subcommand(
      "printers", "Release stations: enroll, list, revoke");
  printers->require_subcommand(1);
  auto *penroll = printers->add_subcommand(
      "enroll", "Create a single-use printer enrollment token and print the command that enrolls the release "
                "station with it");
  penroll->add_option("--name", name_, "The printer's name, as administrators will see it")->required();
  penroll->add_option("--ttl-hours", ttl_hours_, "Hours until the token expires")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 3650));
  common(penroll, "One JSON object: token, id, expires_ms, directory_address, directory_fingerprint, command");
  add(penroll, [this] {
    auto r = run_person_op<proto::TokensCreateResult>(
        socket_, proto::op::tokens_create, proto::TokensCreateRequest{"", "printer", 1, ttl_hours_});
    if (!r.ok()) return fail(r.error());
    std::string address = r->directory_address.empty() ? "DIRECTORY_HOST:PORT" : r->directory_address;
    std::string command = "lpm-release enroll --data DATA_FOLDER --directory " + shell_quote(address) +
                          " --directory-fingerprint " + r->directory_fingerprint + " --token " + r->token +
                          " --name " + shell_quote(name_);
    if (json_) {
      print_json_line(json_text({{"token", r->token},
                                 {"id", r->id},
                                 {"expires_ms", r->expires_ms},
                                 {"directory_address", r->directory_address},
                                 {"directory_fingerprint", r->directory_fingerprint},
                                 {"command", command}}));
      return 0;
    }
    std::printf("Single-use printer token %s, valid until %s UTC.\n", printable(r->id).c_str(),
                utc_text(r->expires_ms).c_str());
    std::printf("On the release station, run (DATA_FOLDER: the station's data folder):\n\n  %s\n",
                printable(command).c_str());
    if (r->directory_address.empty())
      std::printf("\nThe directory has no advertised address (lpm-directory serve --advertise HOST:PORT): put the "
                  "address the station reaches it at in place of DIRECTORY_HOST:PORT.\n");
    return 0;
  });
  auto *plist = printers->add_subcommand("list", "Enrolled printers: id, name, key fingerprint, enrolled");
  common(plist, "One JSON object per printer and line: id, name, fingerprint, enrolled_ms");
  add(plist, [this] {
    auto r =
        run_person_op<proto::PrintersListResult>(socket_, proto::op::printers_list, proto::SessionRequest{});
    if (!r.ok()) return fail(r.error());
    std::vector<std::vector<std::string>> rows;
    for (const auto &p : r->printers) {
      if (json_)
        print_json_line(json_text(
            {{"id", p.id}, {"name", p.name}, {"fingerprint", p.fingerprint}, {"enrolled_ms", p.enrolled_ms}}));
      else
        rows.push_back({printable(p.id), printable(p.name), printable(p.fingerprint), utc_text(p.enrolled_ms)});
    }
    if (json_) return 0;
    if (rows.empty()) {
      std::printf("no printers\n");
      return 0;
    }
    std::string table = format_table({{"ID"}, {"NAME"}, {"FINGERPRINT"}, {"ENROLLED (UTC)"}}, rows);
    std::fwrite(table.data(), 1, table.size(), stdout);
    return 0;
  });
  auto *prevoke = printers->add_subcommand("revoke", "Revoke printers' keys (they must enroll again)");
  prevoke->add_option("PRINTER", printers_, "Printer ids or names (at most 500)")->required();
  common(prevoke, "One JSON object per item and line: key, result, reason");
  add(prevoke, [this] {
    auto r = run_person_op<proto::BatchResult>(socket_, proto::op::printers_revoke,
                                               proto::PrintersRevokeRequest{"", printers_});
    if (!r.ok()) return fail(r.error());
    return print_batch(*r, "printers");
  });
}

int DeviceCommands::print_retention(const proto::RetentionPolicyResult &policy) const {
  if (json_) {
    print_json_line(
        json_text({{"released_hours", policy.released_hours}, {"unreleased_hours", policy.unreleased_hours}}));
    return 0;
  }
  auto line = [](uint32_t hours) {
    return hours == 0 ? std::string("no limit (each workstation's package decides)") : retention_text(hours);
  };
  std::printf("released jobs    %s\nunreleased jobs  %s\n", line(policy.released_hours).c_str(),
              line(policy.unreleased_hours).c_str());
  return 0;
}

int DeviceCommands::print_batch(const proto::BatchResult &result, const char *what) const {
  size_t failed = 0;
  for (const auto &item : result.items) {
    if (item.result == "failed") failed++;
    if (json_)
      print_json_line(json_text({{"key", item.key}, {"result", item.result}, {"reason", item.reason}}));
    else
      std::printf("%s\n", batch_line(item).c_str());
  }
  if (failed == 0) return 0;
  std::fprintf(stderr, "lpm: %zu of %zu %s failed\n", failed, result.items.size(), what);
  return 1;
}

std::optional<int> DeviceCommands::run() {
  for (auto &[cmd, command] : commands_)
    if (cmd->parsed()) return command();
  return std::nullopt;
}

} // namespace lpm::cli
