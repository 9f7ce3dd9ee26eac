#include "lpm/protocol/ops_offline.h"

#include <mbedtls/md.h>

#include "detail/field_limits.h"
#include "lpm/ids.h"

namespace lpm::proto {

namespace {
using detail::kShort;

constexpr size_t kStrip = 32;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

} // namespace

Result<std::string> badge_normalize(std::string_view badge, std::string_view strip_characters) {
  // Delimiters and white space may nest ("; 1234 ?"), so both are peeled until neither is left.
  auto strip = [&](char c) { return is_space(c) || strip_characters.find(c) != std::string_view::npos; };
  while (!badge.empty() && strip(badge.front()))
    badge.remove_prefix(1);
  while (!badge.empty() && strip(badge.back()))
    badge.remove_suffix(1);
  if (badge.empty()) return make_error(Errc::bad_request, "badge is empty");
  if (badge.size() > kMaxBadgeBytes)
    return make_error(Errc::bad_request, "badge is longer than " + std::to_string(kMaxBadgeBytes) + " bytes");
  for (char ch : badge) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f)
      return make_error(Errc::bad_request, "badge must not contain control characters");
  }
  return std::string(badge);
}

Bytes offline_badge_key(std::span<const uint8_t> secret, std::string_view normalized_badge) {
  std::string folded(normalized_badge);
  for (char &c : folded)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  Bytes out(kOfflineBadgeKeyBytes);
  // Cannot fail for SHA-256 with buffers of these sizes.
  (void)mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), secret.data(), secret.size(),
                        reinterpret_cast<const unsigned char *>(folded.data()), folded.size(), out.data());
  return out;
}

void PrinterCertificateRequest::write(MapWriter &w) const {
  w.bin("key", key);
}
void PrinterCertificateRequest::read(MapReader &r) {
  key = r.bin("key", kMaxPublicKeyDerBytes);
}

void PrinterCertificateResult::write(MapWriter &w) const {
  w.map("certificate", certificate.to_map())
      .i64("hours", hours)
      .str("strip", strip)
      .str("color_denied", color_denied);
}
void PrinterCertificateResult::read(MapReader &r) {
  MapReader c = r.map("certificate");
  certificate = SignedPrinterCertificate::from_map(c);
  hours = r.i64("hours");
  strip = r.str("strip", kStrip);
  color_denied = r.opt_str("color_denied", kColorDeniedMono, kShort);
  if (r.ok() && color_denied != kColorDeniedMono && color_denied != kColorDeniedRefuse)
    r.fail("result.color_denied must be mono or refuse");
  if (r.ok() && (hours < 1 || hours > kMaxOfflineHours))
    r.fail("result.hours must be 1 .. " + std::to_string(kMaxOfflineHours));
}

void OfflineBadgesRequest::write(MapWriter &w) const {
  w.bin("secret", secret);
  page.write(w);
}
void OfflineBadgesRequest::read(MapReader &r) {
  secret = r.bin("secret", kOfflineSecretBytes);
  page.read(r);
  if (r.ok() && secret.size() != kOfflineSecretBytes)
    r.fail("args.secret must be " + std::to_string(kOfflineSecretBytes) + " bytes");
}

void OfflineBadgesResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(items.size());
  for (const auto &b : items) {
    MapWriter m;
    std::vector<MapWriter> users;
    for (const auto &u : b.users)
      users.push_back(badge_user_map(u));
    m.bin("key", b.key)
        .i64("expires", b.expires_ms)
        .map_array("users", users)
        .str_array("workstations", b.workstations);
    rows.push_back(std::move(m));
  }
  w.map_array("items", rows);
  if (!next.empty()) w.str("next", next);
}
void OfflineBadgesResult::read(MapReader &r) {
  for (auto &m : r.map_array("items", kMaxOfflinePage)) {
    OfflineBadge b;
    b.key = m.bin("key", kOfflineBadgeKeyBytes);
    b.expires_ms = m.i64("expires");
    for (auto &u : m.map_array("users", kMaxTicketUsers))
      b.users.push_back(badge_user_read(u, r));
    b.workstations = m.str_array("workstations", kMaxTicketWorkstations, kShort);
    if (r.ok() && b.key.size() != kOfflineBadgeKeyBytes) r.fail("result.items.key must be 32 bytes");
    if (r.ok() && b.users.empty()) r.fail("result.items.users is empty");
    items.push_back(std::move(b));
  }
  next = r.opt_str("next", "", 256);
}

void OfflineWorkstationsRequest::write(MapWriter &w) const {
  page.write(w);
}
void OfflineWorkstationsRequest::read(MapReader &r) {
  page.read(r);
}

void OfflineWorkstationsResult::write(MapWriter &w) const {
  std::vector<MapWriter> rows;
  rows.reserve(items.size());
  for (const auto &x : items)
    rows.push_back(workstation_ref_map(x));
  w.map_array("items", rows);
  if (!next.empty()) w.str("next", next);
}
void OfflineWorkstationsResult::read(MapReader &r) {
  for (auto &m : r.map_array("items", kMaxOfflinePage))
    items.push_back(workstation_ref_read(m, r));
  next = r.opt_str("next", "", 256);
}

} // namespace lpm::proto
