// The commands for workstations, enrollment tokens and printers (device_commands.h).
#include "device_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include <CLI/CLI.hpp>

#include "admin_commands.h"
#include "agent_link.h"
#include "command_loop.h"
#include "lpm/ids.h"
#include "table.h"

namespace lpm::cli {
namespace {

// The op's arguments without "session" (the agent adds it), as admin_commands.cpp sends them.
template <class Request> proto::MapWriter args_without_session(const Request &request) {
  proto::MapWriter whole;
  request.write(whole);
  proto::Bytes encoded = whole.finish();
  auto unpacked = proto::unpack_map(encoded);
  proto::MapWriter w;
  if (unpacked.ok()) w.pairs_of(unpacked->get(), "session");
  return w;
}

template <class Answer, class Request>
Result<Answer> run_op(const std::string &socket, const char *op, const Request &request) {
  AgentLink link;
  if (Status opened = link.open(socket); !opened.ok()) return opened.error();
  auto answer = forward<Answer>(link.agent(), op, args_without_session(request));
  if (!answer.ok()) return answer.error();
  if (Status closed = link.close(); !closed.ok()) return closed.error();
  return answer;
}

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

} // namespace

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
    auto r = run_op<proto::WorkstationsResult>(socket_, proto::op::workstations_list, proto::SessionRequest{});
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
    auto r = run_op<proto::WorkstationsResult>(socket_, proto::op::workstations_show,
                                               proto::WorkstationsShowRequest{"", workstation_, email_});
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
      auto r = run_op<proto::WorkstationChangeResult>(
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
    auto r = run_op<proto::WorkstationChangeResult>(socket_, proto::op::workstations_deregister,
                                                    proto::WorkstationChangeRequest{"", workstation_, ""});
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
    auto r = run_op<proto::TokensCreateResult>(socket_, proto::op::tokens_create,
                                               proto::TokensCreateRequest{"", kind_, uses_, ttl_hours_});
    if (!r.ok()) return fail(r.error());
    if (json_)
      print_json_line(
          json_text({{"token", r->token}, {"kind", r->kind}, {"uses", r->uses}, {"expires_ms", r->expires_ms}}));
    else
      std::printf("%s\n", printable(r->token).c_str());
    return 0;
  });

  auto *printers = app.add_subcommand(
      "printers", "Enrolled release stations: list, revoke (enroll one with `lpm tokens create --kind printer`)");
  printers->require_subcommand(1);
  auto *plist = printers->add_subcommand("list", "Enrolled printers: id, name, key fingerprint, enrolled");
  common(plist, "One JSON object per printer and line: id, name, fingerprint, enrolled_ms");
  add(plist, [this] {
    auto r = run_op<proto::PrintersListResult>(socket_, proto::op::printers_list, proto::SessionRequest{});
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
    auto r = run_op<proto::BatchResult>(socket_, proto::op::printers_revoke, proto::PrintersRevokeRequest{"", printers_});
    if (!r.ok()) return fail(r.error());
    size_t failed = 0;
    for (const auto &item : r->items) {
      if (item.result == "failed") failed++;
      if (json_)
        print_json_line(json_text({{"key", item.key}, {"result", item.result}, {"reason", item.reason}}));
      else
        std::printf("%s\n", batch_line(item).c_str());
    }
    if (failed == 0) return 0;
    std::fprintf(stderr, "lpm: %zu of %zu printers failed\n", failed, r->items.size());
    return 1;
  });
}

std::optional<int> DeviceCommands::run() {
  for (auto &[cmd, command] : commands_)
    if (cmd->parsed()) return command();
  return std::nullopt;
}

} // namespace lpm::cli
