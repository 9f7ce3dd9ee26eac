// lpm_workstation_fill: enrolls many workstation keys in a stopped directory's data folder, each
// with one user bound to it, so the register benchmark (issue 4, scripts/bench_register.sh)
// runs against a directory that knows 100,000 workstations without 100,000 TLS enrollments.
//
// Fill mode: the identities (key + self-signed certificate) come from the cache file --identities
// (bench/workstation_identities.h), made there first when it holds fewer than N. Workstation i
// (name bench-ws-<i>) is enrolled through DirectoryStore::enroll with one token of N uses, as the
// enroll op does (same rows, same audit line), with the real fingerprint of its key, so the
// directory's caller() finds it by the TLS client key. An administrator's binding ("admin") of
// user u<i % U>@bench.example (made by lpm_directory_fill --users U) lets the directory accept
// that user's holdings from it (DESIGN §4). The user ids, one line per workstation, go to
// --users-out for lpm_register_bench.
// Filling is not what is measured: the connection runs with synchronous=OFF (no fsync per
// enrollment: 100,000 of them would take minutes here), then one checkpoint with FULL makes
// everything durable before the directory starts.
//
// Report mode (--report): after a run, with the directory stopped again, prints what the
// directory ended with: workstations registered, those holding jobs, the jobs they hold, how many
// a badge-in of their user would find now (registered within the lease, kRegisterLeaseMs), and
// whether each seen address is the one the workstation connected from.
//
// Usage: lpm_workstation_fill --data DIR --identities FILE --workstations N --users U
//          --users-out FILE [--threads T]
//        lpm_workstation_fill --data DIR --report --workstations N --users U
// The folder must be initialised (`lpm-directory init`) and not served. Prints one JSON line.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench_support.h"
#include "directory_folder.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "workstation_identities.h"

using namespace lpm;
using namespace lpm::directory;

namespace {

struct Options {
  std::string data;
  std::string identities;
  std::string users_out;
  long workstations = -1;
  long users = -1;
  long threads = 2;
  bool report = false;
};

// Bindings go in transactions of this many.
constexpr size_t kBindBatch = 5000;

int die(const std::string &why) {
  std::fprintf(stderr, "lpm_workstation_fill: %s\n", why.c_str());
  return 1;
}

int usage() {
  std::fprintf(stderr, "usage: lpm_workstation_fill --data DIR --identities FILE --workstations N --users U "
                       "--users-out FILE [--threads T]\n"
                       "       lpm_workstation_fill --data DIR --report --workstations N --users U\n");
  return 2;
}

double seconds_since(int64_t t0_ns) {
  return static_cast<double>(bench::now_ns() - t0_ns) / 1e9;
}

std::string user_email(size_t workstation, size_t users) {
  return "u" + std::to_string(workstation % users) + "@bench.example";
}

int fill(const Options &o, DirectoryStore &db) {
  const auto count = static_cast<size_t>(o.workstations);
  int64_t t0 = bench::now_ns();
  auto identities = bench::identities_read(o.identities, count);
  if (!identities.ok()) return die(identities.error().to_string());
  double read_seconds = seconds_since(t0);
  t0 = bench::now_ns();
  double cpu0 = bench::own_cpu_seconds();
  auto made = bench::identities_extend(o.identities, *identities, count, static_cast<unsigned>(o.threads));
  if (!made.ok()) return die("making identities: " + made.error().to_string());
  double make_seconds = seconds_since(t0);
  // CPU per identity (key, certificate, their share of writing the file), over every thread.
  char make_cpu_text[32] = "null";
  if (*made > 0)
    std::snprintf(make_cpu_text, sizeof make_cpu_text, "%.3f",
                  (bench::own_cpu_seconds() - cpu0) * 1e3 / static_cast<double>(*made));

  // No fsync per enrollment; the checkpoint below makes it all durable at once.
  Status s = db.db().exec("PRAGMA synchronous=OFF");
  if (!s.ok()) return die(s.error().to_string());
  int64_t now = wall_ms();
  t0 = bench::now_ns();
  auto token = db.token_create(proto::EnrollKind::workstation, o.workstations, now + 24 * 3600 * 1000LL, now,
                               "lpm_workstation_fill");
  if (!token.ok()) return die(token.error().to_string());
  std::vector<std::string> ids(count);
  for (size_t i = 0; i < count; i++) {
    auto key = proto::KeyPair::from_pem((*identities)[i].key_pem);
    if (!key.ok()) return die("identity " + std::to_string(i) + ": " + key.error().to_string());
    auto entry = db.enroll(*token, proto::EnrollKind::workstation, bench::workstation_name(i),
                           (*key)->fingerprint(), now, bench::workstation_source(i));
    if (!entry.ok())
      return die("enrolling workstation " + std::to_string(i) + ": " + entry.error().to_string());
    ids[i] = entry->id;
  }
  double enroll_seconds = seconds_since(t0);

  t0 = bench::now_ns();
  const auto users = static_cast<size_t>(o.users);
  std::string users_text;
  for (size_t first = 0; first < count; first += kBindBatch) {
    auto tx = db.begin();
    if (!tx.begun().ok()) return die(tx.begun().error().to_string());
    for (size_t i = first; i < std::min(count, first + kBindBatch); i++) {
      auto user = db.user_by_email(user_email(i, users));
      if (!user.ok())
        return die(user_email(i, users) + ": " + user.error().to_string() + " (fill the users first)");
      s = db.workstation_user_add(ids[i], user->id, "admin", now);
      if (!s.ok()) return die(s.error().to_string());
      users_text += user->id + "\n";
    }
    s = tx.commit();
    if (!s.ok()) return die(s.error().to_string());
  }
  s = db.db().exec("PRAGMA synchronous=FULL");
  if (s.ok()) s = db.db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  if (!s.ok()) return die(s.error().to_string());
  s = write_file_atomic(o.users_out, users_text, 0644);
  if (!s.ok()) return die(s.error().to_string());
  double bind_seconds = seconds_since(t0);

  std::printf("{\"name\":\"workstation_fill\",\"workstations\":%zu,\"users\":%zu,\"identities_read\":%zu,"
              "\"identities_read_seconds\":%.3f,\"identities_made\":%zu,\"make_seconds\":%.3f,"
              "\"make_cpu_ms_per_identity\":%s,\"make_threads\":%ld,\"enroll_seconds\":%.3f,"
              "\"bind_seconds\":%.3f}\n",
              count, users, count - *made, read_seconds, *made, make_seconds, make_cpu_text, o.threads,
              enroll_seconds, bind_seconds);
  return 0;
}

int report(const Options &o, DirectoryStore &db) {
  auto list = db.workstations_list();
  if (!list.ok()) return die(list.error().to_string());
  int64_t now = wall_ms();
  size_t registered = 0, holding = 0, address_mismatches = 0, holdings_live = 0;
  uint64_t held_jobs = 0;
  std::map<std::string, size_t> number_of; // workstation id -> i
  for (const auto &w : *list) {
    if (w.last_seen_ms > 0) registered++;
    if (w.held_jobs > 0) holding++;
    held_jobs += w.held_jobs;
    // bench-ws-<i> connected from workstation_source(i): the directory must have seen that.
    constexpr std::string_view kPrefix = "bench-ws-";
    if (w.name.rfind(kPrefix, 0) != 0) continue;
    size_t i = std::strtoul(w.name.c_str() + kPrefix.size(), nullptr, 10);
    number_of[w.id] = i;
    if (w.last_seen_ms > 0 && w.seen_address != bench::workstation_source(i)) address_mismatches++;
  }
  // What a badge-in would find for each user now: their workstation, if it registered within the
  // lease (kRegisterLeaseMs); those registered earlier in the run have lapsed.
  const auto users = static_cast<size_t>(o.users);
  for (size_t u = 0; u < std::min(users, static_cast<size_t>(o.workstations)); u++) {
    auto user = db.user_by_email(user_email(u, users));
    if (!user.ok()) return die(user.error().to_string());
    auto holders = db.holders_of(user->id, now);
    if (!holders.ok()) return die(holders.error().to_string());
    for (const auto &h : *holders) {
      auto it = number_of.find(h.id);
      if (it != number_of.end() && it->second % users == u) holdings_live++;
    }
  }
  std::printf("{\"name\":\"register_state\",\"workstations_enrolled\":%zu,\"workstations_registered\":%zu,"
              "\"holdings\":%zu,\"held_jobs\":%llu,\"holdings_live\":%zu,\"register_lease_s\":%lld,"
              "\"seen_address_mismatches\":%zu}\n",
              list->size(), registered, holding, static_cast<unsigned long long>(held_jobs), holdings_live,
              static_cast<long long>(kRegisterLeaseMs / 1000), address_mismatches);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string flag = argv[i];
    if (flag == "--report") {
      o.report = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    const char *v = argv[++i];
    if (flag == "--data")
      o.data = v;
    else if (flag == "--identities")
      o.identities = v;
    else if (flag == "--users-out")
      o.users_out = v;
    else if (flag == "--workstations")
      o.workstations = std::atol(v);
    else if (flag == "--users")
      o.users = std::atol(v);
    else if (flag == "--threads")
      o.threads = std::atol(v);
    else
      return usage();
  }
  if (o.data.empty() || o.workstations < 1 || o.workstations > static_cast<long>(bench::kMaxWorkstations) ||
      o.users < 1 || o.threads < 1 || o.threads > 64)
    return usage();
  if (!o.report && (o.identities.empty() || o.users_out.empty())) return usage();

  log_set_level(LogLevel::warn);
  auto store = folder_open_store(o.data);
  if (!store.ok()) return die(store.error().to_string());
  return o.report ? report(o, **store) : fill(o, **store);
}
