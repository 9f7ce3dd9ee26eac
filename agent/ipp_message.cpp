// IPP framing scan and libcups decode/encode through memory callbacks.
#include "ipp_message.h"

#include <cups/cups.h>

#include <algorithm>
#include <cstring>

namespace lpm::agent {

namespace {

constexpr uint8_t kTagEnd = 0x03;        // end-of-attributes-tag
constexpr uint8_t kFirstValueTag = 0x10; // 0x00-0x0F are delimiter (group) tags
constexpr uint8_t kTagExtension = 0x7F;  // RFC 8010 3.5.2: a 32-bit type follows

uint16_t be16(const uint8_t *p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

struct MemoryReader {
  std::span<const uint8_t> data;
  size_t pos = 0;
};

ssize_t read_memory(void *context, ipp_uchar_t *buffer, size_t bytes) {
  auto *r = static_cast<MemoryReader *>(context);
  size_t n = std::min(bytes, r->data.size() - r->pos);
  if (n > 0) std::memcpy(buffer, r->data.data() + r->pos, n);
  r->pos += n;
  return static_cast<ssize_t>(n);
}

ssize_t write_memory(void *context, ipp_uchar_t *buffer, size_t bytes) {
  auto *out = static_cast<std::vector<uint8_t> *>(context);
  out->insert(out->end(), buffer, buffer + bytes);
  return static_cast<ssize_t>(bytes);
}

} // namespace

std::optional<IppHeader> ipp_peek_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < 8) return std::nullopt;
  IppHeader h;
  h.major = bytes[0];
  h.minor = bytes[1];
  h.operation = be16(bytes.data() + 2);
  h.request_id =
      static_cast<int32_t>(static_cast<uint32_t>(bytes[4]) << 24 | static_cast<uint32_t>(bytes[5]) << 16 |
                           static_cast<uint32_t>(bytes[6]) << 8 | static_cast<uint32_t>(bytes[7]));
  return h;
}

IppSectionScanner::Verdict IppSectionScanner::scan(std::span<const uint8_t> buffered) {
  if (section_bytes_ > 0) return Verdict::complete;
  if (!error_.empty()) return Verdict::malformed;
  if (pos_ == 0) {
    if (buffered.size() < 8) return buffered.size() > max_bytes_ ? Verdict::too_large : Verdict::need_more;
    pos_ = 8;
  }
  while (pos_ < buffered.size()) {
    uint8_t tag = buffered[pos_];
    if (tag == kTagEnd) {
      section_bytes_ = pos_ + 1;
      if (section_bytes_ > max_bytes_) return Verdict::too_large;
      return Verdict::complete;
    }
    if (tag < kFirstValueTag) {
      pos_ += 1;
      continue;
    }
    if (tag == kTagExtension) {
      error_ = "the attribute section uses an extension tag (0x7F), which this printer does not support";
      return Verdict::malformed;
    }
    // tag, name-length, name, value-length, value: stop unless all of it is here.
    size_t at = pos_ + 1;
    if (buffered.size() < at + 2) break;
    size_t name_length = be16(buffered.data() + at);
    at += 2 + name_length;
    if (buffered.size() < at + 2) break;
    size_t value_length = be16(buffered.data() + at);
    at += 2 + value_length;
    if (buffered.size() < at) break;
    pos_ = at;
  }
  // The cap bounds the section itself, whatever the rest of the buffer holds.
  return buffered.size() > max_bytes_ ? Verdict::too_large : Verdict::need_more;
}

Result<IppPtr> ipp_decode(std::span<const uint8_t> section) {
  IppPtr ipp(ippNew());
  if (!ipp) return make_error(Errc::internal, "ippNew failed");
  MemoryReader reader{section, 0};
  ipp_state_t state = ippReadIO(&reader, read_memory, 1, nullptr, ipp.get());
  if (state != IPP_STATE_DATA) {
    const char *why = cupsLastErrorString();
    return make_error(Errc::bad_request, std::string("the IPP attribute section does not decode") +
                                             (why != nullptr && *why != '\0' ? std::string(": ") + why : ""));
  }
  if (reader.pos != section.size())
    return make_error(Errc::bad_request, "the IPP attribute section ends after " +
                                             std::to_string(reader.pos) +
                                             " bytes, not at its end-of-attributes tag");
  return ipp;
}

Result<std::vector<uint8_t>> ipp_encode(ipp_t *message) {
  std::vector<uint8_t> out;
  out.reserve(ippLength(message));
  ippSetState(message, IPP_STATE_IDLE);
  if (ippWriteIO(&out, write_memory, 1, nullptr, message) != IPP_STATE_DATA)
    return make_error(Errc::internal, std::string("ippWriteIO failed: ") + cupsLastErrorString());
  return out;
}

} // namespace lpm::agent
