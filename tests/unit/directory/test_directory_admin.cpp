// The directory's administrative ops over TLS (directory_service_admin.cpp): users, badges, role
// grants, account groups, the password policy and the audit log; each op's errors, its audit
// rows, and the role matrix of every op (who may, who is refused, and no credentials at all).
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops_admin.h"
#include "lpm/protocol/session.h"
#include "people_fixture.h"
#include "roles.h"
#include "service_harness.h"

using namespace lpm;
using namespace lpm::directory;
using namespace lpm::directory::test;
using proto::SyncClient;

namespace {

// The People fixture with an enterprise administrator logged in, and typed calls of the ops.
struct Admin : People {
  User admin = user(kAdmin, {Role::enterprise_administrator});
  std::string admin_session = People::session(kAdmin);

  template <class Out, class In> Result<Out> call(const char *op, const In &in) {
    return rpc<Out>(*ws, op, in);
  }

  Result<proto::UsersShowResult> show(const std::string &email, const std::string &as = "") {
    return call<proto::UsersShowResult>(proto::op::users_show,
                                        proto::UsersShowRequest{as.empty() ? admin_session : as, email});
  }
  Result<proto::UsersAddResult> add(const std::string &email, const std::string &password = "") {
    proto::UsersAddRequest req;
    req.session = admin_session;
    req.email = email;
    req.first_name = "Ada";
    req.department = "IT";
    req.password = password;
    return call<proto::UsersAddResult>(proto::op::users_add, req);
  }
  Result<proto::BatchResult> remove(std::vector<std::string> emails) {
    return call<proto::BatchResult>(proto::op::users_delete,
                                    proto::UsersDeleteRequest{admin_session, std::move(emails)});
  }
  Result<proto::BadgesAddResult> badge(const std::string &badge, const std::string &email,
                                       bool temporary = false) {
    return call<proto::BadgesAddResult>(proto::op::badges_add,
                                        proto::BadgesAddRequest{admin_session, badge, email, temporary});
  }
  Result<proto::BadgesFindResult> find(const std::string &query) {
    return call<proto::BadgesFindResult>(proto::op::badges_find,
                                         proto::BadgesFindRequest{admin_session, query});
  }
  Result<proto::RoleChangeResult> role(const char *op, const std::string &role, const std::string &scope,
                                       const std::string &email, const std::string &group = "") {
    return call<proto::RoleChangeResult>(op,
                                         proto::RoleChangeRequest{admin_session, role, scope, email, group});
  }
  Result<proto::GroupsCreateResult> create_group(const std::string &name) {
    return call<proto::GroupsCreateResult>(proto::op::groups_create,
                                           proto::GroupsCreateRequest{admin_session, name});
  }
  Result<proto::BatchResult> members(const char *op, const std::string &group,
                                     std::vector<std::string> emails) {
    return call<proto::BatchResult>(op, proto::GroupMembersRequest{admin_session, group, std::move(emails)});
  }
  Result<proto::GroupsListResult> groups(const std::string &after = "", uint64_t limit = 100) {
    return call<proto::GroupsListResult>(proto::op::groups_list,
                                         proto::GroupsListRequest{admin_session, after, limit});
  }
  Result<proto::AuditListResult> audit(int64_t after, uint64_t limit) {
    return call<proto::AuditListResult>(proto::op::audit_list,
                                        proto::AuditListRequest{admin_session, after, limit});
  }

  // Rows of the audit log with this action whose detail contains `part`.
  int64_t audited(const std::string &action, const std::string &part = "") {
    auto stmt =
        h.admin().db().prepare("SELECT count(*) FROM audit WHERE action = ? AND instr(detail, ?) > 0 AND "
                               "actor = ?");
    REQUIRE(stmt.ok());
    stmt->bind(1, action).bind(2, part).bind(3, "user " + admin.id + " " + kAdmin);
    REQUIRE(*stmt->step());
    return stmt->col_int(0);
  }
  int64_t count(const char *sql, const std::string &key) {
    auto stmt = h.admin().db().prepare(sql);
    REQUIRE(stmt.ok());
    stmt->bind(1, key);
    REQUIRE(*stmt->step());
    return stmt->col_int(0);
  }
  AccountGroup group_with(const std::string &name, std::initializer_list<std::string> emails) {
    auto tx = h.admin().begin();
    auto g = h.admin().group_create(name, wall_ms());
    REQUIRE(g.ok());
    for (const auto &e : emails)
      REQUIRE(h.admin().group_member_add(g->id, h.admin().user_by_email(e)->id, wall_ms()).ok());
    REQUIRE(tx.commit().ok());
    return *g;
  }
};

std::string item_text(const proto::BatchResult &r) {
  std::string out;
  for (const auto &i : r.items)
    out += i.key + "=" + i.result + (i.reason.empty() ? "" : " (" + i.reason + ")") + "; ";
  return out;
}

} // namespace

TEST_CASE(
    "directory admin: users-show gives the profile, groups, badges, user roles and effective roles (UA-5, "
    "RL-1, GR-5)",
    "[directory][admin][UA-5][RL-1][GR-5]") {
  Admin a;
  User carol = a.user("carol@example.com", {Role::prm_user});
  a.group_with("Helpdesk", {"carol@example.com"});
  {
    auto tx = a.h.admin().begin();
    auto g = a.h.admin().group_by_name("helpdesk");
    REQUIRE(role_grant(a.h.admin(), RoleScope::group, g->id, Role::prm_helpdesk, wall_ms()).ok());
    REQUIRE(role_grant(a.h.admin(), RoleScope::enterprise, "", Role::spm_user, wall_ms()).ok());
    REQUIRE(tx.commit().ok());
  }
  REQUIRE(a.badge("1234", "carol@example.com").ok());
  REQUIRE(a.badge("T-99", "carol@example.com", true).ok());

  auto shown = a.show("Carol@Example.com");
  REQUIRE(shown.ok());
  CHECK(shown->user.id == carol.id);
  CHECK(shown->user.email == "carol@example.com");
  CHECK(shown->user.has_password);
  CHECK(shown->groups == std::vector<std::string>{"Helpdesk"});
  REQUIRE(shown->badges.size() == 2);
  CHECK(shown->badges[0].badge == "1234");
  CHECK_FALSE(shown->badges[0].temporary);
  CHECK(shown->badges[1].temporary);
  CHECK(shown->badges[1].expires_ms > wall_ms());
  CHECK(shown->roles == std::vector<std::string>{"Print Release Management User"});
  CHECK(shown->effective_roles == std::vector<std::string>{"Print Release Management Helpdesk",
                                                           "Print Release Management User",
                                                           "Serverless Print Management User"});

  auto unknown = a.show("nobody@example.com");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::not_found);
  CHECK(unknown.error().message == "no user has the e-mail address nobody@example.com");
  auto invalid = a.show("not an e-mail");
  REQUIRE_FALSE(invalid.ok());
  CHECK(invalid.error().code == Errc::bad_request);
  a.h.finish();
}

TEST_CASE(
    "directory admin: users-add creates a user, its password checked against the policy and hashed on the "
    "thread pool (UA-3, UA-4)",
    "[directory][admin][UA-3][UA-4]") {
  Admin a;
  auto added = a.add("New.User@Example.com", "Correct-Horse-9");
  REQUIRE(added.ok());
  CHECK(added->user.email == "new.user@example.com");
  CHECK(added->user.first_name == "Ada");
  CHECK(added->user.department == "IT");
  CHECK(added->user.has_password);
  CHECK(a.login(*a.ws, "new.user@example.com", "Correct-Horse-9").ok());
  CHECK(a.audited("user-create", added->user.id) == 1);
  CHECK(a.audited("password-set", added->user.id) == 1);

  // Without a password: created, but nobody can log in as them yet (a link is due, UA-4).
  auto linkless = a.add("later@example.com");
  REQUIRE(linkless.ok());
  CHECK_FALSE(linkless->user.has_password);
  CHECK(a.audited("password-set", linkless->user.id) == 0);

  auto twice = a.add("NEW.user@example.com", "Correct-Horse-9");
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().code == Errc::conflict);
  CHECK(twice.error().message == "a user with the e-mail address new.user@example.com already exists");

  auto weak = a.add("weak@example.com", "short");
  REQUIRE_FALSE(weak.ok());
  CHECK(weak.error().code == Errc::bad_request);
  CHECK(weak.error().message.find("the policy asks for at least 12") != std::string::npos);
  CHECK_FALSE(a.h.admin().user_by_email("weak@example.com").ok());

  auto bad_email = a.add("no-at-sign");
  REQUIRE_FALSE(bad_email.ok());
  CHECK(bad_email.error().code == Errc::bad_request);

  proto::UsersAddRequest long_field;
  long_field.session = a.admin_session;
  long_field.email = "long@example.com";
  long_field.department = std::string(257, 'x');
  auto too_long = a.call<proto::UsersAddResult>(proto::op::users_add, long_field);
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.error().code == Errc::bad_request);
  CHECK(too_long.error().message.find("department") != std::string::npos);
  a.h.finish();
}

TEST_CASE(
    "directory admin: users-delete removes each user with their badges, memberships and role grants, one "
    "transaction each (UA-6, AMB-6)",
    "[directory][admin][UA-6][AMB-6]") {
  Admin a;
  User bob = a.user("bob@example.com", {Role::prm_user});
  a.user("dan@example.com");
  a.group_with("Sales", {"bob@example.com", "dan@example.com"});
  REQUIRE(a.badge("B-1", "bob@example.com").ok());

  auto deleted = a.remove({"bob@example.com", "ghost@example.com", kAdmin, "dan@example.com"});
  REQUIRE(deleted.ok());
  INFO(item_text(*deleted));
  REQUIRE(deleted->items.size() == 4);
  CHECK(deleted->items[0].result == "deleted");
  CHECK(deleted->items[1].result == "failed");
  CHECK(deleted->items[1].reason == "no user has the e-mail address ghost@example.com");
  CHECK(deleted->items[2].result == "failed");
  CHECK(deleted->items[2].reason.find("your own user") != std::string::npos);
  CHECK(deleted->items[3].result == "deleted");

  CHECK_FALSE(a.h.admin().user_by_email("bob@example.com").ok());
  CHECK(a.h.admin().user_by_email(kAdmin).ok());
  CHECK(a.count("SELECT count(*) FROM badges WHERE user_id = ?", bob.id) == 0);
  CHECK(a.count("SELECT count(*) FROM group_members WHERE user_id = ?", bob.id) == 0);
  CHECK(a.count("SELECT count(*) FROM role_grants WHERE subject = ?", bob.id) == 0);
  CHECK(a.h.admin().group_by_name("Sales").ok()); // the group stays
  CHECK(a.audited("user-delete", bob.id) == 1);

  proto::UsersDeleteRequest none{a.admin_session, {}};
  auto empty = a.call<proto::BatchResult>(proto::op::users_delete, none);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == Errc::bad_request);
  proto::UsersDeleteRequest many{a.admin_session,
                                 std::vector<std::string>(proto::kMaxBatch + 1, "x@example.com")};
  auto over = a.call<proto::BatchResult>(proto::op::users_delete, many);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == Errc::bad_request);
  a.h.finish();
}

TEST_CASE(
    "directory admin: badges-add registers a permanent or temporary badge as readers deliver it, a new one "
    "replaces the user's badge of the same kind (BD-2, BD-3, BD-13, AMB-13, AMB-15, TS-2)",
    "[directory][admin][BD-2][BD-3][BD-13][AMB-13][AMB-15][TS-2]") {
  Admin a;
  User bob = a.user("bob@example.com");
  a.user("eve@example.com");
  {
    auto tx = a.h.admin().begin();
    REQUIRE(a.h.admin().badge_rules_set(BadgeRules{";?"}).ok());
    REQUIRE(tx.commit().ok());
  }
  auto first = a.badge(";00A1B2?", "Bob@Example.com");
  REQUIRE(first.ok());
  CHECK(first->badge == "00A1B2");
  CHECK(first->email == "bob@example.com");
  CHECK_FALSE(first->temporary);
  CHECK(first->expires_ms == 0);
  CHECK(first->replaced.empty());

  auto temporary = a.badge("T-1", "bob@example.com", true);
  REQUIRE(temporary.ok());
  CHECK(temporary->temporary);
  CHECK(temporary->expires_ms > wall_ms() + kTemporaryBadgeMs - 60000);
  CHECK(temporary->replaced.empty()); // a temporary badge never removes the permanent one

  // TS-2: the stored id is corrected by registering the right one; the answer names what went.
  auto second = a.badge("00C3", "bob@example.com");
  REQUIRE(second.ok());
  CHECK(second->replaced == "00A1B2");
  auto badges = a.h.admin().badges_of(bob.id);
  REQUIRE(badges.ok());
  REQUIRE(badges->size() == 2);
  CHECK((*badges)[0].badge == "00C3");
  CHECK((*badges)[1].badge == "T-1");
  CHECK(a.audited("badge-add", "permanent badge of user " + bob.id) == 2);
  CHECK(a.audited("badge-add", "(replaces the previous permanent badge)") == 1);
  CHECK(a.audited("badge-add", "00C3") == 0); // the audit names the user, not the badge

  auto again = a.badge("00c3", "bob@example.com");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::conflict);
  auto taken = a.badge("00C3", "eve@example.com");
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.error().code == Errc::conflict);
  auto nobody = a.badge("55", "nobody@example.com");
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.error().code == Errc::not_found);
  auto blank = a.badge(";;?", "bob@example.com");
  REQUIRE_FALSE(blank.ok());
  CHECK(blank.error().code == Errc::bad_request);
  a.h.finish();
}

TEST_CASE("directory admin: badges-find takes only a complete e-mail or a complete badge id, badges-delete "
          "deletes several (BD-6, TS-4)",
          "[directory][admin][BD-6][TS-4]") {
  Admin a;
  User bob = a.user("bob@example.com");
  REQUIRE(a.badge("4711", "bob@example.com").ok());
  REQUIRE(a.badge("ABCD", "bob@example.com", true).ok());

  auto by_email = a.find(" BOB@example.com ");
  REQUIRE(by_email.ok());
  CHECK(by_email->user == bob.id);
  CHECK(by_email->email == "bob@example.com");
  CHECK(by_email->badges.size() == 2);
  auto by_badge = a.find("abcd");
  REQUIRE(by_badge.ok());
  CHECK(by_badge->email == "bob@example.com");
  REQUIRE(by_badge->badges.size() == 1);
  CHECK(by_badge->badges[0].badge == "ABCD");
  CHECK(by_badge->badges[0].temporary);
  for (const std::string partial : {"bob", "bob@example", "471", "4711 2", "@example.com"}) {
    INFO(partial);
    auto found = a.find(partial);
    REQUIRE_FALSE(found.ok());
    CHECK(found.error().code == Errc::not_found);
  }

  proto::BadgesDeleteRequest del{a.admin_session, {"4711", "nope", "abcd"}};
  auto deleted = a.call<proto::BatchResult>(proto::op::badges_delete, del);
  REQUIRE(deleted.ok());
  INFO(item_text(*deleted));
  REQUIRE(deleted->items.size() == 3);
  CHECK(deleted->items[0].result == "deleted");
  CHECK(deleted->items[1].result == "failed");
  CHECK(deleted->items[1].reason == "unknown badge");
  CHECK(deleted->items[2].result == "deleted");
  CHECK(a.h.admin().badges_of(bob.id)->empty());
  CHECK(a.audited("badge-delete", "badge of user " + bob.id) == 2);
  a.h.finish();
}

TEST_CASE(
    "directory admin: roles-grant and roles-revoke take effect at the grantee's next op, platform roles are "
    "refused (RL-1, RL-2, RL-3, RL-7, RL-15)",
    "[directory][admin][RL-1][RL-2][RL-3][RL-7][RL-15]") {
  Admin a;
  a.user("bob@example.com");
  std::string bob = a.People::session("bob@example.com");
  CHECK(a.users(bob).error().code == Errc::forbidden);

  auto granted = a.role(proto::op::roles_grant, "prm-helpdesk", "user", "BOB@example.com");
  REQUIRE(granted.ok());
  CHECK(granted->role == "Print Release Management Helpdesk");
  CHECK(granted->scope == "user");
  CHECK(granted->subject == "bob@example.com");
  CHECK(granted->changed);
  CHECK(a.users(bob).ok()); // the same session: roles are read at each op
  auto again = a.role(proto::op::roles_grant, "Print Release Management Helpdesk", "user", "bob@example.com");
  REQUIRE(again.ok());
  CHECK_FALSE(again->changed);
  CHECK(a.audited("role-grant", "Print Release Management Helpdesk at user scope to bob@example.com") == 1);

  auto listed = a.call<proto::RolesListResult>(
      proto::op::roles_list, proto::RolesListRequest{a.admin_session, "user", "bob@example.com", ""});
  REQUIRE(listed.ok());
  REQUIRE(listed->grants.size() == 1);
  CHECK(listed->grants[0].alias == "prm-helpdesk");
  CHECK(listed->grants[0].subject == "bob@example.com");

  auto revoked = a.role(proto::op::roles_revoke, "prm-helpdesk", "user", "bob@example.com");
  REQUIRE(revoked.ok());
  CHECK(revoked->changed);
  CHECK(a.users(bob).error().code == Errc::forbidden);
  CHECK(a.audited("role-revoke", "to bob@example.com") == 1);

  // RL-3: a group role reaches every member; RL-3's example, PRM User for the whole enterprise.
  a.group_with("Helpdesk Team", {"bob@example.com"});
  REQUIRE(a.role(proto::op::roles_grant, "prm-helpdesk", "group", "", "helpdesk team").ok());
  CHECK(a.users(bob).ok());
  auto enterprise = a.role(proto::op::roles_grant, "prm-user", "enterprise", "");
  REQUIRE(enterprise.ok());
  CHECK(enterprise->subject.empty());
  auto all = a.call<proto::RolesListResult>(proto::op::roles_list,
                                            proto::RolesListRequest{a.admin_session, "", "", ""});
  REQUIRE(all.ok());
  std::set<std::string> scopes;
  for (const auto &g : all->grants)
    scopes.insert(g.scope + ":" + g.subject + ":" + g.alias);
  CHECK(scopes == std::set<std::string>{"enterprise::prm-user", "group:Helpdesk Team:prm-helpdesk",
                                        "user:admin@example.com:enterprise-admin"});

  // RL-15: the platform roles are never granted or revoked through an op.
  for (const char *platform : {"enterprise-admin", "User Administrator"}) {
    for (const char *op : {proto::op::roles_grant, proto::op::roles_revoke}) {
      INFO(platform << " " << op);
      auto refused = a.role(op, platform, "user", "bob@example.com");
      REQUIRE_FALSE(refused.ok());
      CHECK(refused.error().code == Errc::forbidden);
      CHECK(refused.error().message.find("lpm-directory role grant on the directory host (RL-15)") !=
            std::string::npos);
    }
  }
  struct Bad {
    const char *role, *scope, *email, *group;
    Errc code;
  };
  for (const Bad &bad : {Bad{"prm-conversion", "user", "bob@example.com", "", Errc::bad_request}, // RL-7
                         Bad{"no-such-role", "user", "bob@example.com", "", Errc::bad_request},
                         Bad{"prm-user", "planet", "bob@example.com", "", Errc::bad_request},
                         Bad{"prm-user", "enterprise", "bob@example.com", "", Errc::bad_request},
                         Bad{"prm-user", "user", "", "", Errc::bad_request},
                         Bad{"prm-user", "group", "", "No Such Group", Errc::not_found},
                         Bad{"prm-user", "user", "ghost@example.com", "", Errc::not_found}}) {
    INFO(bad.role << " " << bad.scope << " " << bad.email << " " << bad.group);
    auto refused = a.role(proto::op::roles_grant, bad.role, bad.scope, bad.email, bad.group);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == bad.code);
  }

  // RL-2: every role with its description, for anyone signed in (bob holds no role of his own).
  proto::SessionRequest describe{bob};
  auto roles = a.call<proto::RolesDescribeResult>(proto::op::roles_describe, describe);
  REQUIRE(roles.ok());
  REQUIRE(roles->roles.size() == kRoleCount);
  CHECK(roles->roles[0].name == "Print Release Management Document Accounting");
  CHECK_FALSE(roles->roles[0].description.empty());
  CHECK(roles->roles[kRoleCount - 2].platform);
  CHECK_FALSE(roles->roles[0].platform);
  a.h.finish();
}

TEST_CASE(
    "directory admin: account groups are created with sanitised unique names, get and lose members, and "
    "are deleted without their users (GR-2, GR-3, GR-4, AMB-8)",
    "[directory][admin][GR-2][GR-3][GR-4][AMB-8]") {
  Admin a;
  User bob = a.user("bob@example.com");
  a.user("carol@example.com");

  auto created = a.create_group("  Sales#EU ");
  REQUIRE(created.ok());
  CHECK(created->name == "Sales_EU");
  CHECK(created->renamed_from == "Sales#EU");
  CHECK(a.audited("group-create", "renamed from \"Sales#EU\"") == 1);
  auto plain = a.create_group("Team 1");
  REQUIRE(plain.ok());
  CHECK(plain->renamed_from.empty());
  auto duplicate = a.create_group("sales@eu");
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().code == Errc::conflict);
  for (const std::string &bad : {std::string(), std::string("a,b"), std::string(81, 'g')}) {
    auto refused = a.create_group(bad);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::bad_request);
  }

  auto added = a.members(proto::op::groups_add_members, "sales#eu",
                         {"bob@example.com", "carol@example.com", "ghost@example.com"});
  REQUIRE(added.ok());
  INFO(item_text(*added));
  REQUIRE(added->items.size() == 3);
  CHECK(added->items[0].result == "added");
  CHECK(added->items[1].result == "added");
  CHECK(added->items[2].result == "failed");
  auto twice = a.members(proto::op::groups_add_members, "Sales_EU", {"bob@example.com"});
  REQUIRE(twice.ok());
  CHECK(twice->items[0].result == "unchanged");
  CHECK(twice->items[0].reason == "already a member");
  auto removed =
      a.members(proto::op::groups_remove_members, "Sales_EU", {"carol@example.com", "carol@example.com"});
  REQUIRE(removed.ok());
  CHECK(removed->items[0].result == "removed");
  CHECK(removed->items[1].result == "unchanged");
  CHECK(a.audited("group-member-add", created->id) == 2);
  CHECK(a.audited("group-member-remove", created->id) == 1);
  auto no_group = a.members(proto::op::groups_add_members, "Nope", {"bob@example.com"});
  REQUIRE_FALSE(no_group.ok());
  CHECK(no_group.error().code == Errc::not_found);

  auto listed = a.groups();
  REQUIRE(listed.ok());
  REQUIRE(listed->groups.size() == 2);
  CHECK(listed->groups[0].name == "Sales_EU");
  CHECK(listed->groups[0].members == 1);
  CHECK(listed->groups[1].name == "Team 1");
  CHECK(listed->groups[1].members == 0);
  auto page = a.groups("", 1);
  REQUIRE(page.ok());
  REQUIRE(page->groups.size() == 1);
  CHECK(page->next == "Sales_EU");
  auto rest = a.groups(page->next, 1);
  REQUIRE(rest.ok());
  REQUIRE(rest->groups.size() == 1);
  CHECK(rest->groups[0].name == "Team 1");
  CHECK(rest->next.empty());

  // GR-3: deleting the group takes its memberships and its role grants, never its users.
  std::string bob_session = a.People::session("bob@example.com");
  REQUIRE(a.role(proto::op::roles_grant, "prm-helpdesk", "group", "", "Sales_EU").ok());
  CHECK(a.users(bob_session).ok());
  proto::GroupsDeleteRequest del{a.admin_session, {"sales_eu", "Nope"}};
  auto deleted = a.call<proto::BatchResult>(proto::op::groups_delete, del);
  REQUIRE(deleted.ok());
  INFO(item_text(*deleted));
  CHECK(deleted->items[0].result == "deleted");
  CHECK(deleted->items[0].reason == "1 membership removed");
  CHECK(deleted->items[1].result == "failed");
  CHECK(a.h.admin().user_by_email("bob@example.com").ok());
  CHECK(a.count("SELECT count(*) FROM group_members WHERE user_id = ?", bob.id) == 0);
  CHECK(a.count("SELECT count(*) FROM role_grants WHERE subject = ?", created->id) == 0);
  CHECK(a.users(bob_session).error().code == Errc::forbidden);
  CHECK(a.audited("group-delete", created->id) == 1);
  a.h.finish();
}

TEST_CASE(
    "directory admin: the password policy is shown and saved in one update, new passwords follow it (UA-3)",
    "[directory][admin][UA-3]") {
  Admin a;
  auto shown = a.call<proto::PasswordPolicyResult>(proto::op::password_policy_show,
                                                   proto::SessionRequest{a.admin_session});
  REQUIRE(shown.ok());
  CHECK(shown->min_length == 12);
  CHECK(shown->complexity == 3);
  CHECK(shown->history == 5);

  auto set = a.call<proto::PasswordPolicyResult>(proto::op::password_policy_set,
                                                 proto::PasswordPolicySetRequest{a.admin_session, 6, 1, 2});
  REQUIRE(set.ok());
  CHECK(set->min_length == 6);
  CHECK(set->complexity == 1);
  CHECK(set->history == 2);
  CHECK(a.audited("password-policy-set", "min_length 6 complexity 1 history 2") == 1);
  CHECK(a.add("short@example.com", "abcdef").ok());

  for (auto bad : {proto::PasswordPolicySetRequest{a.admin_session, 0, 1, 2},
                   proto::PasswordPolicySetRequest{a.admin_session, 8, 5, 2},
                   proto::PasswordPolicySetRequest{a.admin_session, 8, 1, 25}}) {
    auto refused = a.call<proto::PasswordPolicyResult>(proto::op::password_policy_set, bad);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::bad_request);
  }
  auto kept = a.call<proto::PasswordPolicyResult>(proto::op::password_policy_show,
                                                  proto::SessionRequest{a.admin_session});
  REQUIRE(kept.ok());
  CHECK(kept->min_length == 6); // nothing of a refused update was saved
  CHECK(kept->history == 2);
  a.h.finish();
}

TEST_CASE("directory admin: audit-list pages the log by id, oldest first, by default the newest entries",
          "[directory][admin][audit]") {
  Admin a;
  for (int i = 0; i < 5; i++)
    REQUIRE(a.create_group("G" + std::to_string(i)).ok());
  int64_t total = a.count("SELECT count(*) FROM audit WHERE actor <> ?", "");
  REQUIRE(total >= 6); // the login and the groups

  auto newest = a.audit(-1, 3);
  REQUIRE(newest.ok());
  REQUIRE(newest->entries.size() == 3);
  CHECK(newest->entries[0].id < newest->entries[2].id);
  CHECK(newest->entries[2].action == "group-create");
  CHECK(newest->entries[2].detail.find("\"G4\"") != std::string::npos);
  CHECK(newest->entries[2].actor == "user " + a.admin.id + " " + kAdmin);
  CHECK(newest->next == 0);

  std::vector<int64_t> ids;
  int64_t after = 0;
  for (int pages = 0; pages < 100; pages++) {
    auto page = a.audit(after, 2);
    REQUIRE(page.ok());
    CHECK(page->entries.size() <= 2);
    for (const auto &e : page->entries)
      ids.push_back(e.id);
    if (page->next == 0) break;
    CHECK(page->next == page->entries.back().id);
    after = page->next;
  }
  CHECK(static_cast<int64_t>(ids.size()) == total);
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  a.h.finish();
}

TEST_CASE(
    "directory admin: the role matrix of every administrative op, and no credentials (RL-8, RL-9, RL-11, "
    "RL-14, RL-15, AMB-14, TS-1, UA-4)",
    "[directory][admin][RL-8][RL-9][RL-11][RL-14][RL-15][AMB-14][TS-1][UA-4]") {
  Admin a;
  a.user("target@example.com");
  a.group_with("Team", {});
  enum Column { any, users_read, users_write, badges_write, roles_write, audit_read };
  struct Who {
    const char *email;
    Role role;
    std::set<Column> may;
  };
  const Who people[] = {
      {"user@example.com", Role::prm_user, {any}},
      {"helpdesk@example.com", Role::prm_helpdesk, {any, users_read}},
      {"pm-admin@example.com", Role::prm_administrator, {any, users_read}},
      {"spm-admin@example.com", Role::spm_administrator, {any, users_read}},
      {"user-admin@example.com", Role::user_administrator, {any, users_read, users_write, badges_write}},
      {"ent-admin@example.com",
       Role::enterprise_administrator,
       {any, users_read, users_write, badges_write, roles_write, audit_read}},
  };
  // Each op with a request that succeeds for whoever may call it (`n` keeps the names apart).
  using Run = std::function<Status(SyncClient &, const std::string &session, const std::string &n)>;
  auto status = [](auto result) -> Status { return result.ok() ? Status{} : Status(result.error()); };
  auto batch = [](Result<proto::BatchResult> r, const char *expected) -> Status {
    if (!r.ok()) return r.error();
    if (r->items.size() != 1 || r->items[0].result != expected)
      return make_error(Errc::internal, "unexpected outcome: " + item_text(*r));
    return {};
  };
  struct Op {
    const char *name;
    Column needs;
    Run run;
  };
  const std::vector<Op> ops = {
      {proto::op::users_show, users_read,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(
             rpc<proto::UsersShowResult>(c, proto::op::users_show, proto::UsersShowRequest{s, kAdmin}));
       }},
      {proto::op::users_add, users_write,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         proto::UsersAddRequest req;
         req.session = s;
         req.email = "added-" + n + "@example.com";
         return status(rpc<proto::UsersAddResult>(c, proto::op::users_add, req));
       }},
      {proto::op::users_delete, users_write,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         a.user("victim-" + n + "@example.com");
         return batch(rpc<proto::BatchResult>(c, proto::op::users_delete,
                                              proto::UsersDeleteRequest{s, {"victim-" + n + "@example.com"}}),
                      "deleted");
       }},
      {proto::op::users_password_link, users_write,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         proto::UsersPasswordLinkRequest req;
         req.session = s;
         req.email = "target@example.com";
         return status(rpc<proto::UsersPasswordLinkResult>(c, proto::op::users_password_link, req));
       }},
      {proto::op::badges_add, badges_write,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         return status(rpc<proto::BadgesAddResult>(
             c, proto::op::badges_add, proto::BadgesAddRequest{s, "add-" + n, "target@example.com", true}));
       }},
      {proto::op::badges_delete, badges_write,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         REQUIRE(a.h.admin().badge_add("del-" + n, "target@example.com", wall_ms(), "test").ok());
         return batch(rpc<proto::BatchResult>(c, proto::op::badges_delete,
                                              proto::BadgesDeleteRequest{s, {"del-" + n}}),
                      "deleted");
       }},
      {proto::op::badges_find, users_read,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::BadgesFindResult>(c, proto::op::badges_find,
                                                    proto::BadgesFindRequest{s, "target@example.com"}));
       }},
      {proto::op::roles_grant, roles_write,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::RoleChangeResult>(
             c, proto::op::roles_grant,
             proto::RoleChangeRequest{s, "prm-user", "user", "target@example.com", ""}));
       }},
      {proto::op::roles_revoke, roles_write,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::RoleChangeResult>(
             c, proto::op::roles_revoke,
             proto::RoleChangeRequest{s, "prm-user", "user", "target@example.com", ""}));
       }},
      {proto::op::roles_list, users_read,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(
             rpc<proto::RolesListResult>(c, proto::op::roles_list, proto::RolesListRequest{s, "", "", ""}));
       }},
      {proto::op::roles_describe, any,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(
             rpc<proto::RolesDescribeResult>(c, proto::op::roles_describe, proto::SessionRequest{s}));
       }},
      {proto::op::groups_create, users_write,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         return status(rpc<proto::GroupsCreateResult>(c, proto::op::groups_create,
                                                      proto::GroupsCreateRequest{s, "create-" + n}));
       }},
      {proto::op::groups_delete, users_write,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         a.group_with("delete-" + n, {});
         return batch(rpc<proto::BatchResult>(c, proto::op::groups_delete,
                                              proto::GroupsDeleteRequest{s, {"delete-" + n}}),
                      "deleted");
       }},
      {proto::op::groups_add_members, users_write,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return batch(rpc<proto::BatchResult>(c, proto::op::groups_add_members,
                                              proto::GroupMembersRequest{s, "Team", {"target@example.com"}}),
                      "added");
       }},
      {proto::op::groups_remove_members, users_write,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return batch(rpc<proto::BatchResult>(c, proto::op::groups_remove_members,
                                              proto::GroupMembersRequest{s, "Team", {"target@example.com"}}),
                      "removed");
       }},
      {proto::op::groups_list, users_read,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(
             rpc<proto::GroupsListResult>(c, proto::op::groups_list, proto::GroupsListRequest{s, "", 10}));
       }},
      {proto::op::password_policy_show, users_read,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(
             rpc<proto::PasswordPolicyResult>(c, proto::op::password_policy_show, proto::SessionRequest{s}));
       }},
      {proto::op::password_policy_set, users_write,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::PasswordPolicyResult>(c, proto::op::password_policy_set,
                                                        proto::PasswordPolicySetRequest{s, 12, 3, 5}));
       }},
      {proto::op::audit_list, audit_read,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(
             rpc<proto::AuditListResult>(c, proto::op::audit_list, proto::AuditListRequest{s, -1, 10}));
       }},
  };
  // Every person op the agent relays is in this matrix (whoami, import-*, users-list: the people tests).
  std::set<std::string> covered{proto::op::whoami, proto::op::import_show, proto::op::users_list};
  // password-link-use needs no session, only a link: test_password_links.cpp.
  covered.insert(proto::op::password_link_use);
  // The workstation, token and printer ops have their matrix in test_directory_devices.cpp.
  for (const char *op :
       {proto::op::workstations_list, proto::op::workstations_show, proto::op::workstations_bind,
        proto::op::workstations_unbind, proto::op::workstations_deregister, proto::op::tokens_create,
        proto::op::tokens_list, proto::op::tokens_revoke, proto::op::retention_show, proto::op::retention_set,
        proto::op::printers_list, proto::op::printers_revoke})
    covered.insert(op);
  // The Print Management ops have theirs in test_print_management.cpp.
  for (const char *op :
       {proto::op::print_groups_create, proto::op::print_groups_update, proto::op::print_groups_delete,
        proto::op::print_groups_list, proto::op::print_users_list, proto::op::print_users_set,
        proto::op::print_users_remove, proto::op::print_users_sync, proto::op::print_policy_show,
        proto::op::print_policy_set})
    covered.insert(op);
  // quota-show has its checks in test_quota.cpp.
  covered.insert(proto::op::quota_show);
  // The delegate, PIN, badge policy and federated-user ops have theirs in test_badge_in.cpp.
  for (const char *op : {proto::op::delegates_add, proto::op::delegates_remove, proto::op::delegates_list,
                         proto::op::pin_set, proto::op::pin_clear, proto::op::badges_policy_show,
                         proto::op::badges_policy_set, proto::op::users_set_federated})
    covered.insert(op);
  for (const auto &op : ops)
    covered.insert(op.name);
  CHECK(covered.size() == std::size(proto::kPersonOps));
  for (const char *relayed : proto::kPersonOps)
    CHECK(covered.count(relayed) == 1);

  for (const Who &who : people) {
    a.user(who.email, {who.role});
    std::string session = a.People::session(who.email);
    std::string n = std::string(who.email).substr(0, std::string(who.email).find('@'));
    for (const Op &op : ops) {
      INFO(who.email << " " << op.name);
      Status s = op.run(*a.ws, session, n);
      if (who.may.count(op.needs)) {
        INFO((s.ok() ? std::string() : s.error().to_string()));
        CHECK(s.ok());
      } else {
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code == Errc::forbidden);
        CHECK(s.error().message.find(std::string(op.name) + " needs one of these roles") == 0);
      }
    }
  }
  // Refused ops changed nothing.
  CHECK_FALSE(a.h.admin().user_by_email("added-user@example.com").ok());
  CHECK(a.h.admin().user_by_email("victim-helpdesk@example.com").ok());
  CHECK_FALSE(a.h.admin().group_by_name("create-pm-admin").ok());

  // No credentials: none, garbage, and a well-formed session signed by a key the directory never had.
  auto forger = proto::KeyPair::generate();
  REQUIRE(forger.ok());
  proto::Session claim;
  claim.user = a.admin.id;
  claim.email = kAdmin;
  claim.roles = {"Enterprise Administrator"};
  claim.session_id = uuid_v7();
  claim.issued_ms = wall_ms();
  claim.expires_ms = claim.issued_ms + proto::kSessionLifetimeMs;
  auto forged = proto::session_sign(claim, **forger);
  REQUIRE(forged.ok());
  int anonymous = 0;
  for (const std::string &bad : {std::string(), std::string("not-a-session"), std::string(200, 'A'),
                                 proto::session_to_text(*forged)}) {
    anonymous++;
    for (const Op &op : ops) {
      INFO(op.name << " with session \"" << bad.substr(0, 20) << "\"");
      Status s = op.run(*a.ws, bad, "anonymous-" + std::to_string(anonymous));
      REQUIRE_FALSE(s.ok());
      CHECK(s.error().code == Errc::unauthenticated);
    }
  }
  a.h.finish();
}
