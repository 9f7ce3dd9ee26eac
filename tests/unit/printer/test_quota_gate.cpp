// The release station's quota gate (printer/quota_gate.h; AMB-17, PM-5): which jobs of a badge
// may print, in colour or not, against what the directory said each owner may still print.
#include <catch2/catch.hpp>

#include "quota_gate.h"

namespace lpm::printer {
namespace {

const std::string kAnn = "01a00000-0000-7000-8000-000000000001";
const std::string kBob = "01a00000-0000-7000-8000-000000000002";
const std::string kOut = "01a00000-0000-7000-8000-000000000003";

proto::BadgeInResult answer(const char *color_denied = proto::kColorDeniedMono) {
  proto::BadgeInResult who;
  who.user = kAnn;
  who.reservation = "r-1";
  who.color_denied = color_denied;
  who.users = {proto::BadgeUser{kAnn, "Ann", true, 10, true}, proto::BadgeUser{kBob, "Bob", true, -1, false},
               proto::BadgeUser{kOut, "Out", false, -1, true}};
  return who;
}

proto::JobInfo job(const std::string &user, int64_t pages, uint64_t copies = 1, const char *color = "color") {
  proto::JobInfo j;
  j.id = "job";
  j.user = user;
  j.title = "t";
  j.pages = pages;
  j.copies = copies;
  j.color = color;
  return j;
}

} // namespace

TEST_CASE(
    "quota gate: a job fits what its owner may still print or is refused, the device's count settles the "
    "estimate (AMB-17)",
    "[printer][quota][AMB-17]") {
  QuotaGate gate(answer(), true);
  CHECK(gate.reservation() == "r-1");
  CHECK(gate.counted(kAnn));
  CHECK_FALSE(gate.counted(kOut));
  CHECK(gate.limits_line(kAnn) == "quota for Ann: 10 impressions left this month");
  CHECK(gate.limits_line(kOut).empty());

  PrintSettings settings = settings_of(job(kAnn, 3, 2));
  auto six = gate.admit(job(kAnn, 3, 2), settings);
  CHECK(six.admitted);
  CHECK(six.estimate == 6);
  CHECK(gate.quota_left(kAnn) == 4);

  PrintSettings five_settings = settings_of(job(kAnn, 5));
  auto five = gate.admit(job(kAnn, 5), five_settings);
  CHECK_FALSE(five.admitted);
  CHECK(five.reason ==
        "over quota: Ann may print 4 impressions more this month and this job needs 5 impressions");
  CHECK(gate.quota_left(kAnn) == 4); // a refused job takes nothing

  // The device counted 5, not the 6 estimated: one comes back.
  gate.printed(kAnn, 6, 5);
  CHECK(gate.quota_left(kAnn) == 5);
  // A job of unknown length needs at least one impression.
  PrintSettings unknown_settings = settings_of(job(kAnn, -1));
  auto unknown = gate.admit(job(kAnn, -1), unknown_settings);
  CHECK(unknown.admitted);
  CHECK(unknown.estimate == 1);
  gate.failed(kAnn, unknown.estimate); // it did not print: back
  CHECK(gate.quota_left(kAnn) == 5);
  // Counted past what was left (the device printed more than estimated): never below 0.
  gate.printed(kAnn, 0, 50);
  CHECK(gate.quota_left(kAnn) == 0);
  PrintSettings one_settings = settings_of(job(kAnn, 1));
  CHECK_FALSE(gate.admit(job(kAnn, 1), one_settings).admitted);

  // Users Print Management does not manage print without limits.
  PrintSettings out_settings = settings_of(job(kOut, 1000, 10));
  auto free = gate.admit(job(kOut, 1000, 10), out_settings);
  CHECK(free.admitted);
  CHECK(free.estimate == 0);
  CHECK(out_settings.color == "color");
}

TEST_CASE("quota gate: colour where the print group does not allow it prints in monochrome, or is refused by "
          "the enterprise's rule or a device that applies no settings (AMB-17)",
          "[printer][quota][AMB-17]") {
  SECTION("mono rule, a device that applies settings: printed in monochrome, said so") {
    QuotaGate gate(answer(), true);
    CHECK(gate.limits_line(kBob) == "quota for Bob: colour prints in monochrome");
    PrintSettings settings = settings_of(job(kBob, 2));
    auto a = gate.admit(job(kBob, 2), settings);
    CHECK(a.admitted);
    CHECK(settings.color == "monochrome");
    CHECK(a.note == "colour is not allowed for Bob: printed in monochrome");
    // A job already monochrome is not touched.
    PrintSettings mono = settings_of(job(kBob, 2, 1, "monochrome"));
    auto m = gate.admit(job(kBob, 2, 1, "monochrome"), mono);
    CHECK(m.admitted);
    CHECK(m.note.empty());
    // Ann's group allows colour.
    PrintSettings ann = settings_of(job(kAnn, 1));
    CHECK(gate.admit(job(kAnn, 1), ann).admitted);
    CHECK(ann.color == "color");
  }
  SECTION("mono rule, a device that applies no settings: refused, it stays held") {
    QuotaGate gate(answer(), false);
    CHECK(gate.limits_line(kBob) == "quota for Bob: colour jobs are refused");
    PrintSettings settings = settings_of(job(kBob, 2));
    auto a = gate.admit(job(kBob, 2), settings);
    CHECK_FALSE(a.admitted);
    CHECK(a.reason ==
          "colour printing is not allowed for Bob (print group) and this device cannot print it in "
          "monochrome");
    PrintSettings mono = settings_of(job(kBob, 2, 1, "monochrome"));
    CHECK(gate.admit(job(kBob, 2, 1, "monochrome"), mono).admitted);
  }
  SECTION("refuse rule") {
    QuotaGate gate(answer(proto::kColorDeniedRefuse), true);
    PrintSettings settings = settings_of(job(kBob, 2));
    auto a = gate.admit(job(kBob, 2), settings);
    CHECK_FALSE(a.admitted);
    CHECK(a.reason.find("colour printing is not allowed for Bob (print group) and this enterprise refuses") ==
          0);
    CHECK(settings.color == "color");
  }
}

} // namespace lpm::printer
