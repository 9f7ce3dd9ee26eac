// The directory's ops for people: login, refresh-session, logout, whoami, and the administrative
// ops (import-start, import-show, users-list), each checked against the caller's session and
// effective roles (DESIGN §3, §6). Password hashing and imports run on the libuv thread pool: one
// Argon2id hash takes about 0.1 s and 64 MiB, which the loop must not wait for.
#include <uv.h>

#include <cstring>

#include "directory_import.h"
#include "directory_service_private.h"
#include "import_mail.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/session.h"
#include "passwords.h"

namespace lpm::directory {
namespace {

// Records applied per step of an import on the thread pool: small enough that stopping the
// service waits little, large enough that the hand-offs cost nothing next to the records.
constexpr size_t kImportStepRecords = 20;
static_assert(kMaxImportBytes == proto::kMaxImportFileBytes, "one import cap for lpm, the agent and the directory");

// Login throttling: an account whose password was wrong 5 times in 15 minutes is refused until
// the window ends (FailureThrottle's defaults), and at most this many password or PIN checks wait
// for the thread pool at once.
constexpr size_t kMaxPendingSecretChecks = 32;

// Failed logins all read the same, so they do not tell which e-mail addresses exist.
constexpr const char *kLoginRefused = "wrong e-mail address or password";

// The hash a login with an unknown e-mail (or a user without a password) is checked against, so
// it costs the same time as a wrong password.
const std::string &decoy_hash() {
  static const std::string hash = [] {
    auto h = password_hash("decoy password of no account", argon2_params_default());
    return h.ok() ? *h : std::string();
  }();
  return hash;
}

} // namespace

Result<EnrolledEntry> person_machine(DirectoryStore &store, const CallPtr &call, const char *op_text) {
  const proto::Fingerprint &fp = call->peer_info().fingerprint;
  if (fp.empty()) return make_error(Errc::unauthenticated, std::string(op_text) + " needs a client certificate");
  auto entry = store.enrolled_by_fingerprint(fp);
  if (!entry.ok()) {
    if (entry.error().code == Errc::not_found)
      return make_error(Errc::unauthenticated, "key " + short_key(fp) + "... is not enrolled with this directory");
    return entry.error();
  }
  if (entry->revoked) return make_error(Errc::unauthenticated, "key " + short_key(fp) + "... was revoked");
  if (entry->kind != EnrollKind::workstation && entry->kind != EnrollKind::console)
    return make_error(Errc::forbidden, std::string(op_text) + " comes from workstations and consoles, not from a " +
                                           proto::enroll_kind_name(entry->kind));
  return entry;
}

namespace {

std::string join(const std::vector<std::string> &items) {
  std::string out;
  for (const auto &i : items)
    out += (out.empty() ? "" : ", ") + i;
  return out.empty() ? "none" : out;
}

// A job for the thread pool (Core::on_thread_pool): `work` there, `done` back on the loop.
struct PoolWork {
  uv_work_t req{};
  std::weak_ptr<DirectoryService::Core> core;
  CallPtr call;
  std::function<void()> work;
  std::function<void(DirectoryService::Core &)> done;
};

// A password being checked; the password is wiped when the check is done with.
struct PasswordCheck {
  std::string password;
  std::string hash; // "" for an unknown e-mail or a user without a password: checked against the decoy
  bool verified = false;
  PasswordCheck() = default;
  PasswordCheck(const PasswordCheck &) = delete;
  PasswordCheck &operator=(const PasswordCheck &) = delete;
  ~PasswordCheck() { ::explicit_bzero(password.data(), password.size()); }
};

struct ImportWork {
  uv_work_t req{};
  std::weak_ptr<DirectoryService::Core> core;
  std::string id;
  std::string db_path;
  // Opened and used on the worker threads only (one step at a time), closed on the loop.
  std::unique_ptr<DirectoryStore> store;
  std::unique_ptr<ImportRunner> runner;
  Result<bool> done = false;
  std::vector<User> links; // users due a password link (UA-15), from the last step
};

// Collects an uploaded import file, refusing more than the cap as it arrives.
class ImportSink final : public proto::ChunkSink {
public:
  explicit ImportSink(std::shared_ptr<std::string> content) : content_(std::move(content)) {}
  Status write(std::span<const uint8_t> data) override {
    if (content_->size() + data.size() > kMaxImportBytes)
      return make_error(Errc::too_large, "an import file may have at most 1,048,576 bytes (1 MB)");
    content_->append(reinterpret_cast<const char *>(data.data()), data.size());
    return {};
  }
  Status finish(std::span<const uint8_t>, uint64_t) override { return {}; }

private:
  std::shared_ptr<std::string> content_;
};

} // namespace

// ---------------------------------------------------------------------------------------------
// Sessions

Result<Person> DirectoryService::Core::person(const CallPtr &call, const std::string &session_text,
                                              std::optional<Permission> permission) {
  auto machine = person_machine(*store, call, call->op().c_str());
  if (!machine.ok()) return machine.error();
  auto signed_session = proto::session_from_text(session_text);
  if (!signed_session.ok())
    return make_error(Errc::unauthenticated, "no valid session (" + signed_session.error().message +
                                                 "): log in with `lpm login`");
  int64_t now = wall_ms();
  auto session = proto::session_verify(*signed_session, session_signers, now);
  if (!session.ok()) {
    if (session.error().code == Errc::expired)
      return make_error(Errc::expired, "the session has expired: refresh it, or log in again");
    return make_error(Errc::unauthenticated, "no valid session (" + session.error().message + ")");
  }
  auto login = store->session_get(session->session_id);
  if (!login.ok() || login->user_id != session->user)
    return make_error(Errc::unauthenticated, "this login was closed (logged out): log in again");
  auto user = store->user_by_id(session->user);
  if (!user.ok()) return make_error(Errc::unauthenticated, "the session's user no longer exists");
  // Roles are read now, not taken from the token: a revoked role stops working at once here.
  auto roles = effective_roles(*store, user->id);
  if (!roles.ok()) return roles.error();
  if (permission && !roles_allow(*roles, *permission)) {
    std::vector<std::string> holders;
    for (size_t i = 0; i < kRoleCount; i++)
      if (role_allows(static_cast<Role>(i), *permission)) holders.push_back(role_name(static_cast<Role>(i)));
    return make_error(Errc::forbidden, call->op() + " needs one of these roles: " + join(holders) +
                                           "; you hold: " + join(roles->names()));
  }
  Person p;
  p.user = std::move(*user);
  p.roles = *roles;
  p.actor = "user " + p.user.id + " " + p.user.email;
  return p;
}

Result<proto::SessionGrant> DirectoryService::Core::grant(const User &user, const LoginSession &login,
                                                          std::string refresh_token, int64_t now_ms) {
  if (!keys.session_key) return make_error(Errc::internal, "the directory has no session-signing key");
  auto roles = effective_roles(*store, user.id);
  if (!roles.ok()) return roles.error();
  proto::Session session;
  session.user = user.id;
  session.email = user.email;
  session.roles = roles->names();
  session.session_id = login.id;
  session.issued_ms = now_ms;
  session.expires_ms = now_ms + proto::kSessionLifetimeMs;
  auto signed_session = proto::session_sign(session, *keys.session_key);
  if (!signed_session.ok()) return signed_session.error();
  proto::SessionGrant g;
  g.user = user.id;
  g.email = user.email;
  g.display_name = user.display_name;
  g.roles = session.roles;
  g.session = proto::session_to_text(*signed_session);
  g.session_expires_ms = session.expires_ms;
  g.refresh_token = std::move(refresh_token);
  g.refresh_expires_ms = login.expires_ms;
  return g;
}

Status DirectoryService::Core::login_allowed(const std::string &email_key, int64_t now_ms) {
  int64_t blocked_ms = failed_logins.blocked_for_ms(email_key, now_ms);
  if (blocked_ms == 0) return {};
  return make_error(Errc::rate_limited,
                    "too many failed logins for this account: try again in " + minutes_text(blocked_ms));
}

void DirectoryService::Core::on_thread_pool(const CallPtr &call, std::function<void()> work,
                                            std::function<void(Core &)> done) {
  if (secret_checks_pending >= kMaxPendingSecretChecks)
    return call->fail(Errc::rate_limited, "too many password checks are waiting: try again in a moment");
  auto job = std::make_unique<PoolWork>();
  job->core = weak_from_this();
  job->call = call;
  job->work = std::move(work);
  job->done = std::move(done);
  job->req.data = job.get();
  int rc = uv_queue_work(
      loop, &job->req, [](uv_work_t *req) { static_cast<PoolWork *>(req->data)->work(); },
      [](uv_work_t *req, int status) {
        std::unique_ptr<PoolWork> j(static_cast<PoolWork *>(req->data));
        auto core = j->core.lock();
        if (core) core->secret_checks_pending--;
        if (!core || core->stopped || status != 0)
          return j->call->fail(Errc::unavailable, "the directory is shutting down");
        j->done(*core);
      });
  if (rc != 0)
    return call->fail(Errc::internal, std::string("cannot queue the password check: ") + uv_strerror(rc));
  secret_checks_pending++;
  job.release(); // owned by the queued request until its after-work callback
}

void DirectoryService::Core::sign_in(const CallPtr &call, const std::string &email, std::string password,
                                     const std::string &from,
                                     std::function<void(Core &, const User &)> signed_in) {
  auto check = std::make_shared<PasswordCheck>();
  check->password = std::move(password);
  ::explicit_bzero(password.data(), password.size());
  // Throttled before any hash is computed: unknown e-mails count like known ones, so the
  // answers still do not tell which accounts exist.
  auto email_key = email_normalize(email);
  std::string key = email_key.ok() ? *email_key : email.substr(0, kMaxEmailBytes);
  int64_t asked = wall_ms();
  Status allowed = login_allowed(key, asked);
  if (!allowed.ok()) {
    (void)store->audit(asked, from, "login-throttled", "e-mail " + key);
    return call->fail(allowed.error());
  }
  std::optional<User> user;
  auto found = store->user_by_email(email);
  if (found.ok()) {
    user = *found;
    auto hashes = store->password_hashes(found->id, 1);
    if (!hashes.ok()) return call->fail(hashes.error());
    if (!hashes->empty()) check->hash = hashes->front();
  }
  on_thread_pool(
      call,
      [check] {
        bool real = !check->hash.empty();
        auto ok = password_verify(real ? check->hash : decoy_hash(), check->password);
        check->verified = real && ok.ok() && *ok;
      },
      [check, call, key, from, user, signed_in = std::move(signed_in)](Core &core) {
        int64_t now = wall_ms();
        if (!check->verified) {
          core.failed_logins.failed(key, now);
          (void)core.store->audit(now, from, "login-failed", "e-mail " + key);
          return call->fail(Errc::unauthenticated, kLoginRefused);
        }
        core.failed_logins.clear(key); // a success ends the account's window
        signed_in(core, *user);
      });
}

void DirectoryService::Core::handle_login(const CallPtr &call) {
  auto machine = person_machine(*store, call, "log in");
  if (!machine.ok()) return call->fail(machine.error());
  proto::LoginRequest request;
  if (!read_args(call, request)) return;
  std::string from = std::string(proto::enroll_kind_name(machine->kind)) + " " + machine->id;
  std::string email = request.email;
  sign_in(call, email, std::move(request.password), from,
          [call, machine = *machine, os_account = request.os_account, from](Core &core, const User &user) {
            int64_t now = wall_ms();
            LoginSession login;
            auto tx = core.store->begin();
            Status s = tx.begun();
            Result<std::string> refresh = make_error(Errc::internal, "not opened");
            if (s.ok()) {
              refresh = core.store->session_open(user.id, machine.id, os_account, now, login);
              if (!refresh.ok()) s = refresh.error();
            }
            // Logging in on a workstation lets it register held jobs for this user (DESIGN §4).
            if (s.ok() && machine.kind == EnrollKind::workstation)
              s = core.store->workstation_user_add(machine.id, user.id, "login", now);
            if (s.ok())
              s = core.store->audit(now, "user " + user.id + " " + user.email, "login",
                                    "on " + from + (os_account.empty() ? "" : " as " + os_account));
            if (s.ok()) s = tx.commit();
            if (!s.ok()) return call->fail(s.error());
            auto granted = core.grant(user, login, std::move(*refresh), now);
            if (!granted.ok()) return call->fail(granted.error());
            LPM_INFO("login of %s on %s", user.email.c_str(), from.c_str());
            reply_with(call, *granted);
          });
}

void DirectoryService::Core::handle_refresh(const CallPtr &call) {
  auto machine = person_machine(*store, call, "refresh a session");
  if (!machine.ok()) return call->fail(machine.error());
  proto::RefreshRequest req;
  if (!read_args(call, req)) return;
  int64_t now = wall_ms();
  LoginSession login;
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto refresh = store->session_refresh(req.refresh_token, machine->id, now, login);
  if (!refresh.ok()) {
    if (refresh.error().code == Errc::expired) (void)tx.commit(); // the expired login is removed
    return call->fail(refresh.error());
  }
  auto user = store->user_by_id(login.user_id);
  if (!user.ok()) return call->fail(Errc::unauthenticated, "the login's user no longer exists");
  Status s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  auto granted = grant(*user, login, std::move(*refresh), now);
  if (!granted.ok()) return call->fail(granted.error());
  reply_with(call, *granted);
}

void DirectoryService::Core::handle_logout(const CallPtr &call) {
  auto machine = person_machine(*store, call, "log out");
  if (!machine.ok()) return call->fail(machine.error());
  proto::RefreshRequest req;
  if (!read_args(call, req)) return;
  int64_t now = wall_ms();
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto closed = store->session_close(req.refresh_token);
  if (!closed.ok()) {
    if (closed.error().code == Errc::not_found) return call->fail(Errc::not_found, "no login has this refresh token");
    return call->fail(closed.error());
  }
  Status s = store->audit(now, "user " + closed->user_id, "logout", "login " + closed->id);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  call->reply(MapWriter());
}

void DirectoryService::Core::handle_whoami(const CallPtr &call) {
  proto::SessionRequest req;
  if (!read_args(call, req)) return;
  // Any signed-in person may ask who they are: no permission needed, even with no role at all.
  auto who = person(call, req.session, std::nullopt);
  if (!who.ok()) return call->fail(who.error());
  proto::WhoamiResult result;
  result.user = who->user.id;
  result.email = who->user.email;
  result.roles = who->roles.names();
  reply_with(call, result);
}

// ---------------------------------------------------------------------------------------------
// Imports

void DirectoryService::Core::handle_import_start(const CallPtr &call) {
  proto::ImportStartRequest req;
  if (!read_args(call, req)) return;
  auto kind = import_kind_parse(req.kind);
  if (!kind.ok()) return call->fail(kind.error());
  // Each kind needs the permission of what it changes (print-users: PM-4).
  auto who = person(call, req.session,
                    *kind == ImportKind::users    ? Permission::users_write
                    : *kind == ImportKind::badges ? Permission::badges_write
                                                  : Permission::print_users_manage);
  if (!who.ok()) return call->fail(who.error());
  if (req.size > kMaxImportBytes)
    return call->fail(Errc::too_large, "the file has " + std::to_string(req.size) +
                                           " bytes; an import file may have at most 1,048,576 (1 MB)");
  auto content = std::make_shared<std::string>();
  std::weak_ptr<Core> weak = weak_from_this();
  std::string actor = who->actor;
  call->receive_stream(std::make_unique<ImportSink>(content), [weak, req, kind = *kind, actor, content](CallPtr done, Status s) {
    if (!s.ok()) return done->fail(s.error());
    auto core = weak.lock();
    if (!core || core->stopped) return done->fail(Errc::unavailable, "the directory is shutting down");
    ImportOptions options;
    options.strict = req.strict;
    options.password_links = req.password_links;
    auto info = import_start(*core->store, kind, req.file_name, *content, options, actor, wall_ms());
    if (!info.ok()) return done->fail(info.error());
    LPM_INFO("import %s of %s (%lld records) started by %s", info->id.c_str(), req.file_name.c_str(),
             static_cast<long long>(info->records), actor.c_str());
    proto::ImportStartResult result;
    result.import = info->id;
    result.records = static_cast<uint64_t>(info->records);
    reply_with(done, result);
    core->run_import(core, info->id);
  });
}

namespace {

// Mailing the log of a finished import (import_mail.h), on the thread pool with the import's own
// database connection.
struct MailWork {
  uv_work_t req{};
  std::weak_ptr<DirectoryService::Core> core;
  std::unique_ptr<DirectoryStore> store;
  std::string id;
  std::string command;
  std::string to;
  Status sent;
};
constexpr int kMailTimeoutMs = 30 * 1000;

void mail_send(uv_work_t *req) {
  auto *m = static_cast<MailWork *>(req->data);
  auto text = import_log_text(*m->store, m->id);
  if (!text.ok()) {
    m->sent = text.error();
    return;
  }
  m->sent = run_mail_command(m->command, m->to, "Import " + m->id + " finished", *text, kMailTimeoutMs);
}

void mail_sent(uv_work_t *req, int) {
  std::unique_ptr<MailWork> m(static_cast<MailWork *>(req->data));
  auto core = m->core.lock();
  if (m->sent.ok())
    LPM_INFO("import %s: its log was mailed to %s", m->id.c_str(), m->to.c_str());
  else
    LPM_WARN("import %s: mailing its log to %s failed: %s (`lpm imports show %s` still has it)", m->id.c_str(),
             m->to.c_str(), m->sent.error().to_string().c_str(), m->id.c_str());
  if (core)
    (void)core->store->audit(wall_ms(), "directory", m->sent.ok() ? "import-mail" : "import-mail-failed",
                             "import " + m->id + " to " + m->to);
}

void mail_import_log(const std::shared_ptr<DirectoryService::Core> &core, std::unique_ptr<ImportWork> w) {
  std::string to = actor_email(w->runner->info().actor);
  if (to.empty()) return; // started on the directory's host: nobody to mail
  auto m = std::make_unique<MailWork>();
  m->core = core;
  m->store = std::move(w->store);
  m->id = w->id;
  m->command = core->mail_command;
  m->to = std::move(to);
  m->req.data = m.get();
  int rc = uv_queue_work(core->loop, &m->req, mail_send, mail_sent);
  if (rc != 0) {
    LPM_ERROR("import %s: cannot queue its mail: %s", m->id.c_str(), uv_strerror(rc));
    return;
  }
  m.release(); // owned by the queued request until mail_sent
}

// On a worker thread: one step of the import (its own database connection, opened at the first).
void import_step(uv_work_t *req) {
  auto *w = static_cast<ImportWork *>(req->data);
  w->links.clear();
  if (!w->runner) {
    auto opened = DirectoryStore::open(w->db_path);
    if (!opened.ok()) {
      w->done = opened.error();
      return;
    }
    w->store = std::move(*opened);
    ImportRunner::Hooks hooks;
    hooks.on_password_link = [w](const User &u) { w->links.push_back(u); };
    auto runner = ImportRunner::load(*w->store, w->id, std::move(hooks));
    if (!runner.ok()) {
      w->done = runner.error();
      return;
    }
    w->runner = std::move(*runner);
  }
  w->done = w->runner->step(kImportStepRecords, wall_ms());
}

// On the loop: queue the next step, or finish.
void import_stepped(uv_work_t *req, int status) {
  std::unique_ptr<ImportWork> w(static_cast<ImportWork *>(req->data));
  auto core = w->core.lock();
  if (!core) return;
  // Users the step created without a password get their link now, mailed to each (UA-7, UA-15).
  if (!w->links.empty() && w->runner) core->password_links_for_import(w->links, w->id, w->runner->info().actor);
  bool finished = status == 0 && w->done.ok() && *w->done;
  if (status != 0 || core->stopped || !w->done.ok() || finished) {
    if (!w->done.ok())
      LPM_ERROR("import %s stopped: %s (it resumes when the directory restarts)", w->id.c_str(),
                w->done.error().to_string().c_str());
    else if (finished)
      LPM_INFO("import %s done: %lld applied, %lld failed", w->id.c_str(),
               static_cast<long long>(w->runner->info().applied), static_cast<long long>(w->runner->info().failed));
    core->imports_running.erase(w->id);
    if (finished && !core->mail_command.empty()) mail_import_log(core, std::move(w));
    return;
  }
  int rc = uv_queue_work(core->loop, &w->req, import_step, import_stepped);
  if (rc != 0) {
    LPM_ERROR("import %s: cannot queue its next step: %s", w->id.c_str(), uv_strerror(rc));
    core->imports_running.erase(w->id);
    return;
  }
  w.release(); // owned by the queued request again
}

} // namespace

void DirectoryService::Core::run_import(const std::shared_ptr<Core> &self, const std::string &import_id) {
  if (!imports_running.insert(import_id).second) return; // already being applied
  auto work = std::make_unique<ImportWork>();
  work->core = self;
  work->id = import_id;
  work->db_path = db_path;
  work->req.data = work.get();
  int rc = uv_queue_work(loop, &work->req, import_step, import_stepped);
  if (rc != 0) {
    LPM_ERROR("import %s: cannot queue it: %s", import_id.c_str(), uv_strerror(rc));
    imports_running.erase(import_id);
    return;
  }
  work.release(); // owned by the queued request until import_stepped
}

void DirectoryService::Core::resume_imports(const std::shared_ptr<Core> &self) {
  auto running = store->imports_running();
  if (!running.ok()) {
    LPM_ERROR("cannot list unfinished imports: %s", running.error().to_string().c_str());
    return;
  }
  for (const auto &id : *running) {
    LPM_INFO("resuming import %s", id.c_str());
    run_import(self, id);
  }
}

void DirectoryService::Core::handle_import_show(const CallPtr &call) {
  proto::ImportShowRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_read);
  if (!who.ok()) return call->fail(who.error());
  auto info = store->import_get(req.import);
  if (!info.ok()) return call->fail(info.error());
  int64_t after = 0;
  if (!req.page.after.empty()) after = std::strtoll(req.page.after.c_str(), nullptr, 10);
  auto rows = store->import_log(req.import, after, req.page.limit + 1);
  if (!rows.ok()) return call->fail(rows.error());
  proto::ImportShowResult result;
  result.import = info->id;
  result.kind = info->kind;
  result.actor = info->actor;
  result.file_name = info->file_name;
  result.records = static_cast<uint64_t>(info->records);
  result.applied = static_cast<uint64_t>(info->applied);
  result.failed = static_cast<uint64_t>(info->failed);
  result.warnings = static_cast<uint64_t>(info->warnings);
  result.state = info->state;
  result.started_ms = info->started_ms;
  result.finished_ms = info->finished_ms;
  for (auto &row : *rows) {
    if (result.log.size() == req.page.limit) {
      result.next = std::to_string(result.log.back().record);
      break;
    }
    result.log.push_back(proto::ImportLogEntry{row.record, row.line, row.key, row.result, row.reason});
  }
  reply_with(call, result);
}

// ---------------------------------------------------------------------------------------------
// Users

void DirectoryService::Core::handle_users_list(const CallPtr &call) {
  proto::UsersListRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_read);
  if (!who.ok()) return call->fail(who.error());
  auto users = store->users_list(req.page.after, req.page.limit + 1);
  if (!users.ok()) return call->fail(users.error());
  proto::UsersListResult result;
  for (auto &u : *users) {
    if (result.users.size() == req.page.limit) {
      result.next = result.users.back().email;
      break;
    }
    result.users.push_back(user_entry(u));
  }
  reply_with(call, result);
}

} // namespace lpm::directory
