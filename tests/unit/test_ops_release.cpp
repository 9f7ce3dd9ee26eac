// The messages around releasing: badge-in's PIN and users fields, read by old and new readers
// alike, and a round trip of every ops_release.h message with the refusals of their readers.
#include <catch2/catch.hpp>

#include "codec_support.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/ops_release.h"

using namespace lpm;
using namespace lpm::proto;
using lpm::test::kFp;
using lpm::test::kId;
using lpm::test::kId2;
using lpm::test::read_into;
using lpm::test::round_trip;

namespace {

BadgeInResult a_result() {
  BadgeInResult r;
  r.user = kId;
  r.display_name = "Ada";
  r.workstations = {WorkstationRef{kId2, "ws", {"10.0.0.5"}, 9443, kFp}};
  r.ticket = SignedTicket{Bytes{1, 2, 3}, Bytes{4, 5}};
  r.users = {BadgeUser{kId, "Ada"}, BadgeUser{kId2, "Grace"}};
  return r;
}

} // namespace

TEST_CASE("badge-in: the PIN is sent only when there is one, and read back (PM-11)", "[ops][badge]") {
  BadgeInRequest req;
  req.badge = "0451";
  MapWriter w;
  req.write(w);
  CHECK(w.count() == 1); // the request of a station that knows nothing of PINs is unchanged
  req.pin = "2468";
  CHECK(round_trip(req).pin == "2468");
  MapWriter long_pin;
  long_pin.str("badge", "0451").str("pin", std::string(65, '1'));
  BadgeInRequest out;
  CHECK_THAT(read_into(long_pin, out), Catch::Contains("pin"));
}

TEST_CASE("badge-in: the users a ticket covers travel with it, older answers without them still read (PM-7)",
          "[ops][badge][PM-7]") {
  BadgeInResult in = a_result();
  BadgeInResult out = round_trip(in);
  CHECK_FALSE(out.pin_required);
  REQUIRE(out.users.size() == 2);
  CHECK(out.users[1].id == kId2);
  CHECK(out.users[1].display_name == "Grace");

  // An older directory's answer: no users, no pin_required.
  MapWriter old;
  std::vector<MapWriter> ws(1);
  ws[0]
      .str("id", kId2)
      .str("name", "ws")
      .str_array("addresses", {})
      .u64("port", 9443)
      .str("fingerprint", kFp);
  old.str("user", kId)
      .str("display_name", "Ada")
      .map_array("workstations", ws)
      .map("ticket", in.ticket.to_map());
  BadgeInResult from_old;
  CHECK(read_into(old, from_old).empty());
  CHECK(from_old.users.empty());
  CHECK(from_old.user == kId);

  // A users entry that is not a UUID is refused.
  BadgeInResult bad = in;
  bad.users[1].id = "someone";
  MapWriter bw;
  bad.write(bw);
  BadgeInResult refused;
  CHECK_THAT(read_into(bw, refused), Catch::Contains("users.id"));
}

TEST_CASE("badge-in: a pin_required answer carries nothing else, and an older reader refuses it",
          "[ops][badge]") {
  BadgeInResult ask;
  ask.pin_required = true;
  ask.user = kId; // not written: the answer says nothing about whose badge it is
  MapWriter w;
  ask.write(w);
  CHECK(w.count() == 1);
  BadgeInResult out;
  CHECK(read_into(w, out).empty());
  CHECK(out.pin_required);
  CHECK(out.user.empty());
  CHECK(out.ticket.body.empty());

  // What a reader that requires a ticket (one from before PINs) makes of it: a refusal, not a
  // release with no ticket.
  Bytes bytes = w.finish();
  auto handle = unpack_map(bytes);
  REQUIRE(handle.ok());
  MapReader r(handle->get(), "result");
  (void)r.str("user");
  CHECK_FALSE(r.ok());
}

TEST_CASE("ops_release: every message survives a round trip", "[ops][badge][PM-7][BD-5]") {
  auto reg = round_trip(BadgeRegisterRequest{"0451", "ada@example.com", "secret"});
  CHECK(reg.badge == "0451");
  CHECK(reg.email == "ada@example.com");
  CHECK(reg.password == "secret");

  auto change = round_trip(DelegateChangeRequest{"s", "bob@example.com", "ada@example.com"});
  CHECK(change.delegate == "bob@example.com");
  CHECK(change.delegator == "ada@example.com");
  auto changed = round_trip(DelegateChangeResult{"ada@example.com", "bob@example.com", true});
  CHECK(changed.changed);

  DelegatesListResult listed;
  listed.user = kId;
  listed.email = "ada@example.com";
  listed.delegates = {DelegateEntry{kId2, "bob@example.com", "Bob", "user x", 5}};
  auto listed2 = round_trip(listed);
  REQUIRE(listed2.delegates.size() == 1);
  CHECK(listed2.delegates[0].display_name == "Bob");
  CHECK(listed2.delegates[0].created_ms == 5);
  CHECK(listed2.delegators.empty());
  CHECK(round_trip(DelegatesListRequest{"s", ""}).email.empty());

  CHECK(round_trip(PinSetRequest{"s", "1234"}).pin == "1234");
  CHECK(round_trip(PinClearRequest{"s", "bob@example.com"}).email == "bob@example.com");
  CHECK(round_trip(PinChangeResult{"bob@example.com", true}).changed);
  auto policy = round_trip(BadgesPolicyResult{"required", "off"});
  CHECK(policy.pin == "required");
  CHECK(policy.self_register == "off");
  CHECK(round_trip(BadgesPolicySetRequest{"s", "off", ""}).pin == "off");
  auto fed = round_trip(UsersSetFederatedRequest{"s", "ada@example.com", false});
  CHECK_FALSE(fed.federated);
  auto fed2 = round_trip(UsersSetFederatedResult{"ada@example.com", true, true});
  CHECK(fed2.federated);
  CHECK(fed2.changed);
}

TEST_CASE("ops_release: readers refuse what the directory must not act on", "[ops][badge]") {
  MapWriter empty_badge;
  empty_badge.str("badge", "").str("email", "a@b.c").str("password", "p");
  BadgeRegisterRequest reg;
  CHECK_THAT(read_into(empty_badge, reg), Catch::Contains("badge"));

  MapWriter policy;
  policy.str("session", "s").str("pin", "sometimes");
  BadgesPolicySetRequest set;
  CHECK_THAT(read_into(policy, set), Catch::Contains("pin"));
  MapWriter self_register;
  self_register.str("session", "s").str("self_register", "yes");
  BadgesPolicySetRequest set2;
  CHECK_THAT(read_into(self_register, set2), Catch::Contains("self_register"));

  MapWriter no_delegate;
  no_delegate.str("session", "s");
  DelegateChangeRequest change;
  CHECK_THAT(read_into(no_delegate, change), Catch::Contains("delegate"));
}
