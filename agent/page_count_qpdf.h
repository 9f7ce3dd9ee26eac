// The seam between page counting (C++20) and its qpdf translation unit, page_count_pdf.cpp,
// which is compiled as C++17: clang 14 cannot compile qpdf 11's headers as C++20 against
// libstdc++ 12 (JSON.hh's vector of an incomplete type), and the fuzzer is built with clang. So
// this header uses nothing newer than C++17.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lpm::agent::detail {

// The document as the PDF counter reads it.
class PdfBytes {
public:
  virtual ~PdfBytes() = default;
  virtual uint64_t size() const = 0;
  // Up to `max` bytes at `offset` into `out`: how many, 0 at the end, -1 when the read failed.
  virtual int64_t read_at(uint64_t offset, uint8_t *out, size_t max) = 0;
};

// The page count of the PDF, or -1 (see page_count_pdf.cpp). Never throws.
int64_t count_pdf_pages_qpdf(PdfBytes &bytes);

} // namespace lpm::agent::detail
