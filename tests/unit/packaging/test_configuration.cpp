// configuration.xml: every field survives a save and a load; hostile and invalid documents are
// refused with a message that names the element.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <string>

#include "lpm/files.h"
#include "lpm/packaging/configuration.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::packaging;
using lpm::test::TempDir;

namespace {

const std::string kFp1(64, 'a');
const std::string kFp2(64, 'b');
const std::string kFp3 = std::string(32, '0') + std::string(32, 'f');
const std::string kUser1 = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
const std::string kUser2 = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";

std::string minimal(const std::string &extra) {
  return "<Configuration><DataFolder>/srv/lpm</DataFolder>" + extra + "</Configuration>";
}

} // namespace

TEST_CASE("configuration: every field survives save and load", "[packaging]") {
  TempDir dir;
  AgentConfig in;
  in.data_folder = dir.path + "/data";
  in.control_socket = dir.path + "/ctl.sock";
  in.release_listen = proto::Endpoint{"192.168.1.20", 9444};
  in.capture_listen = proto::Endpoint{"::1", 19167};
  in.raw_listen = proto::Endpoint{"localhost", 19168};
  in.directory.addresses = {proto::Endpoint{"10.0.0.1", 9710}, proto::Endpoint{"10.0.0.2", 9711}};
  in.directory.fingerprints = {kFp1, kFp2};
  in.accounting.addresses = {proto::Endpoint{"fe80::1", 9720}};
  in.accounting.fingerprints = {kFp3};
  in.site_name = "Siège & \"annexe\"";
  in.reporting_interval_minutes = 15;
  in.track_deleted_jobs = true;
  in.print_and_keep_lifespan_hours = 12;
  in.unprinted_jobs_lifespan_hours = 72;
  in.delete_empty_user_folders = true;
  in.delete_empty_user_folders_lifespan_days = 3;
  in.display_notifications = false;
  in.late_binding_enabled = false;
  in.default_queue = "Queue_A";
  in.default_printer = "Queue_A";
  in.lan_discovery = false;
  in.offline_release_window_hours = 12;
  in.hybrid_print_queue_name = "Hybrid";
  in.capture.media_sizes = {"iso_a3_297x420mm"};
  in.capture.document_formats = {"image/urf", "application/pdf"};
  in.capture.duplex = false;
  in.capture.color = false;
  in.identity_binding = {{"alice", kUser1}, {"bob", kUser2}};

  std::string path = dir.path + "/configuration.xml";
  REQUIRE(save_agent_config(in, path).ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto out = load_agent_config(path);
  REQUIRE(out.ok());
  CHECK(out->data_folder == in.data_folder);
  CHECK(out->control_socket == in.control_socket);
  CHECK(out->release_listen.to_string() == "192.168.1.20:9444");
  CHECK(out->capture_listen.to_string() == "[::1]:19167");
  CHECK(out->raw_listen.to_string() == "localhost:19168");
  REQUIRE(out->directory.addresses.size() == 2);
  CHECK(out->directory.addresses[1].to_string() == "10.0.0.2:9711");
  CHECK(out->directory.fingerprints == in.directory.fingerprints);
  REQUIRE(out->accounting.addresses.size() == 1);
  CHECK(out->accounting.addresses[0].to_string() == "[fe80::1]:9720");
  CHECK(out->accounting.fingerprints == in.accounting.fingerprints);
  CHECK(out->site_name == in.site_name);
  CHECK(out->reporting_interval_minutes == 15);
  CHECK(out->track_deleted_jobs);
  CHECK(out->print_and_keep_lifespan_hours == 12);
  CHECK(out->unprinted_jobs_lifespan_hours == 72);
  CHECK(out->delete_empty_user_folders);
  CHECK(out->delete_empty_user_folders_lifespan_days == 3);
  CHECK_FALSE(out->display_notifications);
  CHECK_FALSE(out->late_binding_enabled);
  CHECK(out->default_queue == "Queue_A");
  CHECK(out->default_printer == "Queue_A");
  CHECK_FALSE(out->lan_discovery);
  CHECK(out->offline_release_window_hours == 12);
  CHECK(out->hybrid_print_queue_name == "Hybrid");
  CHECK(out->capture.media_sizes == in.capture.media_sizes);
  CHECK(out->capture.document_formats == in.capture.document_formats);
  CHECK_FALSE(out->capture.duplex);
  CHECK_FALSE(out->capture.color);
  REQUIRE(out->identity_binding.size() == 2);
  CHECK(out->user_for_account("bob") == kUser2);
  CHECK_FALSE(out->user_for_account("carol").has_value());

  // A second save of what was loaded writes the same document.
  CHECK(agent_config_to_xml(*out) == agent_config_to_xml(in));
}

TEST_CASE("configuration: defaults follow DESIGN §8 and §9", "[packaging]") {
  auto cfg = parse_agent_config(minimal(""), "configuration.xml");
  REQUIRE(cfg.ok());
  CHECK(cfg->control_socket == "/srv/lpm/agent.sock");
  CHECK(cfg->release_listen.to_string() == "0.0.0.0:9443");
  CHECK(cfg->capture_listen.to_string() == "127.0.0.1:9167");
  CHECK(cfg->raw_listen.to_string() == "127.0.0.1:9168");
  CHECK(cfg->reporting_interval_minutes == 0);
  CHECK_FALSE(cfg->track_deleted_jobs);
  CHECK(cfg->print_and_keep_lifespan_hours == 48);
  CHECK(cfg->unprinted_jobs_lifespan_hours == 48);
  CHECK_FALSE(cfg->delete_empty_user_folders);
  CHECK(cfg->delete_empty_user_folders_lifespan_days == 7);
  CHECK(cfg->display_notifications);
  CHECK(cfg->late_binding_enabled);
  CHECK(cfg->default_queue == "LPMServerless");
  CHECK_FALSE(cfg->directory.configured());
  CHECK(cfg->identity_binding.empty());
}

TEST_CASE("configuration: the brief's example document loads", "[packaging]") {
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<Configuration>
  <DataFolder>/srv/lpm</DataFolder>
  <ControlSocket>/srv/lpm/agent.sock</ControlSocket>
  <ReleaseListen>127.0.0.1:9443</ReleaseListen>
  <Directory><Address>127.0.0.1:9710</Address><Fingerprint>)" +
                    kFp1 + R"(</Fingerprint><Fingerprint>)" + kFp2 + R"(</Fingerprint></Directory>
  <Accounting><Address>127.0.0.1:9720</Address><Fingerprint>)" +
                    kFp3 + R"(</Fingerprint></Accounting>
  <SiteName>HQ</SiteName>
  <ReportingInterval>0</ReportingInterval>
  <TrackDeletedJobs>false</TrackDeletedJobs>
  <PrintAndKeepLifespan>48</PrintAndKeepLifespan>
  <UnprintedJobsLifespan>48</UnprintedJobsLifespan>
  <IdentityBinding><Bind account="root" user=")" +
                    kUser1 + R"("/></IdentityBinding>
</Configuration>)";
  auto cfg = parse_agent_config(xml, "configuration.xml");
  REQUIRE(cfg.ok());
  CHECK(cfg->directory.fingerprints.size() == 2);
  CHECK(cfg->accounting.addresses[0].port == 9720);
  CHECK(cfg->user_for_account("root") == kUser1);
}

TEST_CASE("configuration: records carry SiteName, else the accounting server's host (AMB-25)",
          "[packaging]") {
  AgentConfig c;
  CHECK(c.effective_site_name().empty()); // no accounting server named: nothing to default to
  c.accounting.addresses = {proto::Endpoint{"10.1.2.3", 9720}, proto::Endpoint{"10.1.2.4", 9720}};
  CHECK(c.effective_site_name() == "10.1.2.3");
  c.site_name = "Paris HQ";
  CHECK(c.effective_site_name() == "Paris HQ");
}

TEST_CASE("configuration: a DOCTYPE is refused", "[packaging]") {
  std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE Configuration [<!ENTITY x \"boom\">]>\n" +
                    minimal("<SiteName>&x;</SiteName>");
  auto cfg = parse_agent_config(xml, "configuration.xml");
  REQUIRE_FALSE(cfg.ok());
  CHECK(cfg.error().code == Errc::bad_request);
  CHECK_THAT(cfg.error().message, Catch::Contains("DOCTYPE"));

  auto plain = parse_agent_config("<!DOCTYPE Configuration>" + minimal(""), "configuration.xml");
  REQUIRE_FALSE(plain.ok());
  CHECK_THAT(plain.error().message, Catch::Contains("DOCTYPE"));
}

TEST_CASE("configuration: a bad boolean is refused naming the element", "[packaging]") {
  for (const char *bad : {"yes", "True", "1", ""}) {
    auto cfg = parse_agent_config(minimal(std::string("<TrackDeletedJobs>") + bad + "</TrackDeletedJobs>"),
                                  "configuration.xml");
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.error().code == Errc::bad_request);
    CHECK_THAT(cfg.error().message, Catch::Contains("<TrackDeletedJobs>"));
  }
  auto nested =
      parse_agent_config(minimal("<CaptureCapabilities><Duplex>on</Duplex></CaptureCapabilities>"), "c");
  REQUIRE_FALSE(nested.ok());
  CHECK_THAT(nested.error().message, Catch::Contains("Duplex"));
}

TEST_CASE("configuration: invalid values are refused naming the element", "[packaging]") {
  struct Case {
    std::string body;
    std::string element;
  };
  const Case cases[] = {
      {"<ReportingInterval>-1</ReportingInterval>", "<ReportingInterval>"},
      {"<ReportingInterval>99999999999</ReportingInterval>", "<ReportingInterval>"},
      {"<OfflineReleaseWindow>169</OfflineReleaseWindow>", "<OfflineReleaseWindow>"},
      {"<PrintAndKeepLifespan>4x</PrintAndKeepLifespan>", "<PrintAndKeepLifespan>"},
      {"<UnprintedJobsLifespan>100000</UnprintedJobsLifespan>", "<UnprintedJobsLifespan>"},
      {"<ReleaseListen>nowhere</ReleaseListen>", "<ReleaseListen>"},
      {"<ReleaseListen>print.example.com:9443</ReleaseListen>", "<ReleaseListen>"},
      {"<ReleaseListen>0.0\xff.0.0:9443</ReleaseListen>", "<ReleaseListen>"},
      {"<Directory><Address>[\x02[fd00::5]]:9710</Address><Fingerprint>" + kFp1 +
           "</Fingerprint></Directory>",
       "<Directory><Address>"},
      {"<Directory><Address>[fe80::1%eth0]:9710</Address><Fingerprint>" + kFp1 + "</Fingerprint></Directory>",
       "<Directory><Address>"},
      {"<CaptureListen>0.0.0.0:9167</CaptureListen>", "<CaptureListen>"},
      {"<Directory><Address>127.0.0.1:9710</Address><Fingerprint>abc</Fingerprint></Directory>",
       "<Directory><Fingerprint>"},
      {"<Directory><Address>127.0.0.1:0</Address><Fingerprint>" + kFp1 + "</Fingerprint></Directory>",
       "<Directory><Address>"},
      {"<Accounting><Address>127.0.0.1:9720</Address></Accounting>", "<Accounting>"},
      {"<IdentityBinding><Bind account=\"x\" user=\"not-a-uuid\"/></IdentityBinding>",
       "<IdentityBinding><Bind>"},
      {"<IdentityBinding><Bind account=\"x\" user=\"" + kUser1 + "\"/><Bind account=\"x\" user=\"" + kUser2 +
           "\"/></IdentityBinding>",
       "<IdentityBinding><Bind>"},
      {"<SiteName>a</SiteName><SiteName>b</SiteName>", "<SiteName>"},
      {"<SiteName><b>x</b></SiteName>", "<SiteName>"},
      {"<ControlSocket>relative.sock</ControlSocket>", "<ControlSocket>"},
      // Issue 7: names an installer passes to lpadmin, labels without markup.
      {"<SiteName>&lt;script&gt;x&lt;/script&gt;</SiteName>", "<SiteName>"},
      {"<SiteName>line\nbreak</SiteName>", "<SiteName>"},
      {"<DefaultQueue>two words</DefaultQueue>", "<DefaultQueue>"},
      {"<DefaultQueue>a/b</DefaultQueue>", "<DefaultQueue>"},
      {"<DefaultQueue></DefaultQueue>", "<DefaultQueue>"},
      {"<HybridPrintQueueName>x#y</HybridPrintQueueName>", "<HybridPrintQueueName>"},
      {"<DefaultPrinter>Other</DefaultPrinter>", "<DefaultPrinter>"},
  };
  for (const auto &c : cases) {
    INFO(c.body);
    auto cfg = parse_agent_config(minimal(c.body), "configuration.xml");
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.error().code == Errc::bad_request);
    CHECK_THAT(cfg.error().message, Catch::Contains(c.element));
  }

  auto no_folder = parse_agent_config("<Configuration><SiteName>x</SiteName></Configuration>", "c");
  REQUIRE_FALSE(no_folder.ok());
  CHECK_THAT(no_folder.error().message, Catch::Contains("<DataFolder>"));
  auto wrong_root = parse_agent_config("<Config/>", "c");
  REQUIRE_FALSE(wrong_root.ok());
  auto broken = parse_agent_config("<Configuration><DataFolder>/x</Configuration>", "c");
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().code == Errc::bad_request);
}

TEST_CASE("configuration: unknown elements are ignored, fingerprints are folded to lower case",
          "[packaging]") {
  std::string upper(64, 'A');
  auto cfg =
      parse_agent_config(minimal("<FutureThing>1</FutureThing><Directory><Address>127.0.0.1:1</Address>"
                                 "<Fingerprint>" +
                                 upper + "</Fingerprint></Directory>"),
                         "configuration.xml");
  REQUIRE(cfg.ok());
  CHECK(cfg->directory.fingerprints[0] == kFp1);
}

TEST_CASE("configuration: a missing file is an error, not a default", "[packaging]") {
  TempDir dir;
  auto cfg = load_agent_config(dir.path + "/absent.xml");
  REQUIRE_FALSE(cfg.ok());
}

TEST_CASE("configuration: lpm-agent's flags override the file, and the file's other values stay (issue 3)",
          "[packaging]") {
  const std::string xml =
      "<Configuration><CaptureListen>127.0.0.1:9167</CaptureListen><ReleaseListen>0.0.0.0:9443</ReleaseListen>"
      "<Directory><Address>10.0.0.1:9710</Address><Fingerprint>" +
      kFp1 +
      "</Fingerprint></Directory><Accounting><Address>10.0.0.3:9720</Address><Fingerprint>" + kFp2 +
      "</Fingerprint></Accounting><SiteName>HQ</SiteName></Configuration>";
  SECTION("without --data-dir a file without <DataFolder> is refused naming both") {
    auto cfg = parse_agent_config(xml, "configuration.xml");
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.error().message.find("<DataFolder>") != std::string::npos);
    CHECK(cfg.error().message.find("--data-dir") != std::string::npos);
  }
  SECTION("every override applies") {
    AgentOverrides o;
    o.data_folder = "/srv/other";
    o.capture_port = 19167;
    o.release_port = 19443;
    o.directory = std::vector<proto::Endpoint>{{"127.0.0.1", 19710}, {"::1", 19711}};
    o.accounting = std::vector<proto::Endpoint>{{"127.0.0.1", 19720}};
    auto cfg = parse_agent_config(xml, "configuration.xml", o);
    REQUIRE(cfg.ok());
    CHECK(cfg->data_folder == "/srv/other");
    CHECK(cfg->control_socket == "/srv/other/agent.sock");
    CHECK(cfg->capture_listen.to_string() == "127.0.0.1:19167");
    CHECK(cfg->release_listen.to_string() == "0.0.0.0:19443");
    REQUIRE(cfg->directory.addresses.size() == 2);
    CHECK(cfg->directory.addresses[1].port == 19711);
    CHECK(cfg->directory.fingerprints == std::vector<proto::Fingerprint>{kFp1}); // pins stay
    REQUIRE(cfg->accounting.addresses.size() == 1);
    CHECK(cfg->accounting.addresses[0].port == 19720);
    CHECK(cfg->site_name == "HQ");
  }
}

TEST_CASE("configuration: capture document formats default to every known one, an unknown one is refused "
          "naming the element (issue 3)",
          "[packaging]") {
  auto defaults = parse_agent_config(minimal(""), "configuration.xml");
  REQUIRE(defaults.ok());
  CHECK(defaults->capture.document_formats == kCaptureFormats);
  auto pdf_only = parse_agent_config(
      minimal("<CaptureCapabilities><DocumentFormat>application/pdf</DocumentFormat></CaptureCapabilities>"),
      "configuration.xml");
  REQUIRE(pdf_only.ok());
  CHECK(pdf_only->capture.document_formats == std::vector<std::string>{"application/pdf"});
  auto jpeg = parse_agent_config(
      minimal("<CaptureCapabilities><DocumentFormat>image/jpeg</DocumentFormat></CaptureCapabilities>"),
      "configuration.xml");
  REQUIRE_FALSE(jpeg.ok());
  CHECK(jpeg.error().message.find("<CaptureCapabilities><DocumentFormat>") != std::string::npos);
  CHECK(jpeg.error().message.find("image/jpeg") != std::string::npos);
}
