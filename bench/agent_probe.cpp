// lpm_agent_probe: start-up time and memory of a daemon (issue 3, "Benchmarks": the agent idle
// and holding 10,000 jobs), figures only. It starts the command, then
//   accept_ms  from just before exec until a TCP connect to 127.0.0.1:PORT (the capture
//              listener) succeeds, polled in a tight loop (a 20 µs pause between attempts);
//   ready_ms   until the daemon printed its "ready" line on stdout;
// waits --settle-ms, reads the daemon's memory (RssAnon from /proc/PID/status; Pss, Pss_Anon
// from /proc/PID/smaps_rollup; anonymous kB per mapping from /proc/PID/smaps, to say what holds
// it), stops it (SIGTERM, SIGKILL after 5 s) and prints one JSON line.
//
// Usage: lpm_agent_probe --port PORT [--settle-ms MS] [--label TEXT] [--log FILE] -- COMMAND ARGS...
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bench_support.h"

using lpm::bench::now_ns;

namespace {

bool connect_once(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// "Key:   1234 kB" lines of a /proc file, in kB.
std::map<std::string, long> read_kb_fields(const std::string &path) {
  std::map<std::string, long> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream rest(line.substr(colon + 1));
    long v = 0;
    if (rest >> v) out[line.substr(0, colon)] = v;
  }
  return out;
}

// Anonymous kB per mapping: a library's private (copy-on-write) pages under its file name, the
// heap, and unnamed mappings told apart by size (8 MiB: a thread stack; 64 MiB-aligned
// reservations: a malloc arena of another thread).
std::vector<std::pair<std::string, long>> anonymous_by_mapping(int pid) {
  std::map<std::string, long> sums;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::string line, name;
  long size_kb = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    bool header = std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < line.find(' ');
    if (header) {
      std::istringstream fields(line);
      std::string range, perms, offset, dev, inode, path;
      fields >> range >> perms >> offset >> dev >> inode;
      std::getline(fields, path);
      path.erase(0, path.find_first_not_of(' '));
      name = path.empty() ? "" : path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
      continue;
    }
    if (line.rfind("Size:", 0) == 0) size_kb = std::atol(line.c_str() + 5);
    if (line.rfind("Anonymous:", 0) != 0) continue;
    long kb = std::atol(line.c_str() + 10);
    if (kb == 0) continue;
    std::string key = name;
    if (key.empty()) {
      if (size_kb >= 8188 && size_kb <= 8196) key = "[anon: thread stack]";
      else if (size_kb >= 1024 && size_kb <= 65536 && size_kb % 4 == 0 && size_kb > 8196) key = "[anon: malloc arena]";
      else key = "[anon]";
    }
    sums[key] += kb;
  }
  std::vector<std::pair<std::string, long>> out(sums.begin(), sums.end());
  std::sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.second > b.second; });
  return out;
}

std::string json_escape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

void stop_child(pid_t pid) {
  ::kill(pid, SIGTERM);
  int64_t deadline = now_ns() + 5'000'000'000;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (now_ns() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return;
    }
    ::usleep(10'000);
  }
}

int usage() {
  std::fprintf(stderr, "usage: lpm_agent_probe --port PORT [--settle-ms MS] [--label TEXT] [--log FILE] -- "
                       "COMMAND ARGS...\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  uint16_t port = 0;
  long settle_ms = 1000;
  std::string label, log_path = "/dev/null";
  int i = 1;
  for (; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--") {
      i++;
      break;
    }
    if (i + 1 >= argc) return usage();
    std::string v = argv[++i];
    if (a == "--port") port = static_cast<uint16_t>(std::atoi(v.c_str()));
    else if (a == "--settle-ms") settle_ms = std::atol(v.c_str());
    else if (a == "--label") label = v;
    else if (a == "--log") log_path = v;
    else return usage();
  }
  if (port == 0 || i >= argc) return usage();

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return 1;
  int64_t t0 = now_ns();
  pid_t pid = ::fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log >= 0) ::dup2(log, STDERR_FILENO);
    ::execvp(argv[i], argv + i);
    std::fprintf(stderr, "exec %s: %s\n", argv[i], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out[1]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);

  double accept_ms = -1, ready_ms = -1;
  std::string stdout_text;
  const int64_t give_up = t0 + 10'000'000'000;
  const timespec pause{0, 20'000};
  for (long n = 0; accept_ms < 0 || ready_ms < 0; n++) {
    if (accept_ms < 0 && connect_once(port)) accept_ms = static_cast<double>(now_ns() - t0) / 1e6;
    if (ready_ms < 0) {
      char buf[512];
      ssize_t got = ::read(out[0], buf, sizeof buf);
      if (got > 0) stdout_text.append(buf, static_cast<size_t>(got));
      if (stdout_text.find("ready ") != std::string::npos) ready_ms = static_cast<double>(now_ns() - t0) / 1e6;
    }
    if (n % 256 == 0) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        std::fprintf(stderr, "lpm_agent_probe: %s exited before it was ready (see %s)\n", argv[i], log_path.c_str());
        return 1;
      }
      if (now_ns() > give_up) {
        std::fprintf(stderr, "lpm_agent_probe: %s did not accept on port %u within 10 s\n", argv[i], port);
        stop_child(pid);
        return 1;
      }
    }
    if (accept_ms < 0) ::nanosleep(&pause, nullptr);
  }

  ::usleep(static_cast<useconds_t>(settle_ms * 1000));
  const std::string proc = "/proc/" + std::to_string(pid);
  auto status = read_kb_fields(proc + "/status");
  auto rollup = read_kb_fields(proc + "/smaps_rollup");
  auto by_mapping = anonymous_by_mapping(pid);
  stop_child(pid);
  ::close(out[0]);

  std::string top;
  for (size_t k = 0; k < by_mapping.size() && k < 10; k++)
    top += (k ? "," : "") + std::string("\"") + json_escape(by_mapping[k].first) + "\":" +
           std::to_string(by_mapping[k].second);
  std::printf("{\"label\":\"%s\",\"accept_ms\":%.2f,\"ready_ms\":%.2f,\"rss_anon_kb\":%ld,\"vm_rss_kb\":%ld,"
              "\"pss_kb\":%ld,\"pss_anon_kb\":%ld,\"threads\":%ld,\"anon_kb_by_mapping\":{%s}}\n",
              json_escape(label).c_str(), accept_ms, ready_ms, status["RssAnon"], status["VmRSS"], rollup["Pss"],
              rollup["Pss_Anon"], status["Threads"], top.c_str());
  return 0;
}
