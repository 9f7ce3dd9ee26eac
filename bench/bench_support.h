// Small pieces shared by the benchmark programs in bench/: a monotonic clock, percentiles, the
// CPU time of a process (a server under load, or this client), and the small PDF the capture
// benchmarks submit and store.
#pragma once

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace lpm::bench {

// A command-line count: digits only (no sign), as strtoull reads them. False when it is not one.
inline bool parse_count(const char *text, uint64_t &out) {
  char *end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (!end || end == text || *end != '\0' || text[0] == '-') return false;
  out = v;
  return true;
}

// A command-line share from 0 to 1 (0.8: 80 %). False when it is not one.
inline bool parse_share(const char *text, double &out) {
  char *end = nullptr;
  double v = std::strtod(text, &end);
  if (!end || end == text || *end != '\0' || !(v >= 0 && v <= 1)) return false;
  out = v;
  return true;
}

// The bytes this process (every thread) has passed to write(2) so far: "wchar" of /proc/self/io.
inline uint64_t bytes_written() {
  std::FILE *f = std::fopen("/proc/self/io", "r");
  if (!f) return 0;
  unsigned long long value = 0;
  char line[128];
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "wchar: %llu", &value) == 1) break;
  std::fclose(f);
  return value;
}

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU time the calling thread has used so far, ns.
inline int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The p-th percentile (0 < p <= 100, nearest rank) of durations in ns, in ms; 0 when empty.
inline double percentile_ms(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  i = std::clamp<size_t>(i, 1, v.size());
  return static_cast<double>(v[i - 1]) / 1e6;
}

// utime + stime of a process (every thread), in seconds; -1 when it cannot be read.
inline double process_cpu_seconds(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (pid <= 0 || !std::getline(in, line)) return -1;
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  // After the name: state is field 3, utime field 14, stime field 15.
  for (int n = 3; n <= 15 && fields >> field; n++)
    if (n == 14 || n == 15) ticks += std::atof(field.c_str());
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Seconds a process's main thread (a daemon's loop) has run and has waited runnable for a CPU
// (/proc/PID/schedstat); -1 when unreadable. What is left of the wall time it was blocked.
struct SchedTimes {
  double running = -1;
  double runnable = -1;
};
inline SchedTimes sched_times(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
  double run_ns = 0, wait_ns = 0;
  if (pid <= 0 || !(in >> run_ns >> wait_ns)) return {};
  return {run_ns / 1e9, wait_ns / 1e9};
}

// This process's user + system CPU, in seconds.
inline double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval &t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// A valid one-page PDF of about `bytes` bytes (never less than about 420): the page draws a
// line, and a comment in its content stream pads the file, so a page count (qpdf) runs on a
// real document.
inline std::string small_pdf(size_t bytes) {
  std::string content = "0.5 w 72 72 m 523 770 l S\n";
  const size_t overhead = 420; // the file without its content stream, roughly
  if (bytes > overhead + content.size() + 2)
    content += "%" + std::string(bytes - overhead - content.size() - 2, 'x') + "\n";
  const std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
      "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "endstream",
  };
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); i++) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t offset : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", offset);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

} // namespace lpm::bench
