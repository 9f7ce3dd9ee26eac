// Password links (UA-4, UA-7, UA-15): the store's links (hash only, one use, voided by a newer
// one, expiry), the links users-add and imports with --password-links issue and e-mail to the
// user with the mail command, users-password-link with and without a mail command, and
// password-link-use: the link sets the password once, with the policy and history checked, and
// every refusal changes nothing. The link's text is never in the audit log.
#include <catch2/catch.hpp>

#include <regex>
#include <string>
#include <vector>

#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops_admin.h"
#include "people_fixture.h"
#include "roles.h"
#include "service_harness.h"

using namespace lpm;
using namespace lpm::directory;
using namespace lpm::directory::test;
using proto::SyncClient;

namespace {

const std::string kNewPassword = "Brand-New-Secret-42";

// The People fixture with an enterprise administrator logged in, and a mail command that keeps
// each message in the temp dir under its recipient's address: "<to>.body", "<to>.subject".
struct Links : People {
  TempDir mail;
  User admin = user(kAdmin, {Role::enterprise_administrator});
  std::string admin_session = People::session(kAdmin);

  void mail_on() {
    h.service().set_mail_command("cat > '" + mail.path +
                                 "'/\"$LPM_MAIL_TO.body\"; printf '%s' \"$LPM_MAIL_SUBJECT\" > '" +
                                 mail.path + "'/\"$LPM_MAIL_TO.subject\"");
  }

  // The mail to `to` once its command has finished (the loop runs while waiting).
  std::string mailed_body(const std::string &to) {
    auto subject = [&] { return read_file(mail.path + "/" + to + ".subject", 4096); };
    REQUIRE(proto::run_until(
        h.loop(), [&] { return subject().ok() && !subject()->empty(); }, 10000));
    CHECK(*subject() == "Set your password");
    auto body = read_file(mail.path + "/" + to + ".body", 1 << 20);
    REQUIRE(body.ok());
    return *body;
  }

  // The link in a mail: what follows `lpm password set --link `.
  static std::string link_in(const std::string &body) {
    std::smatch m;
    REQUIRE(std::regex_search(body, m, std::regex("lpm password set --link ([0-9a-f]{64})\n")));
    return m[1].str();
  }

  Result<proto::UsersAddResult> add(const std::string &email) {
    proto::UsersAddRequest req;
    req.session = admin_session;
    req.email = email;
    req.display_name = "Dana D.";
    return rpc<proto::UsersAddResult>(*ws, proto::op::users_add, req);
  }
  Result<proto::UsersPasswordLinkResult> issue(const std::string &email, const std::string &as = "") {
    proto::UsersPasswordLinkRequest req;
    req.session = as.empty() ? admin_session : as;
    req.email = email;
    return rpc<proto::UsersPasswordLinkResult>(*ws, proto::op::users_password_link, req);
  }
  Result<proto::PasswordLinkUseResult> use(const std::string &link, const std::string &password) {
    proto::PasswordLinkUseRequest req;
    req.link = link;
    req.password = password;
    return rpc<proto::PasswordLinkUseResult>(*ws, proto::op::password_link_use, req);
  }

  // Every audit row as one text, to look for what must not be there.
  std::string audit_text() {
    auto rows = h.admin().audit_tail(100000);
    REQUIRE(rows.ok());
    std::string text;
    for (const auto &r : *rows)
      text += r.actor + " | " + r.action + " | " + r.detail + "\n";
    return text;
  }
  bool has_password(const std::string &email) {
    auto u = h.admin().user_by_email(email);
    REQUIRE(u.ok());
    return u->has_password;
  }
};

std::string random_link() {
  uint8_t raw[32];
  random_bytes(raw, sizeof raw);
  return to_hex(raw);
}

} // namespace

TEST_CASE("password links in the store: hash only, one use, voided by a newer one, expiry, precise refusals "
          "(UA-4)",
          "[directory][links][UA-4]") {
  TempDir dir;
  auto opened = DirectoryStore::open(dir.path + "/state.db");
  REQUIRE(opened.ok());
  DirectoryStore &store = **opened;
  int64_t now = 1'800'000'000'000;
  auto user = store.user_add("dana@example.com", "", now, "test");
  REQUIRE(user.ok());

  auto tx = store.begin();
  auto first = store.password_link_create(user->id, now);
  REQUIRE(first.ok());
  REQUIRE(tx.commit().ok());
  CHECK(first->text.size() == kPasswordLinkChars);
  CHECK(first->text.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(first->link.expires_ms == now + kPasswordLinkLifetimeMs);
  CHECK(first->voided == 0);
  // Only the hash is stored.
  auto stored = store.db().prepare("SELECT link_hash FROM password_links");
  REQUIRE(stored.ok());
  REQUIRE(*stored->step());
  CHECK(stored->col_text(0) == token_hash(first->text));
  CHECK(stored->col_text(0).find(first->text) == std::string::npos);

  // Found (any case), not spent by looking.
  REQUIRE(store.password_link_find(first->text, now + 1000).ok());
  std::string upper = first->text;
  for (char &c : upper)
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  REQUIRE(store.password_link_find(upper, now + 1000).ok());
  // Outside a transaction consume refuses and spends nothing.
  CHECK_FALSE(store.password_link_consume(first->text, now).ok());

  // A newer link voids the older unused one.
  auto tx2 = store.begin();
  auto second = store.password_link_create(user->id, now + 2000);
  REQUIRE(second.ok());
  REQUIRE(tx2.commit().ok());
  CHECK(second->voided == 1);
  CHECK(second->text != first->text);
  auto voided = store.password_link_find(first->text, now + 3000);
  REQUIRE_FALSE(voided.ok());
  CHECK(voided.error().code == Errc::not_found);
  CHECK(voided.error().message.find("replaced by a newer one") != std::string::npos);

  // Used once.
  auto tx3 = store.begin();
  auto spent = store.password_link_consume(second->text, now + 4000);
  REQUIRE(spent.ok());
  CHECK(spent->user_id == user->id);
  REQUIRE(tx3.commit().ok());
  auto again = store.password_link_find(second->text, now + 5000);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::not_found);
  CHECK(again.error().message.find("already used") != std::string::npos);

  // Expired: at its expiry it no longer works.
  auto tx4 = store.begin();
  auto third = store.password_link_create(user->id, now + 6000, 60000);
  REQUIRE(third.ok());
  REQUIRE(tx4.commit().ok());
  REQUIRE(store.password_link_find(third->text, now + 6000 + 59999).ok());
  auto expired = store.password_link_find(third->text, now + 6000 + 60000);
  REQUIRE_FALSE(expired.ok());
  CHECK(expired.error().code == Errc::not_found);
  CHECK(expired.error().message.find("expired at") != std::string::npos);

  // Unknown and malformed.
  auto unknown = store.password_link_find(random_link(), now);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::not_found);
  CHECK(unknown.error().message.find("unknown password link") == 0);
  for (const std::string &bad :
       {std::string(), std::string("abc"), std::string(64, 'g'), first->text + "0"}) {
    auto refused = store.password_link_find(bad, now);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::bad_request);
  }

  // No link for a user who does not exist; a deleted user's links go with them.
  auto tx5 = store.begin();
  CHECK(store.password_link_create("no-such-user", now).error().code == Errc::not_found);
  auto fourth = store.password_link_create(user->id, now + 7000);
  REQUIRE(fourth.ok());
  REQUIRE(store.user_delete(user->id).ok());
  REQUIRE(tx5.commit().ok());
  auto gone = store.password_link_find(fourth->text, now + 8000);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().message.find("unknown password link") == 0);
}

TEST_CASE("users-add without a password e-mails the user a password link that sets the password once, then "
          "login works (UA-4)",
          "[directory][links][UA-4]") {
  Links l;
  l.mail_on();
  auto added = l.add("dana@example.com");
  REQUIRE(added.ok());
  CHECK_FALSE(added->user.has_password);
  CHECK(added->password_link == "mailing");

  std::string body = l.mailed_body("dana@example.com");
  CHECK(body.find("Hello Dana D.,") == 0);
  CHECK(body.find("dana@example.com") != std::string::npos);
  CHECK(body.find("works once, until ") != std::string::npos);
  std::string link = Links::link_in(body);
  // Mailed to the user, not to the administrator who created them.
  CHECK_FALSE(read_file(l.mail.path + "/" + kAdmin + ".body", 4096).ok());

  // Before the link is used the user cannot log in.
  CHECK_FALSE(l.login(*l.ws, "dana@example.com", kNewPassword).ok());
  auto used = l.use(link, kNewPassword);
  REQUIRE(used.ok());
  CHECK(used->email == "dana@example.com");
  CHECK(l.has_password("dana@example.com"));
  auto login = l.login(*l.ws, "dana@example.com", kNewPassword);
  REQUIRE(login.ok());

  // A second use is refused and changes nothing: the password stays the one set.
  auto second = l.use(link, "Another-Secret-77");
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == Errc::not_found);
  CHECK(second.error().message.find("already used") != std::string::npos);
  CHECK(l.login(*l.ws, "dana@example.com", kNewPassword).ok());
  CHECK_FALSE(l.login(*l.ws, "dana@example.com", "Another-Secret-77").ok());

  // Audited once the mail command has ended (the loop runs while waiting).
  REQUIRE(proto::run_until(
      l.h.loop(), [&] { return l.audit_text().find("password-link-mailed") != std::string::npos; }, 10000));
  std::string audit = l.audit_text();
  CHECK(audit.find("password-link-create") != std::string::npos);
  CHECK(audit.find("password-link-mailed | password link ") != std::string::npos);
  CHECK(audit.find("to user " + added->user.id + " dana@example.com") != std::string::npos);
  CHECK(audit.find("password-link-use") != std::string::npos);
  CHECK(audit.find("password-link-refused") != std::string::npos);
  CHECK(audit.find(link) == std::string::npos);
  l.h.finish();
}

TEST_CASE("an import with --password-links e-mails each user it created without a password their own link "
          "(UA-7, UA-15)",
          "[directory][links][UA-7][UA-15]") {
  Links l;
  l.mail_on();
  std::string csv = std::string(kUserImportHeader) + "\n"
                                                     "erin@example.com,CREATE,,Erin,,,,,,,\n"
                                                     "finn@example.com,CREATE,,Finn,,,,,,,\n"
                                                     "gail@example.com,CREATE,Correct-Horse-8,,,,,,,,\n";
  proto::ImportStartRequest req;
  req.session = l.admin_session;
  req.kind = "users";
  req.file_name = "users.csv";
  req.size = csv.size();
  req.password_links = true;
  proto::MapWriter w;
  req.write(w);
  auto started = l.ws->call_upload(proto::op::import_start, w, std::make_unique<StringSource>(csv), 10000);
  REQUIRE(started.ok());
  proto::ImportStartResult result;
  auto reader = started->reader();
  result.read(reader);
  REQUIRE(reader.ok());
  auto done = l.wait_done(l.admin_session, result.import);
  CHECK(done.applied == 3);

  std::string erin = Links::link_in(l.mailed_body("erin@example.com"));
  std::string finn = Links::link_in(l.mailed_body("finn@example.com"));
  CHECK(erin != finn);
  // The user with a password in the file gets no link.
  CHECK_FALSE(read_file(l.mail.path + "/gail@example.com.subject", 4096).ok());

  REQUIRE(l.use(finn, kNewPassword).ok());
  CHECK(l.login(*l.ws, "finn@example.com", kNewPassword).ok());
  CHECK_FALSE(l.has_password("erin@example.com"));
  // A link sets only its own user's password.
  CHECK_FALSE(l.login(*l.ws, "erin@example.com", kNewPassword).ok());

  std::string audit = l.audit_text();
  CHECK(audit.find("(import " + result.import + ") | password-link-create") != std::string::npos);
  CHECK(audit.find(erin) == std::string::npos);
  CHECK(audit.find(finn) == std::string::npos);
  l.h.finish();
}

TEST_CASE(
    "without a mail command users-password-link answers the link, users-add says it is unsent, and a newer "
    "link voids the older (UA-4)",
    "[directory][links][UA-4]") {
  Links l;
  auto added = l.add("hana@example.com");
  REQUIRE(added.ok());
  CHECK(added->password_link == "unsent");
  CHECK(l.audit_text().find("password-link-unsent") != std::string::npos);

  auto issued = l.issue("HANA@example.com");
  REQUIRE(issued.ok());
  CHECK(issued->email == "hana@example.com");
  CHECK_FALSE(issued->mailed);
  CHECK(issued->mail_error.empty());
  REQUIRE(issued->link.size() == kPasswordLinkChars);
  CHECK(issued->expires_ms > wall_ms() + kPasswordLinkLifetimeMs - 60000);

  auto newer = l.issue("hana@example.com");
  REQUIRE(newer.ok());
  auto old = l.use(issued->link, kNewPassword);
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().message.find("replaced by a newer one") != std::string::npos);
  CHECK_FALSE(l.has_password("hana@example.com"));
  REQUIRE(l.use(newer->link, kNewPassword).ok());
  CHECK(l.login(*l.ws, "hana@example.com", kNewPassword).ok());

  auto nobody = l.issue("nobody@example.com");
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.error().code == Errc::not_found);

  std::string audit = l.audit_text();
  CHECK(audit.find("password-link-given") != std::string::npos);
  CHECK(audit.find(issued->link) == std::string::npos);
  CHECK(audit.find(newer->link) == std::string::npos);
  l.h.finish();
}

TEST_CASE(
    "password-link-use refuses an expired, unknown or malformed link and a password the policy or history "
    "refuses, changing nothing, and throttles a link that keeps failing (UA-3, UA-4)",
    "[directory][links][UA-3][UA-4]") {
  Links l;
  User ivan = l.user("ivan@example.com"); // has kPassword
  auto added = l.h.admin().user_add("jo@example.com", "", wall_ms(), "test");
  REQUIRE(added.ok());
  User jo = *added;

  // Expired: issued long enough ago.
  {
    auto tx = l.h.admin().begin();
    auto stale = l.h.admin().password_link_create(jo.id, wall_ms() - kPasswordLinkLifetimeMs - 1000);
    REQUIRE(stale.ok());
    REQUIRE(tx.commit().ok());
    auto refused = l.use(stale->text, kNewPassword);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::not_found);
    CHECK(refused.error().message.find("expired at") != std::string::npos);
  }
  auto unknown = l.use(random_link(), kNewPassword);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::not_found);
  CHECK(unknown.error().message.find("unknown password link") == 0);
  auto malformed = l.use("not-a-link", kNewPassword);
  REQUIRE_FALSE(malformed.ok());
  CHECK(malformed.error().code == Errc::bad_request);
  CHECK_FALSE(l.has_password("jo@example.com"));

  // The policy (UA-3): a link survives a refused password and works with a good one.
  auto issued = l.issue("jo@example.com");
  REQUIRE(issued.ok());
  auto weak = l.use(issued->link, "short");
  REQUIRE_FALSE(weak.ok());
  CHECK(weak.error().code == Errc::bad_request);
  CHECK(weak.error().message.find("the policy asks for at least 12") != std::string::npos);
  CHECK_FALSE(l.has_password("jo@example.com"));
  REQUIRE(l.use(issued->link, kNewPassword).ok());

  // The history (UA-3): a link cannot set the password the user has now.
  auto reset = l.issue("ivan@example.com");
  REQUIRE(reset.ok());
  auto reused = l.use(reset->link, kPassword);
  REQUIRE_FALSE(reused.ok());
  CHECK(reused.error().code == Errc::bad_request);
  CHECK(reused.error().message.find("one of your last 5 passwords") != std::string::npos);
  auto hashes = l.h.admin().password_hashes(ivan.id, 10);
  REQUIRE(hashes.ok());
  CHECK(hashes->size() == 1);
  REQUIRE(l.use(reset->link, kNewPassword).ok());
  CHECK(l.login(*l.ws, "ivan@example.com", kNewPassword).ok());
  CHECK_FALSE(l.login(*l.ws, "ivan@example.com", kPassword).ok());

  // Throttled per link as logins are per account: 5 failures, then refused before any lookup.
  std::string guessed = random_link();
  for (int i = 0; i < 5; i++)
    CHECK(l.use(guessed, kNewPassword).error().code == Errc::not_found);
  auto throttled = l.use(guessed, kNewPassword);
  REQUIRE_FALSE(throttled.ok());
  CHECK(throttled.error().code == Errc::rate_limited);
  CHECK(throttled.error().message.find("too many failed attempts with this password link") == 0);
  CHECK(l.audit_text().find("password-link-throttled") != std::string::npos);

  // Only from an enrolled workstation or console, as a login.
  SyncClient &stranger = l.h.connect(l.h.identity("stranger"), proto::role::agent);
  proto::PasswordLinkUseRequest req;
  req.link = random_link();
  req.password = kNewPassword;
  auto unenrolled = rpc<proto::PasswordLinkUseResult>(stranger, proto::op::password_link_use, req);
  REQUIRE_FALSE(unenrolled.ok());
  CHECK(unenrolled.error().code == Errc::unauthenticated);
  l.h.finish();
}
