// Page counting for PDF with qpdf. qpdf reads the document through an InputSource over the
// DocumentReader (a window of it at a time, never the whole document); the count is the
// number of /Page leaves of the page tree, walked here without recursion so a deep or looping
// tree costs neither the stack nor endless work. qpdf's own recovery (rebuilding a broken
// cross-reference table by scanning the file) is off and any warning makes the count unknown:
// a damaged PDF is not counted. Encrypted PDFs are not counted either. qpdf reports problems by
// throwing; everything is caught here. Compiled as C++17 (page_count_qpdf.h says why).

// Declares that nothing here uses qpdf's deprecated PointerHolder (qpdf/PointerHolder.hh).
#define POINTERHOLDER_TRANSITION 4
#include <qpdf/InputSource.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFObjGen.hh>
#include <qpdf/QPDFObjectHandle.hh>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "page_count_qpdf.h"

namespace lpm::agent::detail {

namespace {

constexpr size_t kWindowBytes = 64 * 1024;

// qpdf's view of the document: a position, reads served from a window of the reader.
class ReaderInputSource final : public InputSource {
public:
  explicit ReaderInputSource(PdfBytes &doc)
      : doc_(doc), size_(static_cast<qpdf_offset_t>(std::min<uint64_t>(doc.size(), INT64_MAX))) {}

  bool failed() const { return failed_; }

  qpdf_offset_t findAndSkipNextEOL() override {
    char c = 0;
    for (;;) {
      if (!byte_at(pos_, c)) {
        pos_ = size_;
        return size_;
      }
      if (c == '\r' || c == '\n') break;
      pos_++;
    }
    qpdf_offset_t eol = pos_;
    while (byte_at(pos_, c) && (c == '\r' || c == '\n'))
      pos_++;
    return eol;
  }

  std::string const &getName() const override { return name_; }
  qpdf_offset_t tell() override { return pos_; }

  void seek(qpdf_offset_t offset, int whence) override {
    qpdf_offset_t base = whence == SEEK_END ? size_ : whence == SEEK_CUR ? pos_ : 0;
    if ((offset < 0 && base < -offset) || (offset > 0 && offset > INT64_MAX - base))
      throw std::runtime_error("seek outside the document");
    pos_ = base + offset;
  }

  void rewind() override { pos_ = 0; }

  size_t read(char *out, size_t length) override {
    last_offset = pos_;
    size_t done = 0;
    while (done < length && pos_ < size_) {
      if (!load(pos_)) break;
      size_t from = static_cast<size_t>(pos_ - window_start_);
      size_t n = std::min(length - done, window_.size() - from);
      std::memcpy(out + done, window_.data() + from, n);
      done += n;
      pos_ += static_cast<qpdf_offset_t>(n);
    }
    return done;
  }

  void unreadCh(char) override {
    if (pos_ > 0) pos_--;
  }

private:
  // Makes `at` part of the window; false at the end or when the read failed (qpdf is then
  // stopped by an exception, and failed() says why the count is unknown).
  bool load(qpdf_offset_t at) {
    if (at >= size_) return false;
    if (at >= window_start_ && at < window_start_ + static_cast<qpdf_offset_t>(window_.size())) return true;
    window_.resize(kWindowBytes);
    int64_t n = doc_.read_at(static_cast<uint64_t>(at), window_.data(), window_.size());
    if (n <= 0) {
      window_.clear();
      failed_ = true;
      throw std::runtime_error("the document could not be read");
    }
    window_.resize(std::min(static_cast<size_t>(n), window_.size()));
    window_start_ = at;
    return true;
  }

  bool byte_at(qpdf_offset_t at, char &out) {
    if (!load(at)) return false;
    out = static_cast<char>(window_[static_cast<size_t>(at - window_start_)]);
    return true;
  }

  PdfBytes &doc_;
  qpdf_offset_t size_;
  qpdf_offset_t pos_ = 0;
  std::string name_ = "document";
  std::vector<uint8_t> window_;
  qpdf_offset_t window_start_ = 0;
  bool failed_ = false;
};

// The /Page leaves under the tree's root; -1 when a node is neither /Pages nor /Page, or a
// node is reached twice (a loop, or a page listed twice).
int64_t count_page_tree(QPDFObjectHandle root) {
  std::vector<QPDFObjectHandle> pending{root};
  std::set<QPDFObjGen> seen;
  int64_t pages = 0;
  while (!pending.empty()) {
    QPDFObjectHandle node = pending.back();
    pending.pop_back();
    if (!node.isDictionary()) return -1;
    if (node.isIndirect() && !seen.insert(node.getObjGen()).second) return -1;
    QPDFObjectHandle type = node.getKey("/Type");
    if (type.isNameAndEquals("/Page")) {
      pages++;
      continue;
    }
    QPDFObjectHandle kids = node.getKey("/Kids");
    if (!type.isNameAndEquals("/Pages") || !kids.isArray()) return -1;
    int n = kids.getArrayNItems();
    for (int i = 0; i < n; i++)
      pending.push_back(kids.getArrayItem(i));
  }
  return pages;
}

} // namespace

int64_t count_pdf_pages_qpdf(PdfBytes &doc) {
  auto source = std::make_shared<ReaderInputSource>(doc);
  try {
    QPDF pdf;
    pdf.setSuppressWarnings(true);
    pdf.setAttemptRecovery(false);
    pdf.processInputSource(source);
    if (pdf.isEncrypted()) return -1;
    int64_t pages = count_page_tree(pdf.getRoot().getKey("/Pages"));
    if (pdf.anyWarnings() || source->failed()) return -1;
    return pages;
  } catch (...) {
    return -1;
  }
}

} // namespace lpm::agent::detail
