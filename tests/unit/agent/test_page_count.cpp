// Job facts read from the document (issue 3, "Job facts"): the format sniffed from the first
// bytes and the page count of PDF (qpdf), PostScript (DSC), PWG raster and Apple raster, on
// documents written here byte by byte; damaged, truncated, encrypted, non-conforming documents
// and failing reads count as unknown (-1); PDF counted in a child process survives a reader that
// hangs or crashes.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lpm/ids.h"
#include "page_count.h"
#include "pdf_samples_qpdf.h"

using namespace lpm;
using namespace lpm::agent;
using lpm::agent::test::rewritten_by_qpdf;

namespace {

// A document in memory; reads from `fail_at` on fail (a tampered spool file, say).
class MemoryDocument final : public DocumentReader {
public:
  explicit MemoryDocument(std::string bytes, uint64_t fail_at = UINT64_MAX)
      : bytes_(std::move(bytes)), fail_at_(fail_at) {}
  uint64_t size() const override { return bytes_.size(); }
  Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
    reads++;
    if (offset + out.size() > fail_at_)
      return make_error(Errc::checksum_mismatch,
                        "record at " + std::to_string(offset) + " does not authenticate");
    if (offset >= bytes_.size()) return size_t{0};
    size_t n = std::min(out.size(), bytes_.size() - static_cast<size_t>(offset));
    std::memcpy(out.data(), bytes_.data() + offset, n);
    return n;
  }
  size_t reads = 0;

private:
  std::string bytes_;
  uint64_t fail_at_;
};

int64_t count(const std::string &format, const std::string &bytes) {
  MemoryDocument doc(bytes);
  return count_pages(format, doc);
}

// ---- PDF ----------------------------------------------------------------------------------

// A PDF whose object N is bodies[N-1], with a correct cross-reference table; object 1 is the
// catalog.
std::string make_pdf(const std::vector<std::string> &bodies) {
  std::string out = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < bodies.size(); i++) {
    offsets.push_back(out.size());
    out += std::to_string(i + 1) + " 0 obj\n" + bodies[i] + "\nendobj\n";
  }
  size_t xref = out.size();
  out += "xref\n0 " + std::to_string(bodies.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    out += line;
  }
  out += "trailer\n<< /Size " + std::to_string(bodies.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return out;
}

std::string page(int parent) {
  return "<< /Type /Page /Parent " + std::to_string(parent) + " 0 R /MediaBox [0 0 595 842] >>";
}

std::string one_page_pdf() {
  return make_pdf(
      {"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page(2)});
}

// Root -> [ Pages -> [page, page], page ]
std::string three_page_nested_pdf() {
  return make_pdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 3 >>",
                   "<< /Type /Pages /Parent 2 0 R /Kids [4 0 R 5 0 R] /Count 2 >>", page(3), page(3),
                   page(2)});
}

// ---- PostScript ---------------------------------------------------------------------------

std::string ps_page(int n) {
  return "%%Page: " + std::to_string(n) + " " + std::to_string(n) +
         "\n/Helvetica findfont 12 scalefont setfont\n" + "72 720 moveto (page " + std::to_string(n) +
         ") show\nshowpage\n";
}

// ---- raster -------------------------------------------------------------------------------

void put_be32(std::string &s, size_t at, uint32_t v) {
  s[at] = static_cast<char>(v >> 24);
  s[at + 1] = static_cast<char>(v >> 16);
  s[at + 2] = static_cast<char>(v >> 8);
  s[at + 3] = static_cast<char>(v);
}

// The compressed lines of a page `width` pixels of `bpp` bytes wide and `height` (>= 3) lines
// high, using every kind of run: line 1 is a repeated run, a literal run and a blank rest; line 2
// one repeated run over the whole width, used for the remaining lines but one; the last line
// is literal runs only.
std::string raster_lines(uint32_t width, uint32_t bpp, uint32_t height) {
  REQUIRE(width >= 8);
  REQUIRE(width <= 128);
  REQUIRE(height >= 3);
  REQUIRE(height - 2 <= 256);
  std::string out;
  auto pixel = [&](uint8_t v) { out.append(bpp, static_cast<char>(v)); };
  out.push_back(0);                    // line 1, once
  out.push_back(static_cast<char>(3)); // 4 repeated pixels
  pixel(0x10);
  out.push_back(static_cast<char>(257 - 3)); // 3 literal pixels
  pixel(0x20);
  pixel(0x30);
  pixel(0x40);
  out.push_back(static_cast<char>(128));        // the rest is blank
  out.push_back(static_cast<char>(height - 3)); // line 2, used height - 2 times
  out.push_back(static_cast<char>(width - 1));
  pixel(0xEE);
  out.push_back(0); // the last line: literal runs of at most 128 pixels
  uint32_t left = width;
  while (left > 0) {
    uint32_t n = std::min<uint32_t>(left, 128);
    out.push_back(static_cast<char>(257 - n));
    for (uint32_t i = 0; i < n; i++)
      pixel(static_cast<uint8_t>(i));
    left -= n;
  }
  return out;
}

struct PwgPage {
  uint32_t width = 16;
  uint32_t height = 10;
  uint32_t bits_per_color = 8;
  uint32_t bits_per_pixel = 24;
  int64_t bytes_per_line = -1; // -1: the right value
};

std::string pwg_page(const PwgPage &p) {
  std::string header(1796, '\0');
  put_be32(header, 276, 300); // HWResolution
  put_be32(header, 280, 300);
  put_be32(header, 352, 612); // PageSize
  put_be32(header, 356, 792);
  put_be32(header, 372, p.width);
  put_be32(header, 376, p.height);
  put_be32(header, 384, p.bits_per_color);
  put_be32(header, 388, p.bits_per_pixel);
  uint32_t bpl = (p.width * p.bits_per_pixel + 7) / 8;
  put_be32(header, 392, p.bytes_per_line >= 0 ? static_cast<uint32_t>(p.bytes_per_line) : bpl);
  put_be32(header, 400, p.bits_per_pixel == 24 ? 19 : 18); // sRGB or sGray
  put_be32(header, 420, p.bits_per_pixel / p.bits_per_color);
  std::memcpy(header.data() + 1732, "na_letter_8.5x11in", 18);
  uint32_t bytes_per_pixel = p.bits_per_pixel < 8 ? 1 : p.bits_per_pixel / 8;
  uint32_t units = p.bits_per_pixel < 8 ? bpl : p.width;
  return header + raster_lines(units, bytes_per_pixel, p.height);
}

std::string pwg(const std::vector<PwgPage> &pages) {
  std::string out = "RaS2";
  for (const auto &p : pages)
    out += pwg_page(p);
  return out;
}

std::string urf_page(uint32_t width, uint32_t height, uint8_t bits) {
  std::string header(32, '\0');
  header[0] = static_cast<char>(bits);
  header[1] = bits == 24 ? 1 : 0; // sRGB / sGray
  header[2] = 1;                  // one-sided
  header[3] = 4;                  // normal quality
  put_be32(header, 12, width);
  put_be32(header, 16, height);
  put_be32(header, 20, 300);
  return header + raster_lines(width, bits / 8, height);
}

std::string urf(uint32_t announced, int pages) {
  std::string out("UNIRAST\0\0\0\0\0", 12);
  put_be32(out, 8, announced);
  for (int i = 0; i < pages; i++)
    out += urf_page(i == 0 ? 20 : 32, 6 + static_cast<uint32_t>(i), i == 0 ? 24 : 8);
  return out;
}

std::vector<uint8_t> byte_vector(std::string_view s) {
  return {s.begin(), s.end()};
}

} // namespace

TEST_CASE("the format is sniffed from the document's first bytes (issue 3)", "[agent][pages]") {
  CHECK(sniff_format(byte_vector("%PDF-1.7\n")) == "application/pdf");
  CHECK(sniff_format(byte_vector("%!PS-Adobe-3.0\n")) == "application/postscript");
  CHECK(sniff_format(byte_vector("%!\n")) == "application/postscript");
  CHECK(sniff_format(byte_vector("RaS2")) == "image/pwg-raster");
  CHECK(sniff_format(byte_vector(std::string_view("UNIRAST\0\0\0\0\1", 12))) == "image/urf");
  CHECK(sniff_format(byte_vector("\xFF\xD8\xFF\xE0")) == "image/jpeg");
  CHECK(sniff_format(byte_vector("UNIRAST!")) == "application/octet-stream");
  CHECK(sniff_format(byte_vector("%PDF")) == "application/octet-stream");
  CHECK(sniff_format(byte_vector("hello")) == "application/octet-stream");
  CHECK(sniff_format({}) == "application/octet-stream");
}

TEST_CASE("PDF pages are counted through the page tree, nested or not (issue 3)", "[agent][pages]") {
  CHECK(count("application/pdf", one_page_pdf()) == 1);
  CHECK(count("application/pdf", three_page_nested_pdf()) == 3);
  // MIME parameters and case do not matter.
  CHECK(count("Application/PDF; charset=binary", three_page_nested_pdf()) == 3);
  // As qpdf rewrites it: object streams and a compressed cross-reference stream.
  CHECK(count("application/pdf", rewritten_by_qpdf(three_page_nested_pdf(), false)) == 3);
}

TEST_CASE("a PDF is read through the reader a window at a time, never whole", "[agent][pages]") {
  // A 2 MB stream sits between the page objects and the cross-reference table: counting needs
  // the objects and the end of the file, not the stream.
  std::vector<std::string> bodies = {
      "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page(2),
      "<< /Length 2000000 >>\nstream\n" + std::string(2'000'000, 'x') + "\nendstream"};
  MemoryDocument doc(make_pdf(bodies));
  PageCountLimits in_process;
  in_process.isolate_pdf = false;
  CHECK(count_pages("application/pdf", doc, in_process) == 1);
  // One read per 64 KiB window: the start and the end of the file.
  CHECK(doc.reads < 10);
}

TEST_CASE("damaged, truncated and encrypted PDFs count as unknown (issue 3)", "[agent][pages]") {
  std::string pdf = three_page_nested_pdf();
  CHECK(count("application/pdf", pdf.substr(0, pdf.size() / 2)) == -1);
  CHECK(count("application/pdf", pdf.substr(0, pdf.size() - 20)) == -1);
  // The cross-reference table points 7 bytes off: recovery is off, so this is not guessed.
  std::string shifted = pdf;
  shifted.insert(15, "%extra\n");
  CHECK(count("application/pdf", shifted) == -1);
  // A page tree that loops back to its root.
  std::string looping = make_pdf(
      {"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>", page(2)});
  CHECK(count("application/pdf", looping) == -1);
  // A kid that is neither /Pages nor /Page.
  std::string odd = make_pdf({"<< /Type /Catalog /Pages 2 0 R >>",
                              "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", "<< /Type /Font >>"});
  CHECK(count("application/pdf", odd) == -1);
  CHECK(count("application/pdf", rewritten_by_qpdf(pdf, true)) == -1);
  CHECK(count("application/pdf", "") == -1);
  CHECK(count("application/pdf", "%PDF-1.4\n") == -1);
}

TEST_CASE("a PDF whose reads fail counts as unknown, in the child and in process", "[agent][pages]") {
  std::string pdf = three_page_nested_pdf();
  MemoryDocument failing(pdf, pdf.size() / 2);
  CHECK(count_pages("application/pdf", failing) == -1);
  PageCountLimits in_process;
  in_process.isolate_pdf = false;
  MemoryDocument failing_here(pdf, pdf.size() / 2);
  CHECK(count_pages("application/pdf", failing_here, in_process) == -1);
}

namespace {
// A reader that stalls, or crashes the process that reads it (the child that counts PDF).
class HostileDocument final : public DocumentReader {
public:
  explicit HostileDocument(bool crash) : crash_(crash) {}
  uint64_t size() const override { return 1000; }
  Result<size_t> read_at(uint64_t, std::span<uint8_t>) override {
    if (crash_) std::abort();
    ::sleep(5);
    return size_t{0};
  }

private:
  bool crash_;
};
} // namespace

TEST_CASE("a PDF counter that hangs or crashes costs its child process, not the agent", "[agent][pages]") {
  PageCountLimits limits;
  limits.pdf_timeout_ms = 300;
  limits.reuse_pdf_counter = false; // the reader itself runs in the child
  HostileDocument hangs(false);
  int64_t t0 = mono_ms();
  CHECK(count_pages("application/pdf", hangs, limits) == -1);
  CHECK(mono_ms() - t0 < 3000);
  HostileDocument crashes(true);
  CHECK(count_pages("application/pdf", crashes, limits) == -1);
}

TEST_CASE("small PDFs are counted by one long-lived counter process, replaced when it dies", "[agent][pages]") {
  std::string pdf = three_page_nested_pdf();
  CHECK(count("application/pdf", pdf) == 3);
  int64_t first = pdf_counter_pid();
  REQUIRE(first > 0);
  for (int i = 0; i < 20; i++)
    CHECK(count("application/pdf", pdf) == 3);
  CHECK(pdf_counter_pid() == first); // one process for all of them
  CHECK(count("application/pdf", "%PDF-1.4\nnot really\n") == -1);
  CHECK(pdf_counter_pid() == first); // a bad PDF is an answer, not a failure

  // Killed from outside (the OOM killer, an administrator): the next PDF gets a new one.
  REQUIRE(::kill(static_cast<pid_t>(first), SIGKILL) == 0);
  ::usleep(20 * 1000); // let it die
  CHECK(count("application/pdf", pdf) == 3);
  CHECK(pdf_counter_pid() > 0);
  CHECK(pdf_counter_pid() != first);
}

TEST_CASE("PostScript pages come from the DSC header's %%Pages (issue 3)", "[agent][pages]") {
  std::string ps =
      "%!PS-Adobe-3.0\n%%Creator: test\n%%Pages: 2\n%%EndComments\n" + ps_page(1) + ps_page(2) + "%%EOF\n";
  CHECK(count("application/postscript", ps) == 2);
  // The header's number is what counts; DSC 2.1's page order after it is allowed.
  CHECK(count("application/postscript", "%!PS-Adobe-2.1\n%%Pages: 5 -1\n%%EndComments\n" + ps_page(1)) == 5);
  // CR LF and CR line ends.
  CHECK(count("application/postscript", "%!PS-Adobe-3.0\r\n%%Pages: 4\r\n%%EndComments\r\n") == 4);
  CHECK(count("application/postscript", "%!PS-Adobe-3.0\r%%Pages: 6\r%%EndComments\r") == 6);
}

TEST_CASE("PostScript %%Pages: (atend) is read from the trailer, not from embedded documents",
          "[agent][pages]") {
  std::string embedded = "%%BeginDocument: logo.eps\n%!PS-Adobe-3.0 EPSF-3.0\n%%Pages: 9\n%%EndComments\n" +
                         ps_page(1) + "%%Trailer\n%%Pages: 9\n%%EOF\n%%EndDocument\n";
  std::string ps = "%!PS-Adobe-3.0\n%%Pages: (atend)\n%%EndComments\n" + ps_page(1) + embedded + ps_page(2) +
                   ps_page(3) + "%%Trailer\n%%Pages: 3\n%%EOF\n";
  CHECK(count("application/postscript", ps) == 3);
  // The trailer's number wins over the %%Page: comments.
  std::string says_four =
      "%!PS-Adobe-3.0\n%%Pages: (atend)\n%%EndComments\n" + ps_page(1) + "%%Trailer\n%%Pages: 4\n%%EOF\n";
  CHECK(count("application/postscript", says_four) == 4);
}

TEST_CASE("PostScript without %%Pages counts its %%Page: comments, skipping binary data", "[agent][pages]") {
  std::string binary =
      "%%BeginBinary: 30\n" + std::string("\n%%Page: 7 7\n%%Page: 8 8\n.....") + "\n%%EndBinary\n";
  REQUIRE(binary.size() ==
          std::string("%%BeginBinary: 30\n").size() + 30 + std::string("\n%%EndBinary\n").size());
  std::string ps =
      "%!PS-Adobe-3.0\n%%Title: no count\n%%EndComments\n" + ps_page(1) + binary + ps_page(2) + "%%EOF\n";
  CHECK(count("application/postscript", ps) == 2);
  // The header may end at the first line that is not a comment.
  CHECK(count("application/postscript", "%!PS-Adobe-3.0\n%%Title: x\n" + ps_page(1)) == 1);
}

TEST_CASE("PostScript that does not conform, or whose count is unresolved, counts as unknown",
          "[agent][pages]") {
  CHECK(count("application/postscript", "%!\n" + ps_page(1)) == -1);
  CHECK(count("application/postscript", "%!PS\n%%Pages: 1\n") == -1);
  CHECK(count("application/postscript", "%!PS-Adobe-3.0\n%%Pages: lots\n%%EndComments\n") == -1);
  CHECK(count("application/postscript", "%!PS-Adobe-3.0\n%%Pages: 99999999\n%%EndComments\n") == -1);
  CHECK(count("application/postscript", "%!PS-Adobe-3.0\n%%EndComments\nshowpage\n") == -1);
  // (atend) with the trailer cut off: truncated.
  std::string cut = "%!PS-Adobe-3.0\n%%Pages: (atend)\n%%EndComments\n" + ps_page(1) + ps_page(2);
  CHECK(count("application/postscript", cut) == -1);
  CHECK(count("application/postscript", "") == -1);
  MemoryDocument failing("%!PS-Adobe-3.0\n%%Pages: (atend)\n%%EndComments\n" + std::string(200000, ' ') +
                             "\n%%Trailer\n%%Pages: 3\n",
                         100000);
  CHECK(count_pages("application/postscript", failing) == -1);
}

TEST_CASE("PWG raster pages are counted by walking each page's header and lines (issue 3)",
          "[agent][pages]") {
  PwgPage rgb;
  PwgPage gray;
  gray.width = 40;
  gray.height = 7;
  gray.bits_per_pixel = 8;
  PwgPage black; // 1 bit per pixel: runs count bytes
  black.width = 100;
  black.height = 3;
  black.bits_per_color = 1;
  black.bits_per_pixel = 1;
  CHECK(count("image/pwg-raster", pwg({rgb})) == 1);
  CHECK(count("image/pwg-raster", pwg({rgb, gray})) == 2);
  CHECK(count("image/pwg-raster", pwg({black, gray, rgb})) == 3);
}

TEST_CASE("damaged or truncated PWG raster counts as unknown", "[agent][pages]") {
  PwgPage p;
  std::string two = pwg({p, p});
  CHECK(count("image/pwg-raster", two.substr(0, two.size() - 1)) == -1);
  CHECK(count("image/pwg-raster", two.substr(0, 4 + 1796 + 10)) == -1);
  CHECK(count("image/pwg-raster", two + "x") == -1);
  CHECK(count("image/pwg-raster", "RaS2") == -1);
  CHECK(count("image/pwg-raster", "RaS3" + two.substr(4)) == -1);
  PwgPage wrong_line = p;
  wrong_line.bytes_per_line = 47;
  CHECK(count("image/pwg-raster", pwg({wrong_line})) == -1);
  PwgPage odd_bits = p;
  odd_bits.bits_per_pixel = 12;
  CHECK(count("image/pwg-raster", pwg({odd_bits})) == -1);
  // A literal run that passes the end of the line.
  std::string overrun = pwg({p});
  size_t first_run = 4 + 1796 + 1;
  overrun[first_run] = static_cast<char>(257 - 17);
  CHECK(count("image/pwg-raster", overrun) == -1);
  // A line repeated past the page's height.
  std::string too_tall = pwg({p});
  size_t second_group = 4 + 1796 + 1 + (1 + 3) + (1 + 9) + 1;
  REQUIRE(static_cast<uint8_t>(too_tall[second_group]) == 10 - 3);
  too_tall[second_group] = static_cast<char>(200);
  CHECK(count("image/pwg-raster", too_tall) == -1);
  // A huge height announced over a few bytes ends at the document's end, not after 4 G lines.
  PwgPage huge = p;
  std::string claim = pwg({huge});
  put_be32(claim, 4 + 376, 0xFFFFFFFF);
  CHECK(count("image/pwg-raster", claim) == -1);
  MemoryDocument failing(pwg({p, p, p}), 4 + 1796 + 80);
  CHECK(count_pages("image/pwg-raster", failing) == -1);
}

TEST_CASE("URF pages are counted by walking page headers, checked against the file header (issue 3)",
          "[agent][pages]") {
  CHECK(count("image/urf", urf(1, 1)) == 1);
  CHECK(count("image/urf", urf(2, 2)) == 2);
  // A writer that streams may leave the header's count 0.
  CHECK(count("image/urf", urf(0, 2)) == 2);
  // The header's count disagrees with the pages there.
  CHECK(count("image/urf", urf(3, 2)) == -1);
  CHECK(count("image/urf", urf(1000000, 1)) == -1);
  std::string two = urf(2, 2);
  CHECK(count("image/urf", two.substr(0, two.size() - 3)) == -1);
  CHECK(count("image/urf", two.substr(0, 12 + 20)) == -1);
  CHECK(count("image/urf", two + std::string(32, '\0')) == -1);
  CHECK(count("image/urf", urf(0, 0)) == -1);
  std::string bad_bits = urf(1, 1);
  bad_bits[12] = 7;
  CHECK(count("image/urf", bad_bits) == -1);
  MemoryDocument failing(urf(2, 2), 40);
  CHECK(count_pages("image/urf", failing) == -1);
}

TEST_CASE("formats without a counter count as unknown", "[agent][pages]") {
  CHECK(count("image/jpeg", "\xFF\xD8\xFF\xE0") == -1);
  CHECK(count("text/plain", "hello\fworld\n") == -1);
  CHECK(count("application/octet-stream", one_page_pdf()) == -1);
  // The format given is what counts, not what the bytes look like.
  CHECK(count("application/postscript", one_page_pdf()) == -1);
}
