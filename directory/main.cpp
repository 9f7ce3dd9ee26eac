// lpm-directory: the command line. Every command opens the data folder, does one thing, and
// reports errors as one line on stderr with exit code 1 (2 for usage errors).
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include "directory_folder.h"
#include "directory_import.h"
#include "directory_service.h"
#include "directory_store.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/stream.h"
#include "lpm/service_ready.h"
#include "roles.h"
#include "ticket_signer.h"

using namespace lpm;
using namespace lpm::directory;

namespace {

constexpr int64_t kHourMs = 60 * 60 * 1000;

int fail(const Error &error) {
  std::fprintf(stderr, "lpm-directory: %s\n", error.to_string().c_str());
  return 1;
}

// Who ran an administrative command, for the audit log.
std::string admin_actor() {
  return "admin uid " + std::to_string(::getuid());
}

int cmd_init(const std::string &data) {
  auto fp = folder_init(data);
  if (!fp.ok()) return fail(fp.error());
  std::printf("fingerprint %s\n", fp->c_str());
  return 0;
}

int cmd_fingerprint(const std::string &data) {
  auto identity = folder_load_identity(data);
  if (!identity.ok()) return fail(identity.error());
  std::printf("%s\n", (*identity)->fingerprint().c_str());
  return 0;
}

int cmd_identity_show(const std::string &data) {
  auto identity = folder_load_identity(data);
  if (!identity.ok()) return fail(identity.error());
  std::printf("current %s\n", (*identity)->fingerprint().c_str());
  auto next = folder_identity_next_fingerprint(data);
  if (next.ok())
    std::printf("next    %s\n", next->c_str());
  else if (next.error().code != Errc::not_found)
    return fail(next.error());
  return 0;
}

int cmd_identity_next(const std::string &data) {
  auto next = folder_identity_next(data);
  if (!next.ok()) return fail(next.error());
  std::printf("next %s\n", next->c_str());
  std::printf("The directory announces it with register replies once (re)started: agents pin it within a "
              "heartbeat (60 s). Put it in new client packages too, then run `lpm-directory identity rotate`.\n");
  return 0;
}

int cmd_identity_rotate(const std::string &data) {
  // Never under a running directory: it would keep answering with the old key until restarted.
  auto lock = folder_lock(data);
  if (!lock.ok()) return fail(lock.error());
  auto rotated = folder_identity_rotate(data);
  if (!rotated.ok()) return fail(rotated.error());
  std::printf("current %s\n", rotated->c_str());
  return 0;
}

int cmd_user_add(const std::string &data, const std::string &email, const std::string &name) {
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  auto user = (*store)->user_add(email, name, wall_ms(), admin_actor());
  if (!user.ok()) return fail(user.error());
  std::printf("%s\n", user->id.c_str());
  return 0;
}

int cmd_badge_add(const std::string &data, const std::string &badge, const std::string &email) {
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  Status s = (*store)->badge_add(badge, email, wall_ms(), admin_actor());
  if (!s.ok()) return fail(s.error());
  return 0;
}

int cmd_token_create(const std::string &data, const std::string &kind_text, int64_t uses, int64_t ttl_hours) {
  proto::EnrollKind kind;
  if (!proto::enroll_kind_parse(kind_text, kind))
    return fail(make_error(Errc::bad_request, "--kind must be workstation, printer, accounting or console"));
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  int64_t now = wall_ms();
  auto token = (*store)->token_create(kind, uses, now + ttl_hours * kHourMs, now, admin_actor());
  if (!token.ok()) return fail(token.error());
  std::printf("%s\n", token->c_str());
  return 0;
}

// Reads an import file, refusing one over the cap before reading it (UA-10, AMB-10).
Result<std::string> read_import_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return make_error(Errc::io_error, "cannot open " + path);
  auto size = static_cast<uint64_t>(in.tellg());
  if (size > kMaxImportBytes)
    return make_error(Errc::too_large, path + " has " + std::to_string(size) +
                                           " bytes; an import file may have at most 1,048,576 (1 MB)");
  in.seekg(0);
  std::string content(size, '\0');
  if (!in.read(content.data(), static_cast<std::streamsize>(size)))
    return make_error(Errc::io_error, "cannot read " + path);
  return content;
}

void print_import_summary(const ImportInfo &info) {
  std::printf("import %s: %s of %s, %s\n", info.id.c_str(), info.kind.c_str(), info.file_name.c_str(),
              info.state.c_str());
  std::printf("%lld records: %lld applied (%lld with warnings), %lld failed\n",
              static_cast<long long>(info.records), static_cast<long long>(info.applied),
              static_cast<long long>(info.warnings), static_cast<long long>(info.failed));
}

// Prints the log rows that say something (failures, warnings, notes); all of them with `all`.
Status print_import_log(DirectoryStore &store, const std::string &id, bool all, bool json) {
  int64_t after = 0;
  bool header = false;
  for (;;) {
    auto rows = store.import_log(id, after, 500);
    if (!rows.ok()) return rows.error();
    if (rows->empty()) return {};
    for (const auto &row : *rows) {
      after = row.record;
      if (json) {
        nlohmann::json j = {{"record", row.record}, {"line", row.line},     {"key", row.key},
                            {"result", row.result}, {"reason", row.reason}};
        std::printf("%s\n", j.dump().c_str());
        continue;
      }
      if (!all && row.reason.empty()) continue;
      if (!header) {
        std::printf("%-7s %-6s %-32s %-8s %s\n", "RECORD", "LINE", "KEY", "RESULT", "REASON");
        header = true;
      }
      std::printf("%-7lld %-6lld %-32s %-8s %s\n", static_cast<long long>(row.record),
                  static_cast<long long>(row.line), row.key.c_str(), row.result.c_str(), row.reason.c_str());
    }
  }
}

// Runs a recorded import to its end, showing progress on a terminal, then its summary and the
// records that failed or warned.
int run_import(DirectoryStore &store, const std::string &id) {
  ImportRunner::Hooks hooks;
  hooks.on_password_link = [](const User &u) {
    std::fprintf(stderr, "lpm-directory: %s has no password yet: give them a password link with `lpm users "
                         "password-link --email %s` (mailed when the service has a mail command)\n",
                 u.email.c_str(), u.email.c_str());
  };
  auto runner = ImportRunner::load(store, id, std::move(hooks));
  if (!runner.ok()) return fail(runner.error());
  bool progress = ::isatty(STDERR_FILENO) != 0;
  for (;;) {
    // Small steps: passwords take tens of milliseconds each to hash, so a big file takes minutes
    // (UA-24) and the count shows it moving.
    auto done = (*runner)->step(20, wall_ms());
    if (!done.ok()) return fail(done.error());
    const ImportInfo &now = (*runner)->info();
    if (progress)
      std::fprintf(stderr, "\rrecord %lld of %lld", static_cast<long long>(now.applied + now.failed),
                   static_cast<long long>(now.records));
    if (*done) break;
  }
  if (progress) std::fprintf(stderr, "\n");
  print_import_summary((*runner)->info());
  Status s = print_import_log(store, id, false, false);
  if (!s.ok()) return fail(s.error());
  return 0;
}

int cmd_import(const std::string &data, ImportKind kind, const std::string &file, const ImportOptions &options) {
  auto content = read_import_file(file);
  if (!content.ok()) return fail(content.error());
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  auto base = file.substr(file.find_last_of('/') + 1);
  auto info = import_start(**store, kind, base, *content, options, admin_actor(), wall_ms());
  if (!info.ok()) return fail(info.error());
  return run_import(**store, info->id);
}

// Finishes the imports a crash or a kill interrupted (each resumes at its next record).
int cmd_import_resume(const std::string &data) {
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  auto running = (*store)->imports_running();
  if (!running.ok()) return fail(running.error());
  if (running->empty()) std::printf("no import is unfinished\n");
  for (const auto &id : *running) {
    int rc = run_import(**store, id);
    if (rc != 0) return rc;
  }
  return 0;
}

int cmd_import_show(const std::string &data, const std::string &id, bool json) {
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  auto info = (*store)->import_get(id);
  if (!info.ok()) return fail(info.error());
  if (!json) print_import_summary(*info);
  Status s = print_import_log(**store, id, true, json);
  if (!s.ok()) return fail(s.error());
  return 0;
}

// Grants or revokes a role: the platform's own command (RL-15), so it may grant the platform
// roles (Enterprise Administrator, User Administrator) too.
int cmd_role(const std::string &data, bool grant, const std::string &role_text, const std::string &scope_text,
             const std::string &email, const std::string &group) {
  auto role = role_parse(role_text);
  if (!role.ok()) return fail(role.error());
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  auto target = role_target(**store, scope_text, email, group);
  if (!target.ok()) return fail(target.error());
  auto tx = (*store)->begin();
  if (!tx.begun().ok()) return fail(tx.begun().error());
  auto changed = grant ? role_grant(**store, target->scope, target->subject, *role, wall_ms())
                       : role_revoke(**store, target->scope, target->subject, *role);
  if (!changed.ok()) return fail(changed.error());
  std::string what = std::string(role_name(*role)) + " at " + role_scope_name(target->scope) + " scope" +
                     (target->subject.empty() ? "" : " to " + target->subject_name);
  Status s = (*store)->audit(wall_ms(), admin_actor(), grant ? "role-grant" : "role-revoke", what);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return fail(s.error());
  std::printf("%s %s%s\n", grant ? "granted" : "revoked", what.c_str(), *changed ? "" : " (no change)");
  return 0;
}

int cmd_role_list(const std::string &data) {
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  auto grants = role_grants(**store, std::nullopt, "");
  if (!grants.ok()) return fail(grants.error());
  std::printf("%-10s %-32s %s\n", "SCOPE", "TO", "ROLE");
  for (const auto &g : *grants)
    std::printf("%-10s %-32s %s\n", role_scope_name(g.scope), g.subject_name.empty() ? "-" : g.subject_name.c_str(),
                role_name(g.role));
  return 0;
}

// A user by e-mail or UUID (what an agent's <Bind user=.../> names).
Result<User> user_by_email_or_id(DirectoryStore &store, const std::string &email, const std::string &user_id) {
  if (!user_id.empty()) return store.user_by_id(user_id);
  if (email.empty()) return make_error(Errc::bad_request, "name the user with --email or --user");
  return store.user_by_email(email);
}

// Binds a user to a workstation, or unbinds them: the directory then takes (or no longer takes)
// the workstation's held jobs for that user (DESIGN §4).
int cmd_workstation_bind(const std::string &data, bool bind, const std::string &workstation, const std::string &email,
                         const std::string &user_id) {
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  auto user = user_by_email_or_id(**store, email, user_id);
  if (!user.ok()) return fail(user.error());
  auto listed = (*store)->workstations_list();
  if (!listed.ok()) return fail(listed.error());
  const WorkstationInfo *found = nullptr;
  for (const auto &w : *listed)
    if (w.id == workstation || w.name == workstation) {
      if (found)
        return fail(make_error(Errc::conflict, "several workstations are named \"" + workstation +
                                                   "\": give its id (lpm-directory workstation list)"));
      found = &w;
    }
  if (!found)
    return fail(make_error(Errc::not_found, "no enrolled workstation has the id or name \"" + workstation + "\""));
  auto tx = (*store)->begin();
  if (!tx.begun().ok()) return fail(tx.begun().error());
  Status s;
  bool changed = true;
  if (bind) {
    s = (*store)->workstation_user_add(found->id, user->id, "admin", wall_ms());
  } else {
    auto removed = (*store)->workstation_user_remove(found->id, user->id, "admin");
    if (!removed.ok())
      s = removed.error();
    else
      changed = *removed;
  }
  if (s.ok())
    s = (*store)->audit(wall_ms(), admin_actor(), bind ? "workstation-bind" : "workstation-unbind",
                        "user " + user->id + " " + user->email + " workstation " + found->id);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return fail(s.error());
  std::printf("%s %s %s workstation %s (%s)%s\n", bind ? "bound" : "unbound", user->email.c_str(),
              bind ? "to" : "from", found->id.c_str(), found->name.c_str(), changed ? "" : " (it was not)");
  return 0;
}

int cmd_workstation_list(const std::string &data) {
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  auto listed = (*store)->workstations_list();
  if (!listed.ok()) return fail(listed.error());
  std::printf("%-36s %-20s %-16s %-8s %s\n", "ID", "NAME", "ADDRESS", "HELD", "USERS");
  for (const auto &w : *listed) {
    std::string users;
    for (const auto &u : w.bound_users)
      users += (users.empty() ? "" : ", ") + u;
    std::printf("%-36s %-20s %-16s %-8llu %s\n", w.id.c_str(), w.name.c_str(),
                w.seen_address.empty() ? "-" : w.seen_address.c_str(), static_cast<unsigned long long>(w.held_jobs),
                users.empty() ? "-" : users.c_str());
  }
  return 0;
}

// Queues a command to the workstations that hold or may hold the user's jobs (PM-6): delete one
// job, or purge them all. Agents carry it out when their next register is answered (at once when
// they register because their jobs changed, else within the 60 s heartbeat).
int cmd_jobs(const std::string &data, const std::string &kind, const std::string &email, const std::string &job) {
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  auto user = (*store)->user_by_email(email);
  if (!user.ok()) return fail(user.error());
  auto tx = (*store)->begin();
  if (!tx.begun().ok()) return fail(tx.begun().error());
  auto queued = (*store)->command_queue(kind, user->id, job, admin_actor(), wall_ms());
  if (!queued.ok()) return fail(queued.error());
  Status s = (*store)->audit(wall_ms(), admin_actor(), kind == "purge-user" ? "jobs-purge" : "job-delete",
                             "user " + user->id + " " + user->email + (job.empty() ? "" : " job " + job) + " to " +
                                 std::to_string(*queued) + " workstation(s)");
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return fail(s.error());
  std::printf("queued for %lld workstation(s); each carries it out at its next register\n",
              static_cast<long long>(*queued));
  return 0;
}

int cmd_backup(const std::string &data, const std::string &file) {
  Status s = folder_backup(data, file);
  if (!s.ok()) return fail(s.error());
  std::printf("backup written to %s\n", file.c_str());
  return 0;
}

int cmd_restore(const std::string &data, const std::string &file) {
  auto kept = folder_restore(data, file);
  if (!kept.ok()) return fail(kept.error());
  auto store = folder_open_store(data);
  if (store.ok())
    (void)(*store)->audit(wall_ms(), admin_actor(), "restore", "from " + file + "; the replaced database is " + *kept);
  std::printf("restored from %s; the replaced database is kept as %s\n", file.c_str(), kept->c_str());
  return 0;
}

int cmd_password_policy(const std::string &data, const PasswordPolicy *set) {
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  if (set) {
    auto tx = (*store)->begin();
    Status s = tx.begun();
    if (s.ok()) s = (*store)->password_policy_set(*set);
    if (s.ok())
      s = (*store)->audit(wall_ms(), admin_actor(), "password-policy-set",
                          "min_length " + std::to_string(set->min_length) + " complexity " +
                              std::to_string(set->complexity) + " history " + std::to_string(set->history));
    if (s.ok()) s = tx.commit();
    if (!s.ok()) return fail(s.error());
  }
  auto policy = (*store)->password_policy();
  if (!policy.ok()) return fail(policy.error());
  std::printf("min-length %u\ncomplexity %u\nhistory %u\n", policy->min_length, policy->complexity,
              policy->history);
  return 0;
}

// What the signal handlers need: stopping the service and closing themselves lets the loop end.
struct Shutdown {
  DirectoryService *service = nullptr;
  uv_signal_t sigint{};
  uv_signal_t sigterm{};
  bool stopping = false;

  void start(uv_loop_t *loop) {
    for (uv_signal_t *sig : {&sigint, &sigterm}) {
      uv_signal_init(loop, sig);
      sig->data = this;
    }
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
  }
  static void on_signal(uv_signal_t *sig, int signum) {
    auto *self = static_cast<Shutdown *>(sig->data);
    LPM_INFO("signal %d: stopping", signum);
    announce_stopping("stopping");
    self->stop();
  }
  void stop() {
    if (stopping) return;
    stopping = true;
    service->stop();
    uv_close(reinterpret_cast<uv_handle_t *>(&sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&sigterm), nullptr);
  }
};

struct ServeOptions {
  std::string listen = "127.0.0.1:9710";
  std::string advertise;
  std::string mail_command;
  BadgeRateLimit badge_rate;
  unsigned signing_threads = TicketSigner::default_threads();
};

int cmd_serve(const std::string &data, const ServeOptions &o) {
  auto endpoint = proto::parse_endpoint(o.listen);
  if (!endpoint.ok()) return fail(endpoint.error());
  auto keys = folder_load_keys(data);
  if (!keys.ok()) return fail(keys.error());
  auto lock = folder_lock(data);
  if (!lock.ok()) return fail(lock.error());
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());

  uv_loop_t loop;
  uv_loop_init(&loop);
  int rc = 0;
  {
    DirectoryService service(&loop, std::move(*keys), std::move(*store));
    if (!o.advertise.empty()) service.set_advertised_address(o.advertise);
    service.set_badge_rate_limit(o.badge_rate);
    service.set_mail_command(o.mail_command);
    service.set_signing_threads(o.signing_threads);
    auto port = service.listen(*endpoint);
    if (!port.ok()) {
      rc = fail(port.error());
      service.stop();
    } else {
      Shutdown shutdown;
      shutdown.service = &service;
      shutdown.start(&loop);
      announce_ready(*port, "serving on port " + std::to_string(*port));
      uv_run(&loop, UV_RUN_DEFAULT);
      LPM_INFO("stopped");
    }
    uv_run(&loop, UV_RUN_DEFAULT); // close callbacks of whatever stop() closed
  }
  if (uv_loop_close(&loop) != 0) {
    LPM_ERROR("event loop still had open handles at exit");
    return 1;
  }
  return rc;
}

} // namespace

int main(int argc, char **argv) {
  lpm::proto::ignore_sigpipe();
  lpm::log_set_component("directory");

  CLI::App app{"lpm-directory: users, badges, enrolled keys, who holds jobs where, and release tickets"};
  app.require_subcommand(1);
  std::string data;
  auto add_data = [&data](CLI::App *cmd) { cmd->add_option("--data", data, "data folder")->required(); };

  CLI::App *init =
      app.add_subcommand("init", "create the TLS identity, the ticket-signing key and the database");
  add_data(init);

  CLI::App *fingerprint = app.add_subcommand("fingerprint", "print the TLS key fingerprint (64 hex)");
  add_data(fingerprint);

  CLI::App *identity = app.add_subcommand(
      "identity", "rotate the directory's TLS identity: next (make the key to come; serve announces it to "
                  "agents), rotate (switch to it; serve stopped), show");
  identity->require_subcommand(1);
  CLI::App *identity_show = identity->add_subcommand("show", "print the current and the next key fingerprints");
  add_data(identity_show);
  CLI::App *identity_next =
      identity->add_subcommand("next", "make the next TLS identity (once; again prints the same) and print it");
  add_data(identity_next);
  CLI::App *identity_rotate = identity->add_subcommand(
      "rotate", "make the next identity the current one, keeping the old as identity-retired-<ms> (serve must "
                "be stopped)");
  add_data(identity_rotate);

  ServeOptions so;
  CLI::App *serve =
      app.add_subcommand("serve", "serve enroll, register, badge-in and list-enrolled over TLS");
  add_data(serve);
  serve->add_option("--listen", so.listen, "HOST:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();
  serve->add_option("--advertise", so.advertise,
                    "HOST:PORT devices reach the directory at, shown with enrollment tokens "
                    "(default: the listen address unless it is a wildcard)");
  serve->add_option("--mail-command", so.mail_command,
                    "shell command that mails a finished import's log to the administrator who started it, "
                    "and password links to users who have no password (UA-4, UA-15): "
                    "the message on its standard input, LPM_MAIL_TO and LPM_MAIL_SUBJECT in its environment "
                    "(e.g. 'mail -s \"$LPM_MAIL_SUBJECT\" \"$LPM_MAIL_TO\"'); none by default");
  serve
      ->add_option("--badge-rate", so.badge_rate.per_second,
                   "badge-in and badge-register operations per second each printer may start on average "
                   "(0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  serve->add_option("--badge-burst", so.badge_rate.burst, "how many of them a printer may start at once")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  serve
      ->add_option("--signing-threads", so.signing_threads,
                   "threads that precompute ticket signatures in spare CPU time (default: the cores, at most "
                   "4; 0: none, the loop signs each ticket whole)")
      ->capture_default_str()
      ->check(CLI::Range(0u, TicketSigner::kMaxThreads));

  std::string email, name, badge;
  CLI::App *user = app.add_subcommand("user", "manage users");
  user->require_subcommand(1);
  CLI::App *user_add = user->add_subcommand("add", "add a user; prints the new user's UUID");
  add_data(user_add);
  user_add->add_option("--email", email, "e-mail address (stored lower-case)")->required();
  user_add->add_option("--name", name, "display name (shown instead of the e-mail address)");

  CLI::App *badge_cmd = app.add_subcommand("badge", "manage badges");
  badge_cmd->require_subcommand(1);
  CLI::App *badge_add = badge_cmd->add_subcommand("add", "give a badge to a user");
  add_data(badge_add);
  badge_add->add_option("--badge", badge, "badge id (stored trimmed, otherwise as given)")->required();
  badge_add->add_option("--email", email, "the user's e-mail address")->required();

  std::string file, import_id;
  ImportOptions import_options;
  bool json = false;
  auto add_import = [&](CLI::App *parent, const char *what) {
    CLI::App *cmd = parent->add_subcommand(
        "import", std::string("apply a CSV file of ") + what + " (at most 1 MB), record by record; prints the "
                  "import's id, a summary and the records that failed or warned");
    add_data(cmd);
    cmd->add_option("--file", file, "the .csv or .txt file")->required();
    cmd->add_flag("--strict", import_options.strict,
                  "refuse records with fewer values than the header (default: take the missing ones as empty, "
                  "with a warning)");
    return cmd;
  };
  CLI::App *user_import = add_import(user, "users (header EMAIL,OPERATION,PASSWORD,...,DEPARTMENT)");
  user_import->add_flag("--password-links", import_options.password_links,
                        "CREATE records may leave PASSWORD empty; those users are due a password-change link");
  CLI::App *badge_import = add_import(badge_cmd, "badges (header BADGE,OPERATION,EMAIL[,TEMPORARY])");

  CLI::App *import_cmd = app.add_subcommand("import", "look at imports");
  import_cmd->require_subcommand(1);
  CLI::App *import_show = import_cmd->add_subcommand("show", "an import's summary and its log, a row per record");
  add_data(import_show);
  import_show->add_option("--id", import_id, "the import's id")->required();
  import_show->add_flag("--json", json, "one JSON object per record and line");
  CLI::App *import_resume =
      import_cmd->add_subcommand("resume", "finish imports a crash or a kill interrupted, each at its next record");
  add_data(import_resume);

  PasswordPolicy policy;
  CLI::App *policy_cmd = app.add_subcommand("password-policy", "the enterprise's password requirements (UA-3)");
  policy_cmd->require_subcommand(1);
  CLI::App *policy_show = policy_cmd->add_subcommand("show", "print the policy");
  add_data(policy_show);
  CLI::App *policy_set = policy_cmd->add_subcommand("set", "replace the policy (all three values at once)");
  add_data(policy_set);
  policy_set->add_option("--min-length", policy.min_length, "minimum length in characters")
      ->required()
      ->check(CLI::Range(1, 128));
  policy_set->add_option("--complexity", policy.complexity,
                         "how many of lower case, upper case, digits and other characters a password uses")
      ->required()
      ->check(CLI::Range(0, 4));
  policy_set->add_option("--history", policy.history, "how many previous passwords may not be reused")
      ->required()
      ->check(CLI::Range(0, 24));

  std::string role_text, scope_text = "user", group;
  CLI::App *role_cmd = app.add_subcommand("role", "grant and revoke roles (SPEC RL; the platform's own command)");
  role_cmd->require_subcommand(1);
  auto add_role_options = [&](CLI::App *cmd) {
    add_data(cmd);
    cmd->add_option("--role", role_text, "the role's name or alias (prm-user, prm-admin, spm-admin, enterprise-admin, ...)")
        ->required();
    cmd->add_option("--scope", scope_text, "enterprise, group or user")->capture_default_str();
    cmd->add_option("--email", email, "the user (user scope)");
    cmd->add_option("--group", group, "the account group's name (group scope)");
  };
  CLI::App *role_grant_cmd = role_cmd->add_subcommand("grant", "grant a role at a scope");
  add_role_options(role_grant_cmd);
  CLI::App *role_revoke_cmd = role_cmd->add_subcommand("revoke", "revoke a role at a scope");
  add_role_options(role_revoke_cmd);
  CLI::App *role_list_cmd = role_cmd->add_subcommand("list", "every grant, by scope");
  add_data(role_list_cmd);

  std::string workstation, user_id;
  CLI::App *ws_cmd = app.add_subcommand("workstation", "workstations and the users whose held jobs they may announce");
  ws_cmd->require_subcommand(1);
  auto add_bind_options = [&](CLI::App *cmd) {
    add_data(cmd);
    cmd->add_option("--workstation", workstation, "the workstation's id or name")->required();
    cmd->add_option("--email", email, "the user's e-mail address");
    cmd->add_option("--user", user_id, "or the user's UUID");
  };
  CLI::App *ws_bind = ws_cmd->add_subcommand(
      "bind", "let the workstation announce held jobs for the user (besides users who log in there)");
  add_bind_options(ws_bind);
  CLI::App *ws_unbind = ws_cmd->add_subcommand("unbind", "undo bind; its jobs for the user stop leading there");
  add_bind_options(ws_unbind);
  CLI::App *ws_list = ws_cmd->add_subcommand("list", "enrolled workstations: last address, held jobs, bound users");
  add_data(ws_list);

  std::string job_id;
  CLI::App *jobs_cmd = app.add_subcommand("jobs", "delete a user's held jobs on the workstations (PM-6)");
  jobs_cmd->require_subcommand(1);
  CLI::App *jobs_purge = jobs_cmd->add_subcommand("purge", "delete every job the user holds on any workstation");
  add_data(jobs_purge);
  jobs_purge->add_option("--email", email, "the user's e-mail address")->required();
  CLI::App *jobs_delete = jobs_cmd->add_subcommand("delete", "delete one of the user's jobs");
  add_data(jobs_delete);
  jobs_delete->add_option("--email", email, "the user's e-mail address")->required();
  jobs_delete->add_option("--job", job_id, "the job's id (as `lpm jobs` shows it)")->required();

  std::string backup_file;
  CLI::App *backup_cmd = app.add_subcommand(
      "backup", "copy the database with SQLite's online backup (safe while serving); the file is 0600");
  add_data(backup_cmd);
  backup_cmd->add_option("--file", backup_file, "where to write it (must not exist)")->required();
  CLI::App *restore_cmd = app.add_subcommand(
      "restore", "replace the database with a backup (the directory must be stopped; the old one is kept)");
  add_data(restore_cmd);
  restore_cmd->add_option("--file", backup_file, "the backup file")->required();

  std::string kind;
  int64_t uses = 1;
  int64_t ttl_hours = 24;
  CLI::App *token = app.add_subcommand("token", "manage enrollment tokens");
  token->require_subcommand(1);
  CLI::App *token_create = token->add_subcommand("create", "create an enrollment token; prints it");
  add_data(token_create);
  token_create->add_option("--kind", kind, "what the token enrolls")
      ->required()
      ->check(CLI::IsMember({"workstation", "printer", "accounting", "console"}));
  token_create->add_option("--uses", uses, "how many enrollments it allows")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  token_create->add_option("--ttl-hours", ttl_hours, "hours until it expires")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 3650));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (init->parsed()) return cmd_init(data);
  if (fingerprint->parsed()) return cmd_fingerprint(data);
  if (identity_show->parsed()) return cmd_identity_show(data);
  if (identity_next->parsed()) return cmd_identity_next(data);
  if (identity_rotate->parsed()) return cmd_identity_rotate(data);
  if (serve->parsed()) return cmd_serve(data, so);
  if (user_add->parsed()) return cmd_user_add(data, email, name);
  if (badge_add->parsed()) return cmd_badge_add(data, badge, email);
  if (user_import->parsed()) return cmd_import(data, ImportKind::users, file, import_options);
  if (badge_import->parsed()) return cmd_import(data, ImportKind::badges, file, import_options);
  if (import_show->parsed()) return cmd_import_show(data, import_id, json);
  if (import_resume->parsed()) return cmd_import_resume(data);
  if (policy_show->parsed()) return cmd_password_policy(data, nullptr);
  if (role_grant_cmd->parsed()) return cmd_role(data, true, role_text, scope_text, email, group);
  if (role_revoke_cmd->parsed()) return cmd_role(data, false, role_text, scope_text, email, group);
  if (role_list_cmd->parsed()) return cmd_role_list(data);
  if (ws_bind->parsed()) return cmd_workstation_bind(data, true, workstation, email, user_id);
  if (ws_unbind->parsed()) return cmd_workstation_bind(data, false, workstation, email, user_id);
  if (ws_list->parsed()) return cmd_workstation_list(data);
  if (backup_cmd->parsed()) return cmd_backup(data, backup_file);
  if (jobs_purge->parsed()) return cmd_jobs(data, "purge-user", email, "");
  if (jobs_delete->parsed()) return cmd_jobs(data, "delete-job", email, job_id);
  if (restore_cmd->parsed()) return cmd_restore(data, backup_file);
  if (policy_set->parsed()) return cmd_password_policy(data, &policy);
  if (token_create->parsed()) return cmd_token_create(data, kind, uses, ttl_hours);
  std::fprintf(stderr, "lpm-directory: no command given (see --help)\n");
  return 2;
}
