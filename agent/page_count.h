// Job facts read from the document itself: its format, sniffed from the first bytes, and its page
// count (qpdf for PDF; DSC comments for PostScript; page headers and the compressed lines behind
// them for PWG raster and Apple raster (URF)). Documents come from local users and from the
// spooler and may be hostile: every counter reads through a DocumentReader (never the whole
// document into memory), its work is bounded by the document's size, and anything it cannot
// vouch for (damaged, encrypted, non-conforming, a failed read) counts as unknown.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "document_reader.h"

namespace lpm::agent {

// How many leading bytes sniff_format looks at (passing more is fine).
inline constexpr size_t kSniffBytes = 8;

// The MIME type the first bytes announce: application/pdf ("%PDF-"), application/postscript
// ("%!"), image/pwg-raster ("RaS2"), image/urf ("UNIRAST\0"), image/jpeg (FF D8 FF); else
// application/octet-stream.
std::string sniff_format(std::span<const uint8_t> first_bytes);

struct PageCountLimits {
  // PDF is counted by qpdf in a child process (fork) under the caps below, so a decompression
  // bomb or a qpdf bug costs the child, never the agent. Off only for the fuzzer, which needs
  // the code in its own process.
  bool isolate_pdf = true;
  // PDFs up to 8 MiB are read (through the reader, in this process) and sent to one long-lived
  // counter process under the same caps, instead of a fork per document; off: every PDF gets a
  // child of its own that reads through the reader itself.
  bool reuse_pdf_counter = true;
  uint32_t pdf_timeout_ms = 10000;
  uint64_t pdf_memory_bytes = uint64_t{512} << 20; // the child's address space (not under ASan)
};

// The number of pages of a document in `format` (a MIME type, parameters ignored), or -1 when
// unknown: an unsupported format, a document that does not conform, is damaged or encrypted,
// or a read that failed (the caller logs). Never throws. Blocks the calling thread; PDF waits
// for its child at most limits.pdf_timeout_ms (measured: about 0.5 ms for the fork, 1 ms for 3
// pages, 60 ms for 300 pages in object streams), every other format reads the document at most
// once, sequentially (PWG raster: about 1 GB/s of plaintext). For PDF the reader is used from the
// forked child: it must read with positioned reads (pread, not a shared file offset) and keep no
// state the caller needs afterwards.
int64_t count_pages(const std::string &format, DocumentReader &doc, const PageCountLimits &limits = {});

// The process id of the long-lived PDF counter, or -1 when none runs (diagnostics and tests).
int64_t pdf_counter_pid();

} // namespace lpm::agent
