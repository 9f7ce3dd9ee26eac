// The agent's durable, encrypted job store: one row per job in state.db (table jobs) and the
// document, encrypted, in DATA/spool/<user folder>/<job-id>.spool (mode 0600). The formats
// (spool file, wrapped job key, sealed title) are in spool_crypto.h; agent/README.md ("Job store")
// has the whole picture.
//
// Encryption (DESIGN §6): each job gets a fresh random AES-256 key; the document is encrypted in
// 64 KiB AES-256-GCM chunks as it arrives, the title is sealed with the same key, and the key is
// kept only wrapped by the storage key (DATA/storage.key) in the job's row, so deleting the row
// (secure_delete) destroys it. No title and no document byte is written in clear.
//
// Layout: DATA/spool/<user folder>/, one folder per owner, named by a keyed hash of the owner's
// directory user id (opaque without the storage key; see user_folder_name()). Table
// user_folders(name, user, emptied_ms) remembers each folder and since when it is empty, for
// DeleteEmptyUserFolders.
//
// Durability (DESIGN §7): a job's row is inserted in state "receiving" before its spool file
// is created; the document is written as it arrives; the file is fsynced (and its folder), and
// only then the row moves to "held" in a committed transaction. A job is visible (listed,
// registered, released) only after both. At open, receiving rows and their files, spool files
// and folders without a row, and rows whose file is gone are removed; jobs stored in clear by
// an older agent (spool/<id>.spool, no key) are encrypted in place.
//
// Disk space: a new job is refused with no_space when the disk is full or when accepting more
// would leave less than the free-space reserve (StoreOptions::reserve_bytes) for state.db and
// the outbox; nothing already stored is touched, and the refused job leaves nothing behind.
//
// Fault points (lpm/fault.h): "store.after_write" after each chunk is written,
// "store.after_fsync" after the file and its folder are fsynced (before the row commit),
// "store.after_commit" after the commit (before commit() returns).
//
// Every state change is checked by job_state_can_move() and applied with
// "UPDATE ... WHERE state = <expected>", so two paths can never both move the same job.
// All calls run on the daemon's loop thread; SQLite calls are synchronous.
//
// API changes for issue 3: open() takes StoreOptions (the data folder, not the spool folder);
// commit() takes CommitOptions (the old commit(sha256, size) remains as a shorthand); the
// writer computes the SHA-256 itself; open_document() reads a stored job back (decrypted,
// authenticated); spool_path() needs the owner; user_folders() / remove_empty_user_folders().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "document_reader.h"
#include "job_state.h"
#include "lpm/error.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops.h"
#include "lpm/sqlite.h"
#include "spool_crypto.h"

namespace lpm::agent {

inline constexpr int64_t kClaimLeaseMs = 60 * 1000;
inline constexpr uint64_t kMaxDocumentBytes = uint64_t{2} << 30; // 2 GiB

// How a commit changed the held counts: `more` when a job may have become held (stored, back
// from a lapsed claim; also when unsure), `fewer` when held jobs only went away (claimed,
// deleted).
enum class HeldChange { more, fewer };

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

// A claim as table claims remembers it (issue 5): kept until its job is deleted.
struct ClaimRecord {
  std::string claim;
  std::string job;
  std::string printer; // fingerprint of the station that acknowledged
  int64_t claimed_ms = 0;
  bool fetched = false; // its document was fetched (fetch-document)
  std::string outcome;  // its last reported outcome, "expired", or "" while it runs
  bool counted = false; // its accounting record was queued
};

// What a late report (report-outcome) did.
struct LateResult {
  Job job;              // the job after the report
  bool counted = false; // the report queued the job's record; false: already counted, or not
                        // countable (printed since under another claim; not completed)
};

// How the store is opened.
struct StoreOptions {
  // The agent's data folder: DATA/storage.key and DATA/spool/ live here (state.db is the Db).
  std::string data_folder;
  // Free space kept for state.db and the outbox: a job is refused (no_space) when storing it
  // would leave less (checked before each 64 KiB chunk is written). Unset: 1 % of the
  // filesystem, within kMinReserveBytes .. kMaxReserveBytes. 0: no reserve, only a really full
  // disk (ENOSPC) refuses.
  std::optional<uint64_t> reserve_bytes;
};

inline constexpr uint64_t kMinReserveBytes = uint64_t{64} << 20;
inline constexpr uint64_t kMaxReserveBytes = uint64_t{1} << 30;
inline constexpr unsigned kReservePercent = 1;

// What commit() checks and adds before the job becomes visible.
struct CommitOptions {
  // The digest and size the submitter announced or its stream verified; a mismatch refuses the
  // job (checksum_mismatch). Unset: whatever arrived is stored (the store's own digest is kept).
  std::optional<proto::Bytes> expected_sha256;
  std::optional<uint64_t> expected_size;
  // Counts pages once the spool file is complete and fsynced, reading the plaintext back through
  // the decrypting reader; -1 for unknown. Its result goes into the commit that shows the job.
  std::function<int64_t(DocumentReader &)> count_pages;
  // Runs inside the transaction that makes the job visible (the IPP printer records its job-id
  // there, so one durable commit covers both); an error refuses the job.
  std::function<Status(const std::string &job_id)> in_transaction;
};

// One per-user spool folder (DeleteEmptyUserFolders).
struct UserFolder {
  std::string name;       // folder name under DATA/spool
  std::string user;       // the owner's directory user id ("" when unknown)
  uint64_t jobs = 0;      // jobs stored in it (any state)
  bool empty = false;     // no job in it
  int64_t emptied_ms = 0; // wall-clock time it became empty; 0 while it holds jobs
};

class JobStore;

// A document being received: encrypted and written as it arrives, committed once complete.
// Destroying an uncommitted writer discards the job (row and file). After a failed commit the
// writer is closed and discards the job when destroyed.
class SpoolWriter {
public:
  ~SpoolWriter();
  SpoolWriter(const SpoolWriter &) = delete;
  SpoolWriter &operator=(const SpoolWriter &) = delete;

  const std::string &job_id() const { return job_id_; }
  uint64_t bytes_written() const { return written_bytes_; }
  // Encrypts and appends. too_large past kMaxDocumentBytes; no_space when the disk is full or
  // the free-space reserve would be eaten into.
  Status write(std::span<const uint8_t> data);
  // Seals the last chunk, checks the options' digest and size, fsyncs the file and its folder,
  // counts pages, then moves the row receiving -> held with size, SHA-256 (computed here, of
  // the plaintext) and pages. The job is visible once this returns ok.
  Result<Job> commit(const CommitOptions &options = {});
  // Shorthand: commit expecting this digest and size (the control socket's verified stream).
  Result<Job> commit(std::span<const uint8_t> sha256, uint64_t size_bytes);

private:
  friend class JobStore;
  SpoolWriter(std::shared_ptr<JobStore> store, std::string job_id, std::string folder, std::string path,
              int fd, const SecretKey &key, const SpoolHeader &header);
  Status write_record(std::span<const uint8_t> record);
  Result<Job> commit_checked(const CommitOptions &options);
  void discard();

  std::shared_ptr<JobStore> store_;
  std::string job_id_;
  std::string folder_;
  std::string path_;
  int fd_;
  SecretKey key_;
  SpoolSealer sealer_;
  proto::Sha256 sha_;
  uint64_t written_bytes_ = 0;
  bool committed_ = false;
};

class JobStore : public std::enable_shared_from_this<JobStore> {
public:
  // Creates the schema if needed, the spool folder (0700), loads or creates the storage key,
  // and removes what a crash left half-done (see the header comment). A missing storage key
  // while encrypted jobs exist is an error (not_found), never a silent loss: the message says
  // what to do.
  static Result<std::shared_ptr<JobStore>> open(std::shared_ptr<Db> db, const StoreOptions &options);

  // Called after a commit that may have changed how many jobs a user has held (the registrar
  // tells the directory), saying whether there may be more (or only fewer). Runs on the loop
  // thread, never from inside a transaction.
  std::function<void(HeldChange)> on_held_changed;
  // Called once per job after the commit that made it held (desktop notifications, issue 3).
  // Runs on the loop thread, outside any transaction; must not block.
  std::function<void(const Job &)> on_job_stored;

  // -- receiving (job_store_spool.cpp)
  // Inserts the receiving row, creates the user folder if needed and the spool file.
  // no_space when the disk is full or below the reserve.
  Result<std::unique_ptr<SpoolWriter>> begin_job(const NewJob &job);

  // -- reading
  Result<Job> get(const std::string &job_id);
  Result<JobPage> list(const JobFilter &filter);
  // Users with held jobs and how many.
  Result<std::vector<proto::Holding>> held_counts();
  // The plaintext of a visible job (job_store_reader.cpp): random access, each chunk
  // authenticated before any byte of it is returned. checksum_mismatch for a damaged,
  // tampered, truncated or extended spool file; not_found when the job or its file is gone.
  Result<std::unique_ptr<DocumentReader>> open_document(const Job &job);
  // Where a job's spool file is (tests, diagnostics).
  std::string spool_path(const std::string &user, const std::string &job_id) const;
  std::string spool_path(const Job &job) const { return spool_path(job.user, job.id); }
  std::string user_folder_path(const std::string &user) const;

  // -- user folders (job_store_folders.cpp)
  Result<std::vector<UserFolder>> user_folders();
  // Removes the folders that have been empty since before emptied_before_ms (their row and
  // directory). Returns how many went.
  Result<size_t> remove_empty_user_folders(int64_t emptied_before_ms);

  // -- claims (job_store_claims.cpp); now_ms is wall-clock time
  // held or printed (reprint) -> claimed. conflict when a live claim holds the job.
  // `purpose`: a release takes held jobs only (a job printed since the station listed it is
  // conflict "already printed", never printed again by mistake); a reprint takes printed ones too.
  enum class ClaimFor { release, reprint };
  Result<ClaimGrant> claim(const std::string &job_id, const std::string &printer, int64_t now_ms,
                           ClaimFor purpose = ClaimFor::reprint);
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
  // When the lease of the job's current claim `claim` ends, read without a write (nor a disk
  // flush); expired, as renew_claim, when the claim is no longer the job's current one.
  Result<int64_t> claim_lease_end(const std::string &job_id, const std::string &claim);
  // completed: printing -> printed; aborted/canceled: claimed|printing -> the state the claim
  // was taken from (held, or printed with its printed time for a reprint). Repeating the
  // last finished claim's outcome returns the job unchanged. `in_transaction` runs inside the
  // transaction that changes the state (the caller queues its accounting record there).
  Result<FinishResult> finish(const FinishReport &report, int64_t now_ms,
                              const std::function<Status(const Job &)> &in_transaction);
  // The claim history (table claims); not_found for a claim this store never granted or whose
  // job was deleted.
  Result<ClaimRecord> claim_record(const std::string &claim);
  // A late report (issue 5, report-outcome): the outcome of a claim from a station that died
  // after its device took the job, reported after its restart. not_found: unknown claim, or a
  // claim of another job; forbidden: the claim was acknowledged by another station.
  // completed (the claim must have fetched its document, else conflict), and the claim's record
  // not yet queued:
  //   the job still claimed/printing under this claim       -> printed, counted
  //   held (the claim lapsed; nobody printed it since)       -> printed, counted
  //   printed, this claim the last (a lapsed reprint)        -> stays printed, counted
  //   printed since under another claim                      -> unchanged, not counted
  //   claimed/printing under another claim                   -> unavailable (report again later)
  // aborted/canceled: ends the claim like finish() when it is still current; never counted.
  // `in_transaction` runs only when counted, inside the transaction that records it (the
  // caller queues the accounting record there). Repeating a report counts nothing again.
  Result<LateResult> report_late(const FinishReport &report, int64_t now_ms,
                                 const std::function<Status(const Job &)> &in_transaction);
  // Claims whose lease ended go back to where they were claimed from (held, or printed for a
  // reprint), except those of jobs in `streaming`: their document is still being sent (a slow
  // device under backpressure), and the stream renews the lease when it reads on. Returns how
  // many moved.
  Result<size_t> expire_claims(int64_t now_ms, const std::set<std::string> &streaming = {});

  // -- retention
  // Deletes held jobs submitted before held_before_ms and printed jobs printed before
  // printed_before_ms; `in_transaction` runs for each, inside its deleting transaction.
  // now_ms (the caller's clock; wall_ms() when unset) dates the deletion, and so when a folder
  // that lost its last job became empty.
  Result<std::vector<Job>> remove_expired(int64_t held_before_ms, int64_t printed_before_ms,
                                          const std::function<Status(const Job &)> &in_transaction,
                                          std::optional<int64_t> now_ms = std::nullopt);

  // Deletes one job in state held or printed (a user's or an administrator's choice);
  // `in_transaction` runs inside the deleting transaction (the caller queues its record there).
  // not_found for an unknown job, conflict while a station holds a claim on it.
  Result<Job> remove(const std::string &job_id, int64_t now_ms,
                     const std::function<Status(const Job &)> &in_transaction);

  Db &db() { return *db_; }

  // Internal (SpoolWriter and the .cpp files of the store).
  JobStore(std::shared_ptr<Db> db, StoreOptions options, SecretKey storage_key);
  // Moves job from `from` to `to` inside the caller's transaction: checks the lifecycle, then
  // updates only if the row is still in `from`. Extra column assignments go in `set_sql`
  // (", claim = ?5, ..."; ?1..?4 are taken, `bind` binds ?5 and later). A deletion also marks
  // the owner's folder empty when it was the last job.
  Status move_state(const std::string &job_id, JobState from, JobState to, int64_t now_ms,
                    const std::string &set_sql = {}, const std::function<void(Stmt &)> &bind = {});
  void discard_receiving(const std::string &job_id, const std::string &path);
  void notify_held_changed(HeldChange change);
  void notify_job_stored(const Job &job);
  const std::string &spool_dir() const { return spool_dir_; }
  // no_space unless `more` bytes still leave the reserve free on the spool's filesystem
  // (fd: any file on it, or -1 for the spool folder).
  Status check_space(int fd_or_minus1, uint64_t more, const std::string &job_id);
  // Folders that just lost their last job get emptied_ms = now_ms.
  Status mark_emptied_folders(int64_t now_ms);
  // A reader over a complete spool file whose key is known (commit's page count, open_document).
  static Result<std::unique_ptr<DocumentReader>> open_spool(const std::string &path,
                                                            const std::string &job_id,
                                                            const SecretKey &job_key, uint64_t size_bytes);

private:
  Result<std::unique_ptr<SpoolWriter>> begin_job_checked(const NewJob &job);
  Status load_settings();
  Status recover();
  Status encrypt_legacy_jobs();
  Status delete_job_locked(const Job &job, int64_t now_ms);
  Result<Job> read_row(const Stmt &st) const;
  Result<std::vector<Job>> collect(Stmt &st) const;
  const std::string &folder_of(const std::string &user) const;

  std::shared_ptr<Db> db_;
  StoreOptions options_;
  std::string spool_dir_;
  SecretKey storage_key_;
  mutable std::map<std::string, std::string> folder_names_; // user -> folder (a cache)
};

namespace store_detail {
// Writes all of data to fd; no_space (saying the disk is full) on ENOSPC or EDQUOT.
Status write_all(int fd, std::span<const uint8_t> data, const std::string &path);
// "the disk is full: ..." for a refused job.
Error disk_full(const std::string &detail);
// A no_space error from SQLite ("database or disk is full") reworded as disk_full(); other
// errors unchanged.
Error refusal(Error e);
// Creates a user folder (0700) if missing; a new one is fsynced into the spool folder.
Status make_user_folder(const std::string &spool_dir, const std::string &folder);
} // namespace store_detail

} // namespace lpm::agent
