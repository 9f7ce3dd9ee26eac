#include "lpm/protocol/wire.h"

#include <cstring>

#include "lpm/ids.h"

namespace lpm::proto {

Bytes frame(std::span<const uint8_t> body) {
  Bytes out(4 + body.size());
  uint32_t n = static_cast<uint32_t>(body.size());
  out[0] = static_cast<uint8_t>(n >> 24);
  out[1] = static_cast<uint8_t>(n >> 16);
  out[2] = static_cast<uint8_t>(n >> 8);
  out[3] = static_cast<uint8_t>(n);
  if (!body.empty()) std::memcpy(out.data() + 4, body.data(), body.size());
  return out;
}

Status FrameDecoder::feed(std::span<const uint8_t> data,
                          const std::function<Status(std::span<const uint8_t>)> &on_frame) {
  if (failed_) return make_error(Errc::protocol_error, "frame decoder already failed");
  // Compact before growing so the buffer never holds consumed frames.
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
  size_t taken = 0;
  while (taken < data.size() || buffered() >= 4) {
    // Header: gather 4 bytes.
    if (buffered() < 4) {
      size_t want = 4 - buffered();
      size_t n = std::min(want, data.size() - taken);
      buf_.insert(buf_.end(), data.begin() + static_cast<std::ptrdiff_t>(taken),
                  data.begin() + static_cast<std::ptrdiff_t>(taken + n));
      taken += n;
      if (buffered() < 4) break;
    }
    const uint8_t *h = buf_.data() + pos_;
    size_t len = static_cast<size_t>(h[0]) << 24 | static_cast<size_t>(h[1]) << 16 |
                 static_cast<size_t>(h[2]) << 8 | h[3];
    if (len > max_) {
      failed_ = true;
      return make_error(Errc::too_large, "frame of " + std::to_string(len) + " bytes is over the " +
                                             std::to_string(max_) + "-byte limit");
    }
    if (len == 0) {
      failed_ = true;
      return make_error(Errc::protocol_error, "empty frame");
    }
    size_t have = buffered() - 4;
    if (have < len) {
      size_t n = std::min(len - have, data.size() - taken);
      buf_.insert(buf_.end(), data.begin() + static_cast<std::ptrdiff_t>(taken),
                  data.begin() + static_cast<std::ptrdiff_t>(taken + n));
      taken += n;
      if (buffered() - 4 < len) break;
    }
    std::span<const uint8_t> body(buf_.data() + pos_ + 4, len);
    pos_ += 4 + len;
    Status s = on_frame(body);
    if (!s.ok()) {
      failed_ = true;
      return s;
    }
  }
  return {};
}

Bytes encode_hello(const Hello &hello) {
  MapWriter h;
  h.u64("major", hello.major).u64("minor", hello.minor).str("role", hello.role).str("software", hello.software);
  MapWriter m;
  m.map("hello", h);
  return m.finish();
}

Bytes encode_request(std::string_view id, std::string_view op, const MapWriter &args) {
  MapWriter m;
  m.str("op", op).str("id", id).map("args", args);
  return m.finish();
}

Bytes encode_result(std::string_view id, const MapWriter &result) {
  MapWriter m;
  m.str("id", id).map("result", result);
  return m.finish();
}

Bytes encode_error(std::string_view id, const Error &error) {
  MapWriter e;
  e.u64("code", static_cast<uint64_t>(error.code)).str("message", error.message);
  MapWriter m;
  m.str("id", id).map("error", e);
  return m.finish();
}

Bytes encode_chunk(std::string_view id, std::span<const uint8_t> data) {
  MapWriter m;
  m.str("id", id).bin("chunk", data);
  return m.finish();
}

Bytes encode_end(std::string_view id, std::span<const uint8_t> sha256, uint64_t bytes) {
  MapWriter e;
  e.bin("sha256", sha256).u64("bytes", bytes);
  MapWriter m;
  m.str("id", id).map("end", e);
  return m.finish();
}

Result<Envelope> decode_envelope(std::span<const uint8_t> body) {
  auto unpacked = unpack_map(body);
  if (!unpacked.ok()) return unpacked.error();
  Envelope env;
  env.handle = std::move(*unpacked);
  MapReader r(env.handle.get(), "frame");
  auto protocol_fail = [](const Error &e) { return make_error(Errc::protocol_error, e.message); };

  if (r.has("hello")) {
    MapReader h = r.map("hello");
    env.kind = FrameKind::hello;
    uint64_t major = h.u64("major"), minor = h.u64("minor");
    env.hello.role = h.str("role", 64);
    env.hello.software = h.opt_str("software", "", 128);
    if (!r.ok()) return protocol_fail(r.error());
    if (major > UINT32_MAX || minor > UINT32_MAX) return make_error(Errc::protocol_error, "hello version out of range");
    env.hello.major = static_cast<uint32_t>(major);
    env.hello.minor = static_cast<uint32_t>(minor);
    return env;
  }
  env.id = r.str("id", 64);
  if (!r.ok()) return protocol_fail(r.error());
  if (!uuid_valid(env.id)) return make_error(Errc::protocol_error, "frame.id is not a UUID");
  if (r.has("op")) {
    env.kind = FrameKind::request;
    env.op = r.str("op", 64);
    (void)r.map("args");
    env.body = r.find("args");
  } else if (r.has("result")) {
    env.kind = FrameKind::result;
    (void)r.map("result");
    env.body = r.find("result");
  } else if (r.has("error")) {
    env.kind = FrameKind::error;
    MapReader e = r.map("error");
    uint64_t code = e.u64("code");
    env.error.message = e.str("message", 4096);
    env.error.code = code > 0xffff ? Errc::internal : static_cast<Errc>(code);
    if (r.ok() && code == 0) r.fail("frame.error.code must not be 0");
  } else if (r.has("chunk")) {
    env.kind = FrameKind::chunk;
    const msgpack::object *c = r.find("chunk");
    if (c->type != msgpack::type::BIN) return make_error(Errc::protocol_error, "frame.chunk must be binary");
    if (c->via.bin.size > kMaxChunkBytes) return make_error(Errc::too_large, "chunk over 64 KiB");
    env.chunk = std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(c->via.bin.ptr), c->via.bin.size);
  } else if (r.has("end")) {
    env.kind = FrameKind::end;
    MapReader e = r.map("end");
    env.sha256 = e.bin("sha256", 32);
    env.bytes = e.u64("bytes");
    if (r.ok() && env.sha256.size() != 32) r.fail("frame.end.sha256 must be 32 bytes");
  } else {
    return make_error(Errc::protocol_error, "frame is none of hello, request, result, error, chunk, end");
  }
  if (!r.ok()) return protocol_fail(r.error());
  return env;
}

Status check_hello(const Hello &peer) {
  if (peer.major != kProtocolMajor)
    return make_error(Errc::version_mismatch, "peer speaks protocol " + std::to_string(peer.major) + "." +
                                                  std::to_string(peer.minor) + ", we speak " +
                                                  std::to_string(kProtocolMajor) + "." +
                                                  std::to_string(kProtocolMinor) + "; upgrade the older side");
  return {};
}

} // namespace lpm::proto
