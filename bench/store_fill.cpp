// lpm_store_fill: fills a stopped agent's data folder with held jobs through the job store's own
// API (begin_job -> write -> commit, each job durable as in capture), so the memory and start-up
// benchmarks can start an agent holding many jobs without submitting them one by one over IPP.
// Jobs are small PDFs (bench_support.h) owned by one directory user.
//
// Filling is not what is measured, so it skips the per-job flushes: this program's fsync() and
// fdatasync() return at once (they replace the C library's for the whole process, the job
// store's and SQLite's calls alike), and one syncfs() at the end makes everything durable. With
// them, 10,000 jobs would take minutes here (each new file's fsync commits the filesystem
// journal); without, seconds. The files and rows are exactly what the agent writes.
//
// Usage: lpm_store_fill --config FILE --user USER_ID --held N [--account NAME] [--doc-bytes B]
// Adds jobs until the user holds N; prints one JSON line (jobs added, seconds). The agent must
// not be running (one process owns state.db).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "agent_state.h"
#include "bench_support.h"
#include "lpm/log.h"
#include "lpm/packaging/configuration.h"

using namespace lpm;
using namespace lpm::agent;

// See the header comment: flushing once at the end instead of per job.
extern "C" int fsync(int) { return 0; }
extern "C" int fdatasync(int) { return 0; }

namespace {

int die(const Error &e) {
  std::fprintf(stderr, "lpm_store_fill: %s\n", e.to_string().c_str());
  return 1;
}

int usage() {
  std::fprintf(stderr,
               "usage: lpm_store_fill --config FILE --user USER_ID --held N [--account NAME] [--doc-bytes B]\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  std::string config_path, user, account = "bench";
  long held_target = -1;
  size_t doc_bytes = 2048;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--config") config_path = value;
    else if (flag == "--user") user = value;
    else if (flag == "--held") held_target = std::atol(value.c_str());
    else if (flag == "--account") account = value;
    else if (flag == "--doc-bytes") doc_bytes = static_cast<size_t>(std::atol(value.c_str()));
    else return usage();
  }
  if (argc % 2 == 0 || config_path.empty() || user.empty() || held_target < 0) return usage();

  log_set_level(LogLevel::warn);
  auto config = packaging::load_agent_config(config_path);
  if (!config.ok()) return die(config.error());
  auto state = agent_state_open(*config);
  if (!state.ok()) return die(state.error());
  auto counts = state->jobs->held_counts();
  if (!counts.ok()) return die(counts.error());
  long held = 0;
  for (const auto &h : *counts)
    if (h.user == user) held = static_cast<long>(h.jobs);

  const std::string pdf = bench::small_pdf(doc_bytes);
  const std::span<const uint8_t> doc(reinterpret_cast<const uint8_t *>(pdf.data()), pdf.size());
  const long start = held;
  int64_t t0 = bench::now_ns();
  for (; held < held_target; held++) {
    NewJob job;
    job.user = user;
    job.os_account = account;
    job.title = "bench job " + std::to_string(held + 1);
    job.format = "application/pdf";
    auto writer = state->jobs->begin_job(job);
    if (!writer.ok()) return die(writer.error());
    Status s = (*writer)->write(doc);
    if (!s.ok()) return die(s.error());
    auto committed = (*writer)->commit();
    if (!committed.ok()) return die(committed.error());
  }
  int folder = ::open(config->data_folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder < 0 || ::syncfs(folder) != 0) {
    std::fprintf(stderr, "lpm_store_fill: cannot flush %s to disk\n", config->data_folder.c_str());
    return 1;
  }
  ::close(folder);
  double seconds = static_cast<double>(bench::now_ns() - t0) / 1e9;
  std::printf("{\"name\":\"store_fill\",\"jobs_added\":%ld,\"held\":%ld,\"document_bytes\":%zu,\"seconds\":%.3f}\n",
              held - start, held, pdf.size(), seconds);
  return 0;
}
