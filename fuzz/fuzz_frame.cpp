// Fuzz target: the byte stream of a connection, as the RPC layer reads it. The stream goes
// through two FrameDecoders, one fed everything at once and one fed byte by byte; the frames
// they produce (and where they fail) must be the same, whatever the split. Each frame body is
// then decoded as an envelope and its fields read.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "lpm/protocol/wire.h"

using namespace lpm;
using namespace lpm::proto;

namespace {

// Small enough that the cap is met by inputs the fuzzer can build.
constexpr size_t kFuzzMaxFrameBytes = 2048;

struct Outcome {
  std::vector<Bytes> frames;
  bool failed = false;
  Errc code = Errc::ok;
};

Status inspect(std::span<const uint8_t> body) {
  auto env = decode_envelope(body);
  if (!env.ok()) return env.error();
  if ((env->kind == FrameKind::request || env->kind == FrameKind::result) && env->body) {
    MapReader r(*env->body, "args");
    (void)r.opt_str("text");
    (void)r.opt_u64("bytes");
    (void)r.opt_bin("sha256", 32);
    if (r.has("page")) (void)r.map("page").opt_u64("limit");
  }
  if (env->kind == FrameKind::chunk && env->chunk.size() > kMaxChunkBytes) std::abort();
  if (env->kind == FrameKind::end && env->sha256.size() != 32) std::abort();
  if (env->kind == FrameKind::error && env->error.code == Errc::ok) std::abort();
  return {};
}

template <class Feed> Outcome run(Feed feed) {
  Outcome out;
  FrameDecoder decoder(kFuzzMaxFrameBytes);
  auto on_frame = [&](std::span<const uint8_t> body) -> Status {
    if (body.empty() || body.size() > kFuzzMaxFrameBytes) std::abort();
    out.frames.emplace_back(body.begin(), body.end());
    (void)inspect(body); // an envelope error closes a real connection; here it only must not crash
    return {};
  };
  Status s = feed(decoder, on_frame);
  if (!s.ok()) {
    out.failed = true;
    out.code = s.error().code;
  }
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::span<const uint8_t> input(data, size);
  Outcome whole = run([&](FrameDecoder &d, auto &on_frame) { return d.feed(input, on_frame); });
  Outcome bytewise = run([&](FrameDecoder &d, auto &on_frame) {
    for (size_t i = 0; i < input.size(); i++) {
      Status s = d.feed(input.subspan(i, 1), on_frame);
      if (!s.ok()) return s;
    }
    return Status{};
  });
  if (whole.frames != bytewise.frames || whole.failed != bytewise.failed || whole.code != bytewise.code) std::abort();
  return 0;
}
