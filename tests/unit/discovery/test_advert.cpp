// The TXT record agents publish on the LAN (issue 8): what it holds (no user or host names),
// and what a release station refuses to read. DNS-SD itself with no mDNS daemon reachable.
#include <catch2/catch.hpp>

#include <uv.h>

#include <cstdlib>
#include <string>

#include "lpm/discovery/advert.h"
#include "lpm/discovery/dnssd.h"

using namespace lpm;
using namespace lpm::discovery;

namespace {

const std::string kId = "01a2149b-1b6c-75a9-a5fd-ab26ba7691d7";
const std::string kFp = std::string(32, 'a') + std::string(32, '0');

std::vector<uint8_t> record(std::initializer_list<std::string> items) {
  std::vector<uint8_t> out;
  for (const auto &i : items) {
    out.push_back(static_cast<uint8_t>(i.size()));
    out.insert(out.end(), i.begin(), i.end());
  }
  return out;
}

} // namespace

TEST_CASE(
    "discovery: the TXT record holds the version, the opaque id and the key's fingerprint, nothing else",
    "[discovery][issue8]") {
  auto txt = encode_txt(ReleaseAdvert{kId, kFp, kTxtVersion});
  CHECK(txt == record({"v=1", "id=" + kId, "fp=" + kFp}));
  auto back = decode_txt(txt.data(), txt.size());
  REQUIRE(back.ok());
  CHECK(back->workstation_id == kId);
  CHECK(back->fingerprint == kFp);
  CHECK(back->version == 1);
  CHECK(instance_name(kId) == "lpm-01a2149b1b6c75a9a5fdab26ba7691d7");
}

TEST_CASE("discovery: keys in any case and order, unknown keys ignored", "[discovery][issue8]") {
  auto txt = record({"FP=" + kFp, "later=whatever", "", "ID=" + kId, "V=1"});
  auto back = decode_txt(txt.data(), txt.size());
  REQUIRE(back.ok());
  CHECK(back->workstation_id == kId);
}

TEST_CASE("discovery: a TXT record that is not ours is refused with the reason", "[discovery][issue8]") {
  struct Case {
    std::vector<uint8_t> txt;
    std::string why;
  };
  std::vector<uint8_t> truncated = record({"v=1", "id=" + kId});
  truncated.push_back(40); // a string announced longer than what is left
  truncated.push_back('x');
  const Case cases[] = {
      {record({"id=" + kId, "fp=" + kFp}), "\"v\" is missing"},
      {record({"v=2", "id=" + kId, "fp=" + kFp}), "protocol version"},
      {record({"v=1", "fp=" + kFp}), "\"id\" is missing"},
      {record({"v=1", "id=" + kId}), "\"fp\" is missing"},
      {record({"v=1", "id=" + kId, "fp=" + kFp, "id=" + kId}), "appears twice"},
      {record({"v=1", "id=jean dupont", "fp=" + kFp}), "not a plain token"},
      {record({"v=1", "id=" + kId, "fp=" + std::string(64, 'G')}), "64 lower-case"},
      {record({"v=1", "id=" + kId, "fp=" + std::string(63, 'a')}), "64 lower-case"},
      {record({"v=1", "id", "fp=" + kFp}), "no value"},
      {truncated, "runs past the end"},
      {std::vector<uint8_t>(kMaxTxtBytes + 1, 1), "longer than"},
  };
  for (const auto &c : cases) {
    INFO(c.why);
    auto r = decode_txt(c.txt.data(), c.txt.size());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_request);
    CHECK_THAT(r.error().message, Catch::Contains(c.why));
  }
  CHECK_FALSE(decode_txt(nullptr, 0).ok());
}

TEST_CASE(
    "discovery: with no mDNS daemon, advertising reports why, browsing is unavailable, the loop ends clean",
    "[discovery][issue8]") {
  // Never the machine's own bus (mDNS runs only in namespaces a test makes): a bus that is not there.
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/lpm-test-no-bus", 1);
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<Status> states;
  {
    auto advertiser = Advertiser::start(&loop, Advertiser::Options{{kId, kFp, 1}, 9443, 0},
                                        [&](const Status &s) { states.push_back(s); });
    auto browser = Browser::start(&loop, [](Browser::Event, const LanAgent &) {});
    CHECK_FALSE(browser.ok());
    if (!browser.ok()) CHECK(browser.error().code == Errc::unavailable);
    uv_run(&loop, UV_RUN_NOWAIT);
    advertiser->stop();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  REQUIRE_FALSE(states.empty());
  CHECK_FALSE(states.front().ok());
  CHECK_THAT(states.front().error().message, Catch::Contains("cannot advertise on the LAN"));
}
