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
#include "roles.h"
#include "directory_store.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/stream.h"

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
    std::fprintf(stderr, "lpm-directory: %s has no password yet: a password-change link is due (sending "
                         "links needs the directory service's mail command)\n",
                 u.email.c_str());
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

// The subject of a grant at `scope`: '' (enterprise), a group's id by name, a user's id by e-mail.
Result<std::string> role_subject(DirectoryStore &store, RoleScope scope, const std::string &email,
                                 const std::string &group) {
  switch (scope) {
  case RoleScope::enterprise:
    if (!email.empty() || !group.empty())
      return make_error(Errc::bad_request, "an enterprise role names no --email or --group");
    return std::string();
  case RoleScope::group: {
    if (group.empty()) return make_error(Errc::bad_request, "a group role needs --group NAME");
    auto g = store.group_by_name(group);
    if (!g.ok()) return g.error();
    return g->id;
  }
  case RoleScope::user: break;
  }
  if (email.empty()) return make_error(Errc::bad_request, "a user role needs --email");
  auto u = store.user_by_email(email);
  if (!u.ok()) return u.error();
  return u->id;
}

// Grants or revokes a role: the platform's own command (RL-15), so it may grant the platform
// roles (Enterprise Administrator, User Administrator) too.
int cmd_role(const std::string &data, bool grant, const std::string &role_text, const std::string &scope_text,
             const std::string &email, const std::string &group) {
  auto role = role_parse(role_text);
  if (!role.ok()) return fail(role.error());
  auto scope = role_scope_parse(scope_text);
  if (!scope.ok()) return fail(scope.error());
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  auto subject = role_subject(**store, *scope, email, group);
  if (!subject.ok()) return fail(subject.error());
  auto tx = (*store)->begin();
  if (!tx.begun().ok()) return fail(tx.begun().error());
  auto changed = grant ? role_grant(**store, *scope, *subject, *role, wall_ms())
                       : role_revoke(**store, *scope, *subject, *role);
  if (!changed.ok()) return fail(changed.error());
  std::string what = std::string(role_name(*role)) + " at " + role_scope_name(*scope) + " scope" +
                     (subject->empty() ? "" : " to " + (email.empty() ? group : email));
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

int cmd_serve(const std::string &data, const std::string &listen_text) {
  auto endpoint = proto::parse_endpoint(listen_text);
  if (!endpoint.ok()) return fail(endpoint.error());
  auto keys = folder_load_keys(data);
  if (!keys.ok()) return fail(keys.error());
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());

  uv_loop_t loop;
  uv_loop_init(&loop);
  int rc = 0;
  {
    DirectoryService service(&loop, std::move(*keys), std::move(*store));
    auto port = service.listen(*endpoint);
    if (!port.ok()) {
      rc = fail(port.error());
      service.stop();
    } else {
      Shutdown shutdown;
      shutdown.service = &service;
      shutdown.start(&loop);
      std::printf("ready %u\n", static_cast<unsigned>(*port));
      std::fflush(stdout);
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

  std::string listen = "127.0.0.1:9710";
  CLI::App *serve =
      app.add_subcommand("serve", "serve enroll, register, badge-in and list-enrolled over TLS");
  add_data(serve);
  serve->add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();

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
  if (serve->parsed()) return cmd_serve(data, listen);
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
  if (policy_set->parsed()) return cmd_password_policy(data, &policy);
  if (token_create->parsed()) return cmd_token_create(data, kind, uses, ttl_hours);
  std::fprintf(stderr, "lpm-directory: no command given (see --help)\n");
  return 2;
}
