// The job store: schema, the storage key, reads (titles decrypted), and the one checked state
// move. Start-up recovery and user folders are in job_store_folders.cpp.
#include "job_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "sqlite_rows.h"

namespace lpm::agent {

namespace {

constexpr const char *kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs(
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  os_account TEXT NOT NULL,
  title TEXT NOT NULL,
  format TEXT NOT NULL,
  size_bytes INTEGER NOT NULL DEFAULT 0,
  sha256 BLOB,
  copies INTEGER NOT NULL,
  sides TEXT NOT NULL,
  color TEXT NOT NULL,
  pages INTEGER NOT NULL DEFAULT -1,
  submitted_ms INTEGER NOT NULL,
  state TEXT NOT NULL,
  state_ms INTEGER NOT NULL,
  claim TEXT NOT NULL DEFAULT '',
  claim_printer TEXT NOT NULL DEFAULT '',
  claim_expires_ms INTEGER NOT NULL DEFAULT 0,
  claim_from TEXT NOT NULL DEFAULT '',
  claim_from_ms INTEGER NOT NULL DEFAULT 0,
  last_claim TEXT NOT NULL DEFAULT '',
  last_outcome TEXT NOT NULL DEFAULT '',
  spool_key BLOB,
  title_sealed BLOB
);
CREATE INDEX IF NOT EXISTS jobs_by_user_state ON jobs(user, state);
-- The 5 s claim sweep, retention, held counts and start-up select by state: without this they
-- scan every row (with 10,000 held jobs, start-up and each sweep read the whole table).
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, state_ms);
CREATE TABLE IF NOT EXISTS user_folders(
  name TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  emptied_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS store_settings(
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
-- Issue 5: every claim granted, kept until its job is deleted, so a station reporting late
-- (report-outcome) is recognised by the key that acknowledged: fetched once its document was
-- fetched, outcome its last reported outcome (or "expired"), counted once its accounting
-- record was queued (a job is never counted twice for one claim).
CREATE TABLE IF NOT EXISTS claims(
  claim TEXT PRIMARY KEY,
  job TEXT NOT NULL,
  printer TEXT NOT NULL,
  claimed_ms INTEGER NOT NULL,
  fetched INTEGER NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL DEFAULT '',
  counted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS claims_by_job ON claims(job);
)sql";

// Columns added after the first schema, for a state.db created before them. state.db is shared
// by several tables with no common version number, so the jobs table is checked column by column.
struct AddedColumn {
  const char *name;
  const char *definition;
};
constexpr AddedColumn kAddedColumns[] = {
    {"claim_from", "claim_from TEXT NOT NULL DEFAULT ''"},
    {"claim_from_ms", "claim_from_ms INTEGER NOT NULL DEFAULT 0"},
    // Issue 3: the wrapped job key and the sealed title (NULL: a job stored in clear by an
    // older agent, encrypted at the next open).
    {"spool_key", "spool_key BLOB"},
    {"title_sealed", "title_sealed BLOB"},
};

constexpr const char *kJobColumns =
    "id, user, os_account, title, format, size_bytes, sha256, copies, sides, color, pages, submitted_ms, "
    "state, "
    "state_ms, claim, claim_printer, claim_expires_ms, last_claim, last_outcome, claim_from, claim_from_ms, "
    "spool_key, title_sealed";

constexpr const char *kStorageKeyFile = "storage.key";
constexpr const char *kKeyCheckSetting = "storage_key_check";

// The columns of kJobColumns except the title, which needs the keys (JobStore::read_row).
Result<Job> read_job(const Stmt &st) {
  Job j;
  j.id = st.col_text(0);
  j.user = st.col_text(1);
  j.os_account = st.col_text(2);
  j.title = st.col_text(3);
  j.format = st.col_text(4);
  j.size_bytes = static_cast<uint64_t>(st.col_int(5));
  j.sha256 = st.col_blob(6);
  j.copies = static_cast<uint64_t>(st.col_int(7));
  j.sides = st.col_text(8);
  j.color = st.col_text(9);
  j.pages = st.col_int(10);
  j.submitted_ms = st.col_int(11);
  auto state = job_state_parse(st.col_text(12));
  if (!state) return make_error(Errc::internal, "job " + j.id + " has an unknown state in state.db");
  j.state = *state;
  j.state_ms = st.col_int(13);
  j.claim = st.col_text(14);
  j.claim_printer = st.col_text(15);
  j.claim_expires_ms = st.col_int(16);
  j.last_claim = st.col_text(17);
  j.last_outcome = st.col_text(18);
  // '' (a claim made before the column existed) returns to held, as it did then.
  j.claim_from = st.col_text(19) == job_state_name(JobState::printed) ? JobState::printed : JobState::held;
  j.claim_from_ms = st.col_int(20);
  return j;
}

// Adds the columns of kAddedColumns that an older jobs table lacks.
Status add_missing_columns(Db &db) {
  auto info = db.prepare("PRAGMA table_info(jobs)");
  if (!info.ok()) return info.error();
  std::set<std::string> present;
  Status s = for_each_row(*info, [&]() -> Status {
    present.insert(info->col_text(1));
    return {};
  });
  if (!s.ok()) return s;
  for (const AddedColumn &c : kAddedColumns) {
    if (present.count(c.name)) continue;
    s = db.exec(std::string("ALTER TABLE jobs ADD COLUMN ") + c.definition);
    if (!s.ok()) return s;
  }
  return {};
}

// DATA/storage.key: loaded, or created once (no job may be encrypted yet). See job_store.h.
Result<SecretKey> load_storage_key(Db &db, const std::string &data_folder) {
  std::string path = data_folder + "/" + kStorageKeyFile;
  if (file_exists(path)) {
    auto bytes = read_file(path, 4096);
    if (!bytes.ok()) return bytes.error();
    SecretKey key;
    bool sized = SecretKey::from(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(bytes->data()), bytes->size()), key);
    size_t got = bytes->size();
    std::fill(bytes->begin(), bytes->end(), '\0');
    if (!sized)
      return make_error(Errc::io_error, path + " holds " + std::to_string(got) + " bytes, a storage key is " +
                                            std::to_string(kKeyBytes) + ": the file is damaged");
    return key;
  }
  auto count = db.prepare("SELECT COUNT(*) FROM jobs WHERE spool_key IS NOT NULL");
  if (!count.ok()) return count.error();
  auto row = count->step();
  if (!row.ok()) return row.error();
  int64_t encrypted = count->col_int(0);
  if (encrypted > 0)
    return make_error(Errc::not_found,
                      path + " is missing, and state.db holds " + std::to_string(encrypted) +
                          " job(s) whose keys it wraps: without it they cannot be decrypted. Restore "
                          "storage.key from a backup of this data folder; to start empty instead, move "
                          "state.db* and spool/ out of the data folder");
  // Created beside, then linked into place: the key appears whole or not at all, and an
  // existing key is never overwritten.
  std::string tmp = path + ".new";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::io_error, "create " + tmp + ": " + errno_text());
  ::fchmod(fd, 0600);
  SecretKey key = SecretKey::random();
  Status s = store_detail::write_all(fd, key.bytes(), tmp);
  if (s.ok() && ::fsync(fd) != 0) s = make_error(Errc::io_error, "fsync " + tmp + ": " + errno_text());
  ::close(fd);
  if (s.ok() && ::link(tmp.c_str(), path.c_str()) != 0)
    s = make_error(Errc::io_error, "link " + path + ": " + errno_text());
  ::unlink(tmp.c_str());
  if (s.ok()) s = fsync_dir(data_folder);
  if (!s.ok()) return s.error();
  LPM_INFO("created the storage key %s", path.c_str());
  return key;
}

} // namespace

namespace store_detail {

Status write_all(int fd, std::span<const uint8_t> data, const std::string &path) {
  const uint8_t *p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      // A full disk refuses the job rather than anything already stored (DESIGN §4).
      if (errno == ENOSPC || errno == EDQUOT) return disk_full("write " + path + ": " + errno_text());
      return make_error(Errc::io_error, "write " + path + ": " + errno_text());
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return {};
}

Error disk_full(const std::string &detail) {
  return make_error(Errc::no_space,
                    "the disk is full, the job is refused (jobs already stored are kept): " + detail);
}

Error refusal(Error e) {
  if (e.code != Errc::no_space || e.message.find("the disk is full") == 0) return e;
  return disk_full(e.message);
}

} // namespace store_detail

proto::JobInfo Job::info() const {
  proto::JobInfo i;
  i.id = id;
  i.user = user;
  i.title = title;
  i.format = format;
  i.size = size_bytes;
  i.pages = pages;
  i.copies = copies;
  i.sides = sides;
  i.color = color;
  i.submitted_ms = submitted_ms;
  i.state = job_state_name(state);
  i.sha256 = sha256;
  return i;
}

JobStore::JobStore(std::shared_ptr<Db> db, StoreOptions options, SecretKey storage_key)
    : db_(std::move(db)), options_(std::move(options)), spool_dir_(options_.data_folder + "/spool"),
      storage_key_(storage_key) {}

Result<std::shared_ptr<JobStore>> JobStore::open(std::shared_ptr<Db> db, const StoreOptions &options) {
  if (options.data_folder.empty()) return make_error(Errc::internal, "the job store needs a data folder");
  Status s = db->exec(kSchema);
  if (s.ok()) s = add_missing_columns(*db);
  // Claims of jobs deleted by a path that did not remove them (an older agent, start-up repair).
  if (s.ok()) s = db->exec("DELETE FROM claims WHERE job NOT IN (SELECT id FROM jobs)");
  if (s.ok()) s = make_dirs(options.data_folder, 0700);
  if (s.ok()) s = make_dirs(options.data_folder + "/spool", 0700);
  if (!s.ok()) return s.error();
  auto key = load_storage_key(*db, options.data_folder);
  if (!key.ok()) return key.error();
  auto store = std::make_shared<JobStore>(std::move(db), options, *key);
  s = store->load_settings();
  if (s.ok()) s = store->recover();
  if (!s.ok()) return s.error();
  return store;
}

Status JobStore::load_settings() {
  // The key check tells a replaced storage.key from damaged jobs.
  auto st = db_->prepare("SELECT value FROM store_settings WHERE name = ?1");
  if (!st.ok()) return st.error();
  st->bind(1, kKeyCheckSetting);
  auto row = st->step();
  if (!row.ok()) return row.error();
  if (*row) {
    if (!storage_key_matches(storage_key_, st->col_blob(0))) {
      auto count = db_->prepare("SELECT COUNT(*) FROM jobs WHERE spool_key IS NOT NULL");
      if (!count.ok()) return count.error();
      auto counted = count->step();
      if (!counted.ok()) return counted.error();
      if (count->col_int(0) > 0)
        return make_error(Errc::checksum_mismatch,
                          options_.data_folder + "/" + kStorageKeyFile +
                              " is not the key the stored jobs were encrypted with (replaced, or copied from "
                              "another agent): put the original back");
      LPM_WARN("the storage key changed; no job was encrypted with the old one");
    } else {
      st->reset();
      return {};
    }
  }
  st->reset();
  auto put = db_->prepare("INSERT OR REPLACE INTO store_settings(name, value) VALUES(?1, ?2)");
  if (!put.ok()) return put.error();
  put->bind(1, kKeyCheckSetting).bind_blob(2, storage_key_check(storage_key_));
  return put->run();
}

const std::string &JobStore::folder_of(const std::string &user) const {
  auto it = folder_names_.find(user);
  if (it == folder_names_.end()) it = folder_names_.emplace(user, user_folder_name(storage_key_, user)).first;
  return it->second;
}

std::string JobStore::user_folder_path(const std::string &user) const {
  return spool_dir_ + "/" + folder_of(user);
}

std::string JobStore::spool_path(const std::string &user, const std::string &job_id) const {
  return user_folder_path(user) + "/" + job_id + ".spool";
}

Result<Job> JobStore::read_row(const Stmt &st) const {
  auto job = read_job(st);
  if (!job.ok()) return job.error();
  if (st.col_is_null(21)) {
    job->title = st.col_text(3); // stored in clear by an older agent; encrypted at open
    return job;
  }
  auto key = unwrap_job_key(storage_key_, job->id, st.col_blob(21));
  auto title = key.ok() ? open_title(*key, job->id, st.col_blob(22)) : Result<std::string>(key.error());
  if (!title.ok()) {
    // One damaged row must not hide the others; its document is refused when read.
    LPM_WARN("%s", title.error().message.c_str());
    job->title.clear();
  } else {
    job->title = std::move(*title);
  }
  return job;
}

Result<std::vector<Job>> JobStore::collect(Stmt &st) const {
  std::vector<Job> out;
  Status s = for_each_row(st, [&]() -> Status {
    auto job = read_row(st);
    if (!job.ok()) return job.error();
    out.push_back(std::move(*job));
    return {};
  });
  if (!s.ok()) return s.error();
  return out;
}

Status JobStore::check_space(int fd, uint64_t more, const std::string &job_id) {
  // No reserve: only the disk itself refuses (ENOSPC while writing).
  if (options_.reserve_bytes && *options_.reserve_bytes == 0) return {};
  struct statvfs fs {};
  int rc = fd >= 0 ? ::fstatvfs(fd, &fs) : ::statvfs(spool_dir_.c_str(), &fs);
  if (rc != 0) return make_error(Errc::io_error, "statvfs " + spool_dir_ + ": " + errno_text());
  uint64_t unit = fs.f_frsize ? fs.f_frsize : fs.f_bsize;
  uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * unit;
  uint64_t reserve =
      options_.reserve_bytes
          ? *options_.reserve_bytes
          : std::clamp<uint64_t>(static_cast<uint64_t>(fs.f_blocks) * unit / 100 * kReservePercent,
                                 kMinReserveBytes, kMaxReserveBytes);
  if (free_bytes >= reserve && free_bytes - reserve >= more) return {};
  return store_detail::disk_full(std::to_string(free_bytes >> 10) + " KiB free where " + spool_dir_ +
                                 " is, " + std::to_string(reserve >> 10) +
                                 " KiB kept in reserve for the agent's database (job " + job_id + ")");
}

Result<Job> JobStore::get(const std::string &job_id) {
  auto st = db_->prepare(std::string("SELECT ") + kJobColumns +
                         " FROM jobs WHERE id = ?1 AND state != 'receiving'");
  if (!st.ok()) return st.error();
  st->bind(1, job_id);
  auto jobs = collect(*st);
  if (!jobs.ok()) return jobs.error();
  if (jobs->empty()) return make_error(Errc::not_found, "no job " + job_id);
  return std::move(jobs->front());
}

Result<JobPage> JobStore::list(const JobFilter &filter) {
  JobPage page;
  if (filter.users.empty() || filter.states.empty()) return page;
  // Placeholders for the two IN lists; values are always bound, never spliced.
  std::string sql = std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id > ?1 AND user IN (";
  int index = 3;
  for (size_t i = 0; i < filter.users.size(); i++)
    sql += (i ? ",?" : "?") + std::to_string(index++);
  sql += ") AND state IN (";
  for (size_t i = 0; i < filter.states.size(); i++)
    sql += (i ? ",?" : "?") + std::to_string(index++);
  sql += ") ORDER BY id LIMIT ?2";
  auto st = db_->prepare(sql);
  if (!st.ok()) return st.error();
  size_t limit = filter.limit == 0 || filter.limit > proto::kMaxPage ? proto::kMaxPage : filter.limit;
  st->bind(1, filter.after).bind(2, static_cast<int64_t>(limit + 1));
  index = 3;
  for (const auto &u : filter.users)
    st->bind(index++, u);
  for (JobState s : filter.states)
    st->bind(index++, job_state_name(s));
  auto jobs = collect(*st);
  if (!jobs.ok()) return jobs.error();
  page.jobs = std::move(*jobs);
  // One row more than asked tells whether another page exists.
  if (page.jobs.size() > limit) {
    page.jobs.resize(limit);
    page.next = page.jobs.back().id;
  }
  return page;
}

Result<std::vector<proto::Holding>> JobStore::held_counts() {
  auto st = db_->prepare("SELECT user, COUNT(*) FROM jobs WHERE state = 'held' GROUP BY user ORDER BY user");
  if (!st.ok()) return st.error();
  std::vector<proto::Holding> out;
  Status s = for_each_row(*st, [&]() -> Status {
    out.push_back(proto::Holding{st->col_text(0), static_cast<uint64_t>(st->col_int(1))});
    return {};
  });
  if (!s.ok()) return s.error();
  return out;
}

Status JobStore::move_state(const std::string &job_id, JobState from, JobState to, int64_t now_ms,
                            const std::string &set_sql, const std::function<void(Stmt &)> &bind) {
  if (!job_state_can_move(from, to))
    return make_error(Errc::conflict, std::string("job ") + job_id + " cannot go from " +
                                          job_state_name(from) + " to " + job_state_name(to));
  auto st = to == JobState::deleted
                ? db_->prepare("DELETE FROM jobs WHERE id = ?3 AND state = ?4") // ?1, ?2 unused
                : db_->prepare("UPDATE jobs SET state = ?1, state_ms = ?2" + set_sql +
                               " WHERE id = ?3 AND state = ?4");
  if (!st.ok()) return st.error();
  st->bind(1, job_state_name(to)).bind(2, now_ms).bind(3, job_id).bind(4, job_state_name(from));
  if (bind) bind(*st);
  Status s = st->run();
  if (!s.ok()) return s;
  if (db_->changes() != 1)
    return make_error(Errc::conflict, std::string("job ") + job_id + " is no longer " + job_state_name(from));
  if (to == JobState::deleted) {
    // The claim history goes with the job: a late report of it then gets not_found.
    auto claims = db_->prepare("DELETE FROM claims WHERE job = ?1");
    if (!claims.ok()) return claims.error();
    s = claims->bind(1, job_id).run();
    if (!s.ok()) return s;
    return mark_emptied_folders(now_ms);
  }
  return {};
}

Status JobStore::delete_job_locked(const Job &job, int64_t now_ms) {
  return move_state(job.id, job.state, JobState::deleted, now_ms);
}

Result<std::vector<Job>> JobStore::remove_expired(int64_t held_before_ms, int64_t printed_before_ms,
                                                  const std::function<Status(const Job &)> &in_transaction,
                                                  std::optional<int64_t> now_ms) {
  auto st = db_->prepare(std::string("SELECT ") + kJobColumns +
                         " FROM jobs WHERE (state = 'held' AND submitted_ms < ?1) OR (state = 'printed' AND "
                         "state_ms < ?2) ORDER BY id LIMIT 1000");
  if (!st.ok()) return st.error();
  st->bind(1, held_before_ms).bind(2, printed_before_ms);
  auto candidates = collect(*st);
  if (!candidates.ok()) return candidates.error();
  std::vector<Job> removed;
  bool held_changed = false;
  for (auto &job : *candidates) {
    Transaction tx(*db_);
    if (!tx.begun().ok()) return tx.begun().error();
    Status s = delete_job_locked(job, now_ms ? *now_ms : wall_ms());
    if (s.ok() && in_transaction) s = in_transaction(job);
    if (s.ok()) s = tx.commit();
    if (!s.ok()) {
      if (s.error().code == Errc::conflict) continue; // it moved meanwhile (a claim): keep it
      return s.error();
    }
    // The row is gone, so the document is unreachable; a crash before this unlink leaves a
    // stray file that the next start-up removes.
    ::unlink(spool_path(job).c_str());
    (void)fsync_dir(user_folder_path(job.user));
    held_changed = held_changed || job.state == JobState::held;
    removed.push_back(std::move(job));
  }
  if (held_changed) notify_held_changed(HeldChange::fewer);
  return removed;
}

Result<Job> JobStore::remove(const std::string &job_id, int64_t now_ms,
                             const std::function<Status(const Job &)> &in_transaction) {
  auto job = get(job_id);
  if (!job.ok()) return job.error();
  if (job->state != JobState::held && job->state != JobState::printed)
    return make_error(Errc::conflict, "job " + job_id + " is being printed (" + job_state_name(job->state) +
                                          "); delete it once the printer is done");
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  Status s = delete_job_locked(*job, now_ms);
  if (s.ok() && in_transaction) s = in_transaction(*job);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return s.error();
  ::unlink(spool_path(*job).c_str());
  (void)fsync_dir(user_folder_path(job->user));
  if (job->state == JobState::held) notify_held_changed(HeldChange::fewer);
  return job;
}

void JobStore::notify_held_changed(HeldChange change) {
  if (on_held_changed) on_held_changed(change);
}

void JobStore::notify_job_stored(const Job &job) {
  if (on_job_stored) on_job_stored(job);
}

} // namespace lpm::agent
