// Page counting for the raster formats IPP Everywhere and AirPrint send: PWG raster (PWG
// 5102.4: "RaS2", then per page a 1796-byte header and the compressed lines) and Apple raster
// (URF: "UNIRAST\0", a page count, then per page a 32-byte header and the compressed lines).
// Both compress the same way, so one walk finds where each page ends:
//
//   page  = line-group * (until Height lines)
//   group = repeat (1 byte: the line is used repeat + 1 times) run * (until BytesPerLine bytes)
//   run   = 0..127: one pixel, repeated code + 1 times
//         | 129..255: 257 - code pixels follow literally
//         | 128: the rest of the line is blank
//
// A pixel is BitsPerPixel / 8 bytes (one byte below 8 bits per pixel). Every step of the walk
// consumes at least one byte of the document, so the work is bounded by its size; anything that
// does not add up (a run past the end of a line, more lines than the height, a header with
// impossible values, a truncated page) makes the count unknown.
#include <array>
#include <cstring>

#include "page_count_private.h"

namespace lpm::agent::detail {

namespace {

constexpr size_t kPwgHeaderBytes = 1796;
constexpr size_t kUrfFileHeaderBytes = 12;
constexpr size_t kUrfPageHeaderBytes = 32;

// Offsets of the PWG 5102.4 page header fields used here (big-endian 32-bit integers; the same
// layout as CUPS's cups_page_header2_t).
constexpr size_t kPwgWidth = 372;
constexpr size_t kPwgHeight = 376;
constexpr size_t kPwgBitsPerColor = 384;
constexpr size_t kPwgBitsPerPixel = 388;
constexpr size_t kPwgBytesPerLine = 392;
constexpr size_t kPwgColorOrder = 396; // 0: chunky, the only order PWG raster allows

// Apple raster page header offsets: bits per pixel (1 byte), width and height (big-endian 32).
constexpr size_t kUrfBitsPerPixel = 0;
constexpr size_t kUrfWidth = 12;
constexpr size_t kUrfHeight = 16;

uint32_t be32(const uint8_t *p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

struct RasterGeometry {
  uint64_t height = 0; // lines
  uint64_t bytes_per_line = 0;
  uint64_t bytes_per_pixel = 0; // the unit a run counts in
};

// Skips one page of compressed lines; false when they do not add up to exactly the page.
bool skip_compressed_page(DocumentCursor &c, const RasterGeometry &g) {
  uint64_t lines = 0;
  while (lines < g.height) {
    uint8_t repeat = 0;
    if (!c.next(repeat)) return false;
    lines += uint64_t{repeat} + 1;
    if (lines > g.height) return false;
    uint64_t filled = 0;
    while (filled < g.bytes_per_line) {
      uint8_t code = 0;
      if (!c.next(code)) return false;
      if (code == 128) break; // the rest of the line is blank
      uint64_t bytes = (code < 128 ? uint64_t{code} + 1 : 257 - uint64_t{code}) * g.bytes_per_pixel;
      if (bytes > g.bytes_per_line - filled) return false;
      // A repeated run stores one pixel, a literal run every pixel.
      if (!c.skip(code < 128 ? g.bytes_per_pixel : bytes)) return false;
      filled += bytes;
    }
  }
  return true;
}

// BitsPerPixel values PWG 5102.4 allows: 1, 2, 4, then whole bytes up to 15 colors of 16 bits.
bool pwg_bits_per_pixel_valid(uint32_t bits) {
  if (bits == 1 || bits == 2 || bits == 4) return true;
  return bits >= 8 && bits <= 240 && bits % 8 == 0;
}

bool pwg_geometry(const std::array<uint8_t, kPwgHeaderBytes> &h, RasterGeometry &g) {
  uint32_t width = be32(&h[kPwgWidth]);
  uint32_t height = be32(&h[kPwgHeight]);
  uint32_t bits_per_color = be32(&h[kPwgBitsPerColor]);
  uint32_t bits = be32(&h[kPwgBitsPerPixel]);
  if (width == 0 || height == 0) return false;
  if (bits_per_color != 1 && bits_per_color != 2 && bits_per_color != 4 && bits_per_color != 8 &&
      bits_per_color != 16)
    return false;
  if (!pwg_bits_per_pixel_valid(bits) || bits % bits_per_color != 0) return false;
  if (be32(&h[kPwgColorOrder]) != 0) return false;
  g.height = height;
  g.bytes_per_line = (uint64_t{width} * bits + 7) / 8;
  g.bytes_per_pixel = bits < 8 ? 1 : bits / 8;
  return be32(&h[kPwgBytesPerLine]) == g.bytes_per_line;
}

bool urf_geometry(const std::array<uint8_t, kUrfPageHeaderBytes> &h, RasterGeometry &g) {
  uint32_t bits = h[kUrfBitsPerPixel];
  uint32_t width = be32(&h[kUrfWidth]);
  uint32_t height = be32(&h[kUrfHeight]);
  // AirPrint sends 8 (gray), 16 (gray 16), 24 (RGB), 32 (CMYK), 48 (RGB 16), 64 (CMYK 16);
  // Ghostscript's appleraster device also writes 1, 2 and 4 (packed, runs count bytes).
  if (bits != 1 && bits != 2 && bits != 4 && (bits == 0 || bits % 8 != 0 || bits > 64)) return false;
  if (width == 0 || height == 0) return false;
  g.height = height;
  g.bytes_per_pixel = bits < 8 ? 1 : bits / 8;
  g.bytes_per_line = (uint64_t{width} * bits + 7) / 8;
  return true;
}

// Walks pages (a header of HeaderBytes read by `geometry`, then the compressed lines) to the end
// of the document; -1 unless there is at least one and each adds up.
template <size_t HeaderBytes, class Geometry> int64_t walk_pages(DocumentCursor &c, Geometry geometry) {
  int64_t pages = 0;
  std::array<uint8_t, HeaderBytes> header{};
  while (!c.at_end()) {
    RasterGeometry g;
    if (!c.read_exact(header) || !geometry(header, g) || !skip_compressed_page(c, g)) return -1;
    pages++;
  }
  return c.failed() || pages == 0 ? -1 : pages;
}

} // namespace

int64_t count_pwg_raster_pages(DocumentReader &doc) {
  DocumentCursor c(doc);
  std::array<uint8_t, 4> sync{};
  if (!c.read_exact(sync) || std::memcmp(sync.data(), "RaS2", 4) != 0) return -1;
  return walk_pages<kPwgHeaderBytes>(c, pwg_geometry);
}

int64_t count_urf_pages(DocumentReader &doc) {
  DocumentCursor c(doc);
  std::array<uint8_t, kUrfFileHeaderBytes> file_header{};
  if (!c.read_exact(file_header) || std::memcmp(file_header.data(), "UNIRAST\0", 8) != 0) return -1;
  uint32_t announced = be32(&file_header[8]);
  // Each page takes at least its header and two bytes per line group.
  if (announced > c.size() / (kUrfPageHeaderBytes + 2)) return -1;
  int64_t pages = walk_pages<kUrfPageHeaderBytes>(c, urf_geometry);
  // Writers that stream may leave the count 0; any other count must be what the walk found.
  if (pages < 0 || (announced != 0 && announced != static_cast<uint64_t>(pages))) return -1;
  return pages;
}

} // namespace lpm::agent::detail
