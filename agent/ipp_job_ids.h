// IPP job-ids for the agent's jobs. IPP wants positive 32-bit integers; the store names jobs by
// UUIDv7. Table ipp_jobs in state.db maps one to the other:
//
//   ipp_jobs(ipp_id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL UNIQUE)
//
// AUTOINCREMENT never reuses an id, so a client holding an old job-id cannot reach a newer job.
// A job gets its id when the IPP printer stores it, or the first time IPP lists it (jobs that
// came in through `lpm print` or the raw listener). A Create-Job reserves its id before the job
// exists, under a placeholder key bound to the job once its document is stored. Rows whose job
// is gone (and placeholders a crash left) are removed when the table is opened.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "lpm/error.h"
#include "lpm/sqlite.h"

namespace lpm::agent {

class IppJobIds {
public:
  // Creates the table if needed and removes rows whose job no longer exists.
  static Result<std::unique_ptr<IppJobIds>> open(Db &db);

  // The job's id, assigned now if it has none.
  Result<int32_t> id_for(const std::string &job_id);
  // A fresh id for a job that does not exist yet (Create-Job).
  Result<int32_t> reserve();
  // Gives a reserved id to the job stored for it.
  Status bind(int32_t ipp_id, const std::string &job_id);
  // The job of an id; nullopt for an unknown id, a reservation, or a forgotten job.
  Result<std::optional<std::string>> job_for(int32_t ipp_id);
  // Drops the row of an id (its job was deleted, or its reservation abandoned).
  Status forget(int32_t ipp_id);

private:
  explicit IppJobIds(Db &db) : db_(db) {}
  Result<int32_t> checked(int64_t rowid);
  Db &db_;
};

} // namespace lpm::agent
