// What a release station keeps to release while the directory is unreachable (issue 8,
// docs/protocol.md §5.1.3), and the printer ops that give it, while the directory is reachable:
//
//   printer-certificate {key}              -> {certificate, hours, strip, color_denied}
//   offline-badges {secret, page}          -> {items: [OfflineBadge], next}
//   offline-workstations {page}            -> {items: [WorkstationRef], next}
//
// All three come from an enrolled printer (TLS key) and are refused (forbidden) unless the
// enterprise's badge policy allows release without the directory (`lpm badges policy set
// --offline-hours N`), and while it asks for a PIN after the badge (a PIN cannot be checked
// without the directory). Badges never leave the directory as they are: each is sent as
// HMAC-SHA256 under a secret the station chose (offline_badge_key), so the station's table
// tells a badge's holder only to whoever reads a badge and holds that secret.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/msg.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/printer_certificate.h"

namespace lpm::proto {

namespace op {
inline constexpr const char *printer_certificate = "printer-certificate";   // printer
inline constexpr const char *offline_badges = "offline-badges";             // printer
inline constexpr const char *offline_workstations = "offline-workstations"; // printer
} // namespace op

inline constexpr size_t kMaxBadgeBytes = 128;
inline constexpr size_t kOfflineSecretBytes = 32;
inline constexpr size_t kOfflineBadgeKeyBytes = 32;
inline constexpr size_t kMaxOfflinePage = 500;
// Hours a printer certificate may be asked to last (the policy's --offline-hours).
inline constexpr int64_t kMaxOfflineHours = 24;

// A badge as the reader delivered it, after the enterprise's rules (AMB-15): white space and the
// strip characters removed from both ends. bad_request when nothing is left, over
// kMaxBadgeBytes, or holding a control character.
Result<std::string> badge_normalize(std::string_view badge, std::string_view strip_characters);
// HMAC-SHA256(secret, the normalised badge with ASCII letters lower-cased): badges compare
// case-insensitively, as the directory stores them.
Bytes offline_badge_key(std::span<const uint8_t> secret, std::string_view normalized_badge);

// The station's public key (DER); its fingerprint must be the one of its TLS connection.
struct PrinterCertificateRequest {
  Bytes key;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct PrinterCertificateResult {
  SignedPrinterCertificate certificate;
  int64_t hours = 0;                           // the policy's lifetime of a certificate
  std::string strip;                           // the enterprise's badge strip characters (AMB-15)
  std::string color_denied = kColorDeniedMono; // the print policy's rule for colour (AMB-17)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// The page cursor is opaque (never a badge).
struct OfflineBadgesRequest {
  Bytes secret; // kOfflineSecretBytes, the station's
  PageRequest page;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct OfflineBadge {
  Bytes key;              // offline_badge_key(secret, badge)
  int64_t expires_ms = 0; // temporary badges; 0: permanent
  // The badge's user first, then those who delegated to them (PM-7), as a ticket names them.
  std::vector<BadgeUser> users;
  // Workstations holding jobs for any of them when the table was made (ids).
  std::vector<std::string> workstations;
};
struct OfflineBadgesResult {
  std::vector<OfflineBadge> items;
  std::string next; // "" at the end
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct OfflineWorkstationsRequest {
  PageRequest page;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct OfflineWorkstationsResult {
  std::vector<WorkstationRef> items; // every enrolled, unrevoked workstation: key, port, last addresses
  std::string next;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

} // namespace lpm::proto
