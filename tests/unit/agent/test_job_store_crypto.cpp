// The encrypted job store (issue 3, DESIGN §6): documents come back byte-identical through the
// decrypting reader, every kind of tampering with a spool file is refused, no title or document
// byte is stored in clear, the storage key is handled with care, user folders are tracked for
// DeleteEmptyUserFolders, commit checks digests and counts pages, and jobs an older agent stored
// in clear are encrypted at open.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "agent_test_support.h"
#include "lpm/files.h"
#include "lpm/ids.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;

namespace {

constexpr size_t C = kSpoolChunkBytes;

std::span<const uint8_t> bytes_of(const std::string &s) {
  return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}

std::string file_bytes(const std::string &path) {
  auto content = read_file(path, 64 << 20);
  REQUIRE(content.ok());
  return *content;
}

void put_file(const std::string &path, const std::string &content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  REQUIRE(out.good());
}

// Where chunk i's record (ciphertext | tag) starts in a spool file.
size_t record_at(size_t i) {
  return kSpoolHeaderBytes + i * (C + kTagBytes);
}

// The error reading a stored job back gives, or ok when the whole document read back equals
// `expected`.
Errc read_back(JobStore &store, const Job &job, const std::string &expected) {
  auto content = read_document(store, job);
  if (!content.ok()) return content.error().code;
  return *content == expected ? Errc::ok : Errc::internal;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every regular file under `dir` whose bytes contain `marker`.
std::vector<std::string> files_containing(const std::string &dir, const std::string &marker) {
  std::vector<std::string> hits;
  for (const auto &entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    if (contains(file_bytes(entry.path().string()), marker)) hits.push_back(entry.path().string());
  }
  return hits;
}

} // namespace

TEST_CASE("job store: documents of every size around the chunk come back byte-identical (issue 3)",
          "[agent][job_store][crypto]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  std::vector<size_t> sizes = {0, 1, C - 1, C, C + 1, 3 * C + 17, 5 * C};
  std::vector<std::pair<Job, std::string>> stored;
  for (size_t i = 0; i < sizes.size(); i++) {
    std::string content = random_text(sizes[i], static_cast<uint32_t>(i + 1));
    Job job = store_job(*store, kAlice, content, "doc " + std::to_string(sizes[i]));
    CHECK(job.size_bytes == sizes[i]);
    CHECK(job.sha256 == proto::sha256(bytes_of(content)));
    // The file holds exactly header + plaintext + one tag per chunk.
    CHECK(std::filesystem::file_size(store->spool_path(job)) == spool_file_bytes(sizes[i]));
    stored.emplace_back(job, content);
  }
  // Reopened: everything still reads back, titles included.
  store.reset();
  store = open_store(db, dir.path);
  for (const auto &[job, content] : stored) {
    INFO("size " << content.size());
    CHECK(read_back(*store, job, content) == Errc::ok);
    CHECK(store->get(job.id)->title == "doc " + std::to_string(content.size()));
  }

  SECTION("random access reads across chunk boundaries") {
    const auto &[job, content] = stored[5]; // 3 chunks + 17 bytes
    auto reader = store->open_document(job);
    REQUIRE(reader.ok());
    CHECK((*reader)->size() == content.size());
    std::mt19937 rng(7);
    for (int i = 0; i < 200; i++) {
      uint64_t offset = rng() % (content.size() + 10);
      size_t len = rng() % (2 * C);
      std::string buf(len, '\0');
      auto n = (*reader)->read_at(offset, std::span<uint8_t>(reinterpret_cast<uint8_t *>(buf.data()), len));
      REQUIRE(n.ok());
      size_t expected = offset >= content.size() ? 0 : std::min<size_t>(len, content.size() - offset);
      REQUIRE(*n == expected);
      CHECK(buf.substr(0, *n) == content.substr(std::min<size_t>(offset, content.size()), *n));
    }
  }
}

TEST_CASE("job store: a tampered, truncated or swapped spool file is refused, never served (issue 3)",
          "[agent][job_store][crypto]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  std::string content = random_text(3 * C + 1000, 11); // chunks 0..2 full, chunk 3 final
  Job job = store_job(*store, kAlice, content);
  std::string path = store->spool_path(job);
  std::string original = file_bytes(path);
  REQUIRE(read_back(*store, job, content) == Errc::ok);

  auto flip = [&](size_t at) {
    std::string damaged = original;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x01);
    put_file(path, damaged);
  };

  SECTION("a bit flipped in a chunk: that chunk is refused, the others still read") {
    flip(record_at(1) + 500);
    CHECK(read_back(*store, job, content) == Errc::checksum_mismatch);
    auto reader = store->open_document(job);
    REQUIRE(reader.ok());
    std::string buf(100, '\0');
    auto span = std::span<uint8_t>(reinterpret_cast<uint8_t *>(buf.data()), buf.size());
    REQUIRE((*reader)->read_at(10, span).ok());
    CHECK(buf == content.substr(10, 100));
    auto bad = (*reader)->read_at(C + 10, span);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Errc::checksum_mismatch);
    CHECK(contains(bad.error().message, "chunk 1"));
  }
  SECTION("a bit flipped in a tag") {
    flip(record_at(2) + C + 3);
    CHECK(read_back(*store, job, content) == Errc::checksum_mismatch);
  }
  SECTION("the header's nonce prefix changed") {
    flip(17);
    CHECK(read_back(*store, job, content) == Errc::checksum_mismatch);
  }
  SECTION("the header's magic changed") {
    flip(0);
    auto r = store->open_document(job);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::checksum_mismatch);
    CHECK(contains(r.error().message, "header"));
  }
  SECTION("the header's chunk size changed") {
    flip(13);
    CHECK(read_back(*store, job, content) == Errc::checksum_mismatch);
  }
  SECTION("truncated at a chunk boundary (the final chunk dropped)") {
    put_file(path, original.substr(0, record_at(3)));
    auto r = store->open_document(job);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::checksum_mismatch);
    CHECK(contains(r.error().message, "truncated"));
    // Even with the row's size forged to match, the last chunk left lacks the final flag.
    REQUIRE(db->exec("UPDATE jobs SET size_bytes = " + std::to_string(3 * C) + " WHERE id = '" + job.id + "'")
                .ok());
    auto forged = store->get(job.id);
    REQUIRE(forged.ok());
    auto f = store->open_document(*forged);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().code == Errc::checksum_mismatch);
    CHECK(contains(f.error().message, "chunk 2"));
  }
  SECTION("truncated in the middle of a chunk") {
    put_file(path, original.substr(0, record_at(2) + 100));
    CHECK(read_back(*store, job, content) == Errc::checksum_mismatch);
  }
  SECTION("truncated inside the header") {
    put_file(path, original.substr(0, 7));
    CHECK(read_back(*store, job, content) == Errc::checksum_mismatch);
  }
  SECTION("a chunk appended") {
    put_file(path, original + original.substr(record_at(1), C + kTagBytes));
    CHECK(read_back(*store, job, content) == Errc::checksum_mismatch);
  }
  SECTION("two chunks swapped") {
    std::string swapped = original;
    swapped.replace(record_at(0), C + kTagBytes, original.substr(record_at(1), C + kTagBytes));
    swapped.replace(record_at(1), C + kTagBytes, original.substr(record_at(0), C + kTagBytes));
    put_file(path, swapped);
    CHECK(read_back(*store, job, content) == Errc::checksum_mismatch);
  }
  SECTION("spool files swapped between two jobs of the same size") {
    std::string other_content = random_text(content.size(), 12);
    Job other = store_job(*store, kAlice, other_content);
    std::string other_path = store->spool_path(other);
    std::string other_original = file_bytes(other_path);
    put_file(path, other_original);
    put_file(other_path, original);
    CHECK(read_back(*store, job, content) == Errc::checksum_mismatch);
    CHECK(read_back(*store, other, other_content) == Errc::checksum_mismatch);
  }
  SECTION("the wrapped key of another job copied into the row") {
    Job other = store_job(*store, kAlice, "x");
    REQUIRE(db->exec("UPDATE jobs SET spool_key = (SELECT spool_key FROM jobs WHERE id = '" + other.id +
                     "') WHERE id = '" + job.id + "'")
                .ok());
    CHECK(read_back(*store, job, content) == Errc::checksum_mismatch);
  }
  SECTION("the file is gone") {
    ::unlink(path.c_str());
    CHECK(read_back(*store, job, content) == Errc::not_found);
  }
}

TEST_CASE("job store: no job title and no document byte appears in clear in the data folder (issue 3)",
          "[agent][job_store][crypto]") {
  TempDir dir;
  const std::string title_marker = "TITLE-MARKER-5e1c9a77d2";
  const std::string content_marker = "CONTENT-MARKER-b04f3e618a";
  std::string data = dir.path + "/data";
  {
    REQUIRE(make_dirs(data, 0700).ok());
    auto db = open_db(data);
    auto store = open_store(db, data);
    std::vector<Job> jobs;
    for (int i = 0; i < 6; i++) {
      std::string content;
      while (content.size() < static_cast<size_t>(i) * 40000 + 10)
        content += content_marker + " page " + std::to_string(content.size()) + "\n";
      jobs.push_back(
          store_job(*store, i % 2 ? kAlice : kBob, content, title_marker + " #" + std::to_string(i)));
    }
    // Some go (retention, a user's delete): what they leave must not be readable either.
    REQUIRE(store->remove(jobs[0].id, wall_ms(), nullptr).ok());
    REQUIRE(store->remove_expired(jobs[2].submitted_ms + 1, 0, nullptr).ok());
    // Listing decrypts the titles for their owners.
    CHECK(store->get(jobs[5].id)->title == title_marker + " #5");
    // Scanned with the database open (state.db-wal holds the recent pages) ...
    CHECK(files_containing(data, title_marker).empty());
    CHECK(files_containing(data, content_marker).empty());
    CHECK(files_containing(data, "page 40000").empty());
  }
  // ... and after it is closed (checkpointed into state.db).
  CHECK(files_containing(data, title_marker).empty());
  CHECK(files_containing(data, content_marker).empty());
  // The scan does find a marker where one is.
  put_file(data + "/control", "x" + content_marker + "y");
  CHECK(files_containing(data, content_marker).size() == 1);
}

TEST_CASE("job store: the storage key is created once, kept private, and never silently replaced (issue 3)",
          "[agent][job_store][crypto]") {
  TempDir dir;
  std::string key_path = dir.path + "/storage.key";
  auto db = open_db(dir.path);
  Job job;
  {
    auto store = open_store(db, dir.path);
    job = store_job(*store, kAlice, "secret document");
  }
  struct stat st {};
  REQUIRE(::stat(key_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 32);
  std::string key = file_bytes(key_path);
  StoreOptions options;
  options.data_folder = dir.path;
  options.reserve_bytes = 0;

  SECTION("reopening uses the same key") {
    auto store = open_store(db, dir.path);
    CHECK(file_bytes(key_path) == key);
    CHECK(read_back(*store, job, "secret document") == Errc::ok);
  }
  SECTION("a missing key with encrypted jobs is an error that says what to do") {
    ::unlink(key_path.c_str());
    auto store = JobStore::open(db, options);
    REQUIRE_FALSE(store.ok());
    CHECK(store.error().code == Errc::not_found);
    CHECK(contains(store.error().message, "storage.key is missing"));
    CHECK(contains(store.error().message, "1 job(s)"));
    CHECK_FALSE(file_exists(key_path)); // no new key made over the jobs
    put_file(key_path, key);
    CHECK(JobStore::open(db, options).ok());
  }
  SECTION("a replaced key is refused") {
    put_file(key_path, random_text(32, 99));
    auto store = JobStore::open(db, options);
    REQUIRE_FALSE(store.ok());
    CHECK(store.error().code == Errc::checksum_mismatch);
    CHECK(contains(store.error().message, "not the key"));
  }
  SECTION("a key file of the wrong size is refused") {
    put_file(key_path, key.substr(0, 31));
    auto store = JobStore::open(db, options);
    REQUIRE_FALSE(store.ok());
    CHECK(store.error().code == Errc::io_error);
    CHECK(contains(store.error().message, "31 bytes"));
  }
  SECTION("with no job stored, a lost key is simply made again") {
    auto store = open_store(db, dir.path);
    REQUIRE(store->remove(job.id, wall_ms(), nullptr).ok());
    store.reset();
    ::unlink(key_path.c_str());
    auto again = open_store(db, dir.path);
    CHECK(file_exists(key_path));
    CHECK(file_bytes(key_path) != key);
    Job next = store_job(*again, kAlice, "after");
    CHECK(read_back(*again, next, "after") == Errc::ok);
  }
}

TEST_CASE("job store: each owner has an opaque folder, tracked until it has been empty long enough (issue 3)",
          "[agent][job_store][crypto]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  Job a1 = store_job(*store, kAlice, "a1");
  Job a2 = store_job(*store, kAlice, "a2");
  Job b1 = store_job(*store, kBob, "b1");
  std::string alice_folder = store->user_folder_path(kAlice);
  CHECK(alice_folder != store->user_folder_path(kBob));
  CHECK_FALSE(contains(alice_folder, kAlice)); // the user id is not in the name
  CHECK(std::filesystem::path(alice_folder).filename().string().size() == 32);
  CHECK(std::filesystem::path(store->spool_path(a1)).parent_path() == alice_folder);

  auto folders = store->user_folders();
  REQUIRE(folders.ok());
  REQUIRE(folders->size() == 2);
  for (const auto &f : *folders) {
    CHECK_FALSE(f.empty);
    CHECK(f.emptied_ms == 0);
    CHECK(f.jobs == (f.user == kAlice ? 2u : 1u));
  }

  auto alice = [&]() {
    auto all = store->user_folders();
    REQUIRE(all.ok());
    for (const auto &f : *all)
      if (f.user == kAlice) return f;
    return UserFolder{};
  };
  REQUIRE(store->remove(a1.id, 1000, nullptr).ok());
  CHECK_FALSE(alice().empty);
  REQUIRE(store->remove(a2.id, 2000, nullptr).ok());
  CHECK(alice().empty);
  CHECK(alice().emptied_ms == 2000);
  CHECK(alice().name == std::filesystem::path(alice_folder).filename().string());

  // Survives a restart.
  store.reset();
  store = open_store(db, dir.path);
  CHECK(alice().emptied_ms == 2000);

  SECTION("removed once empty since before the deadline") {
    CHECK(*store->remove_empty_user_folders(2000) == 0);
    CHECK(*store->remove_empty_user_folders(2001) == 1);
    CHECK_FALSE(file_exists(alice_folder));
    REQUIRE(store->user_folders()->size() == 1);
    CHECK(store->user_folders()->front().user == kBob);
    CHECK(file_exists(store->spool_path(b1)));
    // A new job makes the folder again.
    Job again = store_job(*store, kAlice, "again");
    CHECK(read_back(*store, again, "again") == Errc::ok);
    CHECK_FALSE(alice().empty);
  }
  SECTION("a job arriving in an empty folder keeps it") {
    store_job(*store, kAlice, "back");
    CHECK(alice().emptied_ms == 0);
    CHECK(*store->remove_empty_user_folders(wall_ms() + 1000) == 0);
    CHECK(file_exists(alice_folder));
  }
  SECTION("a refused upload leaves an empty folder marked empty") {
    store_job(*store, kAlice, "back");
    Job back = store->list(JobFilter{{kAlice}, {JobState::held}, "", 10})->jobs.front();
    REQUIRE(store->remove(back.id, 3000, nullptr).ok());
    {
      NewJob nj;
      nj.user = kAlice;
      auto w = store->begin_job(nj);
      REQUIRE(w.ok());
      CHECK(alice().emptied_ms == 0);
    }
    CHECK(alice().empty);
    CHECK(alice().emptied_ms > 0);
  }
}

TEST_CASE("job store: commit checks the announced digest and counts pages on the stored plaintext (issue 3)",
          "[agent][job_store][crypto]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  std::string content;
  for (int i = 0; i < 3000; i++)
    content += "%%Page: " + std::to_string(i + 1) + " x\n" + std::string(50, 'p');
  NewJob nj;
  nj.user = kAlice;
  nj.title = "three thousand pages";

  SECTION("the writer's own digest, a page counter reading through the reader") {
    auto w = store->begin_job(nj);
    REQUIRE(w.ok());
    // Arbitrary write sizes: the chunking does not depend on them.
    for (size_t at = 0; at < content.size(); at += 7777)
      REQUIRE((*w)->write(bytes_of(content.substr(at, 7777))).ok());
    std::string seen;
    CommitOptions options;
    options.count_pages = [&](DocumentReader &reader) -> int64_t {
      seen.resize(reader.size());
      auto n = reader.read_at(0, std::span<uint8_t>(reinterpret_cast<uint8_t *>(seen.data()), seen.size()));
      if (!n.ok()) return -2;
      int64_t pages = 0;
      for (size_t p = seen.find("%%Page:"); p != std::string::npos; p = seen.find("%%Page:", p + 1))
        pages++;
      return pages;
    };
    auto job = (*w)->commit(options);
    REQUIRE(job.ok());
    CHECK(seen == content);
    CHECK(job->pages == 3000);
    CHECK(job->sha256 == proto::sha256(bytes_of(content)));
    CHECK(job->size_bytes == content.size());
    CHECK(store->get(job->id)->pages == 3000);
  }
  SECTION("a digest that differs refuses the job and leaves nothing") {
    auto w = store->begin_job(nj);
    REQUIRE(w.ok());
    REQUIRE((*w)->write(bytes_of(content)).ok());
    CommitOptions options;
    options.expected_sha256 = proto::sha256(bytes_of("something else"));
    auto job = (*w)->commit(options);
    REQUIRE_FALSE(job.ok());
    CHECK(job.error().code == Errc::checksum_mismatch);
    // A failed commit closes the writer.
    CHECK((*w)->commit(CommitOptions{}).error().code == Errc::internal);
    w->reset();
    CHECK(count_files(store->user_folder_path(kAlice)) == 0);
    CHECK(store->list(JobFilter{{kAlice}, {JobState::receiving, JobState::held}, "", 10})->jobs.empty());
  }
  SECTION("a size that differs refuses the job") {
    auto w = store->begin_job(nj);
    REQUIRE(w.ok());
    REQUIRE((*w)->write(bytes_of(content)).ok());
    CommitOptions options;
    options.expected_size = content.size() + 1;
    CHECK((*w)->commit(options).error().code == Errc::checksum_mismatch);
  }
}

TEST_CASE("job store: jobs an older agent stored in clear are encrypted when the store opens (issue 3)",
          "[agent][job_store][crypto]") {
  TempDir dir;
  std::string id = uuid_v7();
  std::string content = random_text(2 * C + 5, 3) + "LEGACY-CONTENT-MARKER";
  {
    auto db = open_db(dir.path);
    // The jobs table and layout as issue 2's agent left them.
    REQUIRE(
        db->exec("CREATE TABLE jobs(id TEXT PRIMARY KEY, user TEXT NOT NULL, os_account TEXT NOT NULL, "
                 "title TEXT NOT NULL, format TEXT NOT NULL, size_bytes INTEGER NOT NULL DEFAULT 0, "
                 "sha256 BLOB, copies INTEGER NOT NULL, sides TEXT NOT NULL, color TEXT NOT NULL, "
                 "pages INTEGER NOT NULL DEFAULT -1, submitted_ms INTEGER NOT NULL, state TEXT NOT NULL, "
                 "state_ms INTEGER NOT NULL, claim TEXT NOT NULL DEFAULT '', claim_printer TEXT NOT NULL "
                 "DEFAULT '', claim_expires_ms INTEGER NOT NULL DEFAULT 0, last_claim TEXT NOT NULL "
                 "DEFAULT '', last_outcome TEXT NOT NULL DEFAULT '', claim_from TEXT NOT NULL DEFAULT '', "
                 "claim_from_ms INTEGER NOT NULL DEFAULT 0)")
            .ok());
    auto st =
        db->prepare("INSERT INTO jobs(id, user, os_account, title, format, size_bytes, sha256, copies, "
                    "sides, color, submitted_ms, state, state_ms) VALUES(?1, ?2, 'tester', 'Old title', "
                    "'application/pdf', ?3, ?4, 1, 'one-sided', 'color', 1, 'held', 1)");
    REQUIRE(st.ok());
    st->bind(1, id).bind(2, kAlice).bind(3, static_cast<int64_t>(content.size()));
    st->bind_blob(4, proto::sha256(bytes_of(content)));
    REQUIRE(st->run().ok());
    REQUIRE(make_dirs(dir.path + "/spool", 0700).ok());
    put_file(dir.path + "/spool/" + id + ".spool", content);
  }
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  auto job = store->get(id);
  REQUIRE(job.ok());
  CHECK(job->title == "Old title");
  CHECK(job->state == JobState::held);
  CHECK(read_back(*store, *job, content) == Errc::ok);
  CHECK_FALSE(file_exists(dir.path + "/spool/" + id + ".spool"));
  CHECK(file_exists(store->spool_path(*job)));
  CHECK(files_containing(dir.path + "/spool", "LEGACY-CONTENT-MARKER").empty());
  auto title = db->prepare("SELECT title FROM jobs WHERE id = ?1");
  REQUIRE(title.ok());
  title->bind(1, id);
  REQUIRE(*title->step());
  CHECK(title->col_text(0).empty());
  REQUIRE(store->user_folders()->size() == 1);
}
