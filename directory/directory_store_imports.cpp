// DirectoryStore: the password policy, and imports with their per-record logs.
#include <nlohmann/json.hpp>

#include "directory_store.h"
#include "directory_store_private.h"

namespace lpm::directory {

using store_detail::run_with;

namespace {

constexpr const char *kPasswordPolicySetting = "password.policy";
constexpr const char *kImportColumns =
    "SELECT id, kind, actor, file_name, options, records, next_record, applied, failed, warnings, state, "
    "started_ms, finished_ms FROM imports ";

ImportInfo import_from_row(const Stmt &stmt) {
  ImportInfo i;
  i.id = stmt.col_text(0);
  i.kind = stmt.col_text(1);
  i.actor = stmt.col_text(2);
  i.file_name = stmt.col_text(3);
  i.options = stmt.col_text(4);
  i.records = stmt.col_int(5);
  i.next_record = stmt.col_int(6);
  i.applied = stmt.col_int(7);
  i.failed = stmt.col_int(8);
  i.warnings = stmt.col_int(9);
  i.state = stmt.col_text(10);
  i.started_ms = stmt.col_int(11);
  i.finished_ms = stmt.col_int(12);
  return i;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Password policy

Result<PasswordPolicy> DirectoryStore::password_policy() {
  auto text = setting(kPasswordPolicySetting, "");
  if (!text.ok()) return text.error();
  PasswordPolicy policy;
  if (text->empty()) return policy;
  auto json = nlohmann::json::parse(*text, nullptr, false);
  auto field = [&](const char *name, uint32_t &out) {
    if (json.is_object() && json.contains(name) && json[name].is_number_unsigned())
      out = json[name].get<uint32_t>();
  };
  field("min_length", policy.min_length);
  field("complexity", policy.complexity);
  field("history", policy.history);
  // The row is written only by password_policy_set; a damaged one must not weaken the policy.
  if (!password_policy_validate(policy).ok()) return PasswordPolicy{};
  return policy;
}

Status DirectoryStore::password_policy_set(const PasswordPolicy &policy) {
  Status s = password_policy_validate(policy);
  if (!s.ok()) return s;
  nlohmann::json json = {
      {"min_length", policy.min_length}, {"complexity", policy.complexity}, {"history", policy.history}};
  return setting_set(kPasswordPolicySetting, json.dump());
}

// ---------------------------------------------------------------------------------------------
// Imports

Status DirectoryStore::import_insert(const ImportInfo &info, std::string_view content) {
  Status s = require_transaction("import_insert");
  if (!s.ok()) return s;
  auto stmt = db_->prepare("INSERT INTO imports(id, kind, actor, file_name, options, content, records, "
                           "next_record, state, started_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)");
  if (!stmt.ok()) return stmt.error();
  auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(content.data()), content.size());
  return stmt->bind(1, info.id)
      .bind(2, info.kind)
      .bind(3, info.actor)
      .bind(4, info.file_name)
      .bind(5, info.options)
      .bind_blob(6, bytes)
      .bind(7, info.records)
      .bind(8, info.next_record)
      .bind(9, info.started_ms)
      .run();
}

Result<ImportInfo> DirectoryStore::import_get(std::string_view id) {
  auto stmt = db_->prepare(std::string(kImportColumns) + "WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, id);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "no import has the id " + std::string(id));
  return import_from_row(*stmt);
}

Result<std::string> DirectoryStore::import_content(std::string_view id) {
  auto stmt = db_->prepare("SELECT content FROM imports WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, id);
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "no import has the id " + std::string(id));
  auto blob = stmt->col_blob(0);
  return std::string(blob.begin(), blob.end());
}

Status DirectoryStore::import_log_append(std::string_view id, const ImportLogRow &row, bool warned) {
  Status s = require_transaction("import_log_append");
  if (!s.ok()) return s;
  auto insert = db_->prepare(
      "INSERT INTO import_log(import_id, record, line, key, result, reason) VALUES (?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.error();
  s = insert->bind(1, id).bind(2, row.record).bind(3, row.line).bind(4, row.key).bind(5, row.result)
          .bind(6, row.reason)
          .run();
  if (!s.ok()) return s;
  bool failed = row.result == "failed";
  auto update = db_->prepare("UPDATE imports SET next_record = ?, applied = applied + ?, failed = failed + ?, "
                             "warnings = warnings + ? WHERE id = ? AND state = 'running'");
  if (!update.ok()) return update.error();
  s = update->bind(1, row.record + 1)
          .bind(2, failed ? 0 : 1)
          .bind(3, failed ? 1 : 0)
          .bind(4, warned ? 1 : 0)
          .bind(5, id)
          .run();
  if (!s.ok()) return s;
  if (db_->changes() == 0) return make_error(Errc::conflict, "import " + std::string(id) + " is not running");
  return {};
}

Status DirectoryStore::import_finish(std::string_view id, int64_t now_ms) {
  Status s = require_transaction("import_finish");
  if (!s.ok()) return s;
  // The file may hold passwords: it goes as soon as it is no longer needed (secure_delete
  // overwrites the freed pages).
  auto stmt = db_->prepare(
      "UPDATE imports SET state = 'done', finished_ms = ?, content = X'' WHERE id = ? AND state = 'running'");
  if (!stmt.ok()) return stmt.error();
  s = stmt->bind(1, now_ms).bind(2, id).run();
  if (!s.ok()) return s;
  if (db_->changes() == 0) return make_error(Errc::conflict, "import " + std::string(id) + " is not running");
  return {};
}

Result<std::vector<std::string>> DirectoryStore::imports_running() {
  auto stmt = db_->prepare("SELECT id FROM imports WHERE state = 'running' ORDER BY id");
  if (!stmt.ok()) return stmt.error();
  std::vector<std::string> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(stmt->col_text(0));
  }
  return out;
}

Result<std::vector<ImportLogRow>> DirectoryStore::import_log(std::string_view id, int64_t after_record,
                                                             size_t limit) {
  auto stmt = db_->prepare("SELECT record, line, key, result, reason FROM import_log "
                           "WHERE import_id = ? AND record > ? ORDER BY record LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, id).bind(2, after_record).bind(3, static_cast<int64_t>(limit));
  std::vector<ImportLogRow> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(
        ImportLogRow{stmt->col_int(0), stmt->col_int(1), stmt->col_text(2), stmt->col_text(3), stmt->col_text(4)});
  }
  return out;
}

} // namespace lpm::directory
