// Receiving a job: the receiving row, the spool file written as the document arrives, and the
// commit that makes the job visible only once both are durable.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "job_store.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::agent {

Result<std::unique_ptr<SpoolWriter>> JobStore::begin_job(const NewJob &job) {
  std::string id = uuid_v7();
  int64_t now = wall_ms();
  // The row comes first: a crash after this leaves a receiving row (and perhaps a partial
  // file), both of which the next start-up removes.
  auto st = db_->prepare(
      "INSERT INTO jobs(id, user, os_account, title, format, copies, sides, color, submitted_ms, "
      "state, state_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'receiving', ?9)");
  if (!st.ok()) return st.error();
  st->bind(1, id).bind(2, job.user).bind(3, job.os_account).bind(4, job.title).bind(5, job.format);
  st->bind(6, static_cast<int64_t>(job.copies)).bind(7, job.sides).bind(8, job.color).bind(9, now);
  Status s = st->run();
  if (!s.ok()) return s.error();

  std::string path = spool_path(id);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    Errc code = errno == ENOSPC ? Errc::no_space : Errc::io_error;
    Error e = make_error(code, "create " + path + ": " + errno_text());
    discard_receiving(id, {});
    return e;
  }
  ::fchmod(fd, 0600); // whatever the umask
  return std::unique_ptr<SpoolWriter>(new SpoolWriter(shared_from_this(), id, path, fd));
}

void JobStore::discard_receiving(const std::string &job_id, const std::string &path) {
  if (!path.empty()) ::unlink(path.c_str());
  auto st = db_->prepare("DELETE FROM jobs WHERE id = ?1 AND state = 'receiving'");
  if (!st.ok() || !st->bind(1, job_id).run().ok())
    LPM_WARN("could not remove the unfinished job %s now; the next start-up will", job_id.c_str());
}

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

Status SpoolWriter::write(std::span<const uint8_t> data) {
  if (fd_ < 0 || committed_) return make_error(Errc::internal, "spool file of job " + job_id_ + " is closed");
  if (written_bytes_ + data.size() > kMaxDocumentBytes)
    return make_error(Errc::too_large,
                      "documents are limited to " + std::to_string(kMaxDocumentBytes >> 30) + " GiB");
  const uint8_t *p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      // A full disk refuses the job rather than anything already stored (DESIGN §4).
      Errc code = errno == ENOSPC || errno == EDQUOT ? Errc::no_space : Errc::io_error;
      return make_error(code, "write " + path_ + ": " + errno_text());
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  written_bytes_ += data.size();
  return {};
}

Result<Job> SpoolWriter::commit(std::span<const uint8_t> sha256, uint64_t size_bytes) {
  if (fd_ < 0 || committed_) return make_error(Errc::internal, "spool file of job " + job_id_ + " is closed");
  if (size_bytes != written_bytes_)
    return make_error(Errc::checksum_mismatch, "stored " + std::to_string(written_bytes_) +
                                                   " bytes, expected " + std::to_string(size_bytes));
  if (::fsync(fd_) != 0) return make_error(Errc::io_error, "fsync " + path_ + ": " + errno_text());
  ::close(fd_);
  fd_ = -1;
  Status s = fsync_dir(store_->spool_dir());
  if (!s.ok()) return s.error();

  Transaction tx(store_->db());
  if (!tx.begun().ok()) return tx.begun().error();
  s = store_->move_state(job_id_, JobState::receiving, JobState::held, wall_ms(),
                         ", size_bytes = ?5, sha256 = ?6", [&](Stmt &st) {
                           st.bind(5, static_cast<int64_t>(size_bytes));
                           st.bind_blob(6, sha256);
                         });
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return s.error();
  committed_ = true;
  store_->notify_held_changed();
  return store_->get(job_id_);
}

} // namespace lpm::agent
