// Frames and envelopes: what travels on every connection (docs/protocol.md, "Frames").
//
// A frame is a 4-byte big-endian length followed by exactly that many bytes of one msgpack map.
// The map is one of:
//   hello     {"hello": {"major", "minor", "role", "software"}}          first frame each way
//   request   {"op": str, "id": uuid, "args": map}
//   result    {"id": uuid, "result": map}
//   error     {"id": uuid, "error": {"code": uint, "message": str}}
//   chunk     {"id": uuid, "chunk": bin (<= 64 KiB)}                     bulk data of a stream
//   end       {"id": uuid, "end": {"sha256": bin(32), "bytes": uint}}    closes a stream
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "lpm/protocol/msg.h"

namespace lpm::proto {

inline constexpr uint32_t kProtocolMajor = 0;
inline constexpr uint32_t kProtocolMinor = 1;
inline constexpr const char *kSoftware = "lpm/0.1.0";

// Largest frame accepted (a control frame or one chunk frame with its envelope).
inline constexpr size_t kMaxFrameBytes = 1 << 20;
// Largest chunk payload.
inline constexpr size_t kMaxChunkBytes = 64 * 1024;

// Prepends the 4-byte big-endian length.
Bytes frame(std::span<const uint8_t> body);

// Splits a byte stream into frames. The declared length is checked against the cap before a
// single byte of the body is buffered.
class FrameDecoder {
public:
  explicit FrameDecoder(size_t max_frame_bytes = kMaxFrameBytes) : max_(max_frame_bytes) {}

  // Appends data and calls on_frame for each complete frame body, in order. Stops at the first
  // error, from the length check or from on_frame; the decoder is then unusable.
  Status feed(std::span<const uint8_t> data, const std::function<Status(std::span<const uint8_t>)> &on_frame);
  // Bytes held for an incomplete frame.
  size_t buffered() const { return buf_.size() - pos_; }

private:
  size_t max_;
  Bytes buf_;
  size_t pos_ = 0;
  bool failed_ = false;
};

enum class FrameKind { hello, request, result, error, chunk, end };

struct Hello {
  uint32_t major = kProtocolMajor;
  uint32_t minor = kProtocolMinor;
  std::string role;
  std::string software = kSoftware;
};

// One decoded frame. `body` (args or result) points into `handle`, which owns the memory.
struct Envelope {
  FrameKind kind = FrameKind::request;
  msgpack::object_handle handle;
  std::string id;
  std::string op;
  const msgpack::object *body = nullptr; // args for request, result for result
  Hello hello;
  Error error;                           // for kind == error
  std::span<const uint8_t> chunk;        // for kind == chunk
  Bytes sha256;                          // for kind == end
  uint64_t bytes = 0;                    // for kind == end
};

Result<Envelope> decode_envelope(std::span<const uint8_t> body);

Bytes encode_hello(const Hello &hello);
Bytes encode_request(std::string_view id, std::string_view op, const MapWriter &args);
Bytes encode_result(std::string_view id, const MapWriter &result);
Bytes encode_error(std::string_view id, const Error &error);
Bytes encode_chunk(std::string_view id, std::span<const uint8_t> data);
Bytes encode_end(std::string_view id, std::span<const uint8_t> sha256, uint64_t bytes);

// A peer one major version apart is refused; any minor version of our major is accepted.
Status check_hello(const Hello &peer);

} // namespace lpm::proto
