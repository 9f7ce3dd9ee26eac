// Page counting for PostScript from its Document Structuring Conventions comments (Adobe DSC
// 3.0): a document that conforms starts with "%!PS-Adobe-"; its header (up to %%EndComments or
// the first line that is not a comment) may state "%%Pages: N", or "%%Pages: (atend)" with the
// number in the trailer (after %%Trailer, the last %%Pages: there wins; no trailer means the
// document was cut short). Without %%Pages the "%%Page:" comments of the outermost document are
// counted. Documents embedded between
// %%BeginDocument and %%EndDocument, and binary data announced by %%BeginBinary / %%BeginData
// byte counts, are passed over: their comments are not the outer document's. A document that does
// not start like a conforming one, or states a number that is not one, counts as unknown.
#include <charconv>
#include <string>
#include <string_view>

#include "page_count_private.h"

namespace lpm::agent::detail {

namespace {

// DSC lines are at most 255 bytes; only that much of each line is kept.
constexpr size_t kMaxDscLineBytes = 255;
// %%BeginDocument nesting deeper than this is not a document anyone printed.
constexpr int kMaxNesting = 64;

// Splits the document into lines at CR, LF or CR LF; keeps the first kMaxDscLineBytes of each.
class LineReader {
public:
  explicit LineReader(DocumentCursor &c) : c_(c) {}
  bool next(std::string &line) {
    line.clear();
    uint8_t b = 0;
    if (!c_.next(b)) return false;
    for (;;) {
      if (b == '\n') return true;
      if (b == '\r') {
        uint8_t after = 0;
        uint64_t at = c_.offset();
        if (c_.next(after) && after != '\n') c_.seek(at);
        return true;
      }
      if (line.size() < kMaxDscLineBytes) line.push_back(static_cast<char>(b));
      if (!c_.next(b)) return true; // the last line may end without a newline
    }
  }

private:
  DocumentCursor &c_;
};

bool has_prefix(std::string_view line, std::string_view prefix) {
  return line.substr(0, prefix.size()) == prefix;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The first unsigned number of a comment's value; false when there is none.
bool leading_number(std::string_view value, uint64_t &out) {
  value = trimmed(value);
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end == value.data()) return false;
  return end == value.data() + value.size() || *end == ' ' || *end == '\t';
}

// %%Pages: value: a count, or (atend). Returns false for anything else.
bool parse_pages(std::string_view value, bool &atend, uint64_t &count) {
  value = trimmed(value);
  atend = value == "(atend)";
  return atend || leading_number(value, count);
}

// A header comment: '%' followed by a printable character (DSC's rule for where the header ends).
bool header_comment(std::string_view line) {
  return line.size() >= 2 && line[0] == '%' && line[1] != ' ' && line[1] != '\t';
}

} // namespace

int64_t count_postscript_pages(DocumentReader &doc) {
  DocumentCursor c(doc);
  LineReader lines(c);
  std::string line;
  if (!lines.next(line) || !has_prefix(line, "%!PS-Adobe-")) return -1;

  bool header_atend = false;
  bool header_stated = false;
  uint64_t header_pages = 0;
  bool body_line_pending = false;
  while (lines.next(line)) {
    if (has_prefix(line, "%%EndComments")) break;
    // Without %%EndComments, the first page or section comment also ends the header.
    if (!header_comment(line) || has_prefix(line, "%%Page:") || has_prefix(line, "%%Begin")) {
      body_line_pending = true; // the header ended at a line that belongs to the body
      break;
    }
    if (has_prefix(line, "%%Pages:")) {
      if (!parse_pages(std::string_view(line).substr(8), header_atend, header_pages)) return -1;
      header_stated = true;
    }
  }
  if (c.failed()) return -1;
  if (header_stated && !header_atend)
    return header_pages <= c.size() ? static_cast<int64_t>(header_pages) : -1;

  int depth = 0;
  bool in_trailer = false;
  bool trailer_stated = false;
  uint64_t trailer_pages = 0;
  uint64_t page_comments = 0;
  while (body_line_pending || lines.next(line)) {
    body_line_pending = false;
    if (!has_prefix(line, "%%")) continue;
    std::string_view l(line);
    uint64_t skip_bytes = 0;
    if (has_prefix(l, "%%BeginDocument")) {
      if (++depth > kMaxNesting) return -1;
    } else if (has_prefix(l, "%%EndDocument")) {
      if (depth > 0) depth--;
    } else if (has_prefix(l, "%%BeginBinary:")) {
      if (!leading_number(l.substr(14), skip_bytes)) return -1;
    } else if (has_prefix(l, "%%BeginData:")) {
      // %%BeginData: count [type [Bytes|Lines]]: byte counts are skipped; data counted in
      // lines is read as lines (it is text, and its comments are rarely DSC's).
      std::string_view value = trimmed(l.substr(12));
      if (!leading_number(value, skip_bytes)) return -1;
      if (value.size() >= 5 && value.substr(value.size() - 5) == "Lines") skip_bytes = 0;
    } else if (depth > 0) {
      continue;
    } else if (has_prefix(l, "%%Page:")) {
      if (!in_trailer) page_comments++;
    } else if (has_prefix(l, "%%Trailer")) {
      in_trailer = true;
    } else if (in_trailer && has_prefix(l, "%%Pages:")) {
      bool atend = false;
      if (!parse_pages(l.substr(8), atend, trailer_pages) || atend) return -1;
      trailer_stated = true;
    } else if (has_prefix(l, "%%EOF")) {
      break;
    }
    if (skip_bytes > 0 && !c.skip(skip_bytes)) return -1;
  }
  if (c.failed()) return -1;
  // (atend) promises a trailer: without it the document was cut short.
  if (header_atend && !trailer_stated) return -1;
  uint64_t pages = header_atend ? trailer_pages : page_comments;
  if (pages == 0 && !header_atend) return -1;
  return pages <= c.size() ? static_cast<int64_t>(pages) : -1;
}

} // namespace lpm::agent::detail
