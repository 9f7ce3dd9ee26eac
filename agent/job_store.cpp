// The job store: schema, start-up recovery, reads, and the one checked state move.
#include "job_store.h"

#include <dirent.h>
#include <unistd.h>

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
  last_outcome TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_by_user_state ON jobs(user, state);
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
};

constexpr const char *kJobColumns =
    "id, user, os_account, title, format, size_bytes, sha256, copies, sides, color, pages, submitted_ms, "
    "state, "
    "state_ms, claim, claim_printer, claim_expires_ms, last_claim, last_outcome, claim_from, claim_from_ms";

constexpr const char *kSpoolSuffix = ".spool";

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

// Runs a SELECT of kJobColumns and collects every row.
Result<std::vector<Job>> collect(Stmt &st) {
  std::vector<Job> out;
  Status s = for_each_row(st, [&]() -> Status {
    auto job = read_job(st);
    if (!job.ok()) return job.error();
    out.push_back(std::move(*job));
    return {};
  });
  if (!s.ok()) return s.error();
  return out;
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

} // namespace

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
  return i;
}

Result<std::shared_ptr<JobStore>> JobStore::open(std::shared_ptr<Db> db, const std::string &spool_dir) {
  Status s = db->exec(kSchema);
  if (s.ok()) s = add_missing_columns(*db);
  if (!s.ok()) return s.error();
  s = make_dirs(spool_dir, 0700);
  if (!s.ok()) return s.error();
  auto store = std::make_shared<JobStore>(std::move(db), spool_dir);
  s = store->recover();
  if (!s.ok()) return s.error();
  return store;
}

std::string JobStore::spool_path(const std::string &job_id) const {
  return spool_dir_ + "/" + job_id + kSpoolSuffix;
}

Status JobStore::recover() {
  // 1. Rows that never became visible: their documents are incomplete.
  auto st = db_->prepare("SELECT id FROM jobs WHERE state = 'receiving'");
  if (!st.ok()) return st.error();
  std::vector<std::string> unfinished;
  Status s = for_each_row(*st, [&]() -> Status {
    unfinished.push_back(st->col_text(0));
    return {};
  });
  if (!s.ok()) return s;
  for (const auto &id : unfinished) {
    LPM_WARN("removing job %s: its document was still arriving when the agent stopped", id.c_str());
    ::unlink(spool_path(id).c_str());
  }
  s = db_->exec("DELETE FROM jobs WHERE state = 'receiving'");
  if (!s.ok()) return s;

  // 2. Rows whose document is gone cannot be released; 3. files without a row are leftovers.
  auto all = db_->prepare("SELECT id FROM jobs");
  if (!all.ok()) return all.error();
  std::set<std::string> ids;
  s = for_each_row(*all, [&]() -> Status {
    ids.insert(all->col_text(0));
    return {};
  });
  if (!s.ok()) return s;
  for (const auto &id : ids) {
    if (file_exists(spool_path(id))) continue;
    LPM_WARN("removing job %s: its spool file is missing", id.c_str());
    auto del = db_->prepare("DELETE FROM jobs WHERE id = ?1");
    if (!del.ok()) return del.error();
    s = del->bind(1, id).run();
    if (!s.ok()) return s;
  }
  DIR *dir = ::opendir(spool_dir_.c_str());
  if (!dir) return make_error(Errc::io_error, "open " + spool_dir_ + ": " + errno_text());
  std::vector<std::string> strays;
  while (dirent *entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::string id = name;
    size_t suffix = std::string(kSpoolSuffix).size();
    if (name.size() > suffix && name.compare(name.size() - suffix, suffix, kSpoolSuffix) == 0)
      id = name.substr(0, name.size() - suffix);
    if (!ids.count(id) || id == name) strays.push_back(name);
  }
  ::closedir(dir);
  for (const auto &name : strays) {
    LPM_WARN("removing %s/%s: no job refers to it", spool_dir_.c_str(), name.c_str());
    ::unlink((spool_dir_ + "/" + name).c_str());
  }
  if (!unfinished.empty() || !strays.empty()) return fsync_dir(spool_dir_);
  return {};
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
  return {};
}

Status JobStore::delete_job_locked(const Job &job, int64_t now_ms) {
  return move_state(job.id, job.state, JobState::deleted, now_ms);
}

Result<std::vector<Job>> JobStore::remove_expired(int64_t held_before_ms, int64_t printed_before_ms,
                                                  const std::function<Status(const Job &)> &in_transaction) {
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
    Status s = delete_job_locked(job, wall_ms());
    if (s.ok() && in_transaction) s = in_transaction(job);
    if (s.ok()) s = tx.commit();
    if (!s.ok()) {
      if (s.error().code == Errc::conflict) continue; // it moved meanwhile (a claim): keep it
      return s.error();
    }
    // The row is gone, so the document is unreachable; a crash before this unlink leaves a
    // stray file that the next start-up removes.
    ::unlink(spool_path(job.id).c_str());
    held_changed = held_changed || job.state == JobState::held;
    removed.push_back(std::move(job));
  }
  if (!removed.empty()) (void)fsync_dir(spool_dir_);
  if (held_changed) notify_held_changed();
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
  ::unlink(spool_path(job->id).c_str());
  (void)fsync_dir(spool_dir_);
  if (job->state == JobState::held) notify_held_changed();
  return job;
}

void JobStore::notify_held_changed() {
  if (on_held_changed) on_held_changed();
}

} // namespace lpm::agent
