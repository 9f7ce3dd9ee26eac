#include "lpm/protocol/msg.h"

#include <cstring>

namespace lpm::proto {

// ---------------------------------------------------------------------------------------------
// MapWriter

void MapWriter::key(std::string_view k) {
  msgpack::packer<Out> packer(out_);
  packer.pack_str(static_cast<uint32_t>(k.size()));
  packer.pack_str_body(k.data(), static_cast<uint32_t>(k.size()));
  count_++;
}

MapWriter &MapWriter::str(std::string_view k, std::string_view value) {
  key(k);
  msgpack::packer<Out> packer_(out_);
  packer_.pack_str(static_cast<uint32_t>(value.size()));
  packer_.pack_str_body(value.data(), static_cast<uint32_t>(value.size()));
  return *this;
}

MapWriter &MapWriter::u64(std::string_view k, uint64_t value) {
  key(k);
  msgpack::packer<Out> packer_(out_);
  packer_.pack_uint64(value);
  return *this;
}

MapWriter &MapWriter::i64(std::string_view k, int64_t value) {
  key(k);
  msgpack::packer<Out> packer_(out_);
  packer_.pack_int64(value);
  return *this;
}

MapWriter &MapWriter::boolean(std::string_view k, bool value) {
  key(k);
  msgpack::packer<Out> packer_(out_);
  if (value)
    packer_.pack_true();
  else
    packer_.pack_false();
  return *this;
}

MapWriter &MapWriter::bin(std::string_view k, std::span<const uint8_t> value) {
  key(k);
  msgpack::packer<Out> packer_(out_);
  packer_.pack_bin(static_cast<uint32_t>(value.size()));
  packer_.pack_bin_body(reinterpret_cast<const char *>(value.data()), static_cast<uint32_t>(value.size()));
  return *this;
}

MapWriter &MapWriter::map(std::string_view k, const MapWriter &value) {
  key(k);
  Bytes encoded = value.finish();
  body_.insert(body_.end(), encoded.begin(), encoded.end());
  return *this;
}

MapWriter &MapWriter::str_array(std::string_view k, const std::vector<std::string> &values) {
  key(k);
  msgpack::packer<Out> packer_(out_);
  packer_.pack_array(static_cast<uint32_t>(values.size()));
  for (const auto &v : values) {
    packer_.pack_str(static_cast<uint32_t>(v.size()));
    packer_.pack_str_body(v.data(), static_cast<uint32_t>(v.size()));
  }
  return *this;
}

MapWriter &MapWriter::map_array(std::string_view k, const std::vector<MapWriter> &values) {
  key(k);
  msgpack::packer<Out> packer_(out_);
  packer_.pack_array(static_cast<uint32_t>(values.size()));
  for (const auto &v : values) {
    Bytes encoded = v.finish();
    body_.insert(body_.end(), encoded.begin(), encoded.end());
  }
  return *this;
}

MapWriter &MapWriter::pairs_of(const msgpack::object &map, std::string_view except) {
  if (map.type != msgpack::type::MAP) return *this;
  msgpack::packer<Out> packer(out_);
  for (uint32_t i = 0; i < map.via.map.size; i++) {
    const msgpack::object_kv &kv = map.via.map.ptr[i];
    if (!except.empty() && kv.key.type == msgpack::type::STR &&
        std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == except)
      continue;
    packer.pack(kv.key);
    packer.pack(kv.val);
    count_++;
  }
  return *this;
}

MapWriter &MapWriter::nil(std::string_view k) {
  key(k);
  msgpack::packer<Out> packer_(out_);
  packer_.pack_nil();
  return *this;
}

Bytes MapWriter::finish() const {
  msgpack::sbuffer head;
  msgpack::packer<msgpack::sbuffer> p(head);
  p.pack_map(static_cast<uint32_t>(count_));
  Bytes out;
  out.reserve(head.size() + body_.size());
  out.insert(out.end(), head.data(), head.data() + head.size());
  out.insert(out.end(), body_.begin(), body_.end());
  return out;
}

// ---------------------------------------------------------------------------------------------
// MapReader

MapReader::MapReader(const msgpack::object &obj, std::string what)
    : MapReader(&obj, std::move(what), std::make_shared<State>()) {}

MapReader::MapReader(const msgpack::object *obj, std::string what, std::shared_ptr<State> state)
    : obj_(obj), what_(std::move(what)), state_(std::move(state)) {
  if (!state_->failed && (obj_ == nullptr || obj_->type != msgpack::type::MAP)) {
    state_->failed = true;
    state_->message = what_ + " is not a map";
  }
}

void MapReader::fail(std::string message) {
  if (state_->failed) return;
  state_->failed = true;
  state_->message = std::move(message);
}

void MapReader::fail_field(std::string_view key, const char *problem) {
  fail(what_ + "." + std::string(key) + ": " + problem);
}

const msgpack::object *MapReader::find(std::string_view key) const {
  if (obj_ == nullptr || obj_->type != msgpack::type::MAP) return nullptr;
  const auto &m = obj_->via.map;
  for (uint32_t i = 0; i < m.size; i++) {
    const auto &k = m.ptr[i].key;
    if (k.type == msgpack::type::STR && std::string_view(k.via.str.ptr, k.via.str.size) == key)
      return &m.ptr[i].val;
  }
  return nullptr;
}

bool MapReader::has(std::string_view key) const {
  const auto *o = find(key);
  return o != nullptr && o->type != msgpack::type::NIL;
}

const msgpack::object *MapReader::field(std::string_view key, bool required) {
  if (state_->failed) return nullptr;
  const auto *o = find(key);
  if (o == nullptr || o->type == msgpack::type::NIL) {
    if (required) fail_field(key, "is missing");
    return nullptr;
  }
  return o;
}

static std::string get_str(MapReader &r, const msgpack::object *o, size_t max_len, bool &bad, bool &too_long) {
  (void)r;
  if (o->type != msgpack::type::STR) {
    bad = true;
    return {};
  }
  if (o->via.str.size > max_len) {
    too_long = true;
    return {};
  }
  return std::string(o->via.str.ptr, o->via.str.size);
}

std::string MapReader::str(std::string_view key, size_t max_len) {
  const auto *o = field(key, true);
  if (!o) return {};
  bool bad = false, too_long = false;
  std::string s = get_str(*this, o, max_len, bad, too_long);
  if (bad) fail_field(key, "must be a string");
  if (too_long) fail_field(key, "is too long");
  return s;
}

std::string MapReader::opt_str(std::string_view key, std::string fallback, size_t max_len) {
  const auto *o = field(key, false);
  if (!o) return fallback;
  bool bad = false, too_long = false;
  std::string s = get_str(*this, o, max_len, bad, too_long);
  if (bad) fail_field(key, "must be a string");
  if (too_long) fail_field(key, "is too long");
  return s;
}

uint64_t MapReader::u64(std::string_view key) {
  const auto *o = field(key, true);
  if (!o) return 0;
  if (o->type != msgpack::type::POSITIVE_INTEGER) {
    fail_field(key, "must be a non-negative integer");
    return 0;
  }
  return o->via.u64;
}

uint64_t MapReader::opt_u64(std::string_view key, uint64_t fallback) {
  if (!field(key, false)) return fallback;
  return u64(key);
}

int64_t MapReader::i64(std::string_view key) {
  const auto *o = field(key, true);
  if (!o) return 0;
  if (o->type == msgpack::type::NEGATIVE_INTEGER) return o->via.i64;
  if (o->type == msgpack::type::POSITIVE_INTEGER && o->via.u64 <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(o->via.u64);
  fail_field(key, "must be an integer");
  return 0;
}

int64_t MapReader::opt_i64(std::string_view key, int64_t fallback) {
  if (!field(key, false)) return fallback;
  return i64(key);
}

bool MapReader::boolean(std::string_view key) {
  const auto *o = field(key, true);
  if (!o) return false;
  if (o->type != msgpack::type::BOOLEAN) {
    fail_field(key, "must be a boolean");
    return false;
  }
  return o->via.boolean;
}

bool MapReader::opt_bool(std::string_view key, bool fallback) {
  if (!field(key, false)) return fallback;
  return boolean(key);
}

Bytes MapReader::bin(std::string_view key, size_t max_len) {
  const auto *o = field(key, true);
  if (!o) return {};
  if (o->type != msgpack::type::BIN) {
    fail_field(key, "must be binary");
    return {};
  }
  if (o->via.bin.size > max_len) {
    fail_field(key, "is too long");
    return {};
  }
  const auto *p = reinterpret_cast<const uint8_t *>(o->via.bin.ptr);
  return Bytes(p, p + o->via.bin.size);
}

Bytes MapReader::opt_bin(std::string_view key, size_t max_len) {
  if (!field(key, false)) return {};
  return bin(key, max_len);
}

MapReader MapReader::map(std::string_view key) {
  const auto *o = field(key, true);
  if (o && o->type != msgpack::type::MAP) fail_field(key, "must be a map");
  return MapReader(o, what_ + "." + std::string(key), state_);
}

const msgpack::object *MapReader::array_field(std::string_view key, size_t max_items) {
  const auto *o = field(key, true);
  if (!o) return nullptr;
  if (o->type != msgpack::type::ARRAY) {
    fail_field(key, "must be an array");
    return nullptr;
  }
  if (o->via.array.size > max_items) {
    fail_field(key, "has too many items");
    return nullptr;
  }
  return o;
}

std::vector<std::string> MapReader::str_array(std::string_view key, size_t max_items, size_t max_len) {
  std::vector<std::string> out;
  const auto *o = array_field(key, max_items);
  if (!o) return out;
  for (uint32_t i = 0; i < o->via.array.size; i++) {
    const auto &item = o->via.array.ptr[i];
    if (item.type != msgpack::type::STR) {
      fail_field(key, "must hold only strings");
      return {};
    }
    if (item.via.str.size > max_len) {
      fail_field(key, "holds a string that is too long");
      return {};
    }
    out.emplace_back(item.via.str.ptr, item.via.str.size);
  }
  return out;
}

std::vector<MapReader> MapReader::map_array(std::string_view key, size_t max_items) {
  std::vector<MapReader> out;
  const auto *o = array_field(key, max_items);
  if (!o) return out;
  for (uint32_t i = 0; i < o->via.array.size; i++) {
    const auto &item = o->via.array.ptr[i];
    if (item.type != msgpack::type::MAP) {
      fail_field(key, "must hold only maps");
      return {};
    }
    out.push_back(MapReader(&item, what_ + "." + std::string(key) + "[" + std::to_string(i) + "]", state_));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The allocation-free structural walk.

namespace {

struct Walker {
  const uint8_t *p;
  const uint8_t *end;
  const UnpackLimits &limits;
  Error error;
  bool failed = false;

  bool fail(Errc code, std::string message) {
    if (!failed) {
      failed = true;
      error = make_error(code, std::move(message));
    }
    return false;
  }

  bool need(size_t n) {
    if (static_cast<size_t>(end - p) < n) return fail(Errc::protocol_error, "msgpack value is truncated");
    return true;
  }

  bool read_be(size_t n, uint64_t &out) {
    if (!need(n)) return false;
    out = 0;
    for (size_t i = 0; i < n; i++) out = out << 8 | p[i];
    p += n;
    return true;
  }

  bool skip(size_t n) {
    if (!need(n)) return false;
    p += n;
    return true;
  }

  bool blob(uint64_t len, size_t cap, const char *what) {
    if (len > cap) return fail(Errc::too_large, std::string("msgpack ") + what + " of " + std::to_string(len) + " bytes is over the limit");
    return skip(static_cast<size_t>(len));
  }

  bool container(uint64_t count, bool is_map, size_t depth) {
    size_t cap = is_map ? limits.max_map : limits.max_array;
    if (count > cap)
      return fail(Errc::too_large, std::string("msgpack ") + (is_map ? "map" : "array") + " of " + std::to_string(count) + " items is over the limit");
    if (depth + 1 > limits.max_depth) return fail(Errc::too_large, "msgpack nesting is too deep");
    uint64_t values = is_map ? count * 2 : count;
    // Every value takes at least one byte: a declared count larger than what is left is a lie.
    if (values > static_cast<uint64_t>(end - p)) return fail(Errc::protocol_error, "msgpack container declares more items than the frame holds");
    for (uint64_t i = 0; i < values; i++)
      if (!value(depth + 1)) return false;
    return true;
  }

  bool value(size_t depth) {
    if (!need(1)) return false;
    uint8_t t = *p++;
    uint64_t n = 0;
    if (t <= 0x7f || t >= 0xe0) return true;                     // fixint
    if (t >= 0x80 && t <= 0x8f) return container(t & 0x0f, true, depth);   // fixmap
    if (t >= 0x90 && t <= 0x9f) return container(t & 0x0f, false, depth);  // fixarray
    if (t >= 0xa0 && t <= 0xbf) return blob(t & 0x1f, limits.max_str, "string"); // fixstr
    switch (t) {
    case 0xc0: case 0xc2: case 0xc3: return true;               // nil, false, true
    case 0xc4: return read_be(1, n) && blob(n, limits.max_bin, "binary");
    case 0xc5: return read_be(2, n) && blob(n, limits.max_bin, "binary");
    case 0xc6: return read_be(4, n) && blob(n, limits.max_bin, "binary");
    case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
      return fail(Errc::protocol_error, "msgpack extension types are not accepted");
    case 0xca: return skip(4);
    case 0xcb: return skip(8);
    case 0xcc: case 0xd0: return skip(1);
    case 0xcd: case 0xd1: return skip(2);
    case 0xce: case 0xd2: return skip(4);
    case 0xcf: case 0xd3: return skip(8);
    case 0xd9: return read_be(1, n) && blob(n, limits.max_str, "string");
    case 0xda: return read_be(2, n) && blob(n, limits.max_str, "string");
    case 0xdb: return read_be(4, n) && blob(n, limits.max_str, "string");
    case 0xdc: return read_be(2, n) && container(n, false, depth);
    case 0xdd: return read_be(4, n) && container(n, false, depth);
    case 0xde: return read_be(2, n) && container(n, true, depth);
    case 0xdf: return read_be(4, n) && container(n, true, depth);
    default: return fail(Errc::protocol_error, "invalid msgpack type byte");  // 0xc1
    }
  }
};

} // namespace

Status validate_msgpack(std::span<const uint8_t> data, const UnpackLimits &limits) {
  Walker w{data.data(), data.data() + data.size(), limits, {}};
  if (data.empty()) return make_error(Errc::protocol_error, "empty msgpack value");
  if ((data[0] & 0xf0) != 0x80 && data[0] != 0xde && data[0] != 0xdf)
    return make_error(Errc::protocol_error, "frame body is not a msgpack map");
  if (!w.value(0)) return w.error;
  if (w.p != w.end) return make_error(Errc::protocol_error, "trailing bytes after the msgpack map");
  return {};
}

Result<msgpack::object_handle> unpack_map(std::span<const uint8_t> data, const UnpackLimits &limits) {
  Status valid = validate_msgpack(data, limits);
  if (!valid.ok()) return valid.error();
  try {
    size_t offset = 0;
    msgpack::unpack_limit lim(limits.max_array, limits.max_map, limits.max_str, limits.max_bin, 0,
                              limits.max_depth);
    msgpack::object_handle oh = msgpack::unpack(reinterpret_cast<const char *>(data.data()), data.size(),
                                                offset, nullptr, nullptr, lim);
    if (offset != data.size()) return make_error(Errc::protocol_error, "trailing bytes after the msgpack map");
    return oh;
  } catch (const std::exception &e) {
    // Not reachable after validation, but msgpack-cxx reports by exceptions: keep them here.
    return make_error(Errc::protocol_error, std::string("invalid msgpack: ") + e.what());
  }
}

} // namespace lpm::proto
