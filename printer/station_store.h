// The station's data folder: its TLS identity (identity.key 0600, identity.crt) and state.db,
// which remembers the enrollment (printer id, name, directory) and, in table journal, the
// outcomes sent to workstations not yet acknowledged (station_journal.h, issue 5).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "lpm/error.h"
#include "lpm/sqlite.h"

namespace lpm::printer {

struct Enrollment {
  std::string printer_id; // the directory's id for this station
  std::string name;       // shown to administrators, reported with each job
  std::string directory;  // HOST:PORT
  std::string directory_fingerprint;
  int64_t enrolled_ms = 0;
};

class StationStore {
public:
  // Opens (creating) DIR/state.db; DIR must exist.
  static Result<std::unique_ptr<StationStore>> open(const std::string &data_dir);

  Status save_enrollment(const Enrollment &enrollment);
  // nullopt before the first enrollment.
  Result<std::optional<Enrollment>> enrollment();
  // state.db itself (WAL, synchronous=FULL), for the journal (station_journal.h).
  Db &db() { return *db_; }

private:
  explicit StationStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  Status put(const std::string &key, const std::string &value);
  std::unique_ptr<Db> db_;
};

} // namespace lpm::printer
