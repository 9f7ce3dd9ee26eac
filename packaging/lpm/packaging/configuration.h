// The agent's configuration.xml (DESIGN §8): the model, its defaults, and reading and writing
// the file. Element names follow the reference client where one exists, so an administrator
// recognises them; booleans are lower case "true"/"false"; numbers are plain decimal.
//
//   <Configuration>
//     <DataFolder>/var/lib/lpm-agent</DataFolder>
//     <ControlSocket>/var/lib/lpm-agent/agent.sock</ControlSocket>
//     <ReleaseListen>0.0.0.0:9443</ReleaseListen>
//     <CaptureListen>127.0.0.1:9167</CaptureListen>
//     <RawListen>127.0.0.1:9168</RawListen>
//     <Directory><Address>HOST:PORT</Address><Fingerprint>HEX</Fingerprint>...</Directory>
//     <Accounting><Address>HOST:PORT</Address><Fingerprint>HEX</Fingerprint>...</Accounting>
//     <SiteName>HQ</SiteName>
//     <ReportingInterval>0</ReportingInterval>           minutes; 0 posts records at once
//     <TrackDeletedJobs>false</TrackDeletedJobs>
//     <PrintAndKeepLifespan>48</PrintAndKeepLifespan>     hours
//     <UnprintedJobsLifespan>48</UnprintedJobsLifespan>   hours
//     <DeleteEmptyUserFolders>false</DeleteEmptyUserFolders>
//     <DeleteEmptyUserFoldersLifespan>7</DeleteEmptyUserFoldersLifespan>   days
//     <DisplayNotifications>true</DisplayNotifications>
//     <LateBindingEnabled>true</LateBindingEnabled>
//     <DefaultQueue>LPMServerless</DefaultQueue>
//     <HybridPrintQueueName></HybridPrintQueueName>
//     <DefaultPrinter>LPMServerless</DefaultPrinter>     the queue made the OS default ("": none)
//     <LanDiscovery>true</LanDiscovery>                  advertise _lpm-release._tcp (issue 8)
//     <OfflineReleaseWindow>0</OfflineReleaseWindow>     hours; 0 refuses printer-signed tickets
//     <CaptureCapabilities>
//       <DocumentFormat>application/pdf</DocumentFormat>...
//       <MediaSize>iso_a4_210x297mm</MediaSize>...<Duplex>true</Duplex><Color>true</Color>
//     </CaptureCapabilities>
//     <IdentityBinding><Bind account="root" user="UUID"/>...</IdentityBinding>
//   </Configuration>
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/stream.h"

namespace lpm::packaging {

// A service the agent reaches over pinned TLS. Several addresses (replicas) and several
// fingerprints (key rotation) may be listed; a connection accepts any listed key.
struct ServiceConfig {
  std::vector<proto::Endpoint> addresses;
  std::vector<proto::Fingerprint> fingerprints;
  bool configured() const { return !addresses.empty() && !fingerprints.empty(); }
};

// An OS account whose jobs belong to a directory user (managed fleets).
struct IdentityBind {
  std::string account; // OS login name
  std::string user;    // directory user UUID (lower case)
};

// The document formats the capture printer may advertise (what the agent can count and the
// release station can send on); application/octet-stream is always accepted besides.
inline const std::vector<std::string> kCaptureFormats = {"application/pdf", "application/postscript",
                                                         "image/pwg-raster", "image/urf"};

struct CaptureCapabilities {
  std::vector<std::string> document_formats = kCaptureFormats; // a subset of kCaptureFormats
  std::vector<std::string> media_sizes = {"iso_a4_210x297mm", "na_letter_8.5x11in"}; // PWG media names
  bool duplex = true;
  bool color = true;
};

struct AgentConfig {
  std::string data_folder;    // absolute; required
  std::string control_socket; // absolute; defaults to DATA/agent.sock
  proto::Endpoint release_listen{"0.0.0.0", 9443};
  proto::Endpoint capture_listen{"127.0.0.1", 9167}; // loopback only
  proto::Endpoint raw_listen{"127.0.0.1", 9168};     // loopback only
  ServiceConfig directory;
  ServiceConfig accounting;
  std::string site_name;
  uint32_t reporting_interval_minutes = 0;
  bool track_deleted_jobs = false;
  uint32_t print_and_keep_lifespan_hours = 48;
  uint32_t unprinted_jobs_lifespan_hours = 48;
  bool delete_empty_user_folders = false;
  uint32_t delete_empty_user_folders_lifespan_days = 7;
  bool display_notifications = true; // `lpm notify` may subscribe (agent/job_events.h)
  bool late_binding_enabled = true;
  std::string default_queue = "LPMServerless";
  std::string hybrid_print_queue_name;
  // Which created queue install.sh makes the OS's default printer (AMB-26); "" leaves the
  // default alone. Only DefaultQueue can be named: this client creates no cloud queue.
  std::string default_printer;
  // Publish the release service on the LAN with DNS-SD (discovery/advert.h), so release
  // stations find this workstation when the directory cannot tell them where it is.
  bool lan_discovery = true;
  // Release while the directory is unreachable (issue 8, protocol/printer_certificate.h): a
  // ticket a release station signed itself under its directory-issued certificate is accepted
  // only while the agent heard from the directory within this many hours. 0 (the default):
  // never; a site opts in with its package.
  uint32_t offline_release_window_hours = 0;
  CaptureCapabilities capture;
  std::vector<IdentityBind> identity_binding;

  // The site label records carry: SiteName, or when it is empty the accounting server's host
  // (AMB-25: the seed's guide has administrators type that server's name there).
  std::string effective_site_name() const;

  // The directory user bound to an OS account; nullopt when the account is not bound.
  std::optional<std::string> user_for_account(const std::string &account) const;
};

// Caps that keep a hostile or mistaken file from costing much.
inline constexpr size_t kMaxConfigBytes = 1 << 20;
inline constexpr uint32_t kMaxLifespanHours = 24 * 365;
inline constexpr uint32_t kMaxReportingIntervalMinutes = 7 * 24 * 60;
inline constexpr uint32_t kMaxOfflineReleaseWindowHours = 7 * 24;

// Command-line flags of lpm-agent that override what the file says (--data-dir, --ipp-port,
// --release-port, --directory, --accounting); unset ones leave the file's value.
struct AgentOverrides {
  std::optional<std::string> data_folder;
  std::optional<std::string> control_socket;
  std::optional<uint16_t> capture_port;
  std::optional<uint16_t> release_port;
  std::optional<std::vector<proto::Endpoint>> directory;  // replaces the addresses, keeps the pins
  std::optional<std::vector<proto::Endpoint>> accounting; // idem
};

// A CUPS queue name (DefaultQueue, HybridPrintQueueName): 1-127 printable ASCII characters
// without space, '/', '#', '\\' or quotes (what lpadmin accepts). "" when valid, else why not.
std::string queue_name_problem(const std::string &name);
// A label shown in reports and on screens (SiteName): at most 256 bytes of UTF-8 text without
// control characters or markup ('<', '>'). "" when valid, else why not.
std::string label_problem(const std::string &text);

// Reads and validates a configuration file. Errors (all bad_request unless the file cannot be
// read: io_error / not_found / too_large) name the offending element, e.g.
// "configuration.xml: <TrackDeletedJobs> must be \"true\" or \"false\", not \"yes\"".
// A document with a DOCTYPE is refused (no DTDs in XML, DESIGN §6). Unknown elements and
// attributes are logged as warnings and otherwise ignored.
Result<AgentConfig> load_agent_config(const std::string &path, const AgentOverrides &overrides = {});
// Parses configuration text (what load_agent_config does after reading the file); `source`
// names it in messages.
Result<AgentConfig> parse_agent_config(const std::string &xml_text, const std::string &source,
                                       const AgentOverrides &overrides = {});

// The XML text of a configuration (every element written out, defaults included).
std::string agent_config_to_xml(const AgentConfig &config);
// Writes the configuration atomically with mode 0600 (it names keys and bindings).
Status save_agent_config(const AgentConfig &config, const std::string &path);

} // namespace lpm::packaging
