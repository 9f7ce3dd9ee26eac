#include "lpm/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lpm/ids.h"

namespace lpm {

std::string errno_text() { return std::strerror(errno); }

Status fsync_dir(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::io_error, "open " + path + ": " + errno_text());
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) return make_error(Errc::io_error, "fsync " + path + ": " + std::strerror(saved));
  return {};
}

static std::string parent_of(const std::string &path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status write_file_atomic(const std::string &path, const void *data, size_t len, mode_t mode) {
  uint8_t rnd[6];
  random_bytes(rnd, sizeof rnd);
  std::string tmp = path + ".tmp-" + to_hex(rnd);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return make_error(Errc::io_error, "create " + tmp + ": " + errno_text());
  ::fchmod(fd, mode); // the umask must not loosen or tighten what the caller asked for
  const auto *p = static_cast<const uint8_t *>(data);
  size_t left = len;
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      Errc code = errno == ENOSPC ? Errc::no_space : Errc::io_error;
      std::string msg = "write " + tmp + ": " + errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      return make_error(code, msg);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    std::string msg = "fsync " + tmp + ": " + errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    return make_error(Errc::io_error, msg);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string msg = "rename " + tmp + ": " + errno_text();
    ::unlink(tmp.c_str());
    return make_error(Errc::io_error, msg);
  }
  return fsync_dir(parent_of(path));
}

Result<std::string> read_file(const std::string &path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Errc code = errno == ENOENT ? Errc::not_found : Errc::io_error;
    return make_error(code, "open " + path + ": " + errno_text());
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string msg = "read " + path + ": " + errno_text();
      ::close(fd);
      return make_error(Errc::io_error, msg);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return make_error(Errc::too_large, path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status make_dirs(const std::string &path, mode_t mode) {
  if (path.empty()) return make_error(Errc::bad_request, "empty folder name");
  std::string cur;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    cur = path.substr(0, next);
    pos = next + 1;
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return make_error(Errc::io_error, "mkdir " + cur + ": " + errno_text());
  }
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(Errc::io_error, path + " is not a folder");
  return {};
}

bool file_exists(const std::string &path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

} // namespace lpm
