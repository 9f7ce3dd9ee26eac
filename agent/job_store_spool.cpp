// Receiving a job: the receiving row (with the wrapped job key and the sealed title), the spool
// file encrypted chunk by chunk as the document arrives, and the commit that makes the job
// visible only once both are durable.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "job_store.h"
#include "lpm/fault.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::agent {

Result<std::unique_ptr<SpoolWriter>> JobStore::begin_job(const NewJob &job) {
  auto writer = begin_job_checked(job);
  if (!writer.ok()) return store_detail::refusal(writer.error());
  return writer;
}

Result<std::unique_ptr<SpoolWriter>> JobStore::begin_job_checked(const NewJob &job) {
  std::string id = uuid_v7();
  // A nearly full disk refuses the job before anything is written.
  Status s = check_space(-1, spool_file_bytes(0), id);
  if (!s.ok()) return s.error();
  int64_t now = wall_ms();
  SecretKey key = SecretKey::random();
  SpoolHeader header;
  random_bytes(header.prefix.data(), header.prefix.size());
  std::string folder = user_folder_path(job.user);

  // The row comes first: a crash after this leaves a receiving row (and perhaps a partial
  // file), both of which the next start-up removes. Its commit does not wait for the disk: a
  // power cut that loses it leaves at most a spool file without a row, which start-up removes
  // too, and the commit that shows the job syncs the WAL with this row in it.
  {
    Transaction tx(*db_, Transaction::Durability::deferred);
    if (!tx.begun().ok()) return tx.begun().error();
    auto uf =
        db_->prepare("INSERT INTO user_folders(name, user, emptied_ms) VALUES(?1, ?2, 0) "
                     "ON CONFLICT(name) DO UPDATE SET emptied_ms = 0 WHERE user_folders.emptied_ms != 0");
    if (!uf.ok()) return uf.error();
    s = uf->bind(1, folder_of(job.user)).bind(2, job.user).run();
    if (!s.ok()) return s.error();
    auto st = db_->prepare(
        "INSERT INTO jobs(id, user, os_account, title, format, copies, sides, color, submitted_ms, "
        "state, state_ms, spool_key, title_sealed) VALUES(?1, ?2, ?3, '', ?4, ?5, ?6, ?7, ?8, 'receiving', "
        "?8, "
        "?9, ?10)");
    if (!st.ok()) return st.error();
    st->bind(1, id).bind(2, job.user).bind(3, job.os_account).bind(4, job.format);
    st->bind(5, static_cast<int64_t>(job.copies)).bind(6, job.sides).bind(7, job.color).bind(8, now);
    st->bind_blob(9, wrap_job_key(storage_key_, id, key));
    st->bind_blob(10, seal_title(key, header.prefix, id, job.title));
    s = st->run();
    if (s.ok()) s = tx.commit();
    if (!s.ok()) return s.error();
  }

  s = store_detail::make_user_folder(spool_dir_, folder);
  if (!s.ok()) {
    discard_receiving(id, {});
    return s.error();
  }
  std::string path = spool_path(job.user, id);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    Error e = errno == ENOSPC || errno == EDQUOT
                  ? store_detail::disk_full("create " + path + ": " + errno_text())
                  : make_error(Errc::io_error, "create " + path + ": " + errno_text());
    discard_receiving(id, {});
    return e;
  }
  ::fchmod(fd, 0600); // whatever the umask
  std::unique_ptr<SpoolWriter> writer(new SpoolWriter(shared_from_this(), id, folder, path, fd, key, header));
  s = store_detail::write_all(fd, writer->sealer_.header_bytes(), path);
  if (!s.ok()) return s.error(); // the writer discards the job
  return writer;
}

void JobStore::discard_receiving(const std::string &job_id, const std::string &path) {
  if (!path.empty()) ::unlink(path.c_str());
  auto st = db_->prepare("DELETE FROM jobs WHERE id = ?1 AND state = 'receiving'");
  if (!st.ok() || !st->bind(1, job_id).run().ok() || !mark_emptied_folders(wall_ms()).ok())
    LPM_WARN("could not remove the unfinished job %s now; the next start-up will", job_id.c_str());
}

SpoolWriter::SpoolWriter(std::shared_ptr<JobStore> store, std::string job_id, std::string folder,
                         std::string path, int fd, const SecretKey &key, const SpoolHeader &header)
    : store_(std::move(store)), job_id_(std::move(job_id)), folder_(std::move(folder)),
      path_(std::move(path)), fd_(fd), key_(key), sealer_(key, header, job_id_) {}

SpoolWriter::~SpoolWriter() {
  if (!committed_) discard();
}

void SpoolWriter::discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  store_->discard_receiving(job_id_, path_);
}

Status SpoolWriter::write_record(std::span<const uint8_t> record) {
  // The reserve is kept for state.db and the outbox: a job that would eat into it is refused.
  Status s = store_->check_space(fd_, record.size(), job_id_);
  if (s.ok()) s = store_detail::write_all(fd_, record, path_);
  if (!s.ok()) return s;
  fault_point("store.after_write");
  return {};
}

Status SpoolWriter::write(std::span<const uint8_t> data) {
  if (fd_ < 0 || committed_) return make_error(Errc::internal, "spool file of job " + job_id_ + " is closed");
  if (written_bytes_ + data.size() > kMaxDocumentBytes)
    return make_error(Errc::too_large,
                      "documents are limited to " + std::to_string(kMaxDocumentBytes >> 30) + " GiB");
  sha_.update(data);
  Status s = sealer_.add(data, [this](std::span<const uint8_t> record) { return write_record(record); });
  if (!s.ok()) {
    // The stream is broken: nothing more goes into this file; destroying the writer removes it.
    ::close(fd_);
    fd_ = -1;
    return s;
  }
  written_bytes_ += data.size();
  return {};
}

Result<Job> SpoolWriter::commit(std::span<const uint8_t> sha256, uint64_t size_bytes) {
  CommitOptions options;
  options.expected_sha256 = proto::Bytes(sha256.begin(), sha256.end());
  options.expected_size = size_bytes;
  return commit(options);
}

Result<Job> SpoolWriter::commit(const CommitOptions &options) {
  if (fd_ < 0 || committed_) return make_error(Errc::internal, "spool file of job " + job_id_ + " is closed");
  auto job = commit_checked(options);
  if (job.ok()) return job;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  return store_detail::refusal(job.error());
}

Result<Job> SpoolWriter::commit_checked(const CommitOptions &options) {
  Status s = sealer_.finish([this](std::span<const uint8_t> record) { return write_record(record); });
  if (!s.ok()) return s.error();
  proto::Bytes digest = sha_.finish();
  if (options.expected_size && *options.expected_size != written_bytes_)
    return make_error(Errc::checksum_mismatch, "job " + job_id_ + ": stored " +
                                                   std::to_string(written_bytes_) + " bytes, expected " +
                                                   std::to_string(*options.expected_size));
  if (options.expected_sha256 && *options.expected_sha256 != digest)
    return make_error(Errc::checksum_mismatch,
                      "job " + job_id_ +
                          ": the SHA-256 of the document stored differs from the one announced");
  if (::fsync(fd_) != 0) {
    if (errno == ENOSPC || errno == EDQUOT)
      return store_detail::disk_full("fsync " + path_ + ": " + errno_text());
    return make_error(Errc::io_error, "fsync " + path_ + ": " + errno_text());
  }
  ::close(fd_);
  fd_ = -1;
  s = fsync_dir(folder_);
  if (!s.ok()) return s.error();
  fault_point("store.after_fsync");

  int64_t pages = -1;
  if (options.count_pages) {
    auto reader = JobStore::open_spool(path_, job_id_, key_, written_bytes_);
    if (!reader.ok()) return reader.error();
    pages = options.count_pages(**reader);
  }

  Transaction tx(store_->db());
  if (!tx.begun().ok()) return tx.begun().error();
  s = store_->move_state(job_id_, JobState::receiving, JobState::held, wall_ms(),
                         ", size_bytes = ?5, sha256 = ?6, pages = ?7", [&](Stmt &st) {
                           st.bind(5, static_cast<int64_t>(written_bytes_));
                           st.bind_blob(6, digest);
                           st.bind(7, pages);
                         });
  if (s.ok() && options.in_transaction) s = options.in_transaction(job_id_);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return s.error();
  fault_point("store.after_commit");
  committed_ = true;
  store_->notify_held_changed(HeldChange::more);
  auto stored = store_->get(job_id_);
  if (stored.ok()) store_->notify_job_stored(*stored);
  return stored;
}

} // namespace lpm::agent
