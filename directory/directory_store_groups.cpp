// DirectoryStore: deleting account groups and their members (GR-3, GR-4), listing groups, and
// reading the audit log page by page.
#include "directory_store.h"
#include "directory_store_private.h"

namespace lpm::directory {

using store_detail::run_with;

Result<int64_t> DirectoryStore::group_delete(std::string_view group_id) {
  Status s = require_transaction("group_delete");
  if (!s.ok()) return s.error();
  // GR-3: memberships first (the foreign key would cascade, but the count is the answer), then
  // the group's role grants, which name it only in text, then the group. Users stay.
  s = run_with(*db_, "DELETE FROM group_members WHERE group_id = ?", group_id);
  if (!s.ok()) return s.error();
  int64_t memberships = db_->changes();
  s = run_with(*db_, "DELETE FROM role_grants WHERE scope = 'group' AND subject = ?", group_id);
  if (!s.ok()) return s.error();
  s = run_with(*db_, "DELETE FROM account_groups WHERE id = ?", group_id);
  if (!s.ok()) return s.error();
  if (db_->changes() == 0)
    return make_error(Errc::not_found, "no account group has the id " + std::string(group_id));
  return memberships;
}

Result<bool> DirectoryStore::group_member_remove(std::string_view group_id, std::string_view user_id) {
  Status s = require_transaction("group_member_remove");
  if (!s.ok()) return s.error();
  auto remove = db_->prepare("DELETE FROM group_members WHERE group_id = ? AND user_id = ?");
  if (!remove.ok()) return remove.error();
  s = remove->bind(1, group_id).bind(2, user_id).run();
  if (!s.ok()) return s.error();
  return db_->changes() > 0;
}

Result<std::vector<GroupSummary>> DirectoryStore::groups_list(std::string_view after_name, size_t limit) {
  // The name column collates NOCASE, so the order and the cursor compare alike.
  auto stmt = db_->prepare("SELECT g.id, g.name, g.created_ms, "
                           "(SELECT count(*) FROM group_members m WHERE m.group_id = g.id) "
                           "FROM account_groups g WHERE g.name > ? ORDER BY g.name LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, after_name).bind(2, static_cast<int64_t>(limit));
  std::vector<GroupSummary> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(
        GroupSummary{AccountGroup{stmt->col_text(0), stmt->col_text(1), stmt->col_int(2)}, stmt->col_int(3)});
  }
  return out;
}

Result<std::vector<AuditEntry>> DirectoryStore::audit_page(int64_t after_id, size_t limit) {
  auto stmt =
      db_->prepare("SELECT id, at_ms, actor, action, detail FROM audit WHERE id > ? ORDER BY id LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, after_id).bind(2, static_cast<int64_t>(limit));
  std::vector<AuditEntry> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(AuditEntry{stmt->col_int(0), stmt->col_int(1), stmt->col_text(2), stmt->col_text(3),
                             stmt->col_text(4)});
  }
  return out;
}

} // namespace lpm::directory
