// DirectoryStore: password links (UA-4, UA-7, UA-15), the secrets e-mailed to users so they can
// set their password. Only a link's SHA-256 is stored, so a copy of the database sets nobody's
// password.
#include <ctime>

#include "directory_store.h"
#include "directory_store_private.h"
#include "lpm/ids.h"

namespace lpm::directory {
namespace {

constexpr size_t kPasswordLinkBytes = kPasswordLinkChars / 2;
// Used, voided and expired links are kept this long past their expiry, so a late attempt is told
// what became of its link rather than that it never existed.
constexpr int64_t kPasswordLinkKeptMs = 30LL * 24 * 60 * 60 * 1000;

constexpr const char *kLinkColumns =
    "SELECT link_hash, user_id, created_ms, expires_ms, used_ms, voided_ms FROM password_links ";

bool is_link_text(std::string_view text) {
  if (text.size() != kPasswordLinkChars) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char &c : out)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

} // namespace

Result<NewPasswordLink> DirectoryStore::password_link_create(std::string_view user_id, int64_t now_ms,
                                                             int64_t lifetime_ms) {
  Status s = require_transaction("password_link_create");
  if (!s.ok()) return s.error();
  auto user = user_by_id(user_id);
  if (!user.ok()) return user.error();
  auto forget = db_->prepare("DELETE FROM password_links WHERE expires_ms < ?");
  if (!forget.ok()) return forget.error();
  s = forget->bind(1, now_ms - kPasswordLinkKeptMs).run();
  if (!s.ok()) return s.error();
  auto voiding = db_->prepare("UPDATE password_links SET voided_ms = ? WHERE user_id = ? AND used_ms = 0 AND "
                              "voided_ms = 0 AND expires_ms > ?");
  if (!voiding.ok()) return voiding.error();
  s = voiding->bind(1, now_ms).bind(2, user_id).bind(3, now_ms).run();
  if (!s.ok()) return s.error();
  NewPasswordLink out;
  out.voided = db_->changes();
  uint8_t raw[kPasswordLinkBytes];
  random_bytes(raw, sizeof raw);
  out.text = to_hex(raw);
  ::explicit_bzero(raw, sizeof raw);
  std::string hash = token_hash(out.text);
  out.link.id = hash.substr(0, 16);
  out.link.user_id = std::string(user_id);
  out.link.created_ms = now_ms;
  out.link.expires_ms = now_ms + lifetime_ms;
  auto insert = db_->prepare(
      "INSERT INTO password_links(link_hash, user_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)");
  if (!insert.ok()) return insert.error();
  s = insert->bind(1, hash).bind(2, user_id).bind(3, now_ms).bind(4, out.link.expires_ms).run();
  if (!s.ok()) return s.error();
  return out;
}

Result<PasswordLink> DirectoryStore::password_link_find(std::string_view text, int64_t now_ms) {
  if (!is_link_text(text))
    return make_error(Errc::bad_request, "a password link is " + std::to_string(kPasswordLinkChars) +
                                             " hexadecimal digits (0-9, a-f): copy it whole from the e-mail");
  auto stmt = db_->prepare(std::string(kLinkColumns) + "WHERE link_hash = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, token_hash(lower(text)));
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row)
    return make_error(Errc::not_found,
                      "unknown password link: the directory never issued it or has forgotten "
                      "it; ask an administrator for a new one");
  PasswordLink link;
  link.id = stmt->col_text(0).substr(0, 16);
  link.user_id = stmt->col_text(1);
  link.created_ms = stmt->col_int(2);
  link.expires_ms = stmt->col_int(3);
  int64_t used_ms = stmt->col_int(4);
  int64_t voided_ms = stmt->col_int(5);
  if (used_ms != 0)
    return make_error(Errc::not_found,
                      "this password link was already used (at " + utc_minute_text(used_ms) +
                          "); a link sets a password once: ask an administrator for a new one");
  if (voided_ms != 0)
    return make_error(Errc::not_found, "this password link was replaced by a newer one (at " +
                                           utc_minute_text(voided_ms) +
                                           "): use the newest link you were sent");
  if (link.expires_ms <= now_ms)
    return make_error(Errc::not_found, "this password link expired at " + utc_minute_text(link.expires_ms) +
                                           ": ask an administrator for a new one");
  return link;
}

Result<PasswordLink> DirectoryStore::password_link_consume(std::string_view text, int64_t now_ms) {
  Status s = require_transaction("password_link_consume");
  if (!s.ok()) return s.error();
  auto link = password_link_find(text, now_ms);
  if (!link.ok()) return link.error();
  auto update = db_->prepare("UPDATE password_links SET used_ms = ? WHERE link_hash = ? AND used_ms = 0");
  if (!update.ok()) return update.error();
  s = update->bind(1, now_ms).bind(2, token_hash(lower(text))).run();
  if (!s.ok()) return s.error();
  if (db_->changes() != 1) return make_error(Errc::internal, "the password link could not be marked used");
  return link;
}

} // namespace lpm::directory
