// Password links (UA-4, UA-7, UA-15): what lets a user who has no password set one. A link is
// issued when users-add creates a user without a password, when an import with --password-links
// creates one, and when an administrator asks (users-password-link); it is e-mailed to the user
// with the directory's mail command (import_mail.h). The user runs `lpm password set --link L`
// on their workstation: password-link-use, which needs no session since the link authorises it.
// A link's text is never logged nor audited: its id (the first 16 hex digits of its SHA-256) is.
#include <uv.h>

#include <cstring>

#include "directory_service_private.h"
#include "import_mail.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "passwords.h"

namespace lpm::directory {
namespace {

// A link mail runs while an administrator's users-password-link waits (lpm waits 30 s for an
// answer), so the command gets less than that.
constexpr int kLinkMailTimeoutMs = 20 * 1000;

std::string user_text(const User &user) {
  return "user " + user.id + " " + user.email;
}

std::string link_mail_body(const User &user, const std::string &link_text, int64_t expires_ms) {
  std::string name = user.display_name.empty() ? user.email : user.display_name;
  return "Hello " + name +
         ",\n\n"
         "you can now set the password of your print release account " +
         user.email +
         ". On your workstation, run:\n\n"
         "    lpm password set --link " +
         link_text +
         "\n\n"
         "It asks for the new password twice. The link works once, until " +
         utc_minute_text(expires_ms) +
         "; after that, ask your administrator for a new one.\n"
         "If you did not expect this message, tell your administrator.\n";
}

// One link mail on the thread pool: the command runs there, the outcome is audited on the loop.
struct LinkMailWork {
  uv_work_t req{};
  std::weak_ptr<DirectoryService::Core> core;
  std::string command;
  User user;
  std::string link_id;
  std::string body; // holds the link's text: wiped
  Status sent;
  std::function<void(DirectoryService::Core *, Status)> done;
  LinkMailWork() = default;
  LinkMailWork(const LinkMailWork &) = delete;
  LinkMailWork &operator=(const LinkMailWork &) = delete;
  ~LinkMailWork() { ::explicit_bzero(body.data(), body.size()); }
};

void link_mail_send(uv_work_t *req) {
  auto *m = static_cast<LinkMailWork *>(req->data);
  m->sent = run_mail_command(m->command, m->user.email, "Set your password", m->body, kLinkMailTimeoutMs);
}

void link_mail_sent(uv_work_t *req, int status) {
  std::unique_ptr<LinkMailWork> m(static_cast<LinkMailWork *>(req->data));
  if (status != 0)
    m->sent = make_error(Errc::unavailable, "the mail was cancelled: the directory is stopping");
  auto core = m->core.lock();
  if (m->sent.ok())
    LPM_INFO("password link %s mailed to %s", m->link_id.c_str(), m->user.email.c_str());
  else
    LPM_WARN(
        "mailing password link %s to %s failed: %s (`lpm users password-link --email %s` issues a new one)",
        m->link_id.c_str(), m->user.email.c_str(), m->sent.error().to_string().c_str(),
        m->user.email.c_str());
  if (core)
    (void)core->store->audit(wall_ms(), "directory",
                             m->sent.ok() ? "password-link-mailed" : "password-link-mail-failed",
                             "password link " + m->link_id + " to " + user_text(m->user) +
                                 (m->sent.ok() ? "" : ": " + m->sent.error().message));
  if (m->done) m->done(core && !core->stopped ? core.get() : nullptr, m->sent);
}

// A new password being set with a link; wiped when done with.
struct LinkPassword {
  std::string link_text;
  std::string password;
  std::vector<std::string> previous; // the user's newest hashes, for the history check (UA-3)
  uint32_t history = 0;
  Result<bool> reused = false;
  Result<std::string> hash = std::string();
  LinkPassword() = default;
  LinkPassword(const LinkPassword &) = delete;
  LinkPassword &operator=(const LinkPassword &) = delete;
  ~LinkPassword() {
    ::explicit_bzero(link_text.data(), link_text.size());
    ::explicit_bzero(password.data(), password.size());
  }
};

} // namespace

Result<NewPasswordLink>
DirectoryService::Core::password_link_issue(const User &user, const std::string &actor, int64_t now_ms) {
  auto link = store->password_link_create(user.id, now_ms);
  if (!link.ok()) return link.error();
  std::string detail = "password link " + link->link.id + " for " + user_text(user) + ", expires " +
                       utc_minute_text(link->link.expires_ms);
  if (link->voided > 0) detail += " (voids " + std::to_string(link->voided) + " older)";
  Status s = store->audit(now_ms, actor, "password-link-create", detail);
  if (!s.ok()) return s.error();
  return link;
}

void DirectoryService::Core::password_link_mail(const User &user, NewPasswordLink link,
                                                std::function<void(Core *, Status)> sent) {
  if (mail_command.empty()) {
    LPM_WARN(
        "password link %s for %s was not sent: the directory has no mail command (serve --mail-command); "
        "`lpm users password-link --email %s` gives one to an administrator",
        link.link.id.c_str(), user.email.c_str(), user.email.c_str());
    (void)store->audit(wall_ms(), "directory", "password-link-unsent",
                       "password link " + link.link.id + " for " + user_text(user) + ": no mail command");
    if (sent) sent(this, make_error(Errc::unavailable, "the directory has no mail command"));
    return;
  }
  auto m = std::make_unique<LinkMailWork>();
  m->core = weak_from_this();
  m->command = mail_command;
  m->user = user;
  m->link_id = link.link.id;
  m->body = link_mail_body(user, link.text, link.link.expires_ms);
  m->done = std::move(sent);
  m->req.data = m.get();
  int rc = uv_queue_work(loop, &m->req, link_mail_send, link_mail_sent);
  if (rc != 0) {
    Status failed = make_error(Errc::internal, std::string("cannot queue the mail: ") + uv_strerror(rc));
    LPM_ERROR("password link %s for %s: %s", m->link_id.c_str(), user.email.c_str(),
              failed.error().message.c_str());
    (void)store->audit(wall_ms(), "directory", "password-link-mail-failed",
                       "password link " + m->link_id + " to " + user_text(user) + ": " +
                           failed.error().message);
    if (m->done) m->done(this, failed);
    return;
  }
  m.release(); // owned by the queued request until link_mail_sent
}

void DirectoryService::Core::password_links_for_import(const std::vector<User> &users,
                                                       const std::string &import_id,
                                                       const std::string &actor) {
  for (const User &created : users) {
    // A later record of the file may have deleted the user again.
    auto user = store->user_by_id(created.id);
    if (!user.ok()) {
      LPM_INFO("import %s: %s is gone, no password link", import_id.c_str(), created.email.c_str());
      continue;
    }
    int64_t now = wall_ms();
    auto tx = store->begin();
    Status s = tx.begun();
    Result<NewPasswordLink> link = make_error(Errc::internal, "not issued");
    if (s.ok()) {
      link = password_link_issue(*user, actor + " (import " + import_id + ")", now);
      if (!link.ok()) s = link.error();
    }
    if (s.ok()) s = tx.commit();
    if (!s.ok()) {
      LPM_ERROR("import %s: no password link for %s: %s", import_id.c_str(), user->email.c_str(),
                s.error().to_string().c_str());
      continue;
    }
    password_link_mail(*user, std::move(*link), nullptr);
  }
}

void DirectoryService::Core::handle_users_password_link(const CallPtr &call) {
  proto::UsersPasswordLinkRequest req;
  if (!read_args(call, req)) return;
  auto who = person(call, req.session, Permission::users_write);
  if (!who.ok()) return call->fail(who.error());
  auto user = store->user_by_email(req.email);
  if (!user.ok()) return call->fail(user.error());
  int64_t now = wall_ms();
  auto tx = store->begin();
  if (!tx.begun().ok()) return call->fail(tx.begun().error());
  auto link = password_link_issue(*user, who->actor, now);
  if (!link.ok()) return call->fail(link.error());
  proto::UsersPasswordLinkResult result;
  result.email = user->email;
  result.expires_ms = link->link.expires_ms;
  Status s;
  // Without a mail command the administrator hands the link over: the audit says they got it.
  if (mail_command.empty())
    s = store->audit(now, who->actor, "password-link-given",
                     "password link " + link->link.id + " of " + user_text(*user) + " to the administrator");
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return call->fail(s.error());
  if (mail_command.empty()) {
    LPM_INFO("password link %s for %s given to %s", link->link.id.c_str(), user->email.c_str(),
             who->actor.c_str());
    result.link = link->text;
    reply_with(call, result);
    ::explicit_bzero(result.link.data(), result.link.size());
    return;
  }
  password_link_mail(*user, std::move(*link), [call, result](Core *core, Status sent) mutable {
    if (!core) return call->fail(Errc::unavailable, "the directory is shutting down");
    result.mailed = sent.ok();
    if (!sent.ok()) result.mail_error = sent.error().message;
    reply_with(call, result);
  });
}

void DirectoryService::Core::handle_password_link_use(const CallPtr &call) {
  auto machine = person_machine(*store, call, "use a password link");
  if (!machine.ok()) return call->fail(machine.error());
  proto::PasswordLinkUseRequest req;
  if (!read_args(call, req)) return;
  auto work = std::make_shared<LinkPassword>();
  work->password = std::move(req.password);
  ::explicit_bzero(req.password.data(), req.password.size());
  work->link_text = std::move(req.link);
  ::explicit_bzero(req.link.data(), req.link.size());
  const std::string &link_text = work->link_text;
  // Throttled per link before anything is looked up or hashed; the key is the text's hash, so
  // the throttle's memory holds no link.
  std::string key = token_hash(link_text);
  std::string link_id = key.substr(0, 16);
  std::string from = std::string(proto::enroll_kind_name(machine->kind)) + " " + machine->id;
  int64_t now = wall_ms();
  int64_t blocked_ms = failed_links.blocked_for_ms(key, now);
  if (blocked_ms > 0) {
    (void)store->audit(now, from, "password-link-throttled", "password link " + link_id);
    return call->fail(Errc::rate_limited, "too many failed attempts with this password link: try again in " +
                                              minutes_text(blocked_ms));
  }
  auto link = store->password_link_find(link_text, now);
  if (!link.ok()) {
    failed_links.failed(key, now);
    (void)store->audit(now, from, "password-link-refused",
                       "password link " + link_id + ": " + link.error().message);
    return call->fail(link.error());
  }
  auto user = store->user_by_id(link->user_id);
  if (!user.ok()) return call->fail(user.error());
  // The same checks as every other way a password is set (UA-3): the policy here, the history
  // (one Argon2id verification per entry) and the hash on the thread pool.
  auto policy = store->password_policy();
  if (!policy.ok()) return call->fail(policy.error());
  Status acceptable = password_policy_check(*policy, work->password);
  if (!acceptable.ok()) return call->fail(acceptable.error());
  work->history = policy->history;
  if (policy->history > 0) {
    auto previous = store->password_hashes(user->id, policy->history);
    if (!previous.ok()) return call->fail(previous.error());
    work->previous = std::move(*previous);
  }
  on_thread_pool(
      call,
      [work] {
        work->reused = password_reused(work->password, work->previous, work->history);
        if (work->reused.ok() && !*work->reused)
          work->hash = password_hash(work->password, argon2_params_default());
      },
      [work, call, key, from, user = *user](Core &core) {
        if (!work->reused.ok()) return call->fail(work->reused.error());
        if (*work->reused)
          return call->fail(Errc::bad_request, "the password is one of your last " +
                                                   std::to_string(work->history) +
                                                   " passwords; choose another (UA-3)");
        if (!work->hash.ok()) return call->fail(work->hash.error());
        int64_t set_ms = wall_ms();
        auto tx = core.store->begin();
        Status s = tx.begun();
        // Spent in the same transaction as the password it sets: both or neither.
        Result<PasswordLink> spent = make_error(Errc::internal, "not spent");
        if (s.ok()) {
          spent = core.store->password_link_consume(work->link_text, set_ms);
          if (!spent.ok()) s = spent.error();
        }
        if (s.ok()) s = core.store->password_set(user.id, *work->hash, set_ms);
        if (s.ok())
          s = core.store->audit(set_ms, user_text(user), "password-link-use",
                                "password link " + spent->id + " on " + from);
        if (s.ok())
          s = core.store->audit(set_ms, user_text(user), "password-set",
                                "user " + user.id + " with a password link");
        if (s.ok()) s = tx.commit();
        if (!s.ok()) return call->fail(s.error());
        core.failed_links.clear(key);
        LPM_INFO("%s set their password with password link %s on %s", user.email.c_str(), spent->id.c_str(),
                 from.c_str());
        proto::PasswordLinkUseResult result;
        result.email = user.email;
        reply_with(call, result);
      });
}

} // namespace lpm::directory
