// Capture of one document into the job store, with the format sniffed from its first bytes.
#include "ipp_document.h"

#include <algorithm>

#include "lpm/packaging/configuration.h"
#include "page_count.h"

namespace lpm::agent {

namespace {
constexpr const char *kOctetStream = "application/octet-stream";
}

CaptureDocument::CaptureDocument(std::shared_ptr<JobStore> store, NewJob job, std::vector<std::string> accepted)
    : store_(std::move(store)), job_(std::move(job)), accepted_(std::move(accepted)) {
  sniff_ = job_.format.empty() || job_.format == kOctetStream;
}

CaptureDocument::~CaptureDocument() = default;

Status CaptureDocument::begin() {
  if (sniff_) job_.format = sniff_format(head_);
  const auto &known = packaging::kCaptureFormats;
  if (sniff_ && !accepted_.empty() && std::find(known.begin(), known.end(), job_.format) != known.end() &&
      std::find(accepted_.begin(), accepted_.end(), job_.format) == accepted_.end()) {
    format_refused_ = true;
    return make_error(Errc::bad_request, "the document is " + job_.format +
                                             ", a format this printer is configured not to accept "
                                             "(<CaptureCapabilities><DocumentFormat>)");
  }
  auto writer = store_->begin_job(job_);
  if (!writer.ok()) return writer.error();
  writer_ = std::move(*writer);
  if (!head_.empty()) {
    Status s = writer_->write(head_);
    if (!s.ok()) return s;
  }
  head_.clear();
  head_.shrink_to_fit();
  return {};
}

Status CaptureDocument::write(std::span<const uint8_t> data) {
  if (failed_) return make_error(Errc::internal, "the document was already refused");
  if (data.empty()) return {};
  size_bytes_ += data.size();
  Status s;
  if (writer_) {
    s = writer_->write(data);
  } else {
    size_t take = sniff_ ? std::min(data.size(), kSniffBytes - head_.size()) : 0;
    head_.insert(head_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
    if (!sniff_ || head_.size() >= kSniffBytes) {
      s = begin();
      if (s.ok() && take < data.size()) s = writer_->write(data.subspan(take));
    }
  }
  if (!s.ok()) {
    failed_ = true;
    writer_.reset(); // discards the receiving row and the file
  }
  return s;
}

Result<Job> CaptureDocument::commit(std::function<Status(const std::string &job_id)> in_transaction) {
  if (failed_) return make_error(Errc::internal, "the document was already refused");
  if (size_bytes_ == 0) return make_error(Errc::bad_request, "the request holds no document data");
  if (!writer_) {
    Status s = begin();
    if (!s.ok()) {
      failed_ = true;
      writer_.reset();
      return s.error();
    }
  }
  CommitOptions options;
  std::string format = job_.format;
  options.count_pages = [format](DocumentReader &reader) { return count_pages(format, reader); };
  options.in_transaction = std::move(in_transaction);
  auto job = writer_->commit(options);
  if (!job.ok()) {
    failed_ = true;
    writer_.reset();
  }
  return job;
}

} // namespace lpm::agent
