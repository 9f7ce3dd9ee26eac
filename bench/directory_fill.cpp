// lpm_directory_fill: puts many users with badges into a stopped directory's data folder through
// the DirectoryStore API, so the badge-in benchmark (issue 4, scripts/bench_directory.sh) runs
// against a directory the size of an enterprise without importing a CSV.
//
// User i (0 <= i < N) is u<i>@bench.example with the permanent badge "B" followed by i as 8
// upper-case hex digits (lpm_badge_in_bench draws badges by the same rule). Every user may release
// through one enterprise grant of Print Release Management User (RL-3), as a real enterprise does.
// Rows go in transactions of --batch records: one fsync per batch instead of one per user.
//
// With --quota Q every user is also a Print Management user in print group "bench" (quota Q
// impressions a month, colour allowed): each badge-in then holds quota (AMB-17).
//
// Usage: lpm_directory_fill --data DIR --users N [--batch B] [--quota Q]
// The folder must be initialised (`lpm-directory init`) and not served. Prints one JSON line.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_support.h"
#include "directory_folder.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "roles.h"

using namespace lpm;
using namespace lpm::directory;

namespace {

int die(const Error &e) {
  std::fprintf(stderr, "lpm_directory_fill: %s\n", e.to_string().c_str());
  return 1;
}

int usage() {
  std::fprintf(stderr, "usage: lpm_directory_fill --data DIR --users N [--batch B] [--quota Q]\n");
  return 2;
}

// The badge of user number i; the benchmark client uses the same rule.
std::string bench_badge(long i) {
  char text[16];
  std::snprintf(text, sizeof text, "B%08lX", static_cast<unsigned long>(i));
  return text;
}

} // namespace

int main(int argc, char **argv) {
  std::string data;
  long users = -1;
  long batch = 5000;
  long quota = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--data")
      data = value;
    else if (flag == "--users")
      users = std::atol(value.c_str());
    else if (flag == "--batch")
      batch = std::atol(value.c_str());
    else if (flag == "--quota")
      quota = std::atol(value.c_str());
    else
      return usage();
  }
  // Badges have 8 hex digits, so at most 2^32 users; far more than any run needs.
  if (argc % 2 == 0 || data.empty() || users < 0 || users > 0xffffffffL || batch < 1 ||
      quota > kMaxPrintQuota)
    return usage();

  log_set_level(LogLevel::warn);
  auto store = folder_open_store(data);
  if (!store.ok()) return die(store.error());
  DirectoryStore &db = **store;

  int64_t t0 = bench::now_ns();
  int64_t now = wall_ms();
  {
    auto tx = db.begin();
    if (!tx.begun().ok()) return die(tx.begun().error());
    auto granted = role_grant(db, RoleScope::enterprise, "", Role::prm_user, now);
    if (!granted.ok()) return die(granted.error());
    Status s = tx.commit();
    if (!s.ok()) return die(s.error());
  }
  for (long first = 0; first < users; first += batch) {
    auto tx = db.begin();
    if (!tx.begun().ok()) return die(tx.begun().error());
    long last = std::min(users, first + batch);
    for (long i = first; i < last; i++) {
      User fields;
      fields.email = "u" + std::to_string(i) + "@bench.example";
      auto user = db.user_create(fields, now);
      if (!user.ok()) return die(user.error());
      auto assigned = db.badge_assign(bench_badge(i), user->id, false, now);
      if (!assigned.ok()) return die(assigned.error());
    }
    Status s = tx.commit();
    if (!s.ok()) return die(s.error());
  }
  if (quota >= 0) {
    // Print Management: every user imported (Import from User Accounts), all in one print group.
    auto tx = db.begin();
    if (!tx.begun().ok()) return die(tx.begun().error());
    auto synced = db.pm_users_sync(now);
    if (!synced.ok()) return die(synced.error());
    auto group = db.print_group_create("bench", quota, true, now);
    if (!group.ok()) return die(group.error());
    auto set = db.db().prepare("UPDATE pm_users SET print_group_id = ?");
    if (!set.ok()) return die(set.error());
    Status s = set->bind(1, group->id).run();
    if (s.ok()) s = tx.commit();
    if (!s.ok()) return die(s.error());
  }
  double seconds = static_cast<double>(bench::now_ns() - t0) / 1e9;
  std::printf("{\"name\":\"directory_fill\",\"users\":%ld,\"batch\":%ld,\"quota\":%ld,\"seconds\":%.3f}\n",
              users, batch, quota, seconds);
  return 0;
}
