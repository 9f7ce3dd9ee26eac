// Helpers shared by the agent's unit tests: an opened store, a stored job. Temporary folders and
// identities come from the project's transport_support.h.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "job_store.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/rpc.h"
#include "lpm/sqlite.h"
#include "transport_support.h"

namespace lpm::agent::test {

using lpm::test::make_identity;
using lpm::test::TempDir;

// A printer name the tests' jobs are sent to.
inline const std::string kPrinter(64, 'c');

// `n` bytes from a seeded generator: the same document for the same seed.
inline std::string random_text(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto &c : s)
    c = static_cast<char>(rng() & 0xff);
  return s;
}

inline std::shared_ptr<Db> open_db(const std::string &dir) {
  auto db = Db::open(dir + "/state.db");
  REQUIRE(db.ok());
  return std::shared_ptr<Db>(std::move(*db));
}

// The store of data folder `dir` (storage.key and spool/ there). No free-space reserve unless
// asked: tests run wherever /tmp is.
inline std::shared_ptr<JobStore> open_store(const std::shared_ptr<Db> &db, const std::string &dir,
                                            uint64_t reserve_bytes = 0) {
  StoreOptions options;
  options.data_folder = dir;
  options.reserve_bytes = reserve_bytes;
  auto store = JobStore::open(db, options);
  REQUIRE(store.ok());
  return *store;
}

inline const std::string kAlice = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
inline const std::string kBob = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";

// Stores a job through the same path the control socket uses: begin, write, commit.
inline Job store_job(JobStore &store, const std::string &user, const std::string &content,
                     const std::string &title = "report.pdf") {
  NewJob nj;
  nj.user = user;
  nj.os_account = "tester";
  nj.title = title;
  nj.format = "application/pdf";
  auto writer = store.begin_job(nj);
  REQUIRE(writer.ok());
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t *>(content.data()), content.size());
  REQUIRE((*writer)->write(bytes).ok());
  auto job = (*writer)->commit(proto::sha256(bytes), bytes.size());
  REQUIRE(job.ok());
  return *job;
}

// A stored job's plaintext, read back through the store's decrypting reader.
inline Result<std::string> read_document(JobStore &store, const Job &job) {
  auto reader = store.open_document(job);
  if (!reader.ok()) return reader.error();
  std::string out((*reader)->size(), '\0');
  size_t at = 0;
  while (at < out.size()) {
    auto n = (*reader)->read_at(
        at, std::span<uint8_t>(reinterpret_cast<uint8_t *>(out.data()) + at, out.size() - at));
    if (!n.ok()) return n.error();
    if (*n == 0) return make_error(Errc::internal, "the reader ended early");
    at += *n;
  }
  return out;
}

inline size_t count_files(const std::string &dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto &entry : std::filesystem::directory_iterator(dir))
    n++;
  return n;
}

// The args map of a typed request, and a typed result read back (it must read cleanly): for
// tests that call the release service over the wire.
template <class T> proto::MapWriter args_of(const T &request) {
  proto::MapWriter w;
  request.write(w);
  return w;
}

template <class T> T result_of(proto::Response &response) {
  T out;
  proto::MapReader r = response.reader();
  out.read(r);
  REQUIRE(r.ok());
  return out;
}

} // namespace lpm::agent::test
