// Inside page counting (page_count.h): a buffered sequential cursor over a DocumentReader and
// the counter of each format. Each counter returns the page count or -1, never throws, and
// reads the document at most once from front to back (PDF: as qpdf asks, through the cursor's
// window).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "document_reader.h"

namespace lpm::agent::detail {

class DocumentCursor {
public:
  static constexpr size_t kWindowBytes = 64 * 1024;

  explicit DocumentCursor(DocumentReader &doc) : doc_(doc), size_(doc.size()) {}

  uint64_t offset() const { return window_start_ + pos_; }
  uint64_t size() const { return size_; }
  // True once a read of the document failed: the count is then unknown.
  bool failed() const { return failed_; }
  bool at_end() { return !fill(); }

  // The next byte; false at the end of the document or after a failed read.
  bool next(uint8_t &out) {
    if (pos_ == window_len_ && !fill()) return false;
    out = window_[pos_++];
    return true;
  }
  // Exactly out.size() bytes, or false.
  bool read_exact(std::span<uint8_t> out);
  // Moves n bytes on without reading them (a jump beyond the window costs no read); false when
  // the document ends first.
  bool skip(uint64_t n);
  // Positions the cursor at an absolute offset (may be the end).
  void seek(uint64_t offset);

private:
  // Makes at least one byte available at the current offset; false at the end or on failure.
  bool fill();

  DocumentReader &doc_;
  uint64_t size_;
  std::vector<uint8_t> window_ = std::vector<uint8_t>(kWindowBytes);
  uint64_t window_start_ = 0;
  size_t window_len_ = 0;
  size_t pos_ = 0;
  bool failed_ = false;
};

int64_t count_pdf_pages(DocumentReader &doc);        // page_count.cpp -> page_count_pdf.cpp (qpdf)
int64_t count_postscript_pages(DocumentReader &doc); // page_count_ps.cpp
int64_t count_pwg_raster_pages(DocumentReader &doc); // page_count_raster.cpp
int64_t count_urf_pages(DocumentReader &doc);        // page_count_raster.cpp

} // namespace lpm::agent::detail
