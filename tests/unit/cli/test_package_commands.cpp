// `lpm package create`'s options as typed (issue 7, PK-4, AMB-25, AMB-26): each lands in the
// configuration, and each refusal names its option.
#include <catch2/catch.hpp>

#include <functional>

#include "package_commands.h"

using namespace lpm;
using namespace lpm::cli;

namespace {

const std::string kFp(64, 'd');

PackageArgs network() {
  PackageArgs a;
  a.directory = "10.0.0.1:9710,10.0.0.2:9710";
  a.directory_fingerprint = std::string(64, 'D');
  a.accounting = "10.0.0.5:9720";
  a.accounting_fingerprint = kFp;
  return a;
}

} // namespace

TEST_CASE("lpm package: every option lands in the configuration (PK-4)", "[cli][issue7]") {
  PackageArgs a = network();
  a.notifications = false;
  a.delete_unused_folders_days = 3;
  a.printed_lifespan_hours = 12;
  a.unprinted_lifespan_hours = 0;
  a.late_binding = false;
  a.track_deleted = true;
  a.site = "Lyon & Co";
  a.reporting_interval = 15;
  a.queue = "Floor2";
  a.binds = {"alice=0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"};
  a.release_port = 19443;
  a.capture_port = 19167;
  a.raw_port = 19168;
  a.token = "T0KEN";
  auto o = package_options(a, packaging::package_default_config());
  REQUIRE(o.ok());
  const auto &c = o->config;
  CHECK(c.directory.addresses.size() == 2);
  CHECK(c.directory.fingerprints == std::vector<std::string>{std::string(64, 'd')}); // folded to lower case
  CHECK_FALSE(c.display_notifications);
  CHECK(c.delete_empty_user_folders);
  CHECK(c.delete_empty_user_folders_lifespan_days == 3);
  CHECK(c.print_and_keep_lifespan_hours == 12);
  CHECK(c.unprinted_jobs_lifespan_hours == 0);
  CHECK_FALSE(c.late_binding_enabled);
  CHECK(c.track_deleted_jobs);
  CHECK(c.site_name == "Lyon & Co");
  CHECK(c.reporting_interval_minutes == 15);
  CHECK(c.default_queue == "Floor2");
  CHECK(c.default_printer == "Floor2"); // the renamed queue stays the default (AMB-26)
  REQUIRE(c.identity_binding.size() == 1);
  CHECK(c.identity_binding[0].account == "alice");
  CHECK(c.release_listen.port == 19443);
  CHECK(c.capture_listen.port == 19167);
  CHECK(c.raw_listen.port == 19168);
  CHECK(o->enrollment_token == "T0KEN");
  CHECK(packaging::check_package_choices(*o).ok());
}

TEST_CASE("lpm package: the site defaults to the accounting server's host, and no default printer on request "
          "(AMB-25, AMB-26)",
          "[cli][issue7]") {
  PackageArgs a = network();
  a.default_printer = false;
  auto o = package_options(a, packaging::package_default_config());
  REQUIRE(o.ok());
  CHECK(o->config.site_name == "10.0.0.5");
  CHECK(o->config.default_printer.empty());
  a.delete_unused_folders_days = 0;
  o = package_options(a, packaging::package_default_config());
  REQUIRE(o.ok());
  CHECK_FALSE(o->config.delete_empty_user_folders);
}

TEST_CASE("lpm package: a wrong value is refused naming its option", "[cli][issue7]") {
  struct Case {
    std::function<void(PackageArgs &)> change;
    std::string option;
  };
  const Case cases[] = {
      {[](PackageArgs &a) { a.printed_lifespan_hours = -1; }, "--printed-lifespan-hours"},
      {[](PackageArgs &a) { a.unprinted_lifespan_hours = 24 * 366; }, "--unprinted-lifespan-hours"},
      {[](PackageArgs &a) { a.delete_unused_folders_days = -2; }, "--delete-unused-folders-days"},
      {[](PackageArgs &a) { a.reporting_interval = -5; }, "--reporting-interval"},
      {[](PackageArgs &a) { a.directory = "directory.example.com:9710"; }, "--directory"},
      {[](PackageArgs &a) { a.accounting = "10.0.0.5"; }, "--accounting"},
      {[](PackageArgs &a) { a.accounting_fingerprint = "xyz"; }, "--accounting-fingerprint"},
      {[](PackageArgs &a) { a.site = "<script>"; }, "--site"},
      {[](PackageArgs &a) { a.queue = "my queue"; }, "--queue"},
      {[](PackageArgs &a) { a.binds = {"alice"}; }, "--bind"},
      {[](PackageArgs &a) { a.release_port = 0; }, "--release-port"},
      {[](PackageArgs &a) { a.capture_port = 70000; }, "--capture-port"},
  };
  for (const auto &c : cases) {
    PackageArgs a = network();
    c.change(a);
    auto o = package_options(a, packaging::package_default_config());
    INFO(c.option);
    REQUIRE_FALSE(o.ok());
    CHECK(o.error().code == Errc::bad_request);
    CHECK_THAT(o.error().message, Catch::StartsWith(c.option + ":"));
  }
}
