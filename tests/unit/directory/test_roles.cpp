// Roles: names, scopes, the permission matrix, grants at three scopes and effective roles.
#include <catch2/catch.hpp>

#include <algorithm>
#include <initializer_list>
#include <string>

#include "directory_store.h"
#include "roles.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::directory;
using lpm::test::kFixedNowMs;
using lpm::test::TempDir;

namespace {

std::unique_ptr<DirectoryStore> open_store(const TempDir &dir) {
  auto store = DirectoryStore::open(dir.path + "/state.db");
  REQUIRE(store.ok());
  return std::move(*store);
}

std::string add_user(DirectoryStore &store, const std::string &email) {
  auto user = store.user_add(email, "", kFixedNowMs, "test");
  REQUIRE(user.ok());
  return user->id;
}

std::string add_group(DirectoryStore &store, const std::string &name) {
  auto tx = store.begin();
  REQUIRE(tx.begun().ok());
  auto group = store.group_create(name, kFixedNowMs);
  REQUIRE(group.ok());
  REQUIRE(tx.commit().ok());
  return group->id;
}

void add_member(DirectoryStore &store, const std::string &group_id, const std::string &user_id) {
  auto tx = store.begin();
  REQUIRE(tx.begun().ok());
  auto added = store.group_member_add(group_id, user_id, kFixedNowMs);
  REQUIRE(added.ok());
  REQUIRE(*added);
  REQUIRE(tx.commit().ok());
}

// Grants in a transaction of its own; returns what role_grant returned.
Result<bool> grant(DirectoryStore &store, RoleScope scope, const std::string &subject, Role role) {
  auto tx = store.begin();
  REQUIRE(tx.begun().ok());
  auto granted = role_grant(store, scope, subject, role, kFixedNowMs);
  if (granted.ok()) REQUIRE(tx.commit().ok());
  return granted;
}

Result<bool> revoke(DirectoryStore &store, RoleScope scope, const std::string &subject, Role role) {
  auto tx = store.begin();
  REQUIRE(tx.begun().ok());
  auto revoked = role_revoke(store, scope, subject, role);
  if (revoked.ok()) REQUIRE(tx.commit().ok());
  return revoked;
}

RoleSet effective(DirectoryStore &store, const std::string &user_id) {
  auto roles = effective_roles(store, user_id);
  REQUIRE(roles.ok());
  return *roles;
}

RoleSet set_of(std::initializer_list<Role> roles) {
  RoleSet set;
  for (Role role : roles)
    set.add(role);
  return set;
}

// The matrix as the brief and SPEC give it, written out here independently of roles.cpp.
std::vector<Permission> expected_row(Role role) {
  using enum Permission;
  switch (role) {
  case Role::prm_document_accounting: return {history_read};
  case Role::prm_submission_email: return {};
  case Role::prm_submission_mobile: return {};
  case Role::prm_alternative_conversion: return {};
  case Role::prm_administrator:
    return {users_read,        print_users_manage, delegates_manage, jobs_manage_others,
            workstations_read, retention_write,    packages_build,   history_read};
  case Role::prm_helpdesk: return {users_read, workstations_read};
  case Role::prm_user: return {release};
  case Role::spm_administrator:
    return {users_read, jobs_manage_others, workstations_read, workstations_manage, packages_build};
  case Role::spm_helpdesk: return {users_read, workstations_read};
  case Role::spm_user: return {};
  case Role::enterprise_administrator:
    return {users_read,       users_write,        badges_write,      roles_write,         print_users_manage,
            delegates_manage, jobs_manage_others, workstations_read, workstations_manage, devices_manage,
            retention_write,  packages_build,     history_read,      audit_read};
  case Role::user_administrator: return {users_read, users_write, badges_write};
  }
  FAIL("a role without an expected row");
  return {};
}

// Checks every permission of one role's row: the expected ones allowed, every other refused.
void check_row(Role role) {
  std::vector<Permission> allowed = expected_row(role);
  for (Permission p : kPermissions) {
    bool expected = std::find(allowed.begin(), allowed.end(), p) != allowed.end();
    INFO(role_name(role) << " / " << permission_name(p));
    CHECK(role_allows(role, p) == expected);
    CHECK(roles_allow(set_of({role}), p) == expected);
  }
}

std::string upper(std::string text) {
  for (char &c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return text;
}

} // namespace

TEST_CASE("roles: every role has a name, an alias and a description, and both names parse back (RL-2)",
          "[roles][RL-2]") {
  std::vector<std::string> seen;
  for (Role role : kRoles) {
    INFO(role_alias(role));
    CHECK(std::string(role_name(role)).size() > 0);
    CHECK(std::string(role_alias(role)).size() > 0);
    CHECK(std::string(role_description(role)).size() > 20);
    for (std::string text :
         {std::string(role_name(role)), upper(role_name(role)), std::string(role_alias(role)),
          upper(role_alias(role)), "  " + std::string(role_alias(role)) + "\t"}) {
      auto parsed = role_parse(text);
      REQUIRE(parsed.ok());
      CHECK(*parsed == role);
    }
    seen.emplace_back(role_name(role));
    seen.emplace_back(role_alias(role));
  }
  std::sort(seen.begin(), seen.end());
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
}

TEST_CASE("roles: the names are the guide's, with the two platform roles (RL-4..RL-13, RL-15, AMB-14)",
          "[roles][RL-2][RL-15][AMB-14]") {
  CHECK(std::string(role_name(Role::prm_document_accounting)) ==
        "Print Release Management Document Accounting");
  CHECK(std::string(role_name(Role::prm_submission_email)) ==
        "Print Release Management Document Submission E-Mail");
  CHECK(std::string(role_name(Role::prm_submission_mobile)) ==
        "Print Release Management Document Submission Mobile");
  CHECK(std::string(role_name(Role::prm_alternative_conversion)) ==
        "Print Release Management Alternative File Conversion");
  CHECK(std::string(role_name(Role::prm_administrator)) == "Print Release Management Administrator");
  CHECK(std::string(role_name(Role::prm_helpdesk)) == "Print Release Management Helpdesk");
  CHECK(std::string(role_name(Role::prm_user)) == "Print Release Management User");
  CHECK(std::string(role_name(Role::spm_administrator)) == "Serverless Print Management Administrator");
  CHECK(std::string(role_name(Role::spm_helpdesk)) == "Serverless Print Management Helpdesk");
  CHECK(std::string(role_name(Role::spm_user)) == "Serverless Print Management User");
  CHECK(std::string(role_name(Role::enterprise_administrator)) == "Enterprise Administrator");
  CHECK(std::string(role_name(Role::user_administrator)) == "User Administrator");
  CHECK(std::string(role_alias(Role::prm_submission_email)) == "prm-email");
  CHECK(std::string(role_alias(Role::user_administrator)) == "user-admin");
}

TEST_CASE("roles: an unknown role name is refused with the list of valid ones (RL-2)", "[roles][RL-2]") {
  for (std::string text :
       {"", "prm", "Print Release Management", "prm_user", "Print Release Management User x"}) {
    auto parsed = role_parse(text);
    REQUIRE(!parsed.ok());
    CHECK(parsed.error().code == Errc::bad_request);
    for (Role role : kRoles) {
      CHECK_THAT(parsed.error().message, Catch::Contains(role_name(role)));
      CHECK_THAT(parsed.error().message, Catch::Contains(role_alias(role)));
    }
  }
  // What the caller sent is quoted only in part: it comes from outside.
  auto long_name = role_parse(std::string(10'000, 'x'));
  REQUIRE(!long_name.ok());
  CHECK(long_name.error().message.size() < 2'000);
}

TEST_CASE("roles: scopes have stable names and parse back", "[roles][RL-1]") {
  for (RoleScope scope : {RoleScope::enterprise, RoleScope::group, RoleScope::user}) {
    auto parsed = role_scope_parse(role_scope_name(scope));
    REQUIRE(parsed.ok());
    CHECK(*parsed == scope);
  }
  CHECK(role_scope_parse("Enterprise").error().code == Errc::bad_request);
  CHECK(role_scope_parse("").error().code == Errc::bad_request);
}

TEST_CASE("roles: Alternative File Conversion is an enterprise role only (RL-7)", "[roles][RL-7]") {
  CHECK(role_scope_check(Role::prm_alternative_conversion, RoleScope::enterprise).ok());
  for (RoleScope scope : {RoleScope::group, RoleScope::user}) {
    Status s = role_scope_check(Role::prm_alternative_conversion, scope);
    REQUIRE(!s.ok());
    CHECK(s.error().code == Errc::bad_request);
    CHECK_THAT(s.error().message, Catch::Contains("RL-7"));
  }

  TempDir dir;
  auto store = open_store(dir);
  std::string user = add_user(*store, "ann@example.com");
  std::string group = add_group(*store, "Finance");
  CHECK(grant(*store, RoleScope::user, user, Role::prm_alternative_conversion).error().code ==
        Errc::bad_request);
  CHECK(grant(*store, RoleScope::group, group, Role::prm_alternative_conversion).error().code ==
        Errc::bad_request);
  auto granted = grant(*store, RoleScope::enterprise, "", Role::prm_alternative_conversion);
  REQUIRE(granted.ok());
  CHECK(*granted);
  CHECK(effective(*store, user) == set_of({Role::prm_alternative_conversion}));
}

TEST_CASE("roles: the platform roles are granted only to a user (RL-15, AMB-14)", "[roles][RL-15][AMB-14]") {
  for (Role role : kRoles)
    CHECK(role_is_platform(role) ==
          (role == Role::enterprise_administrator || role == Role::user_administrator));
  // Every other role fits every scope but RL-7's.
  for (Role role : kRoles)
    if (!role_is_platform(role) && role != Role::prm_alternative_conversion)
      for (RoleScope scope : {RoleScope::enterprise, RoleScope::group, RoleScope::user})
        CHECK(role_scope_check(role, scope).ok());

  TempDir dir;
  auto store = open_store(dir);
  std::string user = add_user(*store, "admin@example.com");
  std::string group = add_group(*store, "Admins");
  for (Role role : {Role::enterprise_administrator, Role::user_administrator}) {
    CHECK(role_scope_check(role, RoleScope::user).ok());
    auto at_enterprise = grant(*store, RoleScope::enterprise, "", role);
    REQUIRE(!at_enterprise.ok());
    CHECK(at_enterprise.error().code == Errc::bad_request);
    CHECK_THAT(at_enterprise.error().message, Catch::Contains("RL-15"));
    CHECK(grant(*store, RoleScope::group, group, role).error().code == Errc::bad_request);
    auto to_user = grant(*store, RoleScope::user, user, role);
    REQUIRE(to_user.ok());
    CHECK(*to_user);
  }
  CHECK(effective(*store, user) == set_of({Role::enterprise_administrator, Role::user_administrator}));
}

TEST_CASE("roles: the whole permission matrix, every role by every permission", "[roles][RL-14]") {
  size_t allowed = 0;
  for (Role role : kRoles) {
    check_row(role);
    for (Permission p : kPermissions)
      allowed += role_allows(role, p) ? 1 : 0;
  }
  // The count of x in the matrix, as a second check that no row grew unnoticed.
  CHECK(allowed == 1 + 8 + 2 + 1 + 5 + 2 + 14 + 3);
}

TEST_CASE("roles: Document Accounting allows the print history only (RL-4)", "[roles][RL-4]") {
  check_row(Role::prm_document_accounting);
}

TEST_CASE("roles: the submission roles allow no directory op (RL-5, RL-6)", "[roles][RL-5][RL-6]") {
  check_row(Role::prm_submission_email);
  check_row(Role::prm_submission_mobile);
}

TEST_CASE("roles: Alternative File Conversion allows no directory op (RL-7)", "[roles][RL-7]") {
  check_row(Role::prm_alternative_conversion);
}

TEST_CASE("roles: Print Release Management Administrator's row (RL-8)", "[roles][RL-8]") {
  check_row(Role::prm_administrator);
}

TEST_CASE("roles: Print Release Management Helpdesk reads users and workstations (RL-9)", "[roles][RL-9]") {
  check_row(Role::prm_helpdesk);
}

TEST_CASE("roles: Print Release Management User releases, and nothing else (RL-10)", "[roles][RL-10]") {
  check_row(Role::prm_user);
}

TEST_CASE("roles: Serverless Print Management Administrator's row (RL-11)", "[roles][RL-11]") {
  check_row(Role::spm_administrator);
}

TEST_CASE("roles: Serverless Print Management Helpdesk reads users and workstations (RL-12)",
          "[roles][RL-12]") {
  check_row(Role::spm_helpdesk);
}

TEST_CASE("roles: Serverless Print Management User needs no directory permission (RL-13)", "[roles][RL-13]") {
  check_row(Role::spm_user);
}

TEST_CASE("roles: Enterprise Administrator allows everything but release (RL-15)", "[roles][RL-15]") {
  check_row(Role::enterprise_administrator);
}

TEST_CASE("roles: release comes only with Print Release Management User, even for administrators (PM-11)",
          "[roles][RL-10][PM-11]") {
  for (Role role : kRoles)
    CHECK(role_allows(role, Permission::release) == (role == Role::prm_user));
  RoleSet administrators = set_of({Role::enterprise_administrator, Role::user_administrator,
                                   Role::prm_administrator, Role::spm_administrator});
  CHECK(!roles_allow(administrators, Permission::release));
  administrators.add(Role::prm_user);
  CHECK(roles_allow(administrators, Permission::release));
}

TEST_CASE("roles: a User Administrator administers users, groups and badges, nothing more (AMB-14)",
          "[roles][AMB-14]") {
  check_row(Role::user_administrator);
  TempDir dir;
  auto store = open_store(dir);
  std::string user = add_user(*store, "ua@example.com");
  REQUIRE(grant(*store, RoleScope::user, user, Role::user_administrator).ok());
  RoleSet roles = effective(*store, user);
  CHECK(roles_allow(roles, Permission::users_write));
  CHECK(roles_allow(roles, Permission::badges_write));
  CHECK(roles_allow(roles, Permission::users_read));
  for (Permission p :
       {Permission::roles_write, Permission::release, Permission::devices_manage, Permission::audit_read,
        Permission::print_users_manage, Permission::workstations_manage})
    CHECK(!roles_allow(roles, p));
}

TEST_CASE("roles: effective roles are the union of enterprise, group and user grants (RL-1)",
          "[roles][RL-1]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string ann = add_user(*store, "ann@example.com");
  std::string bob = add_user(*store, "bob@example.com");
  std::string helpdesk = add_group(*store, "Helpdesk");
  add_member(*store, helpdesk, ann);

  CHECK(effective(*store, ann).empty());
  REQUIRE(grant(*store, RoleScope::enterprise, "", Role::prm_user).ok());
  REQUIRE(grant(*store, RoleScope::group, helpdesk, Role::spm_helpdesk).ok());
  REQUIRE(grant(*store, RoleScope::user, ann, Role::spm_administrator).ok());
  // The same role at two scopes counts once.
  REQUIRE(grant(*store, RoleScope::user, ann, Role::prm_user).ok());

  RoleSet ann_roles = effective(*store, ann);
  CHECK(ann_roles == set_of({Role::prm_user, Role::spm_helpdesk, Role::spm_administrator}));
  CHECK(roles_allow(ann_roles, Permission::release));
  CHECK(roles_allow(ann_roles, Permission::workstations_manage));
  // Bob is in no group and has no grant of his own: the enterprise's only.
  RoleSet bob_roles = effective(*store, bob);
  CHECK(bob_roles == set_of({Role::prm_user}));
  CHECK(!roles_allow(bob_roles, Permission::workstations_read));

  // Revoking at one scope leaves the grant at another.
  auto revoked = revoke(*store, RoleScope::enterprise, "", Role::prm_user);
  REQUIRE(revoked.ok());
  CHECK(*revoked);
  CHECK(effective(*store, ann).has(Role::prm_user));
  CHECK(effective(*store, bob).empty());

  auto unknown = effective_roles(*store, "no-such-user");
  REQUIRE(!unknown.ok());
  CHECK(unknown.error().code == Errc::not_found);
}

TEST_CASE("roles: members inherit their groups' roles and lose them when they leave (RL-3, GR-5)",
          "[roles][RL-3][GR-5]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string ann = add_user(*store, "ann@example.com");
  std::string admins = add_group(*store, "Print admins");
  std::string desk = add_group(*store, "Desk");
  REQUIRE(grant(*store, RoleScope::group, admins, Role::prm_administrator).ok());
  REQUIRE(grant(*store, RoleScope::group, admins, Role::prm_document_accounting).ok());
  REQUIRE(grant(*store, RoleScope::group, desk, Role::prm_helpdesk).ok());

  CHECK(effective(*store, ann).empty());
  add_member(*store, admins, ann);
  add_member(*store, desk, ann);
  CHECK(effective(*store, ann) ==
        set_of({Role::prm_administrator, Role::prm_document_accounting, Role::prm_helpdesk}));

  auto remove = store->db().prepare("DELETE FROM group_members WHERE group_id = ? AND user_id = ?");
  REQUIRE(remove.ok());
  REQUIRE(remove->bind(1, admins).bind(2, ann).run().ok());
  CHECK(effective(*store, ann) == set_of({Role::prm_helpdesk}));

  // Revoking the group's role takes it from every member.
  auto revoked = revoke(*store, RoleScope::group, desk, Role::prm_helpdesk);
  REQUIRE(revoked.ok());
  CHECK(*revoked);
  CHECK(effective(*store, ann).empty());
}

TEST_CASE("roles: granting and revoking twice changes nothing the second time", "[roles][RL-2][RL-3]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string ann = add_user(*store, "ann@example.com");
  for (auto [scope, subject] :
       {std::pair{RoleScope::enterprise, std::string()}, std::pair{RoleScope::user, ann}}) {
    auto first = grant(*store, scope, subject, Role::spm_user);
    REQUIRE(first.ok());
    CHECK(*first);
    auto second = grant(*store, scope, subject, Role::spm_user);
    REQUIRE(second.ok());
    CHECK(!*second);
  }
  auto grants = role_grants(*store, std::nullopt, "");
  REQUIRE(grants.ok());
  CHECK(grants->size() == 2);

  auto first = revoke(*store, RoleScope::user, ann, Role::spm_user);
  REQUIRE(first.ok());
  CHECK(*first);
  auto second = revoke(*store, RoleScope::user, ann, Role::spm_user);
  REQUIRE(second.ok());
  CHECK(!*second);
  auto never = revoke(*store, RoleScope::group, "no-such-group", Role::spm_user);
  REQUIRE(never.ok());
  CHECK(!*never);
  CHECK(effective(*store, ann) == set_of({Role::spm_user}));
}

TEST_CASE("roles: a grant to a missing user or group is not_found, a misplaced subject is bad_request",
          "[roles][RL-1]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string ann = add_user(*store, "ann@example.com");
  std::string group = add_group(*store, "Finance");

  auto no_user = grant(*store, RoleScope::user, "0190-missing-user", Role::prm_user);
  REQUIRE(!no_user.ok());
  CHECK(no_user.error().code == Errc::not_found);
  CHECK_THAT(no_user.error().message, Catch::Contains("0190-missing-user"));
  // A group id is not a user id, nor the other way round.
  CHECK(grant(*store, RoleScope::user, group, Role::prm_user).error().code == Errc::not_found);
  auto no_group = grant(*store, RoleScope::group, ann, Role::prm_user);
  REQUIRE(!no_group.ok());
  CHECK(no_group.error().code == Errc::not_found);
  CHECK_THAT(no_group.error().message, Catch::Contains(ann));

  CHECK(grant(*store, RoleScope::enterprise, ann, Role::prm_user).error().code == Errc::bad_request);
  CHECK(grant(*store, RoleScope::user, "", Role::prm_user).error().code == Errc::bad_request);
  CHECK(grant(*store, RoleScope::group, "", Role::prm_user).error().code == Errc::bad_request);
  CHECK(revoke(*store, RoleScope::enterprise, ann, Role::prm_user).error().code == Errc::bad_request);
  CHECK(role_grants(*store, RoleScope::user, "").error().code == Errc::bad_request);

  auto grants = role_grants(*store, std::nullopt, "");
  REQUIRE(grants.ok());
  CHECK(grants->empty());
}

TEST_CASE("roles: grant and revoke run only inside the caller's transaction", "[roles]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string ann = add_user(*store, "ann@example.com");
  auto granted = role_grant(*store, RoleScope::user, ann, Role::prm_user, kFixedNowMs);
  REQUIRE(!granted.ok());
  CHECK(granted.error().code == Errc::internal);
  CHECK_THAT(granted.error().message, Catch::Contains("must run inside a transaction"));
  auto revoked = role_revoke(*store, RoleScope::user, ann, Role::prm_user);
  REQUIRE(!revoked.ok());
  CHECK(revoked.error().code == Errc::internal);

  // A grant rolled back with its transaction leaves nothing.
  {
    auto tx = store->begin();
    REQUIRE(tx.begun().ok());
    REQUIRE(role_grant(*store, RoleScope::user, ann, Role::prm_user, kFixedNowMs).ok());
  }
  CHECK(effective(*store, ann).empty());
}

TEST_CASE("roles: grants are listed by scope, subject name and role name, with the subject's name",
          "[roles][RL-2][RL-3]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string zoe = add_user(*store, "zoe@example.com");
  std::string ann = add_user(*store, "ann@example.com");
  std::string sales = add_group(*store, "Sales");
  std::string desk = add_group(*store, "Desk");
  REQUIRE(grant(*store, RoleScope::user, zoe, Role::spm_user).ok());
  REQUIRE(grant(*store, RoleScope::user, ann, Role::spm_user).ok());
  REQUIRE(grant(*store, RoleScope::user, ann, Role::prm_helpdesk).ok());
  REQUIRE(grant(*store, RoleScope::group, sales, Role::prm_user).ok());
  REQUIRE(grant(*store, RoleScope::group, desk, Role::spm_helpdesk).ok());
  REQUIRE(grant(*store, RoleScope::enterprise, "", Role::spm_user).ok());
  REQUIRE(grant(*store, RoleScope::enterprise, "", Role::prm_user).ok());

  auto all = role_grants(*store, std::nullopt, "");
  REQUIRE(all.ok());
  std::vector<std::string> listed;
  for (const RoleGrant &g : *all) {
    listed.push_back(std::string(role_scope_name(g.scope)) + "|" + g.subject_name + "|" + role_alias(g.role));
    CHECK(g.granted_ms == kFixedNowMs);
  }
  CHECK(listed == std::vector<std::string>{
                      "enterprise||prm-user",
                      "enterprise||spm-user",
                      "group|Desk|spm-helpdesk",
                      "group|Sales|prm-user",
                      "user|ann@example.com|prm-helpdesk",
                      "user|ann@example.com|spm-user",
                      "user|zoe@example.com|spm-user",
                  });
  CHECK((*all)[2].subject == desk);
  CHECK((*all)[4].subject == ann);

  auto anns = role_grants(*store, RoleScope::user, ann);
  REQUIRE(anns.ok());
  REQUIRE(anns->size() == 2);
  CHECK((*anns)[0].role == Role::prm_helpdesk);
  CHECK((*anns)[1].role == Role::spm_user);
  auto enterprise = role_grants(*store, RoleScope::enterprise, "");
  REQUIRE(enterprise.ok());
  CHECK(enterprise->size() == 2);
  auto none = role_grants(*store, RoleScope::group, "no-such-group");
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("roles: role names written by a newer program are skipped", "[roles][RL-1]") {
  TempDir dir;
  auto store = open_store(dir);
  std::string ann = add_user(*store, "ann@example.com");
  REQUIRE(store->db()
              .exec("INSERT INTO role_grants(scope, subject, role, granted_ms) "
                    "VALUES ('enterprise', '', 'quantum-admin', 1)")
              .ok());
  auto insert = store->db().prepare(
      "INSERT INTO role_grants(scope, subject, role, granted_ms) VALUES ('user', ?, ?, 1)");
  REQUIRE(insert.ok());
  REQUIRE(insert->bind(1, ann).bind(2, std::string_view("future-role")).run().ok());
  REQUIRE(grant(*store, RoleScope::user, ann, Role::prm_user).ok());

  CHECK(effective(*store, ann) == set_of({Role::prm_user}));
  auto all = role_grants(*store, std::nullopt, "");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].role == Role::prm_user);
}

TEST_CASE("roles: a role set merges, compares and lists its names sorted", "[roles][RL-1]") {
  RoleSet a;
  CHECK(a.empty());
  CHECK(a.names().empty());
  a.add(Role::spm_user);
  a.add(Role::prm_user);
  a.add(Role::spm_user);
  CHECK(a.size() == 2);
  RoleSet b = set_of({Role::enterprise_administrator, Role::prm_document_accounting});
  CHECK(!(a == b));
  a.merge(b);
  CHECK(a.has(Role::enterprise_administrator));
  CHECK(!a.has(Role::user_administrator));
  CHECK(a == set_of({Role::prm_document_accounting, Role::prm_user, Role::spm_user,
                     Role::enterprise_administrator}));
  CHECK(a.names() ==
        std::vector<std::string>{"Enterprise Administrator", "Print Release Management Document Accounting",
                                 "Print Release Management User", "Serverless Print Management User"});
  CHECK(a.roles() == std::vector<Role>{Role::prm_document_accounting, Role::prm_user, Role::spm_user,
                                       Role::enterprise_administrator});
}

TEST_CASE("roles: every permission has its own name", "[roles][RL-14]") {
  std::vector<std::string> names;
  for (Permission p : kPermissions)
    names.emplace_back(permission_name(p));
  CHECK(names.front() == "release");
  CHECK(names.back() == "audit_read");
  CHECK(std::string(permission_name(Permission::users_write)) == "users_write");
  std::sort(names.begin(), names.end());
  CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  CHECK(names.size() == kPermissionCount);
}
