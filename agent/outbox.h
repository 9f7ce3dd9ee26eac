// The accounting outbox (DESIGN §4): job records wait in state.db (table outbox) until the
// accounting server acknowledged them; rows are deleted only after that reply, so a record is
// never dropped (the server deduplicates on the record id, so a repeat is harmless).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "job_store.h"
#include "lpm/protocol/ops.h"
#include "lpm/sqlite.h"

namespace lpm::agent {

struct OutboxEntry {
  std::string id; // the record's id (UUIDv7, time-ordered)
  proto::JobRecord record;
};

// Facts every record of this agent carries.
struct RecordContext {
  std::string site;        // SiteName
  std::string workstation; // our workstation id
};

// A record of a job event ("printed" / "deleted") with a fresh id and the job's facts.
proto::JobRecord job_record_for(const Job &job, const RecordContext &context, const std::string &event,
                                const std::string &reason, int64_t event_ms);

class Outbox {
public:
  // Creates the table if needed.
  static Result<std::shared_ptr<Outbox>> open(std::shared_ptr<Db> db);

  // Called after a record was committed (the poster posts at once when ReportingInterval is 0).
  std::function<void()> on_queued;

  // Inserts inside the caller's transaction (the one that changed the job); the caller calls
  // notify_queued() after its commit.
  Status insert(const proto::JobRecord &record);
  // Inserts in a transaction of its own and notifies.
  Status queue(const proto::JobRecord &record);
  void notify_queued();

  // The oldest records, at most `max`.
  Result<std::vector<OutboxEntry>> next_batch(size_t max);
  // Deletes acknowledged records (one transaction).
  Status remove(const std::vector<std::string> &ids);
  Result<size_t> size();
  // When the oldest waiting record was queued (wall clock ms); 0 when none waits.
  Result<int64_t> oldest_ms();

private:
  explicit Outbox(std::shared_ptr<Db> db) : db_(std::move(db)) {}
  std::shared_ptr<Db> db_;
};

} // namespace lpm::agent
