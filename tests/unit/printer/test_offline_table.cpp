// Issue 8: the station's offline table (printer/offline_table.h): kept encrypted under its own
// key, read back whole, refused when damaged or under another key; badges found after the
// enterprise's rules and case-insensitively, temporary ones until they expire.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include "lpm/files.h"
#include "lpm/ids.h"
#include "offline_table.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::printer;
using lpm::test::TempDir;

namespace {

OfflineTable sample(const OfflineKeys &keys) {
  OfflineTable t;
  t.synced_ms = 1'700'000'000'000;
  t.certificate.body = {1, 2, 3};
  t.certificate.signature = {4, 5};
  t.certificate_expires_ms = t.synced_ms + 4 * 3600 * 1000LL;
  t.strip = ";?";
  t.color_denied = proto::kColorDeniedRefuse;
  proto::OfflineBadge b;
  b.key = proto::offline_badge_key(keys.secret, "04A2B3");
  b.users = {proto::BadgeUser{uuid_v7(), "Jean Dupont"}, proto::BadgeUser{uuid_v7(), "Delegator"}};
  b.users[0].counted = true;
  b.users[0].quota_left = 12;
  b.users[0].color_allowed = false;
  b.workstations = {"ws-1"};
  t.badges[b.key] = b;
  proto::OfflineBadge temp;
  temp.key = proto::offline_badge_key(keys.secret, "TEMP-1");
  temp.expires_ms = t.synced_ms + 1000;
  temp.users = {proto::BadgeUser{uuid_v7(), "Visitor"}};
  t.badges[temp.key] = temp;
  proto::WorkstationRef w;
  w.id = "ws-1";
  w.name = "Laptop";
  w.addresses = {"192.0.2.7"};
  w.port = 9443;
  w.fingerprint = std::string(64, 'a');
  t.workstations[w.id] = w;
  return t;
}

std::string file_text(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace

TEST_CASE("issue 8: the offline table is written encrypted and read back whole", "[printer][offline]") {
  TempDir dir;
  auto keys = offline_keys_load_or_create(dir.path);
  REQUIRE(keys.ok());
  auto none = offline_table_load(dir.path, *keys);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  OfflineTable t = sample(*keys);
  REQUIRE(offline_table_save(dir.path, *keys, t).ok());
  struct stat st {};
  REQUIRE(::stat((dir.path + "/offline.table").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir.path + "/offline.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::string raw = file_text(dir.path + "/offline.table");
  CHECK(raw.find("Jean Dupont") == std::string::npos);
  CHECK(raw.find("ws-1") == std::string::npos);

  // The same keys come back on the next start.
  auto again = offline_keys_load_or_create(dir.path);
  REQUIRE(again.ok());
  CHECK(again->secret == keys->secret);
  auto back = offline_table_load(dir.path, *again);
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  const OfflineTable &r = **back;
  CHECK(r.synced_ms == t.synced_ms);
  CHECK(r.certificate.body == t.certificate.body);
  CHECK(r.certificate_expires_ms == t.certificate_expires_ms);
  CHECK(r.strip == ";?");
  CHECK(r.color_denied == proto::kColorDeniedRefuse);
  REQUIRE(r.badges.size() == 2);
  REQUIRE(r.workstations.size() == 1);
  CHECK(r.workstations.at("ws-1").addresses == std::vector<std::string>{"192.0.2.7"});

  SECTION("badges are found after the rules, whatever the case of their letters") {
    auto found = r.find(keys->secret, "; 04a2b3 ?", t.synced_ms);
    REQUIRE(found.ok());
    const proto::OfflineBadge &b = **found;
    REQUIRE(b.users.size() == 2);
    CHECK(b.users[0].display_name == "Jean Dupont");
    CHECK(b.users[0].counted);
    CHECK(b.users[0].quota_left == 12);
    CHECK_FALSE(b.users[0].color_allowed);
    CHECK(b.workstations == std::vector<std::string>{"ws-1"});
  }
  SECTION("an unknown badge, an expired temporary one, and an empty one") {
    auto unknown = r.find(keys->secret, "04A2B4", t.synced_ms);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Errc::not_found);
    CHECK(r.find(keys->secret, "TEMP-1", t.synced_ms).ok());
    auto expired = r.find(keys->secret, "TEMP-1", t.synced_ms + 1000);
    REQUIRE_FALSE(expired.ok());
    CHECK(expired.error().code == Errc::expired);
    auto empty = r.find(keys->secret, " ; ", t.synced_ms);
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().code == Errc::bad_request);
  }
  SECTION("another secret finds nothing (a copied table is of no use elsewhere)") {
    proto::Bytes other(32, 7);
    CHECK_FALSE(r.find(other, "04A2B3", t.synced_ms).ok());
  }
}

TEST_CASE("issue 8: a damaged offline table, or one under another key, is refused saying so",
          "[printer][offline]") {
  TempDir dir;
  auto keys = offline_keys_load_or_create(dir.path);
  REQUIRE(keys.ok());
  REQUIRE(offline_table_save(dir.path, *keys, sample(*keys)).ok());
  std::string path = dir.path + "/offline.table";

  SECTION("one bit flipped") {
    std::string raw = file_text(path);
    raw[raw.size() / 2] = static_cast<char>(raw[raw.size() / 2] ^ 1);
    REQUIRE(write_file_atomic(path, raw, 0600).ok());
    auto r = offline_table_load(dir.path, *keys);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("does not decrypt"));
  }
  SECTION("another station's key") {
    TempDir other;
    auto theirs = offline_keys_load_or_create(other.path);
    REQUIRE(theirs.ok());
    auto r = offline_table_load(dir.path, *theirs);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("does not decrypt"));
  }
  SECTION("not a table at all") {
    REQUIRE(write_file_atomic(path, std::string("hello"), 0600).ok());
    auto r = offline_table_load(dir.path, *keys);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("is not an offline table"));
  }
  SECTION("a key file of the wrong size") {
    REQUIRE(write_file_atomic(dir.path + "/offline.key", std::string(10, 'k'), 0600).ok());
    auto k = offline_keys_load_or_create(dir.path);
    REQUIRE_FALSE(k.ok());
    CHECK_THAT(k.error().message, Catch::Contains("is not 64 bytes"));
  }
}
