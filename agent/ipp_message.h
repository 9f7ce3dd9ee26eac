// IPP messages in memory (RFC 8010 section 3): finding where a request's attribute section ends
// in a body that is still arriving, decoding that section with libcups' IPP API from memory,
// and encoding a response to bytes. The document that follows the attribute section is never
// part of what is buffered here.
#pragma once

#include <cups/ipp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lpm/error.h"

namespace lpm::agent {

struct IppDeleter {
  void operator()(ipp_t *ipp) const { ippDelete(ipp); }
};
using IppPtr = std::unique_ptr<ipp_t, IppDeleter>;

// How much of a request body is buffered before the attribute section must have ended.
inline constexpr size_t kMaxIppAttributeBytes = 256 * 1024;

// The fixed 8 bytes every IPP message starts with.
struct IppHeader {
  int major = 0;
  int minor = 0;
  int operation = 0; // operation-id (requests) or status-code (responses)
  int32_t request_id = 0;
};
// nullopt when fewer than 8 bytes are given.
std::optional<IppHeader> ipp_peek_header(std::span<const uint8_t> bytes);

// Follows the framing of the attribute section (delimiter tags; value tags with their name and
// value lengths) over a buffer that grows as the body arrives, without decoding any value.
// Each call resumes where the previous one stopped, so scanning costs O(bytes) overall.
class IppSectionScanner {
public:
  enum class Verdict {
    need_more, // the section has not ended yet
    complete,  // section_bytes() is where the document starts
    malformed, // error() says what is wrong
    too_large, // the section did not end within the cap
  };

  explicit IppSectionScanner(size_t max_bytes = kMaxIppAttributeBytes) : max_bytes_(max_bytes) {}
  // `buffered` is every body byte received so far, from the first.
  Verdict scan(std::span<const uint8_t> buffered);
  size_t section_bytes() const { return section_bytes_; }
  const std::string &error() const { return error_; }
  size_t max_bytes() const { return max_bytes_; }

private:
  size_t max_bytes_;
  size_t pos_ = 0; // start of the next unscanned tag (0: the header is not scanned yet)
  size_t section_bytes_ = 0;
  std::string error_;
};

// Decodes exactly one attribute section (as delimited by IppSectionScanner) with ippReadIO from
// memory. bad_request with libcups' reason when it refuses the bytes or stops short of them.
Result<IppPtr> ipp_decode(std::span<const uint8_t> section);

// The wire bytes of a message (ippWriteIO to memory).
Result<std::vector<uint8_t>> ipp_encode(ipp_t *message);

} // namespace lpm::agent
