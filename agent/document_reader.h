// Random access to a stored document's plaintext: what page counting (page_count.h) reads
// through, and what the spool's decrypting reader (the job store) provides. Every read is
// authenticated: a tampered or truncated spool file gives an error, never bytes.
#pragma once

#include <cstdint>
#include <span>

#include "lpm/error.h"

namespace lpm::agent {

class DocumentReader {
public:
  virtual ~DocumentReader() = default;
  // The plaintext size in bytes.
  virtual uint64_t size() const = 0;
  // Reads up to out.size() bytes at `offset`; returns how many (0 only at or past the end).
  virtual Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) = 0;
};

} // namespace lpm::agent
