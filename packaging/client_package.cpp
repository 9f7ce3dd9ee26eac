#include "lpm/packaging/client_package.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "lpm/files.h"

extern const unsigned char lpm_embedded_install_sh[];
extern const unsigned long lpm_embedded_install_sh_size;

namespace lpm::packaging {

namespace {

constexpr const char *kFolder = "lpm-client";
constexpr const char *kUnitInDeb = "usr/lib/systemd/system/lpm-agent.service";
constexpr size_t kMaxTokenBytes = 512;

Error option_error(const std::string &option, const std::string &why) {
  return make_error(Errc::bad_request, option + ": " + why);
}

// Runs a tool with its output (both streams) in `output`; no shell. io_error when it cannot be
// run or exits with a status other than 0.
Status run_tool(const std::vector<std::string> &argv, std::string &output) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return make_error(Errc::io_error, std::string("pipe: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return make_error(Errc::io_error, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    std::vector<char *> args;
    for (const auto &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  output.clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      if (output.size() < (1 << 20)) output.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  while (!output.empty() && output.back() == '\n')
    output.pop_back();
  std::string why = WIFEXITED(status) && WEXITSTATUS(status) == 127
                        ? "could not be run (is it installed?)"
                        : "failed" + (output.empty() ? std::string() : ": " + output);
  return make_error(Errc::io_error, argv[0] + " " + why);
}

// A temporary folder removed with everything in it when this goes out of scope.
struct TempFolder {
  std::string path;
  TempFolder() {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/lpm-package.XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data())) path = buf.data();
  }
  ~TempFolder() {
    if (path.empty()) return;
    std::string ignored;
    (void)run_tool({"rm", "-rf", "--", path}, ignored);
  }
  TempFolder(const TempFolder &) = delete;
  TempFolder &operator=(const TempFolder &) = delete;
};

std::string base_name(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status copy_file(const std::string &from, const std::string &to, mode_t mode, size_t max_bytes) {
  auto bytes = read_file(from, max_bytes);
  if (!bytes.ok()) return bytes.error();
  return write_file_atomic(to, *bytes, mode);
}

std::string readme_text(const ClientPackageOptions &o, const std::string &deb_name) {
  std::string text =
      "LPM client package\n"
      "==================\n\n"
      "Install on a Debian 12 workstation, as root, from this folder:\n\n"
      "    ./install.sh\n\n"
      "It installs " +
      deb_name +
      ", writes configuration.xml to /etc/lpm/ (mode 0600),\n"
      "enrolls the workstation with the directory, starts the lpm-agent service and creates the\n"
      "print queue \"" +
      o.config.default_queue +
      "\". install.sh reads configuration.xml only from this folder.\n\n"
      "    ./install.sh --no-start      install without starting the agent\n"
      "    ./install.sh --root DIR      install into another root (an image)\n"
      "    ./install.sh --uninstall     undo the install\n\n";
  if (!o.enrollment_token.empty())
    text += "enrollment.token enrolls workstations with the directory until it expires or is used up:\n"
            "keep this package where only administrators can read it. install.sh deletes the token\n"
            "from this folder once the workstation is enrolled.\n";
  else
    text += "This package has no enrollment token: after installing, enroll the workstation with\n"
            "    lpm-agent enroll --token-file FILE\n"
            "(a workstation token from `lpm tokens create --kind workstation`).\n";
  return text;
}

} // namespace

AgentConfig package_default_config() {
  AgentConfig c;
  c.data_folder = "/var/lib/lpm-agent";
  c.control_socket = "/run/lpm/agent.sock";
  c.default_printer = c.default_queue;
  return c;
}

Status check_package_choices(const ClientPackageOptions &o) {
  if (o.driver != kDriverEverywhere)
    return option_error("--driver",
                        "\"" + o.driver +
                            "\" is not a driver type a Linux package can carry: only \"everywhere\" "
                            "(IPP Everywhere, driverless) is supported");
  if (!o.serverless)
    return option_error("--serverless",
                        "this client offers serverless print release only: a package without it "
                        "would install nothing (cloud print release is not part of LPM)");
  if (o.enrollment_token.size() > kMaxTokenBytes)
    return option_error("--token", "is longer than " + std::to_string(kMaxTokenBytes) + " bytes");
  for (unsigned char c : o.enrollment_token)
    if (c <= ' ' || c >= 0x7f) return option_error("--token", "must be printable ASCII without spaces");
  for (const auto &[option, service] :
       {std::pair{"--directory", &o.config.directory}, std::pair{"--accounting", &o.config.accounting}})
    if (service->addresses.empty() != service->fingerprints.empty())
      return option_error(option, service->addresses.empty() ? "a key fingerprint without an address"
                                                             : "an address without a key fingerprint");
  // Whatever configuration.xml would say must read back as itself (the agent will read it).
  auto again = parse_agent_config(agent_config_to_xml(o.config), "configuration.xml");
  if (!again.ok()) return again.error();
  return {};
}

Status check_client_package(const ClientPackageOptions &o) {
  if (Status s = check_package_choices(o); !s.ok()) return s;
  if (!o.config.directory.configured())
    return option_error("--directory", "the package needs the directory's address and key fingerprint "
                                       "(--directory HOST:PORT --directory-fingerprint HEX)");
  if (!o.config.accounting.configured())
    return option_error("--accounting",
                        "the package needs the accounting server's address and key fingerprint "
                        "(--accounting HOST:PORT --accounting-fingerprint HEX)");
  if (o.agent_deb.empty()) return option_error("--agent-deb", "no lpm-agent .deb given");
  if (o.output.empty()) return option_error("--output", "no archive name given");
  return {};
}

Result<std::vector<std::string>> build_client_package(const ClientPackageOptions &o) {
  Status checked = check_client_package(o);
  if (!checked.ok()) return checked.error();
  struct stat st {};
  if (::stat(o.agent_deb.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return option_error("--agent-deb", o.agent_deb + " is not a file");
  if (::lstat(o.output.c_str(), &st) == 0)
    return option_error("--output", o.output + " already exists (a package is never written over)");

  std::string out;
  Status s = run_tool({"dpkg-deb", "--field", o.agent_deb, "Package"}, out);
  if (!s.ok())
    return option_error("--agent-deb", o.agent_deb + " is not a Debian package: " + s.error().message);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  if (out != "lpm-agent")
    return option_error("--agent-deb", o.agent_deb + " is the package \"" + out + "\", not lpm-agent");

  TempFolder tmp;
  if (tmp.path.empty()) return make_error(Errc::io_error, std::string("mkdtemp: ") + std::strerror(errno));
  std::string unpacked = tmp.path + "/deb";
  std::string folder = tmp.path + "/" + kFolder;
  if (::mkdir(folder.c_str(), 0755) != 0)
    return make_error(Errc::io_error, "mkdir " + folder + ": " + std::strerror(errno));
  s = run_tool({"dpkg-deb", "-x", o.agent_deb, unpacked}, out);
  if (!s.ok()) return s.error();

  std::vector<std::string> files;
  auto add = [&](const std::string &name, Status written) -> Status {
    if (written.ok()) files.push_back(name);
    return written;
  };
  std::string deb_name = base_name(o.agent_deb);
  for (Status step : {
           add("configuration.xml", save_agent_config(o.config, folder + "/configuration.xml")),
           add(deb_name, copy_file(o.agent_deb, folder + "/" + deb_name, 0644, size_t{1} << 30)),
           add("lpm-agent.service",
               copy_file(unpacked + "/" + kUnitInDeb, folder + "/lpm-agent.service", 0644, 1 << 20)),
           add("install.sh", write_file_atomic(folder + "/install.sh", install_script_text(), 0755)),
           add("README.txt", write_file_atomic(folder + "/README.txt", readme_text(o, deb_name), 0644)),
       }) {
    if (!step.ok()) return step.error();
  }
  if (!o.enrollment_token.empty()) {
    s = add("enrollment.token",
            write_file_atomic(folder + "/enrollment.token", o.enrollment_token + "\n", 0600));
    if (!s.ok()) return s.error();
  }

  // tar writes beside the target, and the archive appears under its name only when complete.
  std::string partial = o.output + ".partial";
  ::unlink(partial.c_str());
  s = run_tool({"tar", "--create", "--gzip", "--owner=0", "--group=0", "--file", partial, "--directory",
                tmp.path, kFolder},
               out);
  if (!s.ok()) {
    ::unlink(partial.c_str());
    return s.error();
  }
  if (::link(partial.c_str(), o.output.c_str()) != 0) {
    int e = errno;
    ::unlink(partial.c_str());
    return make_error(Errc::io_error, "cannot write " + o.output + ": " + std::strerror(e));
  }
  ::unlink(partial.c_str());
  return files;
}

const std::string &install_script_text() {
  static const std::string text(reinterpret_cast<const char *>(lpm_embedded_install_sh),
                                static_cast<size_t>(lpm_embedded_install_sh_size));
  return text;
}

} // namespace lpm::packaging
