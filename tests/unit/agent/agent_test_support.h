// Helpers shared by the agent's unit tests: an opened store, a stored job. Temporary folders and
// identities come from the project's transport_support.h.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "job_store.h"
#include "lpm/protocol/keys.h"
#include "lpm/sqlite.h"
#include "transport_support.h"

namespace lpm::agent::test {

using lpm::test::make_identity;
using lpm::test::TempDir;

inline std::shared_ptr<Db> open_db(const std::string &dir) {
  auto db = Db::open(dir + "/state.db");
  REQUIRE(db.ok());
  return std::shared_ptr<Db>(std::move(*db));
}

inline std::shared_ptr<JobStore> open_store(const std::shared_ptr<Db> &db, const std::string &dir) {
  auto store = JobStore::open(db, dir + "/spool");
  REQUIRE(store.ok());
  return *store;
}

inline const std::string kAlice = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
inline const std::string kBob = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";

// Stores a job through the same path the control socket uses: begin, write, commit.
inline Job store_job(JobStore &store, const std::string &user, const std::string &content) {
  NewJob nj;
  nj.user = user;
  nj.os_account = "tester";
  nj.title = "report.pdf";
  nj.format = "application/pdf";
  auto writer = store.begin_job(nj);
  REQUIRE(writer.ok());
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t *>(content.data()), content.size());
  REQUIRE((*writer)->write(bytes).ok());
  auto job = (*writer)->commit(proto::sha256(bytes), bytes.size());
  REQUIRE(job.ok());
  return *job;
}

inline size_t count_files(const std::string &dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto &entry : std::filesystem::directory_iterator(dir))
    n++;
  return n;
}

} // namespace lpm::agent::test
