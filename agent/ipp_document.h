// A document being captured (IPP printer and raw listener): its bytes stream into the job store
// as they arrive, never held whole in memory. When the submitter gave no format, or
// application/octet-stream, the first bytes decide it (page_count.h sniff_format), so the job
// is begun in the store once those bytes are in. The store computes the SHA-256 and, at
// commit, counts pages through its decrypting reader.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "job_store.h"
#include "lpm/error.h"

namespace lpm::agent {

class CaptureDocument {
public:
  // job.format "" or application/octet-stream: sniffed from the document. A sniffed format
  // among packaging::kCaptureFormats but not in `accepted` (the profile's <DocumentFormat>;
  // empty: any) refuses the document (bad_request, format_refused()).
  CaptureDocument(std::shared_ptr<JobStore> store, NewJob job, std::vector<std::string> accepted = {});
  ~CaptureDocument(); // an uncommitted document is discarded (row and file)
  CaptureDocument(const CaptureDocument &) = delete;
  CaptureDocument &operator=(const CaptureDocument &) = delete;

  // Appends. Errors come from the store: no_space (disk full), too_large, io_error; after one
  // the document is discarded and further writes fail.
  Status write(std::span<const uint8_t> data);
  // Stores the job durably; it is visible once this returns. bad_request for an empty
  // document (nothing is stored).
  // `in_transaction` runs inside the commit's transaction (CommitOptions::in_transaction).
  Result<Job> commit(std::function<Status(const std::string &job_id)> in_transaction = {});

  uint64_t size_bytes() const { return size_bytes_; }
  // The document was refused because its sniffed format is not one the profile accepts.
  bool format_refused() const { return format_refused_; }
  const std::string &format() const { return job_.format; }

private:
  Status begin();

  std::shared_ptr<JobStore> store_;
  NewJob job_;
  bool sniff_ = false;
  std::vector<uint8_t> head_; // the first bytes, kept until the format is known
  std::unique_ptr<SpoolWriter> writer_;
  std::vector<std::string> accepted_;
  bool format_refused_ = false;
  uint64_t size_bytes_ = 0;
  bool failed_ = false;
};

} // namespace lpm::agent
