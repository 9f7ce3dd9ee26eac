#include "station_store.h"

#include <cstdlib>

namespace lpm::printer {

Result<std::unique_ptr<StationStore>> StationStore::open(const std::string &data_dir) {
  auto db = Db::open(data_dir + "/state.db");
  if (!db.ok()) return db.error();
  Status s = (*db)->exec("CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  // Issue 5: the journal of outcomes (station_journal.h): one row per (job, claim), written and
  // committed before update-job-status is sent, deleted once the workstation answered.
  if (s.ok())
    s = (*db)->exec("CREATE TABLE IF NOT EXISTS journal (job TEXT NOT NULL, claim TEXT NOT NULL, "
                    "workstation BLOB NOT NULL, title TEXT NOT NULL, request BLOB NOT NULL, "
                    "recorded_ms INTEGER NOT NULL, PRIMARY KEY (job, claim))");
  // Issue 6 (AMB-17): the quota charges of printed jobs, written with their journal entry and
  // deleted once the directory answered settle-quota (station_journal.h).
  if (s.ok())
    s = (*db)->exec("CREATE TABLE IF NOT EXISTS settles (job TEXT NOT NULL, claim TEXT NOT NULL, "
                    "reservation TEXT NOT NULL, user_id TEXT NOT NULL, workstation_id TEXT NOT NULL, "
                    "request BLOB NOT NULL, recorded_ms INTEGER NOT NULL, PRIMARY KEY (job, claim))");
  if (!s.ok()) return s.error();
  return std::unique_ptr<StationStore>(new StationStore(std::move(*db)));
}

Status StationStore::put(const std::string &key, const std::string &value) {
  auto stmt = db_->prepare("INSERT INTO settings (key, value) VALUES (?1, ?2) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!stmt.ok()) return stmt.error();
  return stmt->bind(1, key).bind(2, value).run();
}

Status StationStore::save_enrollment(const Enrollment &e) {
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  for (const auto &[key, value] : {std::pair<std::string, std::string>{"printer_id", e.printer_id},
                                   {"name", e.name},
                                   {"directory", e.directory},
                                   {"directory_fingerprint", e.directory_fingerprint},
                                   {"enrolled_ms", std::to_string(e.enrolled_ms)}}) {
    Status s = put(key, value);
    if (!s.ok()) return s;
  }
  return tx.commit();
}

Result<std::optional<Enrollment>> StationStore::enrollment() {
  auto stmt = db_->prepare("SELECT key, value FROM settings");
  if (!stmt.ok()) return stmt.error();
  Enrollment e;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    std::string key = stmt->col_text(0);
    std::string value = stmt->col_text(1);
    if (key == "printer_id")
      e.printer_id = value;
    else if (key == "name")
      e.name = value;
    else if (key == "directory")
      e.directory = value;
    else if (key == "directory_fingerprint")
      e.directory_fingerprint = value;
    else if (key == "enrolled_ms")
      e.enrolled_ms = std::strtoll(value.c_str(), nullptr, 10);
  }
  if (e.printer_id.empty()) return std::optional<Enrollment>();
  return std::optional<Enrollment>(std::move(e));
}

} // namespace lpm::printer
