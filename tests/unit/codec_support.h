// Shared by the tests of the ops' messages (test_ops*.cpp): ids and fingerprints to fill them
// with, and a message written and read back.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "lpm/protocol/wire.h"

namespace lpm::test {

inline const std::string kId = "0190f5e2-7c3a-7000-8000-000000000001";
inline const std::string kId2 = "0190f5e2-7c3a-7000-8000-000000000002";
inline const std::string kFp = std::string(64, 'a');

// Reads a T from the bytes of `w`; the reader's error message, "" when it accepted them. `what`
// names the map in that message ("args.job ...").
template <class T> std::string read_into(const proto::MapWriter &w, T &out, const char *what = "args") {
  proto::Bytes bytes = w.finish();
  auto handle = proto::unpack_map(bytes);
  REQUIRE(handle.ok());
  proto::MapReader r(handle->get(), what);
  out.read(r);
  return r.ok() ? "" : r.error().message;
}

// A T written and read back; the test fails when the reader refuses what the writer wrote.
template <class T> T round_trip(const T &in) {
  proto::MapWriter w;
  in.write(w);
  T out;
  std::string refused = read_into(w, out);
  INFO(refused);
  REQUIRE(refused.empty());
  return out;
}

} // namespace lpm::test
