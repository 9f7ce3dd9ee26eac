// lpm_ingest_bench: the accounting server's ingest, records per second, as post-records does it
// after the TLS layer: one transaction per batch into the SQLite record store (synchronous=FULL,
// one flush per batch), the records whose counts carry a station's signature stored "pending" and
// checked behind ingest (proto::check_record_counts: the ECDSA signature over the signed outcome,
// read back and compared; RecordStore::settle_checks). Issue 6's figure.
//
//   lpm_ingest_bench [--fill N] [--records N] [--batch N] [--group N] [--warmup N]
//                    [--repeat K] [--signed-share F] [--shape agent|scattered] [--folder DIR]
//
// --fill records are stored first, unsigned and without checks (the table's size when measuring);
// then --records records in batches of --batch, a share --signed-share of them printed and signed
// by one enrolled station, the rest deleted records (no counts, no signature). --shape agent (the
// default): each batch is what one agent posts, one workstation and its user, records a second
// apart; the batches of 1,000 agents in turn. --shape scattered: each record of another of 1,000
// users (a batch touches 500 users' index entries and rollup rows), a workstation every 7. --group:
// batches stored per transaction (RecordStore::ingest_group), as the service's group commit stores
// the batches its loop reads in one turn (1: a transaction per batch). --warmup: records stored
// the same way before the clock starts, so the timed batches meet SQLite's page cache as a
// running server has it rather than empty (at 3 M stored, a cold cache's first reads and page
// allocations were a fifth of a 60,000-record run). --repeat: K series with the checks behind and
// K without, alternating, each of --records new records; `value` and `peer_value` are their
// medians and `values`/`peer_values` each series (a series of 60,000 records is about 0.3 s here,
// where one stall of the shared disk moves a single figure by a fifth). Prints one JSON
// line: records/s stored with the checks behind (`value`) and how many signed records per second
// those checks then settle (`checks_behind_per_s`, one thread per core, as the service's lanes);
// the same records with every check inline before the store (`inline_checks_value`, as before
// issue 6's change) and without any check (`peer_value`), in the same run on the same table; plus
// the parameters.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "job_records.h"
#include "lpm/ids.h"
#include "lpm/protocol/keys.h"
#include "record_store.h"

using lpm::bench::bytes_written;
using lpm::bench::now_ns;
using lpm::bench::thread_cpu_ns;
using namespace lpm;

namespace {

struct Options {
  uint64_t fill = 100000;
  uint64_t records = 20000;
  uint64_t batch = 500;
  uint64_t group = 1;
  uint64_t warmup = 20000;
  uint64_t repeat = 1;
  double signed_share = 0.8;
  bool scattered = false;
  std::string folder;
};

int usage(FILE *to) {
  std::fprintf(to, "usage: lpm_ingest_bench [--fill N] [--records N] [--batch N] [--group N] [--warmup N]\n"
                   "                        [--repeat K] [--signed-share F] [--shape agent|scattered]\n"
                   "                        [--folder DIR]\n"
                   "  defaults: --fill 100000 --records 20000 --batch 500 --group 1 --warmup 20000\n"
                   "  --repeat 1 --signed-share 0.8 --shape agent, a temporary folder\n");
  return to == stdout ? 0 : 2;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") return usage(stdout);
    if (i + 1 >= argc) return usage(stderr);
    const char *v = argv[++i];
    bool ok = true;
    if (a == "--fill")
      ok = bench::parse_count(v, o.fill);
    else if (a == "--records")
      ok = bench::parse_count(v, o.records) && o.records > 0;
    else if (a == "--batch")
      ok = bench::parse_count(v, o.batch) && o.batch > 0 && o.batch <= proto::kMaxRecordsPerBatch;
    else if (a == "--group")
      ok = bench::parse_count(v, o.group) && o.group > 0 && o.group <= 64;
    else if (a == "--warmup")
      ok = bench::parse_count(v, o.warmup);
    else if (a == "--repeat")
      ok = bench::parse_count(v, o.repeat) && o.repeat > 0 && o.repeat <= 20;
    else if (a == "--signed-share")
      ok = bench::parse_share(v, o.signed_share);
    else if (a == "--shape") {
      ok = std::strcmp(v, "agent") == 0 || std::strcmp(v, "scattered") == 0;
      o.scattered = std::strcmp(v, "scattered") == 0;
    } else if (a == "--folder")
      o.folder = v;
    else
      ok = false;
    if (!ok) {
      std::fprintf(stderr, "lpm_ingest_bench: bad option %s %s\n", a.c_str(), v);
      return usage(stderr);
    }
  }
  bool temporary = o.folder.empty();
  if (temporary) {
    char pattern[] = "/tmp/lpm-ingest-bench.XXXXXX";
    if (!mkdtemp(pattern)) return 1;
    o.folder = pattern;
  }
  auto store = accounting::open_sqlite_record_store(o.folder + "/state.db");
  if (!store.ok()) {
    std::fprintf(stderr, "lpm_ingest_bench: %s\n", store.error().to_string().c_str());
    return 1;
  }
  auto key = proto::KeyPair::generate();
  if (!key.ok()) return 1;
  const proto::KeyPair &station = **key;
  std::vector<std::string> users, workstations;
  for (int i = 0; i < 1000; i++) {
    users.push_back(uuid_v7());
    workstations.push_back(uuid_v7());
  }
  int64_t now = wall_ms();
  uint64_t n = 0;
  uint64_t batches_made = 0;
  // Records, the printed ones unsigned: measure() signs them on every core.
  auto next_batch = [&](uint64_t count) {
    std::vector<proto::JobRecord> batch;
    // --shape (the file's head): one agent's batch, or records scattered over the users.
    uint64_t agent = batches_made++ % workstations.size();
    for (uint64_t i = 0; i < count; i++, n++) {
      bool printed = static_cast<double>(n % 1000) < o.signed_share * 1000;
      int64_t at = now - static_cast<int64_t>(n % (30ull * 86400)) * 1000;
      if (o.scattered)
        batch.push_back(bench::job_record(users[n % users.size()],
                                          workstations[(n / 7) % workstations.size()], at, printed, nullptr));
      else
        batch.push_back(bench::job_record(users[agent], workstations[agent], at, printed, nullptr));
    }
    return batch;
  };
  // The fill, without checks: the table's size, not what is measured.
  for (uint64_t done = 0; done < o.fill;) {
    uint64_t count = std::min<uint64_t>(o.batch, o.fill - done);
    if (!(*store)->ingest(next_batch(count), now).ok()) return 1;
    done += count;
    if (done % 500000 < count)
      std::fprintf(stderr, "filled %llu/%llu\n", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(o.fill));
  }
  if (!bench::settle_wal(o.folder + "/state.db"))
    std::fprintf(stderr, "could not checkpoint after the fill\n");
  auto is_station = [&](const proto::Fingerprint &fp) { return fp == station.fingerprint(); };
  proto::StationKeys keys; // as the service keeps them
  // How a batch's counts are checked: inline before the store (before issue 6's change), behind
  // ingest (the service now: signed records stored pending, checked afterwards), or not at all.
  enum class Mode { inline_checks, behind, none };
  // Records are made, and the printed ones signed by the station on every core, before the clock
  // starts: the station's cost, not the server's.
  unsigned cores = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  auto measure = [&](Mode mode, uint64_t records) {
    std::vector<std::vector<proto::JobRecord>> batches;
    for (uint64_t done = 0; done < records; done += o.batch)
      batches.push_back(next_batch(std::min<uint64_t>(o.batch, records - done)));
    std::vector<proto::JobRecord *> to_sign;
    for (auto &batch : batches)
      for (auto &r : batch)
        if (r.event == "printed") to_sign.push_back(&r);
    // The first on this thread: any table the key's group makes, it makes before the others read.
    if (!to_sign.empty()) bench::sign_record(*to_sign[0], station);
    std::vector<std::thread> signers;
    for (unsigned t = 0; t < cores; t++)
      signers.emplace_back([&, t] {
        for (size_t i = 1 + t; i < to_sign.size(); i += cores)
          bench::sign_record(*to_sign[i], station);
      });
    for (auto &t : signers)
      t.join();
    uint64_t verified = 0, printed = 0;
    for (const auto &batch : batches)
      for (const auto &r : batch)
        if (r.event == "printed") printed++;
    std::vector<std::vector<accounting::IngestFacts>> facts(batches.size());
    std::vector<accounting::IngestBatch> group;
    // Each series starts with the WAL copied into the file: the previous one's settles (16,000
    // rows updated at once after the warm-up) would otherwise be checkpointed during this one.
    if (!bench::settle_wal(o.folder + "/state.db")) std::fprintf(stderr, "could not checkpoint\n");
    uint64_t written0 = bytes_written();
    int64_t t0 = now_ns(), cpu0 = thread_cpu_ns();
    for (size_t b = 0; b < batches.size(); b++) {
      const auto &batch = batches[b];
      facts[b].resize(batch.size());
      for (size_t i = 0; i < batch.size(); i++) {
        const proto::JobRecord &r = batch[i];
        if (mode == Mode::behind && !r.signature.empty()) {
          facts[b][i].pending = true;
        } else if (mode != Mode::none) {
          facts[b][i].check = proto::check_record_counts(r, is_station, nullptr, &keys);
          if (facts[b][i].check == proto::CountsCheck::device) verified++;
        }
      }
      group.push_back(accounting::IngestBatch{&batch, &facts[b]});
      if (group.size() == o.group || b + 1 == batches.size()) {
        auto stored = (*store)->ingest_group(group, now);
        if (!stored.ok()) std::abort();
        group.clear();
      }
    }
    int64_t t1 = now_ns(), cpu1 = thread_cpu_ns();
    uint64_t written = bytes_written() - written0;
    // For cutting a `perf record -k CLOCK_MONOTONIC` profile to the timed windows.
    if (std::getenv("LPM_BENCH_WINDOWS"))
      std::fprintf(stderr, "window %s %lld %lld\n",
                   mode == Mode::behind ? "behind"
                   : mode == Mode::none ? "none"
                                        : "inline",
                   static_cast<long long>(t0), static_cast<long long>(t1));
    double checked_per_s = 0;
    if (mode == Mode::behind) {
      // The checks behind ingest, as the service runs them: a page of pending records split
      // between one thread per core (at most 4, each with its own key cache), then settled in one
      // transaction.
      unsigned lanes = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
      std::vector<proto::StationKeys> lane_keys(lanes);
      int64_t c0 = now_ns();
      uint64_t checked = 0;
      for (;;) {
        auto pending = (*store)->pending_checks(500);
        if (!pending.ok()) std::abort();
        if (pending->rows.empty()) break;
        const std::vector<proto::JobRecord> *page = &pending->records;
        std::vector<std::pair<std::string, proto::CountsCheck>> settled(page->size());
        std::vector<std::thread> threads;
        for (unsigned lane = 0; lane < lanes; lane++)
          threads.emplace_back([&, lane] {
            size_t from = page->size() * lane / lanes, to = page->size() * (lane + 1) / lanes;
            for (size_t i = from; i < to; i++)
              settled[i] = {(*page)[i].id,
                            proto::check_record_counts((*page)[i], is_station, nullptr, &lane_keys[lane])};
          });
        for (auto &t : threads)
          t.join();
        for (const auto &s : settled)
          if (s.second == proto::CountsCheck::device) verified++;
        if (!(*store)->settle_checks(pending->rows, settled).ok()) std::abort();
        checked += page->size();
      }
      checked_per_s = static_cast<double>(checked) / (static_cast<double>(now_ns() - c0) / 1e9);
    }
    // Every signed record must have checked out: else the figure measured refusals.
    if (mode != Mode::none && verified != printed) {
      std::fprintf(stderr, "lpm_ingest_bench: %llu of %llu signed records verified\n",
                   static_cast<unsigned long long>(verified), static_cast<unsigned long long>(printed));
      std::exit(1);
    }
    struct Figures {
      double per_s;
      uint64_t verified;
      double checked_per_s;
      double written_per_record;
      double cpu_share;
    };
    return Figures{static_cast<double>(records) / (static_cast<double>(t1 - t0) / 1e9), verified,
                   checked_per_s, static_cast<double>(written) / static_cast<double>(records),
                   static_cast<double>(cpu1 - cpu0) / static_cast<double>(t1 - t0)};
  };
  if (o.warmup > 0) (void)measure(Mode::behind, o.warmup);
  using Figures = decltype(measure(Mode::none, 1));
  std::vector<Figures> behind, without;
  for (uint64_t k = 0; k < o.repeat; k++) {
    behind.push_back(measure(Mode::behind, o.records));
    without.push_back(measure(Mode::none, o.records));
  }
  auto inline_checks = measure(Mode::inline_checks, o.records);
  // The median of the series (of two, the lower), and every series' figure as a JSON list.
  auto median = [](const std::vector<Figures> &series, double Figures::*field) {
    std::vector<double> v;
    for (const auto &f : series)
      v.push_back(f.*field);
    std::sort(v.begin(), v.end());
    return v[(v.size() - 1) / 2];
  };
  auto list = [](const std::vector<Figures> &series) {
    std::string out = "[";
    for (const auto &f : series)
      out += (out.size() > 1 ? "," : "") + std::to_string(static_cast<long long>(f.per_s));
    return out + "]";
  };
  double value = median(behind, &Figures::per_s), peer = median(without, &Figures::per_s);
  uint64_t verified = 0;
  for (const auto &f : behind)
    verified += f.verified;
  std::printf(
      "{\"name\":\"accounting_ingest\",\"value\":%.0f,\"unit\":\"records/s\",\"peer\":\"the same without "
      "the counts checks\",\"peer_value\":%.0f,\"ratio\":%.3f,\"values\":%s,\"peer_values\":%s,"
      "\"checks_behind_per_s\":%.0f,\"inline_checks_value\":%.0f,\"goal\":\">= 200000 records/s at 3 M "
      "stored\",\"fill\":%llu,\"records\":%llu,\"repeat\":%llu,\"batch\":%llu,\"group\":%llu,"
      "\"warmup\":%llu,\"shape\":\"%s\",\"signed_share\":%.2f,"
      "\"verified\":%llu,\"written_per_record\":%.0f,\"peer_written_per_record\":%.0f,"
      "\"cpu_share\":%.2f,\"peer_cpu_share\":%.2f,"
      "\"how\":\"RecordStore::ingest_group per group of batches, signed records stored pending and checked "
      "behind (check_record_counts on one thread per core, settle_checks; checks_behind_per_s: signed "
      "records "
      "checked per second; written_per_record: bytes this process wrote (WAL and checkpoints) during the "
      "timed window, per record; value, peer_value, written: medians of the repeat series, alternating), the "
      "store on one thread, SQLite synchronous=FULL; no TLS\"}\n",
      value, peer, value / peer, list(behind).c_str(), list(without).c_str(),
      median(behind, &Figures::checked_per_s), inline_checks.per_s, static_cast<unsigned long long>(o.fill),
      static_cast<unsigned long long>(o.records), static_cast<unsigned long long>(o.repeat),
      static_cast<unsigned long long>(o.batch), static_cast<unsigned long long>(o.group),
      static_cast<unsigned long long>(o.warmup), o.scattered ? "scattered" : "agent", o.signed_share,
      static_cast<unsigned long long>(verified), median(behind, &Figures::written_per_record),
      median(without, &Figures::written_per_record), median(behind, &Figures::cpu_share),
      median(without, &Figures::cpu_share));
  if (temporary) std::filesystem::remove_all(o.folder);
  return 0;
}
