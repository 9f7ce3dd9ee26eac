// The agent's durable job store: one row per job in state.db (table jobs) and the document in
// DATA/spool/<job-id>.spool (mode 0600).
//
// Durability (DESIGN §7): a job's row is inserted in state "receiving" before its spool file
// is created; the document is written as it arrives; the file is fsynced (and its folder), and
// only then the row moves to "held" in a committed transaction. A job is visible (listed,
// registered, released) only after both. At open, receiving rows and their files, spool files
// without a row, and rows whose file is gone are removed.
//
// Every state change is checked by job_state_can_move() and applied with
// "UPDATE ... WHERE state = <expected>", so two paths can never both move the same job.
// All calls run on the daemon's loop thread; SQLite calls are synchronous.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "job_state.h"
#include "lpm/error.h"
#include "lpm/protocol/ops.h"
#include "lpm/sqlite.h"

namespace lpm::agent {

inline constexpr int64_t kClaimLeaseMs = 60 * 1000;
inline constexpr uint64_t kMaxDocumentBytes = uint64_t{2} << 30; // 2 GiB

struct Job {
  std::string id;         // UUIDv7
  std::string user;       // directory user UUID (the owner)
  std::string os_account; // the OS account that submitted it
  std::string title;
  std::string format; // MIME type
  uint64_t size_bytes = 0;
  proto::Bytes sha256; // 32 bytes once held
  uint64_t copies = 1;
  std::string sides = "one-sided";
  std::string color = "color";
  int64_t pages = -1;
  int64_t submitted_ms = 0;
  JobState state = JobState::receiving;
  int64_t state_ms = 0;      // when the job entered its current state
  std::string claim;         // current claim id ("" when none)
  std::string claim_printer; // fingerprint of the station holding the claim
  int64_t claim_expires_ms = 0;
  // Where the current claim was taken from (held, or printed for a reprint) and when the job had
  // entered that state: an abandoned claim returns there, a reprint keeping its printed time.
  JobState claim_from = JobState::held;
  int64_t claim_from_ms = 0;
  std::string last_claim;   // the claim that last finished (idempotent update-job-status)
  std::string last_outcome; // its outcome ("completed", "aborted", "canceled")

  proto::JobInfo info() const;
};

// What the submitter tells about a new job.
struct NewJob {
  std::string user;
  std::string os_account;
  std::string title;
  std::string format = "application/octet-stream";
  uint64_t copies = 1;
  std::string sides = "one-sided";
  std::string color = "color";
};

struct JobFilter {
  std::vector<std::string> users; // owners to include (required, non-empty)
  std::vector<JobState> states;   // states to include
  std::string after;              // paging cursor: list ids greater than this
  size_t limit = proto::kMaxPage;
};

struct JobPage {
  std::vector<Job> jobs;
  std::string next; // cursor for the next page; "" when this was the last
};

struct ClaimGrant {
  std::string claim;
  int64_t expires_ms = 0;
};

// What a station reports at the end of a release.
struct FinishReport {
  std::string job;
  std::string claim;
  std::string printer; // the reporting station's key fingerprint
  proto::JobOutcome outcome = proto::JobOutcome::completed;
};

struct FinishResult {
  Job job;              // the job after the update
  bool changed = false; // false when this repeated an update already applied
};

class JobStore;

// A document being received: written as it arrives, committed once complete.
// Destroying an uncommitted writer discards the job (row and file).
class SpoolWriter {
public:
  ~SpoolWriter();
  SpoolWriter(const SpoolWriter &) = delete;
  SpoolWriter &operator=(const SpoolWriter &) = delete;

  const std::string &job_id() const { return job_id_; }
  // Appends to the spool file. too_large past kMaxDocumentBytes, no_space when the disk is full.
  Status write(std::span<const uint8_t> data);
  // fsyncs the file and its folder, then moves the row receiving -> held with the size and
  // digest the stream layer verified. The job is visible once this returns ok.
  Result<Job> commit(std::span<const uint8_t> sha256, uint64_t size_bytes);

private:
  friend class JobStore;
  SpoolWriter(std::shared_ptr<JobStore> store, std::string job_id, std::string path, int fd)
      : store_(std::move(store)), job_id_(std::move(job_id)), path_(std::move(path)), fd_(fd) {}
  void discard();

  std::shared_ptr<JobStore> store_;
  std::string job_id_;
  std::string path_;
  int fd_;
  uint64_t written_bytes_ = 0;
  bool committed_ = false;
};

class JobStore : public std::enable_shared_from_this<JobStore> {
public:
  // Creates the schema if needed, the spool folder (0700), and removes what a crash left
  // half-done (see the header comment).
  static Result<std::shared_ptr<JobStore>> open(std::shared_ptr<Db> db, const std::string &spool_dir);

  // Called after a commit that may have changed how many jobs a user has held (the registrar
  // tells the directory). Runs on the loop thread, never from inside a transaction.
  std::function<void()> on_held_changed;

  // -- receiving (job_store_spool.cpp)
  // Inserts the receiving row and creates the spool file.
  Result<std::unique_ptr<SpoolWriter>> begin_job(const NewJob &job);

  // -- reading
  Result<Job> get(const std::string &job_id);
  Result<JobPage> list(const JobFilter &filter);
  // Users with held jobs and how many.
  Result<std::vector<proto::Holding>> held_counts();
  std::string spool_path(const std::string &job_id) const;

  // -- claims (job_store_claims.cpp); now_ms is wall-clock time
  // held or printed (reprint) -> claimed. conflict when a live claim holds the job.
  Result<ClaimGrant> claim(const std::string &job_id, const std::string &printer, int64_t now_ms);
  // claimed -> printing (a fetch); a repeated fetch on a printing job keeps its state. Renews
  // the lease. conflict for a claim that is not current, expired when its lease ended,
  // forbidden when another station presents it.
  Result<Job> start_printing(const std::string &job_id, const std::string &claim, const std::string &printer,
                             int64_t now_ms);
  // Extends the lease of the job's current claim (long document streams). A claim whose lease
  // ran out is renewed too as long as nothing ended it: the sweep skips jobs being streamed, so
  // a stream stalled by backpressure past the lease still holds its claim. expired when the
  // claim is no longer the job's current one.
  Status renew_claim(const std::string &job_id, const std::string &claim, int64_t now_ms);
  // completed: printing -> printed; aborted/canceled: claimed|printing -> the state the claim
  // was taken from (held, or printed with its printed time for a reprint). Repeating the
  // last finished claim's outcome returns the job unchanged. `in_transaction` runs inside the
  // transaction that changes the state (the caller queues its accounting record there).
  Result<FinishResult> finish(const FinishReport &report, int64_t now_ms,
                              const std::function<Status(const Job &)> &in_transaction);
  // Claims whose lease ended go back to where they were claimed from (held, or printed for a
  // reprint), except those of jobs in `streaming`: their document is still being sent (a slow
  // device under backpressure), and the stream renews the lease when it reads on. Returns how
  // many moved.
  Result<size_t> expire_claims(int64_t now_ms, const std::set<std::string> &streaming = {});

  // -- retention
  // Deletes held jobs submitted before held_before_ms and printed jobs printed before
  // printed_before_ms; `in_transaction` runs for each, inside its deleting transaction.
  Result<std::vector<Job>> remove_expired(int64_t held_before_ms, int64_t printed_before_ms,
                                          const std::function<Status(const Job &)> &in_transaction);

  // Deletes one job in state held or printed (a user's or an administrator's choice);
  // `in_transaction` runs inside the deleting transaction (the caller queues its record there).
  // not_found for an unknown job, conflict while a station holds a claim on it.
  Result<Job> remove(const std::string &job_id, int64_t now_ms,
                     const std::function<Status(const Job &)> &in_transaction);

  Db &db() { return *db_; }

  // Internal (SpoolWriter and the .cpp files of the store).
  JobStore(std::shared_ptr<Db> db, std::string spool_dir)
      : db_(std::move(db)), spool_dir_(std::move(spool_dir)) {}
  // Moves job from `from` to `to` inside the caller's transaction: checks the lifecycle, then
  // updates only if the row is still in `from`. Extra column assignments go in `set_sql`
  // (", claim = ?5, ..."; ?1..?4 are taken, `bind` binds ?5 and later).
  Status move_state(const std::string &job_id, JobState from, JobState to, int64_t now_ms,
                    const std::string &set_sql = {}, const std::function<void(Stmt &)> &bind = {});
  void discard_receiving(const std::string &job_id, const std::string &path);
  void notify_held_changed();
  const std::string &spool_dir() const { return spool_dir_; }

private:
  Status recover();
  Status delete_job_locked(const Job &job, int64_t now_ms);

  std::shared_ptr<Db> db_;
  std::string spool_dir_;
};

} // namespace lpm::agent
