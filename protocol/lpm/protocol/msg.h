// Building and reading the msgpack maps every frame carries.
//
// MapWriter appends key/value pairs and counts them, so no caller ever writes a map header by
// hand. MapReader reads typed fields out of an unpacked map; the first problem it meets (missing
// field, wrong type, value over its cap) is kept and reported once as a bad_request error that
// names the field, and every later read returns an empty value.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "lpm/error.h"

namespace lpm::proto {

using Bytes = std::vector<uint8_t>;

class MapWriter {
public:
  MapWriter() = default;
  MapWriter(const MapWriter &other) : body_(other.body_), count_(other.count_) {}
  MapWriter(MapWriter &&other) noexcept : body_(std::move(other.body_)), count_(other.count_) {}
  MapWriter &operator=(const MapWriter &other) {
    body_ = other.body_;
    count_ = other.count_;
    return *this;
  }
  MapWriter &operator=(MapWriter &&other) noexcept {
    body_ = std::move(other.body_);
    count_ = other.count_;
    return *this;
  }

  MapWriter &str(std::string_view key, std::string_view value);
  MapWriter &u64(std::string_view key, uint64_t value);
  MapWriter &i64(std::string_view key, int64_t value);
  MapWriter &boolean(std::string_view key, bool value);
  MapWriter &bin(std::string_view key, std::span<const uint8_t> value);
  MapWriter &map(std::string_view key, const MapWriter &value);
  MapWriter &str_array(std::string_view key, const std::vector<std::string> &values);
  MapWriter &map_array(std::string_view key, const std::vector<MapWriter> &values);
  MapWriter &nil(std::string_view key);
  // Appends every pair of `map` (a msgpack map; anything else adds nothing) as it is, except a
  // pair whose key is the string `except`: how a relay passes a request or a result on.
  MapWriter &pairs_of(const msgpack::object &map, std::string_view except = {});

  size_t count() const { return count_; }
  // The encoded map: header with the pair count, then the pairs in insertion order.
  Bytes finish() const;

private:
  // out_ always refers to this object's own body_ (hence the hand-written copies above).
  struct Out {
    Bytes &bytes;
    void write(const char *data, size_t len) { bytes.insert(bytes.end(), data, data + len); }
  };
  void key(std::string_view k);
  Bytes body_;
  Out out_{body_};
  size_t count_ = 0;
};

class MapReader {
public:
  // Reads `obj`, which must be a map (else the reader starts in error). `what` names the map in
  // messages ("args", "result", "ticket").
  MapReader(const msgpack::object &obj, std::string what);

  // Required fields: on absence or wrong type the reader records an error and returns {}.
  std::string str(std::string_view key, size_t max_len = 4096);
  uint64_t u64(std::string_view key);
  int64_t i64(std::string_view key);
  bool boolean(std::string_view key);
  Bytes bin(std::string_view key, size_t max_len = 65536);
  MapReader map(std::string_view key);
  std::vector<std::string> str_array(std::string_view key, size_t max_items, size_t max_len = 4096);
  std::vector<MapReader> map_array(std::string_view key, size_t max_items);

  // Optional fields: absent (or nil) gives the default; present with a wrong type is an error.
  std::string opt_str(std::string_view key, std::string fallback = {}, size_t max_len = 4096);
  uint64_t opt_u64(std::string_view key, uint64_t fallback = 0);
  int64_t opt_i64(std::string_view key, int64_t fallback = 0);
  bool opt_bool(std::string_view key, bool fallback = false);
  Bytes opt_bin(std::string_view key, size_t max_len = 65536);
  bool has(std::string_view key) const;

  // Raw access for envelopes that carry a nested map as an opaque value.
  const msgpack::object *find(std::string_view key) const;

  bool ok() const { return !state_->failed; }
  // The first error met, as a bad_request naming the field.
  Error error() const { return make_error(Errc::bad_request, state_->message); }
  // Marks the reader failed with a message of the caller's (for semantic checks).
  void fail(std::string message);

private:
  struct State {
    bool failed = false;
    std::string message;
  };
  MapReader(const msgpack::object *obj, std::string what, std::shared_ptr<State> state);
  const msgpack::object *field(std::string_view key, bool required);
  // A required array of at most max_items, or null (with the error recorded).
  const msgpack::object *array_field(std::string_view key, size_t max_items);
  void fail_field(std::string_view key, const char *problem);

  const msgpack::object *obj_;
  std::string what_;
  std::shared_ptr<State> state_;
};

// Limits for unpacking one frame's msgpack. Every frame is checked against them by a walk that
// allocates nothing before msgpack-cxx builds the object (so a declared size is never trusted).
struct UnpackLimits {
  size_t max_depth = 16;
  size_t max_array = 10000;
  size_t max_map = 256;
  size_t max_str = 1 << 20;
  size_t max_bin = 1 << 20;
};

// Unpacks exactly one msgpack value that must be a map and fill the whole buffer.
// Errors: protocol_error (truncated, trailing bytes, invalid type byte, not a map),
// too_large (a size over its limit, nesting too deep).
Result<msgpack::object_handle> unpack_map(std::span<const uint8_t> data, const UnpackLimits &limits = {});

// The structural walk used by unpack_map, exposed for tests and the fuzzer.
Status validate_msgpack(std::span<const uint8_t> data, const UnpackLimits &limits);

} // namespace lpm::proto
