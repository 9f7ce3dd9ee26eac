// Writes audit rows on a thread of its own, in batches (group commit), for the hot path of the
// directory: release tickets (DESIGN §4, badge in).
//
// Every ticket is audited before its answer leaves, and the row must be on disk by then. On the
// loop thread that sync (fdatasync of the WAL, 0.2 ms idle and several ms under load on the
// machines we measured) would stall every connection; here one thread with its own SQLite
// connection commits whatever has queued meanwhile in one transaction, so a burst of tickets
// costs one sync, and the loop keeps answering while the disk works. WAL readers are never
// blocked by it; other writers of the database wait for its short commits (busy timeout).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lpm/error.h"

namespace lpm::directory {

struct AuditRow {
  int64_t at_ms = 0;
  std::string actor, action, detail;
};
// A badge-in's hold on a user's quota (AMB-17), committed with the ticket's audit row.
struct QuotaHoldRow {
  std::string reservation, user_id, printer_id;
  int64_t impressions = 0;
  int64_t expires_ms = 0;
};

class AuditWriter {
public:
  // Opens its own connection to the directory database at `db_path` (on its thread, at start).
  static Result<std::unique_ptr<AuditWriter>> start(uv_loop_t *loop, std::string db_path);
  // Commits what is queued, then stops; every `done` has run when this returns.
  ~AuditWriter();
  AuditWriter(const AuditWriter &) = delete;
  AuditWriter &operator=(const AuditWriter &) = delete;

  // Queues rows (and quota holds); `done` runs on the loop thread once they are committed (ok) or
  // not (the error; then none of the rows of that commit was written).
  void write(std::vector<AuditRow> rows, std::vector<QuotaHoldRow> holds, std::function<void(Status)> done);

  struct State;

private:
  AuditWriter() = default;
  std::shared_ptr<State> state_;
};

} // namespace lpm::directory
