#include "enrollment.h"

#include "lpm/sqlite.h"

namespace lpm::accounting {
namespace {

// One row at most: the CHECK keeps it that way.
constexpr const char *kSchema = R"sql(
CREATE TABLE IF NOT EXISTS enrollment (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  service_id TEXT NOT NULL,
  directory_address TEXT NOT NULL,
  directory_fingerprint TEXT NOT NULL,
  ticket_key BLOB NOT NULL,
  enrolled_ms INTEGER NOT NULL
);
)sql";

Result<std::unique_ptr<Db>> open_with_schema(const std::string &db_path) {
  auto db = Db::open(db_path);
  if (!db.ok()) return db.error();
  Status s = (*db)->exec(kSchema);
  if (!s.ok()) return s.error();
  return std::move(*db);
}

} // namespace

Status enrollment_save(const std::string &db_path, const Enrollment &enrollment) {
  auto db = open_with_schema(db_path);
  if (!db.ok()) return db.error();
  auto stmt =
      (*db)->prepare("INSERT OR REPLACE INTO enrollment (singleton, service_id, directory_address, "
                     "directory_fingerprint, ticket_key, enrolled_ms) VALUES (1, ?1, ?2, ?3, ?4, ?5)");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, enrollment.service_id).bind(2, enrollment.directory_address);
  stmt->bind(3, enrollment.directory_fingerprint)
      .bind_blob(4, enrollment.ticket_key)
      .bind(5, enrollment.enrolled_ms);
  return stmt->run();
}

Result<std::optional<Enrollment>> enrollment_load(const std::string &db_path) {
  auto db = open_with_schema(db_path);
  if (!db.ok()) return db.error();
  auto stmt =
      (*db)->prepare("SELECT service_id, directory_address, directory_fingerprint, ticket_key, enrolled_ms "
                     "FROM enrollment WHERE singleton = 1");
  if (!stmt.ok()) return stmt.error();
  auto row = stmt->step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<Enrollment>();
  Enrollment e;
  e.service_id = stmt->col_text(0);
  e.directory_address = stmt->col_text(1);
  e.directory_fingerprint = stmt->col_text(2);
  e.ticket_key = stmt->col_blob(3);
  e.enrolled_ms = stmt->col_int(4);
  stmt->reset();
  return std::optional<Enrollment>(std::move(e));
}

} // namespace lpm::accounting
