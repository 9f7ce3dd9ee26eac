// The Print Management messages (ops_print.h): a round trip of each, quotas absent or nil read as
// "none", and the refusals of their readers (quota range, exclusive fields, nothing to change).
#include <catch2/catch.hpp>

#include "codec_support.h"
#include "lpm/protocol/ops_admin.h"
#include "lpm/protocol/ops_print.h"

using namespace lpm;
using namespace lpm::proto;
using lpm::test::read_into;
using lpm::test::round_trip;

TEST_CASE("print groups on the wire: quotas set or none, the whole edit, the moved members (GR-8, AMB-17)",
          "[ops][print][GR-8][AMB-17]") {
  PrintGroupsCreateRequest create{"s", "Floor 2", 500, true};
  auto created = round_trip(create);
  CHECK(created.quota == 500);
  CHECK(created.color_allowed);
  create.quota = std::nullopt;
  CHECK(round_trip(create).quota == std::nullopt);

  PrintGroupsUpdateRequest edit;
  edit.session = "s";
  edit.name = "Floor 2";
  edit.color_allowed = false;
  edit.add_members = {"a@x.y"};
  auto edited = round_trip(edit);
  CHECK(edited.color_allowed == false); // present and false, not absent
  CHECK_FALSE(edited.quota);
  CHECK(edited.add_members == std::vector<std::string>{"a@x.y"});
  CHECK(edited.remove_members.empty());

  PrintGroupsChangeResult changed;
  changed.group = PrintGroupEntry{"id", "Floor 2", std::nullopt, false, 2, 1, 0};
  changed.added = 2;
  changed.moved = {{"a@x.y", "Floor 1"}};
  auto back = round_trip(changed);
  CHECK(back.group.quota == std::nullopt);
  CHECK(back.group.members == 2);
  REQUIRE(back.moved.size() == 1);
  CHECK(back.moved[0].from == "Floor 1");

  PrintGroupsListResult list;
  list.groups = {PrintGroupEntry{"id", "Old", 0, true, 0, 1, 5}};
  list.next = "Old";
  list.next_id = "id";
  auto listed = round_trip(list);
  CHECK(listed.groups[0].quota == 0); // zero is a quota, not none
  CHECK(listed.groups[0].deleted_ms == 5);
  CHECK(listed.next_id == "id");
}

TEST_CASE("print group and print user requests refuse quotas out of range, clashing fields and no change",
          "[ops][print]") {
  auto refusal = [](MapWriter w, auto request) { return read_into(w, request); };
  CHECK_THAT(
      refusal(MapWriter().str("session", "s").str("name", "G").i64("quota", -1), PrintGroupsCreateRequest{}),
      Catch::Contains("args.quota must be from 0 to 1000000000"));
  CHECK_THAT(refusal(MapWriter().str("session", "s").str("name", "G").i64("quota", kMaxQuota + 1),
                     PrintGroupsCreateRequest{}),
             Catch::Contains("quota"));
  CHECK(refusal(MapWriter().str("session", "s").str("name", "G").nil("quota"), PrintGroupsCreateRequest{})
            .empty());
  CHECK_THAT(refusal(MapWriter().str("session", "s").str("name", "G"), PrintGroupsUpdateRequest{}),
             Catch::Contains("nothing to change"));
  CHECK_THAT(
      refusal(MapWriter().str("session", "s").str("name", "G").i64("quota", 1).boolean("clear_quota", true),
              PrintGroupsUpdateRequest{}),
      Catch::Contains("exclude each other"));
  std::vector<std::string> too_many(kMaxBatch + 1, "a@x.y");
  CHECK_THAT(refusal(MapWriter().str("session", "s").str("name", "G").str_array("add_members", too_many),
                     PrintGroupsUpdateRequest{}),
             Catch::Contains("too many"));
  CHECK_THAT(refusal(MapWriter().str("session", "s").str_array("emails", {"a@x.y"}), PrintUsersSetRequest{}),
             Catch::Contains("nothing to change"));
  CHECK_THAT(refusal(MapWriter()
                         .str("session", "s")
                         .str_array("emails", {"a@x.y"})
                         .str("group", "G")
                         .boolean("no_group", true),
                     PrintUsersSetRequest{}),
             Catch::Contains("exclude each other"));
  CHECK_THAT(refusal(MapWriter().str("session", "s").str_array("emails", {}).str("group", "G"),
                     PrintUsersSetRequest{}),
             Catch::Contains("args.emails is empty"));
  CHECK_THAT(refusal(MapWriter().str("session", "s").str_array("names", {}), PrintGroupsDeleteRequest{}),
             Catch::Contains("args.names is empty"));
}

TEST_CASE(
    "print users on the wire: the user's own quota, the group's, both counts, the sync's answer (AMB-17, "
    "AMB-18, PM-3)",
    "[ops][print][AMB-18][PM-3]") {
  PrintUsersListResult list;
  list.users = {PrintUserEntry{"u", "a@x.y", "Ann", "Floor", std::nullopt, 300, true, 7}};
  list.pm_users = 1;
  list.enterprise_users = 9;
  auto back = round_trip(list);
  REQUIRE(back.users.size() == 1);
  CHECK(back.users[0].quota == std::nullopt);
  CHECK(back.users[0].group_quota == 300);
  CHECK(back.users[0].color_allowed);
  CHECK(back.enterprise_users == 9);

  PrintUsersSetRequest set;
  set.session = "s";
  set.emails = {"a@x.y"};
  set.group_quota = true;
  auto read_set = round_trip(set);
  CHECK(read_set.group_quota);
  CHECK_FALSE(read_set.quota);

  PrintUsersSyncResult sync{2, 1, 5, 9, {"a@x.y", "b@x.y"}, {"c@x.y"}, true};
  auto synced = round_trip(sync);
  CHECK(synced.added == 2);
  CHECK(synced.removed_emails == std::vector<std::string>{"c@x.y"});
  CHECK(synced.dry_run);
  CHECK(round_trip(PrintUsersSyncRequest{"s", true}).dry_run);

  // import-start takes the new kind and still refuses unknown ones.
  ImportStartRequest start;
  start.session = "s";
  start.kind = "print-users";
  start.file_name = "pm.csv";
  CHECK(round_trip(start).kind == "print-users");
  start.kind = "printers";
  MapWriter w;
  start.write(w);
  ImportStartRequest out;
  CHECK_THAT(read_into(w, out), Catch::Contains("users, badges or print-users"));
}
