// Page counting (page_count.h): format sniffing, the dispatch to each format's counter, the
// document cursor they share, and the child process PDF is counted in.
#include "page_count.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include "lpm/ids.h"
#include "lpm/log.h"
#include "page_count_private.h"
#include "page_count_qpdf.h"

#if defined(__SANITIZE_ADDRESS__)
#define LPM_PAGE_COUNT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LPM_PAGE_COUNT_ASAN 1
#endif
#endif

namespace lpm::agent {

namespace detail {

bool DocumentCursor::fill() {
  if (pos_ < window_len_) return true;
  if (failed_) return false;
  uint64_t at = window_start_ + pos_;
  if (at >= size_) return false;
  auto n = doc_.read_at(at, std::span<uint8_t>(window_.data(), window_.size()));
  if (!n.ok()) {
    failed_ = true;
    return false;
  }
  if (*n == 0) return false;
  window_start_ = at;
  window_len_ = std::min(*n, window_.size());
  pos_ = 0;
  return true;
}

bool DocumentCursor::read_exact(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    if (!fill()) return false;
    size_t n = std::min(out.size() - done, window_len_ - pos_);
    std::memcpy(out.data() + done, window_.data() + pos_, n);
    pos_ += n;
    done += n;
  }
  return true;
}

bool DocumentCursor::skip(uint64_t n) {
  uint64_t here = offset();
  if (n > size_ - std::min(here, size_)) {
    seek(size_);
    return false;
  }
  seek(here + n);
  return true;
}

void DocumentCursor::seek(uint64_t to) {
  if (to >= window_start_ && to <= window_start_ + window_len_) {
    pos_ = static_cast<size_t>(to - window_start_);
    return;
  }
  window_start_ = to;
  window_len_ = 0;
  pos_ = 0;
}

namespace {

// The DocumentReader as the C++17 qpdf unit sees it.
class PdfBytesOfReader final : public PdfBytes {
public:
  explicit PdfBytesOfReader(DocumentReader &doc) : doc_(doc) {}
  uint64_t size() const override { return doc_.size(); }
  int64_t read_at(uint64_t offset, uint8_t *out, size_t max) override {
    auto n = doc_.read_at(offset, std::span<uint8_t>(out, max));
    if (!n.ok()) return -1;
    return static_cast<int64_t>(std::min<size_t>(*n, max));
  }

private:
  DocumentReader &doc_;
};

} // namespace

int64_t count_pdf_pages(DocumentReader &doc) {
  PdfBytesOfReader bytes(doc);
  return count_pdf_pages_qpdf(bytes);
}

} // namespace detail

namespace {

bool starts_with(std::span<const uint8_t> bytes, std::string_view prefix) {
  return bytes.size() >= prefix.size() && std::memcmp(bytes.data(), prefix.data(), prefix.size()) == 0;
}

// "Application/PDF; charset=x" -> "application/pdf".
std::string media_type_of(const std::string &format) {
  std::string out;
  for (char c : format.substr(0, format.find(';'))) {
    if (c == ' ' || c == '\t') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

// The child's address space may grow this much beyond what it inherited.
void limit_address_space([[maybe_unused]] uint64_t budget_bytes) {
#ifndef LPM_PAGE_COUNT_ASAN
  // ASan reserves terabytes of shadow memory up front: a limit would only break it.
  unsigned long long pages = 0;
  int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char text[128] = {};
    ssize_t n = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    if (n > 0) pages = std::strtoull(text, nullptr, 10);
  }
  uint64_t current = static_cast<uint64_t>(pages) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  struct rlimit as {};
  as.rlim_cur = as.rlim_max = static_cast<rlim_t>(current + budget_bytes);
  ::setrlimit(RLIMIT_AS, &as);
#endif
}

// Runs `count` in a forked child under the limits and returns its answer; -1 when the child
// fails, dies, or runs past the timeout (it is then killed).
int64_t count_in_child(const std::function<int64_t()> &count, const PageCountLimits &limits) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    LPM_WARN("page count: cannot make a pipe: %s", std::strerror(errno));
    return -1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    LPM_WARN("page count: cannot fork: %s", std::strerror(errno));
    ::close(fds[0]);
    ::close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    // The child: nothing of the parent's (loop, sockets, stdio buffers) is touched, and it
    // leaves with _exit.
    ::close(fds[0]);
    // The parent's handlers (libuv's signal pipe, a test framework's crash reporter) are not
    // the child's business: a signal ends the child, and the parent sees how.
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL})
      ::signal(sig, SIG_DFL);
    limit_address_space(limits.pdf_memory_bytes);
    struct rlimit cpu {};
    cpu.rlim_cur = cpu.rlim_max = static_cast<rlim_t>(limits.pdf_timeout_ms / 1000 + 1);
    ::setrlimit(RLIMIT_CPU, &cpu);
    struct rlimit core {};
    ::setrlimit(RLIMIT_CORE, &core);
    int64_t pages = -1;
    try {
      pages = count();
    } catch (...) {
      pages = -1;
    }
    ssize_t w = ::write(fds[1], &pages, sizeof pages);
    ::_exit(w == static_cast<ssize_t>(sizeof pages) ? 0 : 1);
  }

  ::close(fds[1]);
  int64_t pages = -1;
  size_t got = 0;
  bool timed_out = false;
  int64_t deadline = mono_ms() + limits.pdf_timeout_ms;
  while (got < sizeof pages) {
    int64_t left = deadline - mono_ms();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd p {};
    p.fd = fds[0];
    p.events = POLLIN;
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) {
      timed_out = rc == 0;
      break;
    }
    ssize_t n = ::read(fds[0], reinterpret_cast<char *>(&pages) + got, sizeof pages - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fds[0]);
  if (got < sizeof pages) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got < sizeof pages) {
    if (timed_out)
      LPM_WARN("page count: PDF not counted within %u ms", static_cast<unsigned>(limits.pdf_timeout_ms));
    else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
      LPM_WARN("page count: the PDF counter died of signal %d", WTERMSIG(status));
    else
      LPM_WARN("page count: the PDF counter gave no answer (memory or CPU limit)");
    return -1;
  }
  return pages < -1 ? -1 : pages;
}

// PDF bytes held in memory (the counter process's copy of one document).
class PdfBytesInMemory final : public detail::PdfBytes {
public:
  explicit PdfBytesInMemory(const std::vector<uint8_t> &bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  int64_t read_at(uint64_t offset, uint8_t *out, size_t max) override {
    if (offset >= bytes_.size()) return 0;
    size_t n = static_cast<size_t>(std::min<uint64_t>(max, bytes_.size() - offset));
    std::memcpy(out, bytes_.data() + offset, n);
    return static_cast<int64_t>(n);
  }

private:
  const std::vector<uint8_t> &bytes_;
};

bool write_full(int fd, const void *data, size_t len, int64_t deadline_ms) {
  const char *p = static_cast<const char *>(data);
  while (len > 0) {
    int64_t left = deadline_ms - mono_ms();
    if (left <= 0) return false;
    struct pollfd pfd {};
    pfd.fd = fd;
    pfd.events = POLLOUT;
    int rc = ::poll(&pfd, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;
    ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// deadline_ms < 0: wait as long as it takes (the counter process waiting for work).
bool read_full(int fd, void *data, size_t len, int64_t deadline_ms) {
  char *p = static_cast<char *>(data);
  while (len > 0) {
    int timeout = -1;
    if (deadline_ms >= 0) {
      int64_t left = deadline_ms - mono_ms();
      if (left <= 0) return false;
      timeout = static_cast<int>(left);
    }
    struct pollfd pfd {};
    pfd.fd = fd;
    pfd.events = POLLIN;
    int rc = ::poll(&pfd, 1, timeout);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;
    ssize_t n = ::recv(fd, p, len, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Puts the calling (child) process under the counting limits: default signal actions, no core
// dumps, a capped address space.
void enter_child_limits(const PageCountLimits &limits) {
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGPIPE})
    ::signal(sig, SIG_DFL);
  limit_address_space(limits.pdf_memory_bytes);
  struct rlimit core {};
  ::setrlimit(RLIMIT_CORE, &core);
}

// One long-lived process that counts the pages of PDFs up to kServedPdfBytes, sent to it over a
// socket pair: a fork for the first PDF instead of one per job (the fork and the page faults it
// causes dominated the cost of storing a small PDF). It keeps the isolation of count_in_child:
// its own capped address space, and a document that takes longer than the timeout gets it
// killed (the next PDF starts a new one). It ends when the agent closes its end of the socket,
// and after kMaxServed documents, so whatever qpdf leaks stays bounded.
class PdfCounterProcess {
public:
  static constexpr uint64_t kServedPdfBytes = 8ull << 20;
  static constexpr uint32_t kMaxServed = 1000;

  static PdfCounterProcess &instance() {
    static PdfCounterProcess process;
    return process;
  }

  // The page count, -1 when the document is not a PDF qpdf can count or the counter failed.
  int64_t count(DocumentReader &doc, const PageCountLimits &limits) {
    uint64_t size = doc.size();
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    for (uint64_t at = 0; at < size;) {
      auto n = doc.read_at(at, std::span<uint8_t>(bytes.data() + at, static_cast<size_t>(size - at)));
      if (!n.ok() || *n == 0) return -1;
      at += *n;
    }
    // A process that died while idle (killed from outside) is noticed at the first request
    // and replaced once; a failure of a fresh process is the document's doing.
    for (int attempt = 0; attempt < 2; attempt++) {
      bool fresh = false;
      if (pid_ < 0 || served_ >= kMaxServed) {
        stop();
        if (!spawn(limits)) return count_in_child([&doc]() { return detail::count_pdf_pages(doc); }, limits);
        fresh = true;
      }
      served_++;
      int64_t deadline = mono_ms() + limits.pdf_timeout_ms;
      uint64_t len = size;
      int64_t pages = -1;
      bool sent = write_full(fd_, &len, sizeof len, deadline) && write_full(fd_, bytes.data(), bytes.size(), deadline);
      if (sent && read_full(fd_, &pages, sizeof pages, deadline)) return pages < -1 ? -1 : pages;
      bool late = mono_ms() >= deadline;
      stop();
      if (late) {
        LPM_WARN("page count: PDF not counted within %u ms", static_cast<unsigned>(limits.pdf_timeout_ms));
        return -1;
      }
      if (fresh || sent) {
        LPM_WARN("page count: the PDF counter process gave no answer (memory limit or a crash)");
        return -1;
      }
    }
    return -1;
  }

  int64_t pid() const { return pid_; }

private:
  PdfCounterProcess() = default;
  ~PdfCounterProcess() {
    // At exit: closing the socket ends the process (it reaps itself through init).
    if (fd_ >= 0) ::close(fd_);
  }

  bool spawn(const PageCountLimits &limits) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return false;
    pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      return false;
    }
    if (pid == 0) {
      // Only stdio and its end of the socket: no listening socket or loop descriptor of the
      // agent stays open in a process that outlives a request.
      int keep = fds[1];
      ::close_range(3, static_cast<unsigned>(keep - 1), 0);
      ::close_range(static_cast<unsigned>(keep + 1), ~0u, 0);
      enter_child_limits(limits);
      serve(keep);
    }
    ::close(fds[1]);
    pid_ = pid;
    fd_ = fds[0];
    served_ = 0;
    return true;
  }

  [[noreturn]] static void serve(int fd) {
    std::vector<uint8_t> bytes;
    for (;;) {
      uint64_t len = 0;
      if (!read_full(fd, &len, sizeof len, -1) || len > kServedPdfBytes) ::_exit(0);
      bytes.resize(static_cast<size_t>(len));
      if (!read_full(fd, bytes.data(), bytes.size(), -1)) ::_exit(0);
      int64_t pages = -1;
      try {
        PdfBytesInMemory pdf(bytes);
        pages = detail::count_pdf_pages_qpdf(pdf);
      } catch (...) {
        pages = -1;
      }
      if (!write_full(fd, &pages, sizeof pages, mono_ms() + 60000)) ::_exit(0);
      bytes.clear();
      bytes.shrink_to_fit();
    }
  }

  void stop() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  uint32_t served_ = 0;
};

} // namespace

std::string sniff_format(std::span<const uint8_t> first_bytes) {
  if (starts_with(first_bytes, "%PDF-")) return "application/pdf";
  if (starts_with(first_bytes, "%!")) return "application/postscript";
  if (starts_with(first_bytes, "RaS2")) return "image/pwg-raster";
  if (starts_with(first_bytes, std::string_view("UNIRAST\0", 8))) return "image/urf";
  if (starts_with(first_bytes, "\xFF\xD8\xFF")) return "image/jpeg";
  return "application/octet-stream";
}

int64_t count_pages(const std::string &format, DocumentReader &doc, const PageCountLimits &limits) {
  std::string type = media_type_of(format);
  try {
    if (type == "application/pdf") {
      if (!limits.isolate_pdf) return detail::count_pdf_pages(doc);
      // Small documents go to the long-lived counter process; large ones get a child of their
      // own that reads them through the reader, never all at once into memory.
      if (limits.reuse_pdf_counter && doc.size() <= PdfCounterProcess::kServedPdfBytes)
        return PdfCounterProcess::instance().count(doc, limits);
      return count_in_child([&doc]() { return detail::count_pdf_pages(doc); }, limits);
    }
    if (type == "application/postscript") return detail::count_postscript_pages(doc);
    if (type == "image/pwg-raster") return detail::count_pwg_raster_pages(doc);
    if (type == "image/urf") return detail::count_urf_pages(doc);
  } catch (...) {
    // The counters do not throw; an allocation failure is the one way out, and it means unknown.
  }
  return -1;
}

int64_t pdf_counter_pid() { return PdfCounterProcess::instance().pid(); }

} // namespace lpm::agent
