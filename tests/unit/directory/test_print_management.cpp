// Print Management in the directory: print groups and the Print Management user list in the store
// (directory_store_print.cpp), the print-users CSV import (directory_import.h), and the ops over
// TLS (directory_service_print.cpp) with their audit rows and role matrix.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "directory_import.h"
#include "directory_store.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops_print.h"
#include "lpm/protocol/session.h"
#include "people_fixture.h"
#include "roles.h"
#include "service_harness.h"

using namespace lpm;
using namespace lpm::directory;
using namespace lpm::directory::test;
using lpm::test::kFixedNowMs;
using lpm::test::TempDir;
using proto::SyncClient;

namespace {

const std::string kPmAdmin = "pm-admin@example.com";
const std::string kPrintHeader(kPrintUserImportHeader);

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

std::string read_fixture(const std::string &name) {
  std::ifstream in(std::string(LPM_TEST_FIXTURES) + "/" + name, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A store of its own, with the calls the store tests need in a transaction each.
struct Store {
  TempDir dir;
  std::unique_ptr<DirectoryStore> store;

  Store() {
    auto opened = DirectoryStore::open(dir.path + "/state.db");
    REQUIRE(opened.ok());
    store = std::move(*opened);
  }

  User user(const std::string &email, std::initializer_list<Role> roles = {}) {
    auto u = store->user_add(email, "", kFixedNowMs, "test");
    REQUIRE(u.ok());
    for (Role r : roles)
      grant(RoleScope::user, u->id, r);
    return *u;
  }
  void grant(RoleScope scope, const std::string &subject, Role role) {
    auto tx = store->begin();
    REQUIRE(role_grant(*store, scope, subject, role, kFixedNowMs).ok());
    REQUIRE(tx.commit().ok());
  }
  void revoke(RoleScope scope, const std::string &subject, Role role) {
    auto tx = store->begin();
    REQUIRE(role_revoke(*store, scope, subject, role).ok());
    REQUIRE(tx.commit().ok());
  }
  Result<PrintGroup> create(const std::string &name, std::optional<int64_t> quota = {}, bool color = false) {
    auto tx = store->begin();
    auto g = store->print_group_create(name, quota, color, kFixedNowMs);
    if (g.ok()) REQUIRE(tx.commit().ok());
    return g;
  }
  PmSyncResult sync() {
    auto tx = store->begin();
    auto r = store->pm_users_sync(kFixedNowMs);
    REQUIRE(r.ok());
    REQUIRE(tx.commit().ok());
    return *r;
  }
  void join(const User &u, const PrintGroup &g) {
    auto tx = store->begin();
    REQUIRE(store->pm_user_group_set(u, g.id).ok());
    REQUIRE(tx.commit().ok());
  }
  PmUser pm(const User &u) {
    auto p = store->pm_user(u);
    REQUIRE(p.ok());
    return *p;
  }
  int64_t count(const std::string &sql) {
    auto stmt = store->db().prepare(sql);
    REQUIRE(stmt.ok());
    auto row = stmt->step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return stmt->col_int(0);
  }

  // Runs a print-users import to its end; its log in file order.
  std::vector<ImportLogRow> run(const std::string &content, ImportOptions options = {}) {
    auto info =
        import_start(*store, ImportKind::print_users, "pm.csv", content, options, "test", kFixedNowMs);
    INFO((info.ok() ? std::string() : info.error().to_string()));
    REQUIRE(info.ok());
    auto runner = ImportRunner::load(*store, info->id, ImportRunner::Hooks{});
    REQUIRE(runner.ok());
    auto done = (*runner)->step(100000, kFixedNowMs);
    REQUIRE(done.ok());
    REQUIRE(*done);
    auto log = store->import_log(info->id, 0, 100000);
    REQUIRE(log.ok());
    return *log;
  }
};

// The People fixture with a Print Release Management Administrator logged in, and typed calls of
// the Print Management ops.
struct Pm : People {
  User admin = user(kPmAdmin, {Role::prm_administrator});
  std::string admin_session = People::session(kPmAdmin);

  template <class Out, class In> Result<Out> call(const char *op, In in) {
    in.session = admin_session;
    return rpc<Out>(*ws, op, in);
  }
  Result<proto::PrintGroupsChangeResult> create(const std::string &name, std::optional<int64_t> quota = {},
                                                bool color = false) {
    return call<proto::PrintGroupsChangeResult>(proto::op::print_groups_create,
                                                proto::PrintGroupsCreateRequest{"", name, quota, color});
  }
  Result<proto::PrintGroupsChangeResult> update(proto::PrintGroupsUpdateRequest req) {
    return call<proto::PrintGroupsChangeResult>(proto::op::print_groups_update, std::move(req));
  }
  Result<proto::BatchResult> remove_groups(std::vector<std::string> names) {
    return call<proto::BatchResult>(proto::op::print_groups_delete,
                                    proto::PrintGroupsDeleteRequest{"", names});
  }
  Result<proto::PrintGroupsListResult> groups(bool all = false, const std::string &after = "",
                                              const std::string &after_id = "", uint64_t limit = 100) {
    return call<proto::PrintGroupsListResult>(proto::op::print_groups_list,
                                              proto::PrintGroupsListRequest{"", after, after_id, limit, all});
  }
  Result<proto::PrintUsersListResult> pm_users(const std::string &group = "", const std::string &after = "",
                                               uint64_t limit = 100) {
    proto::PrintUsersListRequest req;
    req.page.after = after;
    req.page.limit = limit;
    req.group = group;
    return call<proto::PrintUsersListResult>(proto::op::print_users_list, req);
  }
  Result<proto::BatchResult> set(proto::PrintUsersSetRequest req) {
    return call<proto::BatchResult>(proto::op::print_users_set, std::move(req));
  }
  Result<proto::BatchResult> remove_users(std::vector<std::string> emails) {
    return call<proto::BatchResult>(proto::op::print_users_remove,
                                    proto::PrintUsersRemoveRequest{"", emails});
  }
  Result<proto::PrintUsersSyncResult> sync(bool dry_run = false) {
    return call<proto::PrintUsersSyncResult>(proto::op::print_users_sync,
                                             proto::PrintUsersSyncRequest{"", dry_run});
  }

  void grant(RoleScope scope, const std::string &subject, Role role) {
    auto tx = h.admin().begin();
    REQUIRE(role_grant(h.admin(), scope, subject, role, wall_ms()).ok());
    REQUIRE(tx.commit().ok());
  }
  const proto::PrintUserEntry *find(const proto::PrintUsersListResult &list, const std::string &email) {
    for (const auto &u : list.users)
      if (u.email == email) return &u;
    return nullptr;
  }
  // Rows of the audit log with this action whose detail contains `part`, by the administrator.
  int64_t audited(const std::string &action, const std::string &part = "") {
    auto stmt = h.admin().db().prepare(
        "SELECT count(*) FROM audit WHERE action = ? AND instr(detail, ?) > 0 AND actor = ?");
    REQUIRE(stmt.ok());
    stmt->bind(1, action).bind(2, part).bind(3, "user " + admin.id + " " + kPmAdmin);
    REQUIRE(*stmt->step());
    return stmt->col_int(0);
  }
};

std::string items_text(const proto::BatchResult &r) {
  std::string out;
  for (const auto &i : r.items)
    out += i.key + "=" + i.result + (i.reason.empty() ? "" : " (" + i.reason + ")") + "; ";
  return out;
}

} // namespace

// ---- the store ------------------------------------------------------------------------------------

TEST_CASE("print groups: names sanitised as account groups' are, at most 80 characters, unique among live "
          "groups case-insensitively (GR-7, AMB-8)",
          "[directory][print][GR-7][AMB-8]") {
  Store s;
  auto floor = s.create("Floor 2", 500, true);
  REQUIRE(floor.ok());
  CHECK(floor->quota == 500);
  CHECK(floor->color_allowed);
  auto same = s.create("FLOOR 2");
  REQUIRE_FALSE(same.ok());
  CHECK(same.error().code == Errc::conflict);
  CHECK(same.error().message == "a print group named \"Floor 2\" already exists");
  auto found = s.store->print_group_by_name("floor 2");
  REQUIRE(found.ok());
  CHECK(found->id == floor->id);

  // The service sanitises before the store sees a name (group_name_sanitize): 80 characters at most.
  CHECK(group_name_sanitize(std::string(80, 'x')).ok());
  CHECK(group_name_sanitize(std::string(81, 'x')).error().code == Errc::bad_request);
  CHECK(*group_name_sanitize(" QA#Team ") == "QA_Team");

  auto negative = s.create("Bad quota", -1);
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.error().code == Errc::bad_request);
  CHECK_FALSE(s.create("Too much", kMaxPrintQuota + 1).ok());
  CHECK(s.create("Most", kMaxPrintQuota).ok());
  CHECK(s.create("Nothing", 0).ok());

  auto missing = s.store->print_group_by_name("Floor 3");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK(contains(missing.error().message, "print group not found: \"Floor 3\""));
  CHECK(contains(missing.error().message, "TS-11"));
}

TEST_CASE(
    "print groups and account groups are unrelated: the same name in both, a role granted to an account "
    "group touches no print group, a print group grants no role (GR-1, GR-6)",
    "[directory][print][GR-1][GR-6]") {
  Store s;
  User ann = s.user("ann@example.com");
  User ben = s.user("ben@example.com", {Role::prm_user});
  auto tx = s.store->begin();
  auto account = s.store->group_create("Sales", kFixedNowMs);
  REQUIRE(account.ok());
  REQUIRE(s.store->group_member_add(account->id, ann.id, kFixedNowMs).ok());
  REQUIRE(tx.commit().ok());
  auto print = s.create("Sales", 100);
  REQUIRE(print.ok()); // the same name in both kinds (GR-1)
  CHECK(print->id != account->id);

  // A role granted to the account group reaches its members, not the print group's.
  s.grant(RoleScope::group, account->id, Role::prm_user);
  s.sync();
  s.join(ben, *print);
  CHECK(s.count("SELECT count(*) FROM pm_users WHERE print_group_id IS NOT NULL") == 1);
  CHECK(s.pm(ann).print_group_id.empty());
  CHECK(s.pm(ben).print_group_name == "Sales");
  CHECK(*s.store->groups_of(ben.id) == std::vector<std::string>{});
  CHECK(*s.store->groups_of(ann.id) == std::vector<std::string>{"Sales"});
  // Membership of a print group grants nothing (a grant to its id is refused: not an account group).
  auto ben_roles = effective_roles(*s.store, ben.id);
  REQUIRE(ben_roles.ok());
  CHECK(ben_roles->names() == std::vector<std::string>{"Print Release Management User"});
  auto tx2 = s.store->begin();
  auto refused = role_grant(*s.store, RoleScope::group, print->id, Role::prm_administrator, kFixedNowMs);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::not_found);
  REQUIRE(tx2.commit().ok());

  // Deleting the account group leaves the print group and its members alone, and the reverse.
  auto tx3 = s.store->begin();
  REQUIRE(s.store->group_delete(account->id).ok());
  REQUIRE(tx3.commit().ok());
  CHECK(s.store->print_group_by_name("Sales").ok());
  CHECK(s.pm(ben).print_group_name == "Sales");
  auto tx4 = s.store->begin();
  auto again = s.store->group_create("Sales", kFixedNowMs);
  REQUIRE(again.ok());
  REQUIRE(s.store->print_group_delete(print->id, kFixedNowMs).ok());
  REQUIRE(tx4.commit().ok());
  CHECK(s.store->group_by_name("Sales").ok());
}

TEST_CASE("Import from User Accounts in the store: the users with an effective PRM User or Serverless Print "
          "Management User role at any scope, as effective_roles counts them (PM-3, AMB-18, TS-15)",
          "[directory][print][PM-3][AMB-18][TS-15]") {
  Store s;
  User direct = s.user("direct@example.com", {Role::prm_user});
  User serverless = s.user("serverless@example.com", {Role::spm_user});
  User grouped = s.user("grouped@example.com");
  User admin_only = s.user("admin@example.com", {Role::prm_administrator});
  User nobody = s.user("nobody@example.com", {Role::prm_helpdesk});
  auto tx = s.store->begin();
  auto team = s.store->group_create("Team", kFixedNowMs);
  REQUIRE(s.store->group_member_add(team->id, grouped.id, kFixedNowMs).ok());
  REQUIRE(tx.commit().ok());
  s.grant(RoleScope::group, team->id, Role::prm_user);

  auto first = s.sync();
  std::vector<std::string> added;
  for (const auto &u : first.added)
    added.push_back(u.email);
  CHECK(added ==
        std::vector<std::string>{"direct@example.com", "grouped@example.com", "serverless@example.com"});
  CHECK(first.removed.empty());
  CHECK(first.pm_users == 3);
  CHECK(first.enterprise_users == 5); // AMB-18: both counts
  // The same users effective_roles gives a print role to.
  for (const User &u : {direct, serverless, grouped, admin_only, nobody}) {
    auto roles = effective_roles(*s.store, u.id);
    REQUIRE(roles.ok());
    bool qualifies = roles->has(Role::prm_user) || roles->has(Role::spm_user);
    CHECK(s.store->pm_user(u).ok() == qualifies);
  }
  auto not_pm = s.store->pm_user(nobody);
  REQUIRE_FALSE(not_pm.ok());
  CHECK(contains(not_pm.error().message, "nobody@example.com is not a Print Management user"));
  CHECK(contains(not_pm.error().message, "PM-2"));

  // Again: nothing to do. An enterprise grant brings everyone.
  auto second = s.sync();
  CHECK(second.added.empty());
  CHECK(second.removed.empty());
  s.grant(RoleScope::enterprise, "", Role::spm_user);
  CHECK(s.sync().added.size() == 2);
  CHECK(s.count("SELECT count(*) FROM pm_users") == 5);

  // Running it needs a transaction, like every [tx] mutator.
  CHECK(s.store->pm_users_sync(kFixedNowMs).error().code == Errc::internal);
}

TEST_CASE(
    "a user losing the PRM role leaves Print Management at the next import from User Accounts, not before, "
    "a deleted user leaves with their user (TS-16, PM-3, UA-6)",
    "[directory][print][TS-16][PM-3]") {
  Store s;
  User ann = s.user("ann@example.com", {Role::prm_user});
  User ben = s.user("ben@example.com", {Role::prm_user});
  auto floor = s.create("Floor", 10);
  s.sync();
  s.join(ann, *floor);

  s.revoke(RoleScope::user, ann.id, Role::prm_user);
  CHECK(s.store->pm_user(ann).ok()); // no automatic sync (TS-16)
  auto synced = s.sync();
  REQUIRE(synced.removed.size() == 1);
  CHECK(synced.removed[0].email == "ann@example.com");
  CHECK(synced.pm_users == 1);
  CHECK(s.store->pm_user(ann).error().code == Errc::not_found);
  // Back with the role: a new Print Management user, in no group.
  s.grant(RoleScope::user, ann.id, Role::prm_user);
  CHECK(s.sync().added.size() == 1);
  CHECK(s.pm(ann).print_group_id.empty());

  auto tx = s.store->begin();
  REQUIRE(s.store->user_delete(ben.id).ok());
  REQUIRE(tx.commit().ok());
  CHECK(s.count("SELECT count(*) FROM pm_users") == 1);
  CHECK(s.sync().removed.empty());
}

// ---- the print-users import (PM-4, AMB-16) ------------------------------------------------------------

TEST_CASE("print-users import: the sample file imports cleanly: groups and quotas set, the group never "
          "created (PM-4, AMB-16)",
          "[directory][print][import][PM-4][AMB-16]") {
  Store s;
  User jdoe = s.user("jdoe@company.com", {Role::prm_user});
  User llane = s.user("llane@company.com", {Role::prm_user});
  User ckent = s.user("ckent@company.com", {Role::prm_user});
  auto group = s.create("Group 1", 300);
  auto other = s.create("Other");
  s.sync();
  s.join(ckent, *other);
  {
    auto tx = s.store->begin();
    REQUIRE(s.store->pm_user_quota_set(llane, 50).ok());
    REQUIRE(tx.commit().ok());
  }

  auto log = s.run(read_fixture("print-users-sample.csv"));
  REQUIRE(log.size() == 3);
  for (const auto &row : log) {
    INFO(row.key << ": " << row.reason);
    CHECK(row.result == "updated");
  }
  CHECK(s.pm(jdoe).print_group_id == group->id);
  CHECK(s.pm(jdoe).quota == 500);
  CHECK(s.pm(llane).print_group_id == group->id);
  CHECK(s.pm(llane).quota == std::nullopt); // empty QUOTA: the group's
  CHECK(s.pm(llane).group_quota == 300);
  CHECK(s.pm(ckent).print_group_id == other->id); // empty GROUP: unchanged
  CHECK(s.pm(ckent).quota == 200);
  CHECK(s.count("SELECT count(*) FROM print_groups") == 2);
  CHECK(s.count("SELECT count(*) FROM audit WHERE action = 'pm-user-group-set' AND "
                "instr(detail, 'print-users import') > 0") == 2);
  CHECK(s.count("SELECT count(*) FROM audit WHERE action = 'pm-user-quota-set'") == 3);
}

TEST_CASE(
    "print-users import: the header is exactly EMAIL,GROUP,QUOTA, BOM and CRLF are no difference, a file "
    "over 1 MB is refused (AMB-16, AMB-1, AMB-10)",
    "[directory][print][import][AMB-16][AMB-10]") {
  Store s;
  User ann = s.user("ann@example.com", {Role::prm_user});
  s.sync();
  for (const std::string &bad :
       {std::string("email,group,quota\n"), std::string("EMAIL,GROUP\n"),
        std::string("EMAIL,GROUP,QUOTA,EXTRA\n"), std::string("EMAIL;GROUP;QUOTA\n"), std::string("")}) {
    INFO("header: " << bad);
    auto info = import_start(*s.store, ImportKind::print_users, "pm.csv", bad + "ann@example.com,,1\n", {},
                             "t", kFixedNowMs);
    REQUIRE_FALSE(info.ok());
    CHECK(info.error().code == Errc::bad_request);
    CHECK(contains(info.error().message, "EMAIL,GROUP,QUOTA"));
  }
  auto wrong =
      import_start(*s.store, ImportKind::print_users, "pm.csv", "Email,Group,Quota\n", {}, "t", kFixedNowMs);
  REQUIRE_FALSE(wrong.ok());
  CHECK(contains(wrong.error().message,
                 "it must be exactly EMAIL,GROUP,QUOTA on one line, upper case (PM-4, AMB-16)"));
  // A users header is not a print-users header, and the reverse.
  CHECK_FALSE(
      import_start(*s.store, ImportKind::users, "u.csv", kPrintHeader + "\n", {}, "t", kFixedNowMs).ok());
  CHECK(s.count("SELECT count(*) FROM imports") == 0);

  auto log = s.run("\xEF\xBB\xBF" + kPrintHeader + "\r\nANN@Example.com,,42\r\n");
  REQUIRE(log.size() == 1);
  CHECK(log[0].result == "updated");
  CHECK(log[0].key == "ann@example.com"); // lower-cased (AMB-9)
  CHECK(s.pm(ann).quota == 42);

  std::string body = kPrintHeader + "\nann@example.com,,7\n";
  std::string exact = body + std::string(kMaxImportBytes - body.size(), '\n');
  CHECK(s.run(exact).size() == 1);
  auto over = import_start(*s.store, ImportKind::print_users, "big.csv", exact + "\n", {}, "t", kFixedNowMs);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == Errc::too_large);
}

TEST_CASE("print-users import: hostile records fail alone with precise reasons: unknown users, users not in "
          "Print Management, missing and deleted groups, bad quotas, no group is ever created (PM-4, AMB-16, "
          "TS-11, TS-15, PM-2)",
          "[directory][print][import][PM-4][AMB-16][TS-11][TS-15][PM-2]") {
  Store s;
  User ann = s.user("ann@example.com", {Role::prm_user});
  s.user("outsider@example.com"); // no print role: never imported
  auto old = s.create("Old floor");
  auto floor = s.create("Floor_2"); // as the service stores "Floor#2" (AMB-8)
  s.sync();
  {
    auto tx = s.store->begin();
    REQUIRE(s.store->print_group_delete(old->id, kFixedNowMs).ok());
    REQUIRE(tx.commit().ok());
  }
  const std::string file = kPrintHeader + "\n" +
                           "ghost@example.com,,1\n"                  // 2: no such user
                           "outsider@example.com,,1\n"               // 3: not a Print Management user
                           "ann@example.com,Old floor,\n"            // 4: deleted group (TS-11)
                           "ann@example.com,Nowhere,\n"              // 5: no such group, never created
                           "ann@example.com,,-5\n"                   // 6: negative
                           "ann@example.com,,12.5\n"                 // 7: not whole
                           "ann@example.com,,abc\n"                  // 8
                           "ann@example.com,,1000000001\n"           // 9: over the cap
                           "ann@example.com,,99999999999999999999\n" // 10: would overflow
                           "ann@example.com,a,1,extra\n"             // 11: one value too many
                           ",Floor#2,1\n"                            // 12: no e-mail
                           "not-an-email,,1\n"                       // 13
                           "\"ann@example.com\",\"Floor#2\", 9 \n"   // 14: fine, after the others
                           "ann@example.com\n";                      // 15: short: a warning, nothing else
  auto log = s.run(file);
  REQUIRE(log.size() == 14);
  auto reason = [&](size_t i) { return log[i].reason; };
  for (size_t i = 0; i < 12; i++) {
    INFO("record " << log[i].record << ": " << log[i].reason);
    CHECK(log[i].result == "failed");
  }
  CHECK(contains(reason(0), "no user has the e-mail address ghost@example.com"));
  CHECK(contains(reason(1), "outsider@example.com is not a Print Management user"));
  CHECK(contains(reason(1), "`lpm print-users sync`"));
  CHECK(contains(reason(2), "print group not found: \"Old floor\"; it may have been deleted"));
  CHECK(contains(reason(2), "TS-11"));
  CHECK(contains(reason(3), "print group not found: \"Nowhere\""));
  CHECK(contains(reason(3), "never creates print groups"));
  for (size_t i : {4, 5, 6, 7, 8}) {
    INFO(reason(i));
    CHECK(contains(reason(i), "is not a whole number of impressions per calendar month"));
  }
  CHECK(contains(reason(9), "the record has 4 values; the header has 3"));
  CHECK(contains(reason(10), "EMAIL is empty"));
  CHECK(contains(reason(11), "EMAIL: "));
  CHECK(log[12].result == "updated");
  CHECK(contains(reason(12), "looked up as \"Floor_2\"")); // sanitised as group names are (AMB-8)
  CHECK(log[13].result == "updated");
  CHECK(contains(reason(13), "the missing trailing values are taken as empty (AMB-2)"));

  CHECK(s.count("SELECT count(*) FROM print_groups") == 2);
  CHECK(s.pm(ann).print_group_id == floor->id);
  CHECK(s.pm(ann).quota == std::nullopt); // the last record's empty QUOTA: the group's
  // Strict mode refuses the short record instead.
  ImportOptions strict;
  strict.strict = true;
  auto refused = s.run(kPrintHeader + "\nann@example.com,Floor#2\n", strict);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].result == "failed");
}

// ---- the ops ---------------------------------------------------------------------------------------

TEST_CASE("print-groups-create and -list: sanitised names, quotas, colour, member counts, paged by name "
          "(GR-6, GR-7, AMB-8)",
          "[directory][print][GR-6][GR-7][AMB-8]") {
  Pm p;
  auto created = p.create(" Floor#2 ", 500, true);
  REQUIRE(created.ok());
  CHECK(created->group.name == "Floor_2");
  CHECK(created->renamed_from == "Floor#2");
  CHECK(created->group.quota == 500);
  CHECK(created->group.color_allowed);
  CHECK(p.audited("print-group-create", "renamed from \"Floor#2\"") == 1);
  auto taken = p.create("FLOOR_2");
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.error().code == Errc::conflict);
  auto long_name = p.create(std::string(81, 'n'));
  REQUIRE_FALSE(long_name.ok());
  CHECK(long_name.error().code == Errc::bad_request);
  auto huge = p.create("Huge", proto::kMaxQuota + 1);
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().code == Errc::bad_request);

  for (const char *name : {"b", "A", "c", "D"})
    REQUIRE(p.create(name).ok());
  auto page = p.groups(false, "", "", 2);
  REQUIRE(page.ok());
  REQUIRE(page->groups.size() == 2);
  CHECK(page->groups[0].name == "A");
  CHECK(page->groups[1].name == "b");
  CHECK(page->groups[1].quota == std::nullopt);
  auto rest = p.groups(false, page->next, page->next_id, 10);
  REQUIRE(rest.ok());
  std::vector<std::string> names;
  for (const auto &g : rest->groups)
    names.push_back(g.name);
  CHECK(names == std::vector<std::string>{"c", "D", "Floor_2"});
  CHECK(rest->next.empty());
  p.h.finish();
}

TEST_CASE("print-groups-update saves the whole edit or nothing: rename, quota, colour, members added and "
          "removed, a member added leaves their other group and the answer says so (GR-8, AMB-17)",
          "[directory][print][GR-8][AMB-17]") {
  Pm p;
  for (const char *email : {"ann@example.com", "ben@example.com", "cat@example.com"})
    p.user(email, {Role::prm_user});
  p.user("outsider@example.com");
  REQUIRE(p.sync().ok());
  REQUIRE(p.create("Floor 1", 100).ok());
  REQUIRE(p.create("Floor 2").ok());
  proto::PrintUsersSetRequest into;
  into.emails = {"cat@example.com"};
  into.group = "Floor 2";
  REQUIRE(p.set(into).ok());

  proto::PrintGroupsUpdateRequest edit;
  edit.name = "floor 1";
  edit.rename = "Ground floor";
  edit.quota = 250;
  edit.color_allowed = true;
  edit.add_members = {"Ann@Example.com", "ben@example.com", "cat@example.com"};
  auto updated = p.update(edit);
  REQUIRE(updated.ok());
  CHECK(updated->group.name == "Ground floor");
  CHECK(updated->group.quota == 250);
  CHECK(updated->group.color_allowed);
  CHECK(updated->group.members == 3);
  CHECK(updated->added == 3);
  REQUIRE(updated->moved.size() == 1);
  CHECK(updated->moved[0].email == "cat@example.com");
  CHECK(updated->moved[0].from == "Floor 2");
  CHECK(p.audited("print-group-update",
                  "renamed from \"Floor 1\" to \"Ground floor\", quota 250, colour allowed") == 1);
  CHECK(p.audited("pm-user-group-set", "moved from print group") == 1);
  auto floor2 = p.pm_users("Floor 2");
  REQUIRE(floor2.ok());
  CHECK(floor2->users.empty());

  // One bad member refuses the whole edit: the name, quota and other members stay as they were.
  proto::PrintGroupsUpdateRequest bad;
  bad.name = "Ground floor";
  bad.rename = "Renamed";
  bad.clear_quota = true;
  bad.remove_members = {"ann@example.com", "outsider@example.com"};
  auto refused = p.update(bad);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::not_found);
  CHECK(contains(refused.error().message,
                 "remove_members: outsider@example.com is not a Print Management user"));
  auto list = p.groups();
  REQUIRE(list.ok());
  CHECK(list->groups[0].name == "Floor 2");
  CHECK(list->groups[1].name == "Ground floor");
  CHECK(list->groups[1].quota == 250);
  CHECK(list->groups[1].members == 3);

  bad.remove_members = {"ann@example.com"};
  bad.color_allowed = false;
  auto done = p.update(bad);
  REQUIRE(done.ok());
  CHECK(done->group.name == "Renamed");
  CHECK(done->group.quota == std::nullopt);
  CHECK_FALSE(done->group.color_allowed);
  CHECK(done->removed == 1);
  CHECK(done->group.members == 2);

  proto::PrintGroupsUpdateRequest both;
  both.name = "Renamed";
  both.add_members = {"ann@example.com"};
  both.remove_members = {"ANN@example.com"};
  CHECK(p.update(both).error().code == Errc::bad_request);
  proto::PrintGroupsUpdateRequest nothing;
  nothing.name = "Renamed";
  CHECK(p.update(nothing).error().code == Errc::bad_request);
  proto::PrintGroupsUpdateRequest clash;
  clash.name = "Renamed";
  clash.rename = "floor 2";
  CHECK(p.update(clash).error().code == Errc::conflict);
  p.h.finish();
}

TEST_CASE("print-groups-delete: one or more groups, members left in no group, the row kept for reports and "
          "listed only with include_deleted, its name free again (GR-9, TS-11)",
          "[directory][print][GR-9][TS-11]") {
  Pm p;
  p.user("ann@example.com", {Role::prm_user});
  REQUIRE(p.sync().ok());
  REQUIRE(p.create("Old", 10).ok());
  REQUIRE(p.create("Spare").ok());
  proto::PrintUsersSetRequest into;
  into.emails = {"ann@example.com"};
  into.group = "Old";
  REQUIRE(p.set(into).ok());

  auto deleted = p.remove_groups({"old", "Spare", "Missing"});
  REQUIRE(deleted.ok());
  INFO(items_text(*deleted));
  REQUIRE(deleted->items.size() == 3);
  CHECK(deleted->items[0].result == "deleted");
  CHECK(contains(deleted->items[0].reason, "1 member left in no print group"));
  CHECK(deleted->items[1].result == "deleted");
  CHECK(deleted->items[2].result == "failed");
  CHECK(contains(deleted->items[2].reason, "print group not found"));
  CHECK(p.audited("print-group-delete", "1 members") == 1);

  auto users = p.pm_users();
  REQUIRE(users.ok());
  REQUIRE(users->users.size() == 1);
  CHECK(users->users[0].group.empty());
  auto live = p.groups();
  REQUIRE(live.ok());
  CHECK(live->groups.empty());
  auto all = p.groups(true);
  REQUIRE(all.ok());
  REQUIRE(all->groups.size() == 2);
  CHECK(all->groups[0].deleted_ms > 0);
  CHECK(all->groups[0].quota == 10);

  // TS-11: a deleted group is not found, by name or by a user's set; the name can be used again.
  into.group = "Old";
  auto gone = p.set(into);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == Errc::not_found);
  CHECK(contains(gone.error().message, "print group not found: \"Old\""));
  REQUIRE(p.create("Old").ok());
  auto both = p.groups(true);
  REQUIRE(both.ok());
  CHECK(both->groups.size() == 3);
  // Pages through groups sharing a name by (name, id).
  auto first = p.groups(true, "", "", 1);
  REQUIRE(first.ok());
  auto second = p.groups(true, first->next, first->next_id, 1);
  REQUIRE(second.ok());
  REQUIRE(second->groups.size() == 1);
  CHECK(second->groups[0].name == "Old");
  CHECK(second->groups[0].id != first->groups[0].id);
  p.h.finish();
}

TEST_CASE(
    "users must be imported into Print Management before they can be managed: print-users-set on a user "
    "not imported fails, naming the import (PM-2, TS-15)",
    "[directory][print][PM-2][TS-15]") {
  Pm p;
  p.user("ann@example.com", {Role::prm_user});
  REQUIRE(p.create("Floor").ok());
  proto::PrintUsersSetRequest req;
  req.emails = {"ann@example.com", "ghost@example.com"};
  req.group = "Floor";
  auto before = p.set(req);
  REQUIRE(before.ok());
  REQUIRE(before->items.size() == 2);
  CHECK(before->items[0].result == "failed");
  CHECK(contains(before->items[0].reason,
                 "ann@example.com is not a Print Management user: users come in with "
                 "Import from User Accounts (`lpm print-users sync`)"));
  CHECK(contains(before->items[0].reason, "Print Release Management User"));
  CHECK(before->items[1].result == "failed");
  CHECK(contains(before->items[1].reason, "no user has the e-mail address ghost@example.com"));
  auto empty = p.pm_users();
  REQUIRE(empty.ok());
  CHECK(empty->users.empty());
  CHECK(empty->pm_users == 0);

  REQUIRE(p.sync().ok());
  auto after = p.set(req);
  REQUIRE(after.ok());
  CHECK(after->items[0].result == "updated");
  p.h.finish();
}

TEST_CASE("print-users-set: a user's own quota overrides the group's, group_quota drops it, no_group takes "
          "them out, one group per user, print-users-remove (AMB-17)",
          "[directory][print][AMB-17]") {
  Pm p;
  p.user("ann@example.com", {Role::prm_user});
  REQUIRE(p.sync().ok());
  REQUIRE(p.create("A", 100, true).ok());
  REQUIRE(p.create("B", 200).ok());
  proto::PrintUsersSetRequest req;
  req.emails = {"ann@example.com"};
  req.group = "a";
  req.quota = 40;
  auto set = p.set(req);
  REQUIRE(set.ok());
  CHECK(set->items[0].result == "updated");
  auto listed = p.pm_users();
  REQUIRE(listed.ok());
  const auto *ann = p.find(*listed, "ann@example.com");
  REQUIRE(ann);
  CHECK(ann->group == "A");
  CHECK(ann->quota == 40);
  CHECK(ann->group_quota == 100);
  CHECK(ann->color_allowed);
  CHECK(p.audited("pm-user-quota-set", "quota 40") == 1);

  auto same = p.set(req);
  REQUIRE(same.ok());
  CHECK(same->items[0].result == "unchanged");

  proto::PrintUsersSetRequest move;
  move.emails = {"ann@example.com"};
  move.group = "B";
  move.group_quota = true;
  auto moved = p.set(move);
  REQUIRE(moved.ok());
  CHECK(moved->items[0].result == "updated");
  CHECK(contains(moved->items[0].reason, "moved from print group \"A\": a user belongs to one print group"));
  listed = p.pm_users();
  ann = p.find(*listed, "ann@example.com");
  CHECK(ann->group == "B");
  CHECK(ann->quota == std::nullopt);
  CHECK(ann->group_quota == 200);
  CHECK_FALSE(ann->color_allowed); // colour only where the group allows it

  proto::PrintUsersSetRequest out;
  out.emails = {"ann@example.com"};
  out.no_group = true;
  REQUIRE(p.set(out).ok());
  listed = p.pm_users();
  ann = p.find(*listed, "ann@example.com");
  CHECK(ann->group.empty());
  CHECK(ann->group_quota == std::nullopt);

  auto removed = p.remove_users({"ann@example.com", "ann@example.com"});
  REQUIRE(removed.ok());
  CHECK(removed->items[0].result == "removed");
  CHECK(removed->items[1].result == "unchanged");
  CHECK(p.audited("pm-user-remove", "ann@example.com") == 1);
  // Still holding PRM User: the next import from User Accounts brings her back.
  auto back = p.sync();
  REQUIRE(back.ok());
  CHECK(back->added_emails == std::vector<std::string>{"ann@example.com"});
  p.h.finish();
}

TEST_CASE(
    "print-users-sync is Import from User Accounts: the dry run changes nothing, the run adds and removes, "
    "answers both counts and is audited, print-users-list shows both counts (PM-3, AMB-18, TS-15, TS-16)",
    "[directory][print][PM-3][AMB-18][TS-15][TS-16]") {
  Pm p;
  User ann = p.user("ann@example.com", {Role::prm_user});
  p.user("ben@example.com", {Role::spm_user});
  p.user("cat@example.com");

  auto preview = p.sync(true);
  REQUIRE(preview.ok());
  CHECK(preview->dry_run);
  CHECK(preview->added == 2);
  CHECK(preview->pm_users == 2);
  CHECK(preview->enterprise_users == 4); // the administrator too (AMB-18)
  auto still_empty = p.pm_users();
  REQUIRE(still_empty.ok());
  CHECK(still_empty->pm_users == 0);
  CHECK(p.audited("pm-sync") == 0);

  auto run = p.sync();
  REQUIRE(run.ok());
  CHECK_FALSE(run->dry_run);
  CHECK(run->added_emails == std::vector<std::string>{"ann@example.com", "ben@example.com"});
  CHECK(run->removed == 0);
  CHECK(p.audited("pm-sync", "2 added, 0 removed, 2 Print Management users of 4 users") == 1);
  CHECK(p.audited("pm-user-add", "ann@example.com (import from User Accounts)") == 1);
  auto listed = p.pm_users();
  REQUIRE(listed.ok());
  CHECK(listed->users.size() == 2);
  CHECK(listed->pm_users == 2);
  CHECK(listed->enterprise_users == 4);

  // TS-16: losing the role changes nothing until the next run.
  {
    auto tx = p.h.admin().begin();
    REQUIRE(role_revoke(p.h.admin(), RoleScope::user, ann.id, Role::prm_user).ok());
    REQUIRE(tx.commit().ok());
  }
  CHECK(p.pm_users()->pm_users == 2);
  auto again = p.sync();
  REQUIRE(again.ok());
  CHECK(again->removed_emails == std::vector<std::string>{"ann@example.com"});
  CHECK(again->pm_users == 1);
  CHECK(p.audited("pm-user-remove", "no print role any more") == 1);

  // Paged by e-mail.
  p.user("dan@example.com", {Role::prm_user});
  REQUIRE(p.sync().ok());
  auto page = p.pm_users("", "", 1);
  REQUIRE(page.ok());
  REQUIRE(page->users.size() == 1);
  CHECK(page->users[0].email == "ben@example.com");
  auto next = p.pm_users("", page->next, 1);
  REQUIRE(next.ok());
  CHECK(next->users[0].email == "dan@example.com");
  CHECK(next->next.empty());
  p.h.finish();
}

TEST_CASE("print-users import through import-start: kind print-users, refused without print_users_manage "
          "(PM-4, AMB-16)",
          "[directory][print][import][PM-4][AMB-16]") {
  Pm p;
  p.user("jdoe@company.com", {Role::prm_user});
  p.user("llane@company.com", {Role::prm_user});
  p.user("ckent@company.com", {Role::prm_user});
  p.user("helpdesk@example.com", {Role::prm_helpdesk});
  REQUIRE(p.sync().ok());
  REQUIRE(p.create("Group 1").ok());
  auto started = p.import(p.admin_session, "print-users", read_fixture("print-users-sample.csv"));
  REQUIRE(started.ok());
  CHECK(started->records == 3);
  auto done = p.wait_done(p.admin_session, started->import);
  CHECK(done.kind == "print-users");
  CHECK(done.applied == 3);
  CHECK(done.failed == 0);
  auto members = p.pm_users("Group 1");
  REQUIRE(members.ok());
  CHECK(members->users.size() == 2);

  auto refused = p.import(p.People::session("helpdesk@example.com"), "print-users", kPrintHeader + "\n");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::forbidden);
  auto unknown = p.import(p.admin_session, "printers", kPrintHeader + "\n");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::bad_request);
  p.h.finish();
}

TEST_CASE(
    "Print Management ops: the role matrix (user, helpdesk, PM administrator, serverless administrator, "
    "enterprise administrator) and no credentials (RL-8, RL-9, RL-11, TS-1, PM-3)",
    "[directory][print][RL-8][RL-9][RL-11][TS-1]") {
  Pm p;
  p.user("target@example.com", {Role::prm_user});
  REQUIRE(p.sync().ok());
  enum Column { anyone, read, manage };
  struct Who {
    const char *email;
    Role role;
    std::set<Column> may;
  };
  const Who people[] = {
      {"user@example.com", Role::prm_user, {anyone}},
      {"helpdesk@example.com", Role::prm_helpdesk, {anyone, read}},
      {"other-pm-admin@example.com", Role::prm_administrator, {anyone, read, manage}},
      {"spm-admin@example.com", Role::spm_administrator, {anyone, read}},
      {"ent-admin@example.com", Role::enterprise_administrator, {anyone, read, manage}},
  };
  auto status = [](auto result) -> Status { return result.ok() ? Status{} : Status(result.error()); };
  auto batch = [](Result<proto::BatchResult> r, const char *expected) -> Status {
    if (!r.ok()) return r.error();
    if (r->items.size() != 1 || r->items[0].result != expected)
      return make_error(Errc::internal, "unexpected outcome: " + items_text(*r));
    return {};
  };
  int64_t quota_seq = 0; // each set changes the target's quota
  auto store_group = [&](const std::string &name) {
    auto tx = p.h.admin().begin();
    REQUIRE(p.h.admin().print_group_create(name, {}, false, wall_ms()).ok());
    REQUIRE(tx.commit().ok());
  };
  using Run = std::function<Status(SyncClient &, const std::string &, const std::string &)>;
  struct Op {
    const char *name;
    Column needs;
    Run run;
  };
  const std::vector<Op> ops = {
      {proto::op::print_groups_create, manage,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         return status(rpc<proto::PrintGroupsChangeResult>(
             c, proto::op::print_groups_create, proto::PrintGroupsCreateRequest{s, "new-" + n, 5, false}));
       }},
      {proto::op::print_groups_update, manage,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         store_group("edit-" + n);
         proto::PrintGroupsUpdateRequest req;
         req.session = s;
         req.name = "edit-" + n;
         req.color_allowed = true;
         return status(rpc<proto::PrintGroupsChangeResult>(c, proto::op::print_groups_update, req));
       }},
      {proto::op::print_groups_delete, manage,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         store_group("del-" + n);
         return batch(rpc<proto::BatchResult>(c, proto::op::print_groups_delete,
                                              proto::PrintGroupsDeleteRequest{s, {"del-" + n}}),
                      "deleted");
       }},
      {proto::op::print_groups_list, read,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::PrintGroupsListResult>(c, proto::op::print_groups_list,
                                                         proto::PrintGroupsListRequest{s, "", "", 10, true}));
       }},
      {proto::op::print_users_list, read,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         proto::PrintUsersListRequest req;
         req.session = s;
         return status(rpc<proto::PrintUsersListResult>(c, proto::op::print_users_list, req));
       }},
      {proto::op::print_users_set, manage,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         proto::PrintUsersSetRequest req;
         req.session = s;
         req.emails = {"target@example.com"};
         req.quota = ++quota_seq;
         return batch(rpc<proto::BatchResult>(c, proto::op::print_users_set, req), "updated");
       }},
      {proto::op::print_users_remove, manage,
       [&](SyncClient &c, const std::string &s, const std::string &n) {
         User victim = p.user("victim-" + n + "@example.com", {Role::prm_user});
         auto tx = p.h.admin().begin();
         REQUIRE(p.h.admin().pm_users_sync(wall_ms()).ok());
         REQUIRE(tx.commit().ok());
         return batch(rpc<proto::BatchResult>(c, proto::op::print_users_remove,
                                              proto::PrintUsersRemoveRequest{s, {victim.email}}),
                      "removed");
       }},
      {proto::op::print_users_sync, manage,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(rpc<proto::PrintUsersSyncResult>(c, proto::op::print_users_sync,
                                                        proto::PrintUsersSyncRequest{s, false}));
       }},
      {proto::op::import_start, manage,
       [&](SyncClient &, const std::string &s, const std::string &) {
         return status(p.import(s, "print-users", kPrintHeader + "\n"));
       }},
      {proto::op::print_policy_show, anyone,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         return status(
             rpc<proto::PrintPolicyResult>(c, proto::op::print_policy_show, proto::SessionRequest{s}));
       }},
      {proto::op::print_policy_set, manage,
       [&](SyncClient &c, const std::string &s, const std::string &) {
         proto::PrintPolicySetRequest req;
         req.session = s;
         req.color_denied = proto::kColorDeniedMono;
         return status(rpc<proto::PrintPolicyResult>(c, proto::op::print_policy_set, req));
       }},
  };
  // Every Print Management op the agent relays is in this matrix.
  std::set<std::string> relayed;
  for (const char *op : proto::kPersonOps)
    if (std::string(op).rfind("print-", 0) == 0 && std::string(op).rfind("printers-", 0) != 0)
      relayed.insert(op);
  CHECK(relayed.size() == 10);
  for (const auto &op : relayed)
    CHECK(std::any_of(ops.begin(), ops.end(), [&](const Op &o) { return op == o.name; }));

  for (const Who &who : people) {
    p.user(who.email, {who.role});
    std::string session = p.People::session(who.email);
    std::string n = std::string(who.email).substr(0, std::string(who.email).find('@'));
    for (const Op &op : ops) {
      INFO(who.email << " " << op.name);
      Status s = op.run(*p.ws, session, n);
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
  CHECK_FALSE(p.h.admin().print_group_by_name("new-user").ok());
  CHECK_FALSE(p.h.admin().print_group_by_name("new-helpdesk").ok());
  CHECK(p.h.admin().print_group_by_name("new-other-pm-admin").ok());

  // No credentials: none, garbage, and a well-formed session signed by a key the directory never had.
  auto forger = proto::KeyPair::generate();
  REQUIRE(forger.ok());
  proto::Session claim;
  claim.user = p.admin.id;
  claim.email = kPmAdmin;
  claim.roles = {"Print Release Management Administrator"};
  claim.session_id = uuid_v7();
  claim.issued_ms = wall_ms();
  claim.expires_ms = claim.issued_ms + proto::kSessionLifetimeMs;
  auto forged = proto::session_sign(claim, **forger);
  REQUIRE(forged.ok());
  int anonymous = 0;
  for (const std::string &bad :
       {std::string(), std::string("not-a-session"), proto::session_to_text(*forged)}) {
    anonymous++;
    for (const Op &op : ops) {
      INFO(op.name << " with session \"" << bad.substr(0, 20) << "\"");
      Status s = op.run(*p.ws, bad, "anonymous-" + std::to_string(anonymous));
      REQUIRE_FALSE(s.ok());
      CHECK(s.error().code == Errc::unauthenticated);
    }
  }
  p.h.finish();
}

TEST_CASE(
    "list-people's rows: every user with their name, e-mail, department and live print group, paged by id "
    "[issue-6][RP-11]",
    "[directory][print][issue-6]") {
  Store s;
  User alice = s.user("alice@example.com", {Role::prm_user});
  User bob = s.user("bob@example.com", {Role::prm_user});
  User carol = s.user("carol@example.com");
  s.sync();
  auto sales = s.create("Sales floor");
  REQUIRE(sales.ok());
  s.join(alice, *sales);
  s.join(bob, *sales);
  auto all = [&] {
    std::map<std::string, proto::PersonFacts> by_id;
    std::string after;
    for (;;) {
      auto page = s.store->people_list(after, 2);
      REQUIRE(page.ok());
      for (auto &p : *page)
        by_id[p.id] = p;
      if (page->size() < 2) break;
      after = page->back().id;
    }
    return by_id;
  };
  auto people = all();
  REQUIRE(people.size() == 3);
  CHECK(people[alice.id].email == "alice@example.com");
  CHECK(people[alice.id].print_group == sales->id);
  CHECK(people[alice.id].print_group_name == "Sales floor");
  CHECK(people[carol.id].print_group.empty());
  // A deleted group is nobody's group any more; a deleted user is no longer listed.
  {
    auto tx = s.store->begin();
    REQUIRE(s.store->print_group_delete(sales->id, kFixedNowMs).ok());
    REQUIRE(tx.commit().ok());
  }
  {
    auto tx = s.store->begin();
    REQUIRE(s.store->user_delete(bob.id).ok());
    REQUIRE(tx.commit().ok());
  }
  people = all();
  REQUIRE(people.size() == 2);
  CHECK(people[alice.id].print_group.empty());
  CHECK(people.count(bob.id) == 0);
}
