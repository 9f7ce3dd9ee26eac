// CSV imports of users and badges (directory_import.h): the seed's sample files, hostile files,
// per-record logs, atomic records, resuming an interrupted import.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "directory_import.h"
#include "directory_store.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::directory;
using lpm::test::kFixedNowMs;
using lpm::test::TempDir;

namespace {

const std::string kHeader(kUserImportHeader);

std::string fixture(const std::string &name) {
  std::ifstream in(std::string(LPM_TEST_FIXTURES) + "/seed/" + name, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Fixture {
  TempDir dir;
  std::unique_ptr<DirectoryStore> store;
  std::vector<std::string> links; // e-mails that were due a password-change link

  Fixture() {
    auto opened = DirectoryStore::open(dir.path + "/state.db");
    REQUIRE(opened.ok());
    store = std::move(*opened);
  }

  void policy(uint32_t min_length, uint32_t complexity, uint32_t history) {
    auto tx = store->begin();
    REQUIRE(store->password_policy_set(PasswordPolicy{min_length, complexity, history}).ok());
    REQUIRE(tx.commit().ok());
  }

  ImportRunner::Hooks hooks() {
    ImportRunner::Hooks h;
    h.argon2 = Argon2Params{1, 64, 1}; // cheap: these tests are about imports, not hashing
    h.on_password_link = [this](const User &u) { links.push_back(u.email); };
    return h;
  }

  // Starts and runs an import to its end; the log, in file order.
  std::vector<ImportLogRow> run(ImportKind kind, const std::string &content, ImportOptions options = {},
                                ImportInfo *info_out = nullptr) {
    auto info = import_start(*store, kind, "test.csv", content, options, "test", kFixedNowMs);
    REQUIRE(info.ok());
    auto runner = ImportRunner::load(*store, info->id, hooks());
    REQUIRE(runner.ok());
    auto done = (*runner)->step(100000, kFixedNowMs);
    REQUIRE(done.ok());
    REQUIRE(*done);
    if (info_out) *info_out = (*runner)->info();
    auto log = store->import_log(info->id, 0, 100000);
    REQUIRE(log.ok());
    return *log;
  }

  User user(const std::string &email) {
    auto u = store->user_by_email(email);
    REQUIRE(u.ok());
    return *u;
  }
  bool exists(const std::string &email) { return store->user_by_email(email).ok(); }

  int64_t count(const std::string &sql) {
    auto stmt = store->db().prepare(sql);
    REQUIRE(stmt.ok());
    auto row = stmt->step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return stmt->col_int(0);
  }

  void add_user(const std::string &email) { REQUIRE(store->user_add(email, "", kFixedNowMs, "test").ok()); }
};

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("user import: the sample as printed (header wrapped after CUSTOM_ATTRIBUTES,) is refused whole, "
          "quoting the expected header (AMB-1, UA-8)",
          "[import][UA-8][AMB-1]") {
  Fixture f;
  auto info = import_start(*f.store, ImportKind::users, "sample.csv", fixture("users_sample_as_printed.csv"),
                           {}, "test", kFixedNowMs);
  REQUIRE_FALSE(info.ok());
  CHECK(info.error().code == Errc::bad_request);
  CHECK(contains(info.error().message, kHeader));
  CHECK(contains(info.error().message, "line 1"));
  CHECK(f.count("SELECT count(*) FROM imports") == 0);
  CHECK(f.count("SELECT count(*) FROM users") == 0);
}

TEST_CASE("user import: the header must match exactly, case included, BOM and CRLF are not differences "
          "(UA-8, AMB-1, AMB-10)",
          "[import][UA-8][AMB-1][AMB-10]") {
  Fixture f;
  f.policy(1, 0, 0);
  std::string lower = kHeader;
  for (char &c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const std::string &bad :
       {lower + "\n", kHeader + ",EXTRA\n", kHeader.substr(0, kHeader.rfind(',')) + "\n", std::string("\n\n"),
        std::string(""), " " + kHeader + "\n", std::string("EMAIL;OPERATION\n")}) {
    INFO("header: " << bad);
    auto info = import_start(*f.store, ImportKind::users, "u.csv", bad + "a@b.c,CREATE,pw,,,,,,,,\n", {}, "t",
                             kFixedNowMs);
    REQUIRE_FALSE(info.ok());
    CHECK(info.error().code == Errc::bad_request);
  }
  auto log = f.run(ImportKind::users, "\xEF\xBB\xBF" + kHeader + "\r\na@example.com,CREATE,pw,,,,,,,,\r\n");
  REQUIRE(log.size() == 1);
  CHECK(log[0].result == "created");
  CHECK(f.exists("a@example.com"));
}

TEST_CASE("user import: files over 1 MB are refused before parsing, exactly 1,048,576 bytes is accepted "
          "(UA-10, AMB-10)",
          "[import][UA-10][AMB-10]") {
  Fixture f;
  f.policy(1, 0, 0);
  std::string body = kHeader + "\na@example.com,CREATE,pw,,,,,,,,\n";
  std::string exact = body + std::string(kMaxImportBytes - body.size(), '\n'); // empty lines are not records
  REQUIRE(exact.size() == 1048576);
  auto log = f.run(ImportKind::users, exact);
  CHECK(log.size() == 1);
  auto over = import_start(*f.store, ImportKind::users, "big.csv", exact + "\n", {}, "t", kFixedNowMs);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == Errc::too_large);
  CHECK(f.count("SELECT count(*) FROM imports") == 1);
}

TEST_CASE("user import: the seed's sample rows, 9 values under an 11-column header, with the password-link option "
          "(UA-9, UA-12, UA-13, UA-15, UA-16, UA-18, UA-19, UA-21, AMB-2, AMB-4, AMB-7)",
          "[import][UA-9][UA-12][UA-13][UA-15][UA-16][UA-18][UA-19][UA-21][AMB-2][AMB-4][AMB-7]") {
  Fixture f;
  f.policy(1, 0, 0);
  f.add_user("LLane@company.com");
  f.add_user("ckent@company.com");
  ImportOptions options;
  options.password_links = true;
  ImportInfo info;
  auto log = f.run(ImportKind::users, fixture("users_sample.csv"), options, &info);
  REQUIRE(log.size() == 3);
  CHECK(info.records == 3);
  CHECK(info.applied == 3);
  CHECK(info.failed == 0);
  CHECK(info.warnings == 3); // every row is short (AMB-2)

  CHECK(log[0].record == 2);
  CHECK(log[0].line == 2);
  CHECK(log[0].key == "jdoe@company.com");
  CHECK(log[0].result == "created");
  CHECK(contains(log[0].reason, "the record has 9 values; the header has 11"));
  CHECK(contains(log[0].reason, "password-change link"));
  auto jdoe = f.user("jdoe@company.com");
  CHECK(jdoe.first_name == "John");
  CHECK(jdoe.last_name == "Doe");
  CHECK(jdoe.display_name == "Johnny");
  CHECK(jdoe.short_name == "jdoe");
  CHECK(jdoe.custom_attributes == R"({"key1":"value1","key2":"value2"})");
  CHECK_FALSE(jdoe.has_password);
  CHECK(*f.store->groups_of(jdoe.id) == std::vector<std::string>{"Group 1"}); // created by the import
  CHECK(f.links == std::vector<std::string>{"jdoe@company.com"}); // only users the file creates (AMB-4)

  CHECK(log[1].result == "updated");
  auto llane = f.user("llane@company.com");
  CHECK(llane.first_name == "Lois");
  CHECK(llane.short_name == "llane");
  CHECK(llane.has_password);
  auto hashes = f.store->password_hashes(llane.id, 1);
  REQUIRE(hashes->size() == 1);
  CHECK(*password_verify(hashes->front(), "password2"));

  CHECK(log[2].result == "deleted");
  CHECK_FALSE(f.exists("ckent@company.com"));
}

TEST_CASE("user import: without the option a CREATE with an empty PASSWORD fails, on UPDATE it means unchanged "
          "and on DELETE it is ignored (UA-15, AMB-4)",
          "[import][UA-15][AMB-4]") {
  Fixture f;
  f.policy(1, 0, 0);
  f.add_user("llane@company.com");
  f.add_user("ckent@company.com");
  auto log = f.run(ImportKind::users, kHeader + "\n"
                                                "jdoe@company.com,CREATE,,John,,,,,,,\n"
                                                "llane@company.com,UPDATE,,Lois,,,,,,,\n"
                                                "ckent@company.com,DELETE,,,,,,,,,\n");
  REQUIRE(log.size() == 3);
  CHECK(log[0].result == "failed");
  CHECK(contains(log[0].reason, "PASSWORD is empty"));
  CHECK_FALSE(f.exists("jdoe@company.com"));
  CHECK(log[1].result == "updated");
  CHECK_FALSE(f.user("llane@company.com").has_password);
  CHECK(log[2].result == "deleted");
  CHECK(f.links.empty());
}

TEST_CASE("user import: strict mode refuses short records, longer records are always refused (UA-9, AMB-2)",
          "[import][UA-9][AMB-2]") {
  Fixture f;
  f.policy(1, 0, 0);
  ImportOptions strict;
  strict.strict = true;
  auto log = f.run(ImportKind::users, kHeader + "\nshort@example.com,CREATE,pw,,,,,,\n", strict);
  REQUIRE(log.size() == 1);
  CHECK(log[0].result == "failed");
  CHECK(contains(log[0].reason, "9 values; the header has 11"));
  CHECK_FALSE(f.exists("short@example.com"));

  log = f.run(ImportKind::users, kHeader + "\nlong@example.com,CREATE,pw,,,,,,,,,extra\n");
  REQUIRE(log.size() == 1);
  CHECK(log[0].result == "failed");
  CHECK(contains(log[0].reason, "12 values; the header has 11"));
  CHECK_FALSE(f.exists("long@example.com"));
}

TEST_CASE("user import: quoted values with commas and a line break inside GROUPS, physical lines in the log "
          "(UA-11, UA-19, AMB-3)",
          "[import][UA-11][UA-19][AMB-3]") {
  Fixture f;
  f.policy(1, 0, 0);
  f.add_user("llane@entreprise.com");
  auto log = f.run(ImportKind::users, fixture("users_quoting.csv"));
  REQUIRE(log.size() == 3);
  CHECK(log[0].key == "jdupont@entreprise.com");
  CHECK(log[0].result == "failed"); // no such user to delete (AMB-6)
  CHECK(contains(log[0].reason, "no user has the e-mail address jdupont@entreprise.com"));
  CHECK(log[1].result == "updated");
  CHECK(log[1].line == 3);
  CHECK(log[2].record == 4);
  CHECK(log[2].line == 5); // the record before it spans two lines
  auto llane = f.user("llane@entreprise.com");
  CHECK(llane.display_name == "Lois,Lane");
  CHECK(*f.store->groups_of(llane.id) == std::vector<std::string>{"Group1", "Group2"});
  CHECK(f.count("SELECT count(*) FROM account_groups") == 2);
  auto hashes = f.store->password_hashes(llane.id, 5);
  CHECK(*password_verify(hashes->front(), "pass,word2")); // never trimmed, comma kept
}

TEST_CASE("user import: UPPER-case e-mails are lower-cased, invalid e-mails, empty or unknown operations fail "
          "their record only (UA-12, UA-13, AMB-6, AMB-9)",
          "[import][UA-12][UA-13][AMB-6][AMB-9]") {
  Fixture f;
  f.policy(1, 0, 0);
  auto log = f.run(ImportKind::users, kHeader + "\n"
                                                "JDUPONT@entreprise.com,create,pw,,,,,,,,\n"
                                                "not-an-email,CREATE,pw,,,,,,,,\n"
                                                ",CREATE,pw,,,,,,,,\n"
                                                "a@example.com,,pw,,,,,,,,\n"
                                                "b@example.com,RENAME,pw,,,,,,,,\n"
                                                "jdupont@entreprise.com,CREATE,pw,,,,,,,,\n"
                                                "c@exa\"mple.com,CREATE,pw,,,,,,,,\n");
  REQUIRE(log.size() == 7);
  CHECK(log[0].result == "created");
  CHECK(log[0].key == "jdupont@entreprise.com");
  CHECK(contains(log[1].reason, "EMAIL:"));
  CHECK(contains(log[2].reason, "EMAIL is empty"));
  CHECK(contains(log[3].reason, "OPERATION is empty"));
  CHECK(contains(log[4].reason, "unknown OPERATION \"RENAME\""));
  CHECK(contains(log[5].reason, "already exists")); // the same e-mail twice: the second CREATE fails
  CHECK(contains(log[6].reason, "quote")); // CSV syntax errors fail their record only
  for (size_t i = 1; i < log.size(); i++)
    CHECK(log[i].result == "failed");
  CHECK(f.count("SELECT count(*) FROM users") == 1);
}

TEST_CASE("user import: on UPDATE empty means unchanged, [delete] clears the four name fields only, GROUPS adds "
          "and CUSTOM_ATTRIBUTES replaces (UA-14, UA-17, UA-22, UA-23, AMB-5)",
          "[import][UA-14][UA-17][UA-22][UA-23][AMB-5]") {
  Fixture f;
  f.policy(1, 0, 0);
  f.run(ImportKind::users, kHeader + "\n"
                                     "u@example.com,CREATE,pw,Jean,Dupont,Jean R. Dupont,jdupont,G1,{'a':'1'},CC7,Sales\n");
  auto before = f.user("u@example.com");
  CHECK(before.display_name == "Jean R. Dupont"); // independent of first and last names (UA-17)
  CHECK(before.cost_center == "CC7");
  CHECK(before.department == "Sales");

  auto log = f.run(ImportKind::users, kHeader + "\n"
                                                "u@example.com,UPDATE,,[delete],,[delete],,G2,{'b':'2'},,\n"
                                                "u@example.com,UPDATE,,,,,,,,[delete],\n"
                                                "u@example.com,UPDATE,,,,,,[delete],,,\n");
  REQUIRE(log.size() == 3);
  CHECK(log[0].result == "updated");
  CHECK(log[1].result == "failed");
  CHECK(contains(log[1].reason, "COST_CENTER: [delete] clears only"));
  CHECK(log[2].result == "failed");
  CHECK(contains(log[2].reason, "GROUPS: [delete] clears only"));
  auto after = f.user("u@example.com");
  CHECK(after.first_name.empty());
  CHECK(after.last_name == "Dupont");
  CHECK(after.display_name.empty());
  CHECK(after.short_name == "jdupont");
  CHECK(after.cost_center == "CC7");
  CHECK(after.department == "Sales");
  CHECK(after.custom_attributes == R"({"b":"2"})");
  CHECK(*f.store->groups_of(after.id) == std::vector<std::string>{"G1", "G2"});
  CHECK(after.has_password);

  // [delete] on CREATE is taken as empty.
  log = f.run(ImportKind::users, kHeader + "\nv@example.com,CREATE,pw,[delete],,,,,,,\n");
  CHECK(log[0].result == "created");
  CHECK(f.user("v@example.com").first_name.empty());
}

TEST_CASE("user import: group names are sanitised, merged case-insensitively, each rename logged "
          "(UA-19, UA-20, AMB-8)",
          "[import][UA-19][UA-20][AMB-8]") {
  Fixture f;
  f.policy(1, 0, 0);
  ImportInfo info;
  auto log = f.run(ImportKind::users,
                   kHeader + "\n"
                             "a@example.com,CREATE,pw,,,,,\"a#b, Sales ,a@b\",,,\n"
                             "b@example.com,CREATE,pw,,,,,\"SALES,x/y\",,,\n"
                             "c@example.com,CREATE,pw,,,,," +
                       std::string(81, 'g') + ",,,\n",
                   {}, &info);
  REQUIRE(log.size() == 3);
  CHECK(log[0].result == "created");
  CHECK(contains(log[0].reason, "group \"a#b\" is named \"a_b\""));
  CHECK(contains(log[0].reason, "group \"a@b\" is named \"a_b\""));
  CHECK(*f.store->groups_of(f.user("a@example.com").id) == std::vector<std::string>{"a_b", "Sales"});
  CHECK(*f.store->groups_of(f.user("b@example.com").id) == std::vector<std::string>{"Sales", "x_y"});
  CHECK(log[2].result == "failed");
  CHECK(contains(log[2].reason, "longer than 80 characters"));
  CHECK_FALSE(f.exists("c@example.com"));
  CHECK(f.count("SELECT count(*) FROM account_groups") == 3);
  CHECK(info.warnings == 2);
}

TEST_CASE("user import: a bad record applies nothing: no user, no group, no audit row (AMB-6, AMB-7)",
          "[import][AMB-6][AMB-7]") {
  Fixture f;
  f.policy(1, 0, 0);
  int64_t audit_before = f.count("SELECT count(*) FROM audit");
  auto log = f.run(ImportKind::users, kHeader + "\n"
                                                "a@example.com,CREATE,pw,,,,,NewGroup,\"{'k':{'nested':'no'}}\",,\n"
                                                "b@example.com,CREATE,pw,,," +
                                                std::string(300, 'x') + ",,NewGroup2,,,\n");
  REQUIRE(log.size() == 2);
  CHECK(log[0].result == "failed");
  CHECK(contains(log[0].reason, "CUSTOM_ATTRIBUTES:"));
  CHECK(log[1].result == "failed"); // fails inside the transaction: the group it made rolls back
  CHECK(contains(log[1].reason, "display_name is longer than"));
  CHECK(f.count("SELECT count(*) FROM users") == 0);
  CHECK(f.count("SELECT count(*) FROM account_groups") == 0);
  // Only the import's own start and end are audited.
  CHECK(f.count("SELECT count(*) FROM audit") == audit_before + 2);
}

TEST_CASE("user import: imported passwords follow the password policy, history included (UA-3, AMB-4)",
          "[import][UA-3][AMB-4]") {
  Fixture f; // the default policy: 12 characters, 3 classes, 5 remembered
  auto log = f.run(ImportKind::users, kHeader + "\n"
                                                "a@example.com,CREATE,password2,,,,,,,,\n"
                                                "b@example.com,CREATE,Correct-Horse-7,,,,,,,,\n"
                                                "b@example.com,UPDATE,Battery-Staple-8,,,,,,,,\n"
                                                "b@example.com,UPDATE,Correct-Horse-7,,,,,,,,\n");
  REQUIRE(log.size() == 4);
  CHECK(log[0].result == "failed");
  CHECK(contains(log[0].reason, "PASSWORD:"));
  CHECK(contains(log[0].reason, "12"));
  CHECK(log[1].result == "created");
  CHECK(log[2].result == "updated");
  CHECK(log[3].result == "failed");
  CHECK(contains(log[3].reason, "last 5 passwords"));
}

TEST_CASE("user import: audit rows name the import and the record (AMB-6)", "[import][AMB-6]") {
  Fixture f;
  f.policy(1, 0, 0);
  ImportInfo info;
  f.run(ImportKind::users, kHeader + "\na@example.com,CREATE,pw,,,,,G,,,\n", {}, &info);
  auto audit = f.store->audit_tail(20);
  REQUIRE(audit.ok());
  std::string actions;
  for (const auto &e : *audit) {
    actions += e.action + " ";
    if (e.action == "user-create") CHECK(contains(e.detail, "import " + info.id + " record 2"));
  }
  CHECK(contains(actions, "import-start user-create password-set group-create group-member-add import-done"));
}

TEST_CASE("imports: an interrupted import resumes at the next record, each record applied once", "[import]") {
  Fixture f;
  f.policy(1, 0, 0);
  std::string content = kHeader + "\n";
  for (int i = 0; i < 5; i++)
    content += "u" + std::to_string(i) + "@example.com,CREATE,pw,,,,,,,,\n";
  auto info = import_start(*f.store, ImportKind::users, "five.csv", content, {}, "test", kFixedNowMs);
  REQUIRE(info.ok());
  {
    auto runner = ImportRunner::load(*f.store, info->id, f.hooks());
    REQUIRE(runner.ok());
    CHECK_FALSE(*(*runner)->step(2, kFixedNowMs));
    CHECK((*runner)->info().next_record == 4);
  } // the directory stops here
  auto running = f.store->imports_running();
  REQUIRE(running.ok());
  CHECK(*running == std::vector<std::string>{info->id});
  auto runner = ImportRunner::load(*f.store, info->id, f.hooks());
  REQUIRE(runner.ok());
  CHECK((*runner)->info().applied == 2);
  CHECK(*(*runner)->step(100, kFixedNowMs));
  CHECK((*runner)->info().applied == 5);
  CHECK(f.count("SELECT count(*) FROM users") == 5);
  CHECK(f.count("SELECT count(*) FROM import_log") == 5);
  // Done: its file (which may hold passwords) is gone, and it cannot run again.
  CHECK(f.store->import_content(info->id)->empty());
  CHECK(ImportRunner::load(*f.store, info->id, f.hooks()).error().code == Errc::conflict);
  CHECK(f.store->imports_running()->empty());
}

// ---------------------------------------------------------------------------------------------
// Badges

TEST_CASE("badge import: the seed's sample: temporary badges for existing users, DELETE of an unknown badge "
          "fails its record (BD-7, BD-9, BD-10, BD-11, AMB-11, AMB-12)",
          "[import][BD-7][BD-9][BD-10][BD-11][AMB-11][AMB-12]") {
  Fixture f;
  f.add_user("jdoe@company.com");
  f.add_user("llane@company.com");
  ImportInfo info;
  auto log = f.run(ImportKind::badges, fixture("badges_sample.csv"), {}, &info);
  REQUIRE(log.size() == 3);
  CHECK(log[0].key == "20171a");
  CHECK(log[0].result == "created");
  CHECK(log[1].result == "created");
  CHECK(log[2].result == "failed");
  CHECK(contains(log[2].reason, "no user has the e-mail address ckent@company.com"));
  auto badge = f.store->badge_find("20171A"); // hex letters in any case (AMB-15)
  REQUIRE(badge.ok());
  CHECK(badge->temporary);
  CHECK(badge->expires_ms == kFixedNowMs + kTemporaryBadgeMs);
  CHECK(badge->user_id == f.user("jdoe@company.com").id);
  CHECK(info.applied == 2);
  CHECK(info.failed == 1);
}

TEST_CASE("badge import: the 3-column header, the value-count example and a quoted badge with commas "
          "(BD-7, BD-8, BD-12, AMB-2, AMB-11)",
          "[import][BD-7][BD-8][BD-12][AMB-2][AMB-11]") {
  Fixture f;
  f.add_user("jdoe@company.com");
  f.run(ImportKind::badges, "BADGE,OPERATION,EMAIL\n20171a,CREATE,jdoe@company.com\n");
  CHECK_FALSE(f.store->badge_find("20171a")->temporary); // no TEMPORARY column: permanent (AMB-12)
  auto log = f.run(ImportKind::badges, fixture("badges_value_count.csv"));
  REQUIRE(log.size() == 2);
  CHECK(log[0].result == "deleted"); // 20171a,DELETE, : EMAIL may be empty on DELETE
  CHECK(log[1].key == "20171a,2a,3a");
  CHECK(log[1].result == "failed");
  CHECK(contains(log[1].reason, "OPERATION is empty"));

  log = f.run(ImportKind::badges, "BADGE,OPERATION,EMAIL\n\"20171a,2a,3a\",CREATE,jdoe@company.com\n");
  CHECK(log[0].result == "created");
  CHECK(f.store->badge_find("20171a,2a,3a").ok());
}

TEST_CASE("badge import: hostile records fail alone with precise reasons (BD-9, BD-10, BD-11, BD-13, AMB-11, "
          "AMB-12, AMB-13)",
          "[import][BD-9][BD-10][BD-11][BD-13][AMB-11][AMB-12][AMB-13]") {
  Fixture f;
  f.add_user("a@example.com");
  f.add_user("b@example.com");
  auto log = f.run(ImportKind::badges, "BADGE,OPERATION,EMAIL,TEMPORARY\n"
                                       "B1,CREATE,a@example.com,FALSE\n"
                                       "B2,create,A@EXAMPLE.COM,\n"         // a new permanent badge replaces B1
                                       "B2,CREATE,b@example.com,false\n"    // the same badge for another user
                                       "B3,CREATE,nobody@example.com,false\n" // badge imports never create users
                                       "B4,CREATE,,false\n"
                                       "B5,UPDATE,a@example.com,false\n"
                                       "B6,CREATE,a@example.com,yes\n"
                                       ",CREATE,a@example.com,false\n"
                                       "B2,DELETE,b@example.com,\n"        // not b's badge
                                       "T1,CREATE,b@example.com,True\n"
                                       "B2,DELETE,a@example.com,false\n");
  REQUIRE(log.size() == 11);
  CHECK(log[0].result == "created");
  CHECK(log[1].result == "created");
  CHECK(contains(log[1].reason, "replaces the user's previous permanent badge B1"));
  CHECK(log[2].result == "failed");
  CHECK(contains(log[2].reason, "already given to another user"));
  CHECK(contains(log[3].reason, "never creates users"));
  CHECK(contains(log[4].reason, "EMAIL is empty"));
  CHECK(contains(log[5].reason, "unknown OPERATION \"UPDATE\""));
  CHECK(contains(log[6].reason, "TEMPORARY must be true or false"));
  CHECK(contains(log[7].reason, "BADGE is empty"));
  CHECK(contains(log[8].reason, "does not belong to b@example.com"));
  CHECK(log[9].result == "created");
  CHECK(log[10].result == "deleted");
  CHECK(f.store->badge_find("B1").error().code == Errc::not_found);
  CHECK(f.store->badge_find("T1")->temporary);
  CHECK(f.count("SELECT count(*) FROM badges") == 1);

  // Wrong header case, or a user header for a badge import: the whole file is refused.
  for (const char *bad : {"badge,operation,email\n", "BADGE,OPERATION\n", "BADGE,OPERATION,EMAIL,TEMPORARY,X\n"}) {
    auto info = import_start(*f.store, ImportKind::badges, "b.csv",
                             std::string(bad) + "B9,CREATE,a@example.com\n", {}, "t", kFixedNowMs);
    REQUIRE_FALSE(info.ok());
    CHECK(contains(info.error().message, "BADGE,OPERATION,EMAIL,TEMPORARY"));
  }
}

TEST_CASE("imports: an unclosed quote refuses the whole file and records nothing (AMB-3)", "[import][AMB-3]") {
  Fixture f;
  auto info = import_start(*f.store, ImportKind::users, "u.csv",
                           kHeader + "\na@example.com,CREATE,\"pw,,,,,,,,\nb@example.com,CREATE,pw,,,,,,,,\n",
                           {}, "t", kFixedNowMs);
  REQUIRE_FALSE(info.ok());
  CHECK(info.error().code == Errc::bad_request);
  CHECK(f.count("SELECT count(*) FROM imports") == 0);
}
