#include "doctor.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent_link.h"
#include "command_loop.h"
#include "lpm/ids.h"

namespace lpm::cli {
namespace {

// The directory is asked every 60 s; three missed answers is a problem.
constexpr int64_t kRegisterStaleMs = 3 * 60 * 1000;
constexpr int kConnectTimeoutMs = 2000;

std::string ago(int64_t now_ms, int64_t at_ms) {
  int64_t s = (now_ms - at_ms) / 1000;
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 7200) return std::to_string(s / 60) + " min ago";
  if (s < 2 * 86400) return std::to_string(s / 3600) + " h ago";
  return std::to_string(s / 86400) + " days ago";
}

std::string size_text(uint64_t bytes) {
  char text[32];
  if (bytes >= (1ULL << 30))
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1ULL << 30));
  else
    std::snprintf(text, sizeof text, "%.0f MiB", static_cast<double>(bytes) / (1ULL << 20));
  return text;
}

// A TCP connection to host:port within the timeout; "" when it was accepted, else why not.
std::string try_connect(const std::string &host, uint16_t port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *found = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return std::string("cannot resolve ") + host + ": " + ::gai_strerror(rc);
  std::string why = "no address";
  for (addrinfo *a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, kConnectTimeoutMs);
      if (rc == 0) {
        why = "no answer within " + std::to_string(kConnectTimeoutMs / 1000) + " s";
        ::close(fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) {
      ::close(fd);
      ::freeaddrinfo(found);
      return "";
    }
    why = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return why;
}

// Runs `lpstat -v QUEUE` (the CUPS server from the environment, as every CUPS client does);
// false when lpstat cannot be run at all.
bool run_lpstat(const std::string &queue, std::string &output) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return false;
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return false;
  }
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, STDERR_FILENO);
    ::execlp("lpstat", "lpstat", "-v", queue.c_str(), static_cast<char *>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n > 0) {
      if (output.size() < 65536) output.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return !(WIFEXITED(status) && WEXITSTATUS(status) == 127);
}

} // namespace

std::string lpstat_device_uri(const std::string &output, const std::string &queue) {
  std::string prefix = "device for " + queue + ": ";
  size_t at = 0;
  while (at < output.size()) {
    size_t end = output.find('\n', at);
    if (end == std::string::npos) end = output.size();
    std::string line = output.substr(at, end - at);
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    at = end + 1;
  }
  return "";
}

std::vector<DoctorCheck> doctor_checks(const proto::AgentStatusResult &s, const DoctorProbes &p) {
  std::vector<DoctorCheck> out;
  out.push_back(
      {"agent", true,
       "running, workstation " + s.workstation + ", " + std::to_string(s.held_jobs) + " held job(s)"});

  DoctorCheck directory{"directory", false, ""};
  if (s.directory_up && s.directory_ok_ms > 0 && s.now_ms - s.directory_ok_ms <= kRegisterStaleMs) {
    directory.ok = true;
    directory.detail = "reachable with its pinned key, last registration " + ago(s.now_ms, s.directory_ok_ms);
  } else {
    directory.detail = "not reachable";
    if (!s.directory_error.empty())
      directory.detail += " (" + s.directory_error + ", " + ago(s.now_ms, s.directory_error_ms) + ")";
    directory.detail += s.directory_ok_ms > 0 ? "; last registration " + ago(s.now_ms, s.directory_ok_ms)
                                              : "; never registered since the agent started";
    directory.detail += ": printers cannot find the jobs held here";
  }
  out.push_back(directory);

  DoctorCheck clock{"clock", false, ""};
  if (!s.skew_known) {
    clock.detail = "not compared: the directory has not answered yet";
  } else {
    int64_t off = s.skew_ms < 0 ? -s.skew_ms : s.skew_ms;
    std::string how = off < 1000 ? std::string("in step with the directory (within 1 s)")
                                 : std::to_string(off / 1000) + "." + std::to_string(off % 1000 / 100) +
                                       " s " + (s.skew_ms > 0 ? "behind" : "ahead of") + " the directory";
    clock.ok = off <= kMaxClockSkewMs;
    clock.detail = clock.ok ? how
                            : how + ": release tickets live 60 s, so releases may be refused; set the "
                                    "clock (NTP)";
  }
  out.push_back(clock);

  std::string release_at = s.release_host + ":" + std::to_string(s.release_port);
  out.push_back({"release port", p.release_port_open,
                 p.release_port_open ? release_at + " accepts connections"
                                     : release_at + " does not accept connections (" + p.release_error +
                                           "): printers cannot fetch jobs; check the firewall"});

  DoctorCheck queue{"print queue", false, ""};
  std::string want = ":" + std::to_string(s.ipp_port) + "/";
  bool local = p.queue_uri.find("//127.0.0.1" + want) != std::string::npos ||
               p.queue_uri.find("//localhost" + want) != std::string::npos ||
               p.queue_uri.find("//[::1]" + want) != std::string::npos;
  if (!p.cups_found) {
    queue.detail = "CUPS is not installed (no lpstat): applications cannot print to the agent";
  } else if (!p.queue_found) {
    queue.detail = "no CUPS queue \"" + s.queue_name + "\": create it with lpadmin -p " + s.queue_name +
                   " -E -v ipp://127.0.0.1:" + std::to_string(s.ipp_port) + "/ipp/print -m everywhere";
  } else if (!local) {
    queue.detail = "queue \"" + s.queue_name + "\" prints to " + p.queue_uri + ", not to this agent (port " +
                   std::to_string(s.ipp_port) + ")";
  } else {
    queue.ok = true;
    queue.detail = "\"" + s.queue_name + "\" prints to the agent (" + p.queue_uri + ")";
  }
  out.push_back(queue);

  DoctorCheck disk{"disk", false, ""};
  if (s.data_total_bytes == 0) {
    disk.detail = "cannot read the free space of " + s.data_folder;
  } else {
    disk.ok = s.data_free_bytes >= kMinFreeBytes;
    disk.detail = size_text(s.data_free_bytes) + " free of " + size_text(s.data_total_bytes) + " in " +
                  s.data_folder + (disk.ok ? "" : ": new jobs are refused when it is full");
  }
  out.push_back(disk);

  DoctorCheck accounting{"accounting", false, ""};
  // Records wait for the reporting interval; twice that (at least 10 min) is a backlog.
  int64_t allowed_ms =
      std::max<int64_t>(10 * 60 * 1000, 2 * static_cast<int64_t>(s.reporting_interval_minutes) * 60 * 1000);
  bool backlog = s.outbox_records > 0 && s.outbox_oldest_ms > 0 && s.now_ms - s.outbox_oldest_ms > allowed_ms;
  if (!s.accounting_configured) {
    accounting.ok = s.outbox_records == 0;
    accounting.detail = "no accounting server configured" +
                        (s.outbox_records ? ": " + std::to_string(s.outbox_records) + " record(s) wait" : "");
  } else if (backlog) {
    accounting.detail = std::to_string(s.outbox_records) + " record(s) waiting since " +
                        ago(s.now_ms, s.outbox_oldest_ms) +
                        (s.accounting_error.empty() ? "" : ": " + s.accounting_error);
  } else {
    accounting.ok = true;
    accounting.detail = std::to_string(s.outbox_records) + " record(s) waiting";
    if (s.accounting_ok_ms > 0) accounting.detail += ", last posted " + ago(s.now_ms, s.accounting_ok_ms);
  }
  out.push_back(accounting);
  return out;
}

std::string doctor_line(const DoctorCheck &check) {
  return std::string(check.ok ? "ok    " : "FAIL  ") + check.name + ": " + check.detail;
}

int command_doctor(const DoctorArgs &args) {
  proto::AgentStatusResult status;
  {
    CommandLoop loop;
    auto client = connect_agent(loop.get(), args.socket);
    if (!client.ok()) {
      DoctorCheck down{"agent", false, "not running or not reachable: " + client.error().message};
      if (args.json)
        print_json_line(json_text({{"check", down.name}, {"ok", false}, {"detail", down.detail}}));
      else
        std::printf("%s\n", doctor_line(down).c_str());
      return 1;
    }
    auto answer =
        typed_answer<proto::AgentStatusResult>((*client)->call(proto::op::agent_status, proto::MapWriter{}));
    if (!answer.ok()) return fail(answer.error());
    status = std::move(*answer);
  }
  DoctorProbes probes;
  std::string host = status.release_host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  probes.release_error = try_connect(host, status.release_port);
  probes.release_port_open = probes.release_error.empty();
  std::string listed;
  probes.cups_found = run_lpstat(status.queue_name, listed);
  probes.queue_uri = lpstat_device_uri(listed, status.queue_name);
  probes.queue_found = !probes.queue_uri.empty();

  bool all_ok = true;
  for (const auto &check : doctor_checks(status, probes)) {
    all_ok = all_ok && check.ok;
    if (args.json)
      print_json_line(json_text({{"check", check.name}, {"ok", check.ok}, {"detail", check.detail}}));
    else
      std::printf("%s\n", doctor_line(check).c_str());
  }
  return all_ok ? 0 : 1;
}

} // namespace lpm::cli
