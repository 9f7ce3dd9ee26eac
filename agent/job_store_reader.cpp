// Reading a stored job back: a DocumentReader over its encrypted spool file (format in
// spool_crypto.h). Random access by chunk; each chunk is authenticated before any byte of it
// is returned, and the file's size and last chunk are checked when it is opened, so a damaged,
// tampered, truncated or extended file is refused (checksum_mismatch), never served.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "job_store.h"
#include "lpm/files.h"

namespace lpm::agent {

namespace {

class SpoolReader final : public DocumentReader {
public:
  SpoolReader(int fd, std::string job_id, const SecretKey &key, const SpoolHeader &header, uint64_t size)
      : fd_(fd), job_id_(job_id), opener_(key, header, std::move(job_id)), chunk_(header.chunk_bytes),
        size_(size), chunks_(size == 0 ? 1 : (size + chunk_ - 1) / chunk_) {
    record_.resize(chunk_ + kTagBytes);
    plain_.resize(chunk_);
  }
  ~SpoolReader() override {
    ::close(fd_);
    mbedtls_platform_zeroize(plain_.data(), plain_.size());
  }
  SpoolReader(const SpoolReader &) = delete;
  SpoolReader &operator=(const SpoolReader &) = delete;

  uint64_t size() const override { return size_; }

  Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size() && offset < size_) {
      uint64_t index = offset / chunk_;
      Status s = load(index);
      if (!s.ok()) return s.error();
      size_t in_chunk = static_cast<size_t>(offset - index * chunk_);
      size_t n = std::min(out.size() - done, plain_len_ - in_chunk);
      std::memcpy(out.data() + done, plain_.data() + in_chunk, n);
      done += n;
      offset += n;
    }
    return done;
  }

  // Authenticates and decrypts chunk `index` into plain_ (kept: sequential reads reuse it).
  Status load(uint64_t index) {
    if (loaded_ && cached_ == index) return {};
    loaded_ = false;
    bool final = index == chunks_ - 1;
    size_t plain = final ? static_cast<size_t>(size_ - index * chunk_) : chunk_;
    size_t want = plain + kTagBytes;
    uint64_t at = kSpoolHeaderBytes + index * (uint64_t{chunk_} + kTagBytes);
    size_t got = 0;
    while (got < want) {
      ssize_t n = ::pread(fd_, record_.data() + got, want - got, static_cast<off_t>(at + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        return make_error(Errc::io_error, "read the spool file of job " + job_id_ + ": " + errno_text());
      if (n == 0)
        return make_error(Errc::checksum_mismatch, "spool file of job " + job_id_ + " ends inside chunk " +
                                                       std::to_string(index) +
                                                       ": it was truncated and is not served");
      got += static_cast<size_t>(n);
    }
    Status s = opener_.open(index, final, std::span<const uint8_t>(record_.data(), want), plain_.data());
    if (!s.ok()) return s;
    plain_len_ = plain;
    cached_ = index;
    loaded_ = true;
    return {};
  }

private:
  int fd_;
  std::string job_id_;
  SpoolOpener opener_;
  uint32_t chunk_;
  uint64_t size_;
  uint64_t chunks_;
  std::vector<uint8_t> record_;
  std::vector<uint8_t> plain_;
  size_t plain_len_ = 0;
  uint64_t cached_ = 0;
  bool loaded_ = false;
};

} // namespace

Result<std::unique_ptr<DocumentReader>> JobStore::open_spool(const std::string &path,
                                                             const std::string &job_id,
                                                             const SecretKey &job_key, uint64_t size_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return make_error(Errc::not_found, "the spool file of job " + job_id + " is missing");
    return make_error(Errc::io_error, "open the spool file of job " + job_id + ": " + errno_text());
  }
  uint8_t head[kSpoolHeaderBytes];
  ssize_t n;
  do {
    n = ::pread(fd, head, sizeof head, 0);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof head)) {
    ::close(fd);
    return make_error(Errc::checksum_mismatch,
                      "spool file of job " + job_id +
                          " is shorter than its header: it was truncated and is not served");
  }
  auto header = SpoolHeader::parse(head, job_id);
  if (!header.ok()) {
    ::close(fd);
    return make_error(header.error().code, header.error().message + "; it is not served");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return make_error(Errc::io_error, "stat the spool file of job " + job_id + ": " + errno_text());
  }
  uint64_t expected = spool_file_bytes(size_bytes, header->chunk_bytes);
  if (static_cast<uint64_t>(st.st_size) != expected) {
    ::close(fd);
    return make_error(Errc::checksum_mismatch,
                      "spool file of job " + job_id + " has " + std::to_string(st.st_size) +
                          " bytes where its " + std::to_string(size_bytes) + "-byte document takes " +
                          std::to_string(expected) + ": it was truncated or extended and is not served");
  }
  auto reader = std::make_unique<SpoolReader>(fd, job_id, job_key, *header, size_bytes);
  // The last chunk carries the final flag: checking it now refuses a cut-short file before the
  // first byte goes anywhere.
  uint64_t last = size_bytes == 0 ? 0 : (size_bytes - 1) / header->chunk_bytes;
  Status s = reader->load(last);
  if (!s.ok()) return s.error();
  return std::unique_ptr<DocumentReader>(std::move(reader));
}

Result<std::unique_ptr<DocumentReader>> JobStore::open_document(const Job &job) {
  auto st =
      db_->prepare("SELECT spool_key, size_bytes, user FROM jobs WHERE id = ?1 AND state != 'receiving'");
  if (!st.ok()) return st.error();
  st->bind(1, job.id);
  auto row = st->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "no job " + job.id);
  if (st->col_is_null(0)) return make_error(Errc::internal, "job " + job.id + " has no key in state.db");
  auto key = unwrap_job_key(storage_key_, job.id, st->col_blob(0));
  if (!key.ok()) return key.error();
  uint64_t size = static_cast<uint64_t>(st->col_int(1));
  std::string user = st->col_text(2);
  st->reset();
  return open_spool(spool_path(user, job.id), job.id, *key, size);
}

} // namespace lpm::agent
