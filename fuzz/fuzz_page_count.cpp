// Fuzz target: page counting (agent/page_count.h) of PDF, PostScript, PWG raster and URF, the
// documents local users and the spooler hand the agent. The first input byte chooses the format
// (its low two bits: 0 PDF, 1 PostScript, 2 PWG raster, 3 URF; so the text seeds start with
// '@', 'A', 'B', 'C') and, with its high bit set, makes every read past the middle of the
// document fail as a tampered spool file would; the rest is the document. Any document must end
// in a count or -1, and a count can never exceed the document's size. PDF is counted in process
// here (no child), so qpdf's code is what the fuzzer explores.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "page_count.h"

using namespace lpm;
using namespace lpm::agent;

namespace {

class FuzzDocument final : public DocumentReader {
public:
  FuzzDocument(const uint8_t *data, size_t size, uint64_t fail_from)
      : data_(data), size_(size), fail_from_(fail_from) {}
  uint64_t size() const override { return size_; }
  Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
    if (offset + out.size() > fail_from_) return make_error(Errc::checksum_mismatch, "tampered record");
    if (offset >= size_) return size_t{0};
    size_t n = std::min<uint64_t>(out.size(), size_ - offset);
    std::memcpy(out.data(), data_ + offset, n);
    return n;
  }

private:
  const uint8_t *data_;
  size_t size_;
  uint64_t fail_from_;
};

void require(bool holds) {
  if (!holds) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  static const char *const kFormats[] = {"application/pdf", "application/postscript", "image/pwg-raster",
                                         "image/urf"};
  uint8_t selector = data[0];
  const uint8_t *doc_bytes = data + 1;
  size_t doc_size = size - 1;
  uint64_t fail_from = (selector & 0x80) ? doc_size / 2 : UINT64_MAX;
  FuzzDocument doc(doc_bytes, doc_size, fail_from);
  PageCountLimits limits;
  limits.isolate_pdf = false;
  int64_t pages = count_pages(kFormats[selector & 3], doc, limits);
  require(pages >= -1);
  require(pages <= static_cast<int64_t>(doc_size));
  // The sniffer reads at most what it is given.
  std::string sniffed =
      sniff_format(std::span<const uint8_t>(doc_bytes, std::min<size_t>(doc_size, kSniffBytes)));
  require(!sniffed.empty());
  return 0;
}
