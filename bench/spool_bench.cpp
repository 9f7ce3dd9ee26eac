// lpm_spool_bench: throughput of the agent's encrypted spool (issue 3), figures only (JSON lines):
//   spool_seal, spool_open     AES-256-GCM chunk sealing / authenticated opening in memory
//   sha256                     the digest the writer computes on the side, for comparison
//   store_write                JobStore begin_job -> write -> commit (encrypt, SHA-256, write,
//                              fsync) into a temp data folder, beside a floor measured in the same
//                              run: the same bytes written in clear to a file and fsynced
//   store_read                 open_document + sequential read_at (authenticate, decrypt), beside
//                              the floor of reading the clear file back (page cache both times)
// Usage: lpm_spool_bench [MiB] [FOLDER] (default 256 MiB in a temp folder under /tmp).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "job_store.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"

using namespace lpm;
using namespace lpm::agent;

namespace {

void emit(const char *name, double mib_per_s, double floor = 0) {
  if (floor > 0)
    std::printf("{\"name\":\"%s\",\"unit\":\"MiB/s\",\"value\":%.1f,\"peer_value\":%.1f,\"ratio\":%.3f}\n",
                name, mib_per_s, floor, mib_per_s / floor);
  else
    std::printf("{\"name\":\"%s\",\"unit\":\"MiB/s\",\"value\":%.1f}\n", name, mib_per_s);
  std::fflush(stdout);
}

double rate(uint64_t bytes, int64_t ns) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0) / (static_cast<double>(ns) / 1e9);
}

int die(const Error &e) {
  std::fprintf(stderr, "lpm_spool_bench: %s\n", e.to_string().c_str());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
  std::string folder = argc > 2 ? argv[2] : "";
  bool made = folder.empty();
  if (made) {
    char tmpl[] = "/tmp/lpm-spool-bench.XXXXXX";
    if (!::mkdtemp(tmpl)) return 1;
    folder = tmpl;
  }
  const size_t block = 1 << 20;
  std::vector<uint8_t> data(block);
  random_bytes(data.data(), data.size());
  const uint64_t total = mib * block;

  // In memory: seal, then open what was sealed.
  SecretKey key = SecretKey::random();
  SpoolHeader header;
  std::vector<std::vector<uint8_t>> records;
  {
    SpoolSealer sealer(key, header, "bench");
    int64_t t0 = mono_ns();
    uint64_t kept = 0;
    auto keep = [&](std::span<const uint8_t> r) -> Status {
      if (kept++ < 16) records.emplace_back(r.begin(), r.end()); // a sample for the opener
      return {};
    };
    for (uint64_t i = 0; i < mib; i++)
      (void)sealer.add(data, keep);
    (void)sealer.finish(keep);
    emit("spool_seal", rate(total, mono_ns() - t0));
  }
  {
    SpoolOpener opener(key, header, "bench");
    std::vector<uint8_t> out(kSpoolChunkBytes);
    uint64_t opened = 0;
    int64_t t0 = mono_ns();
    for (uint64_t i = 0; opened < total; i++) {
      const auto &r = records[i % 15];
      if (!opener.open(i % 15, false, r, out.data()).ok())
        return die(make_error(Errc::internal, "open failed"));
      opened += out.size();
    }
    emit("spool_open", rate(opened, mono_ns() - t0));
  }
  {
    proto::Sha256 sha;
    int64_t t0 = mono_ns();
    for (uint64_t i = 0; i < mib; i++)
      sha.update(data);
    (void)sha.finish();
    emit("sha256", rate(total, mono_ns() - t0));
  }

  // Through the store, with fsync, against the clear floor.
  std::string clear = folder + "/clear.bin";
  double write_floor = 0;
  {
    int64_t t0 = mono_ns();
    int fd = ::open(clear.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return die(make_error(Errc::io_error, "create " + clear));
    for (uint64_t i = 0; i < mib; i++)
      if (!store_detail::write_all(fd, data, clear).ok()) return die(make_error(Errc::io_error, "write"));
    ::fsync(fd);
    ::close(fd);
    write_floor = rate(total, mono_ns() - t0);
  }
  lpm::log_set_level(lpm::LogLevel::warn);
  auto db = Db::open(folder + "/state.db");
  if (!db.ok()) return die(db.error());
  StoreOptions options;
  options.data_folder = folder;
  options.reserve_bytes = 0;
  auto store = JobStore::open(std::shared_ptr<Db>(std::move(*db)), options);
  if (!store.ok()) return die(store.error());
  Job job;
  {
    NewJob nj;
    nj.user = "bench";
    int64_t t0 = mono_ns();
    auto writer = (*store)->begin_job(nj);
    if (!writer.ok()) return die(writer.error());
    for (uint64_t i = 0; i < mib; i++) {
      Status s = (*writer)->write(data);
      if (!s.ok()) return die(s.error());
    }
    auto committed = (*writer)->commit();
    if (!committed.ok()) return die(committed.error());
    job = *committed;
    emit("store_write", rate(total, mono_ns() - t0), write_floor);
  }
  {
    std::vector<uint8_t> buf(block);
    int64_t t0 = mono_ns();
    int fd = ::open(clear.c_str(), O_RDONLY | O_CLOEXEC);
    while (::read(fd, buf.data(), buf.size()) > 0) {
    }
    ::close(fd);
    double floor = rate(total, mono_ns() - t0);
    t0 = mono_ns();
    auto reader = (*store)->open_document(job);
    if (!reader.ok()) return die(reader.error());
    uint64_t at = 0;
    for (;;) {
      auto n = (*reader)->read_at(at, buf);
      if (!n.ok()) return die(n.error());
      if (*n == 0) break;
      at += *n;
    }
    emit("store_read", rate(at, mono_ns() - t0), floor);
  }
  store->reset();
  if (made) std::filesystem::remove_all(folder);
  return 0;
}
