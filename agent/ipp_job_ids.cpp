// Table ipp_jobs: IPP job-ids for the job store's UUIDs.
#include "ipp_job_ids.h"

#include "lpm/ids.h"

namespace lpm::agent {

namespace {

constexpr const char *kReservedPrefix = "reserved:";

} // namespace

Result<std::unique_ptr<IppJobIds>> IppJobIds::open(Db &db) {
  Status s =
      db.exec("CREATE TABLE IF NOT EXISTS ipp_jobs("
              " ipp_id INTEGER PRIMARY KEY AUTOINCREMENT,"
              " job TEXT NOT NULL UNIQUE);"
              "DELETE FROM ipp_jobs WHERE job NOT IN (SELECT id FROM jobs WHERE state <> 'receiving');");
  if (!s.ok()) return make_error(s.error().code, "ipp_jobs: " + s.error().message);
  return std::unique_ptr<IppJobIds>(new IppJobIds(db));
}

Result<int32_t> IppJobIds::checked(int64_t rowid) {
  // AUTOINCREMENT counts up to 2^63; IPP stops at 2^31 - 1. Two billion jobs on one
  // workstation is far away, but past it the printer must refuse rather than wrap.
  if (rowid < 1 || rowid > INT32_MAX)
    return make_error(Errc::internal, "the IPP job-id space (1..2147483647) of this agent is exhausted");
  return static_cast<int32_t>(rowid);
}

Result<int32_t> IppJobIds::id_for(const std::string &job_id) {
  auto find = db_.prepare("SELECT ipp_id FROM ipp_jobs WHERE job = ?1");
  if (!find.ok()) return find.error();
  find->bind(1, job_id);
  auto row = find->step();
  if (!row.ok()) return row.error();
  if (*row) return checked(find->col_int(0));
  auto insert = db_.prepare("INSERT INTO ipp_jobs(job) VALUES(?1) RETURNING ipp_id");
  if (!insert.ok()) return insert.error();
  insert->bind(1, job_id);
  auto inserted = insert->step();
  if (!inserted.ok()) return inserted.error();
  if (!*inserted) return make_error(Errc::internal, "ipp_jobs: INSERT returned no id");
  int64_t rowid = insert->col_int(0);
  auto done = insert->step(); // runs the statement to its end, which commits it
  if (!done.ok()) return done.error();
  return checked(rowid);
}

Result<int32_t> IppJobIds::reserve() {
  return id_for(kReservedPrefix + uuid_v7());
}

Status IppJobIds::bind(int32_t ipp_id, const std::string &job_id) {
  auto st = db_.prepare("UPDATE ipp_jobs SET job = ?2 WHERE ipp_id = ?1");
  if (!st.ok()) return st.error();
  return st->bind(1, int64_t{ipp_id}).bind(2, job_id).run();
}

Result<std::optional<std::string>> IppJobIds::job_for(int32_t ipp_id) {
  auto st = db_.prepare("SELECT job FROM ipp_jobs WHERE ipp_id = ?1");
  if (!st.ok()) return st.error();
  st->bind(1, int64_t{ipp_id});
  auto row = st->step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<std::string>();
  std::string job = st->col_text(0);
  if (job.rfind(kReservedPrefix, 0) == 0) return std::optional<std::string>();
  return std::optional<std::string>(job);
}

Status IppJobIds::forget(int32_t ipp_id) {
  auto st = db_.prepare("DELETE FROM ipp_jobs WHERE ipp_id = ?1");
  if (!st.ok()) return st.error();
  return st->bind(1, int64_t{ipp_id}).run();
}

} // namespace lpm::agent
