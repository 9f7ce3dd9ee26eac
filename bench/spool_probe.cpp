// lpm_spool_probe: when does a document arrive at a device that keeps it as a file? It watches a
// folder tree with inotify and prints one line per file closed after writing:
//
//   <CLOCK_MONOTONIC ns> <path> <size in bytes, -1 when already gone>
//
// flushed at once, so a benchmark script can time "document file closed in the printer's spool
// folder" (ippeveprinter -k, a file:// device) against a request it sent. Folders created under
// the tree are watched as they appear; files found in them when the watch is added (closed before
// it could see them) are printed then, so none is missed. A file renamed into the tree counts as
// closed (a writer that renames a finished file into place).
//
// With --marks, each line read on standard input is printed back as "<ns> mark <line>" on the
// same clock, before any file closed after it was written: a script writes "release 17" just
// before it sends a request and measures from that line. The probe's clock is read when the
// line arrives, which a busy machine can delay; a line that starts with "@<seconds since the
// epoch>" (bash's $EPOCHREALTIME, taken by the writer) is stamped with that instant instead,
// moved to CLOCK_MONOTONIC, and the "@..." is dropped. End of input ends the probe (exit 0). "ready" goes to
// stderr once the watches are in place; SIGTERM and SIGINT end it (exit 0).
//
// Usage: lpm_spool_probe [--marks] FOLDER
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>

#include "bench_support.h"

using lpm::bench::now_ns;

namespace {

// More folders than a spool tree has; a tree beyond it is reported, not silently half-watched.
constexpr size_t kMaxWatches = 4096;
// Longest mark line kept; the rest of a longer line is dropped.
constexpr size_t kMaxMarkBytes = 4096;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

class Probe {
public:
  explicit Probe(int fd) : fd_(fd) {}

  // Watches FOLDER and every folder below it. false: the tree cannot be watched (printed why).
  bool watch_tree(const std::string &folder, bool report_files) {
    if (folders_.size() >= kMaxWatches) {
      std::fprintf(stderr, "lpm_spool_probe: more than %zu folders, %s not watched\n", kMaxWatches,
                   folder.c_str());
      return false;
    }
    int wd = inotify_add_watch(fd_, folder.c_str(),
                               IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_ONLYDIR);
    if (wd < 0) {
      std::fprintf(stderr, "lpm_spool_probe: cannot watch %s: %s\n", folder.c_str(), std::strerror(errno));
      return false;
    }
    folders_[wd] = folder;
    // What is already there: subfolders to watch too; files (in a folder that appeared while we
    // ran) were closed before the watch could see them.
    DIR *dir = opendir(folder.c_str());
    if (dir == nullptr) return true; // removed again meanwhile: nothing to add
    bool ok = true;
    while (dirent *entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      std::string path = folder + "/" + name;
      struct stat st {};
      if (lstat(path.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        ok = watch_tree(path, report_files) && ok;
      } else if (report_files && S_ISREG(st.st_mode)) {
        print_file(path);
      }
    }
    closedir(dir);
    return ok;
  }

  // Reads what inotify has (the fd is readable) and prints the files closed.
  void drain() {
    alignas(inotify_event) char buf[64 * 1024];
    // Bounded: at most 32 reads per call, so marks on stdin are not starved by a burst.
    for (int round = 0; round < 32; ++round) {
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return; // EAGAIN: all read
      for (char *p = buf; p < buf + n;) {
        auto *event = reinterpret_cast<inotify_event *>(p);
        p += sizeof(inotify_event) + event->len;
        handle(*event);
      }
    }
  }

private:
  void handle(const inotify_event &event) {
    if ((event.mask & IN_Q_OVERFLOW) != 0) {
      std::fprintf(stderr, "lpm_spool_probe: inotify queue overflowed, events were lost\n");
      return;
    }
    auto it = folders_.find(event.wd);
    if (it == folders_.end()) return;
    if ((event.mask & (IN_DELETE_SELF | IN_IGNORED)) != 0) {
      folders_.erase(it);
      return;
    }
    if (event.len == 0) return;
    std::string path = it->second + "/" + event.name;
    if ((event.mask & IN_ISDIR) != 0) {
      if ((event.mask & (IN_CREATE | IN_MOVED_TO)) != 0) watch_tree(path, true);
      return;
    }
    if ((event.mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0) print_file(path);
  }

  static void print_file(const std::string &path) {
    int64_t at = now_ns();
    struct stat st {};
    long long size = stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
    std::printf("%lld %s %lld\n", static_cast<long long>(at), path.c_str(), size);
    std::fflush(stdout);
  }

  int fd_;
  std::unordered_map<int, std::string> folders_;
};

// CLOCK_REALTIME in ns.
int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// A mark's time: its writer's "@SECONDS[.FRACTION] " prefix (either decimal separator, as locales
// print it) moved from CLOCK_REALTIME to CLOCK_MONOTONIC, and removed from `line`; else now.
int64_t mark_time(std::string &line) {
  int64_t mono = now_ns();
  if (line.empty() || line[0] != '@') return mono;
  size_t end = line.find(' ');
  std::string stamp = line.substr(1, end == std::string::npos ? std::string::npos : end - 1);
  size_t dot = stamp.find_first_of(".,");
  std::string whole = stamp.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : stamp.substr(dot + 1);
  if (whole.empty() || whole.size() > 12 || fraction.size() > 9 ||
      whole.find_first_not_of("0123456789") != std::string::npos ||
      fraction.find_first_not_of("0123456789") != std::string::npos) {
    return mono; // not a stamp: the line is printed as it came
  }
  fraction.resize(9, '0');
  int64_t written = std::stoll(whole) * 1000000000 + std::stoll(fraction);
  line.erase(0, end == std::string::npos ? line.size() : end + 1);
  return mono - (realtime_ns() - written);
}

// Prints "<ns> mark <line>" for each whole line in `pending`, keeping the unfinished rest.
void print_marks(std::string &pending) {
  size_t start = 0;
  for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = pending.substr(start, nl - start);
    int64_t at = mark_time(line);
    std::printf("%lld mark %s\n", static_cast<long long>(at), line.c_str());
  }
  std::fflush(stdout);
  pending.erase(0, start);
  if (pending.size() > kMaxMarkBytes) pending.resize(kMaxMarkBytes);
}

int usage() {
  std::fprintf(stderr, "usage: lpm_spool_probe [--marks] FOLDER\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  bool marks = false;
  std::string folder;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--marks") {
      marks = true;
    } else if (arg == "-h" || arg == "--help") {
      usage();
      return 0;
    } else if (!arg.empty() && arg[0] != '-' && folder.empty()) {
      folder = arg;
    } else {
      return usage();
    }
  }
  if (folder.empty()) return usage();
  while (folder.size() > 1 && folder.back() == '/')
    folder.pop_back();

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "lpm_spool_probe: inotify_init1: %s\n", std::strerror(errno));
    return 1;
  }
  Probe probe(fd);
  // Files already in the folder at start are not new documents: not printed.
  if (!probe.watch_tree(folder, false)) return 1;
  std::fprintf(stderr, "ready\n");

  std::string pending;
  bool input_open = marks;
  while (g_stop == 0) {
    pollfd fds[2] = {};
    fds[0].fd = fd;
    fds[0].events = POLLIN;
    fds[1].fd = input_open ? STDIN_FILENO : -1;
    fds[1].events = POLLIN;
    int n = poll(fds, 2, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "lpm_spool_probe: poll: %s\n", std::strerror(errno));
      return 1;
    }
    // Marks first: a mark was written before the request it times, so before any file that
    // request makes, even when this process wakes late and finds both waiting.
    if (input_open && (fds[1].revents & (POLLIN | POLLHUP)) != 0) {
      char buf[4096];
      ssize_t got = read(STDIN_FILENO, buf, sizeof buf);
      if (got > 0) {
        pending.append(buf, static_cast<size_t>(got));
        print_marks(pending);
      } else if (got == 0 || errno != EINTR) {
        probe.drain();
        return 0; // the script closed its end: done
      }
    }
    if ((fds[0].revents & POLLIN) != 0) probe.drain();
  }
  probe.drain();
  return 0;
}
