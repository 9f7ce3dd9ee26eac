#include "device_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lpm/files.h"
#include "lpm/ids.h"

namespace lpm::printer {
namespace {

// What finish() hands to the thread pool: the file to flush and rename, and who to tell.
struct Completion {
  uv_work_t req{};
  int fd = -1;
  std::string folder, part_path, final_path;
  CountsFn done;
  Status result;
};

// On a pool thread: the final name appears only once the content is on disk, so whoever watches
// the folder never picks up half a document.
void complete(Completion &c) {
  Status s;
  if (::fsync(c.fd) != 0) s = make_error(Errc::io_error, "fsync " + c.part_path + ": " + errno_text());
  int closed = ::close(c.fd);
  c.fd = -1;
  if (s.ok() && closed != 0 && errno != EINTR)
    s = make_error(Errc::io_error, "close " + c.part_path + ": " + errno_text());
  if (s.ok() && ::rename(c.part_path.c_str(), c.final_path.c_str()) != 0)
    s = make_error(Errc::io_error, "rename " + c.part_path + ": " + errno_text());
  if (!s.ok()) {
    ::unlink(c.part_path.c_str());
    c.result = s;
    return;
  }
  c.result = fsync_dir(c.folder);
}

class FileJob final : public DeviceJob {
public:
  FileJob(uv_loop_t *loop, std::string folder, std::string part_path, std::string final_path, int fd)
      : loop_(loop), folder_(std::move(folder)), part_path_(std::move(part_path)),
        final_path_(std::move(final_path)), fd_(fd) {}
  ~FileJob() override { abort(); }
  FileJob(const FileJob &) = delete;
  FileJob &operator=(const FileJob &) = delete;

  Status write(std::span<const uint8_t> data) override {
    if (state_ != State::writing) return make_error(Errc::internal, "write to a finished device job");
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        Errc code = errno == ENOSPC ? Errc::no_space : Errc::io_error;
        return make_error(code, "write " + part_path_ + ": " + errno_text());
      }
      data = data.subspan(static_cast<size_t>(n));
    }
    return {};
  }

  // A file counts nothing: the station estimates. The flushes run on libuv's thread pool: the
  // station's loop goes on streaming other workstations' documents meanwhile; `done` is called on
  // the loop. (The completion owns the file from here, so the job may go away before it ends.)
  void finish(CountsFn done) override {
    if (state_ != State::writing) return done(make_error(Errc::internal, "device job already ended"));
    state_ = State::finished;
    auto *c = new Completion;
    c->req.data = c;
    c->fd = fd_;
    fd_ = -1;
    c->folder = folder_;
    c->part_path = part_path_;
    c->final_path = final_path_;
    c->done = std::move(done);
    auto run = [](uv_work_t *req) { complete(*static_cast<Completion *>(req->data)); };
    auto after = [](uv_work_t *req, int) {
      std::unique_ptr<Completion> owned(static_cast<Completion *>(req->data));
      if (!owned->result.ok()) return owned->done(owned->result.error());
      owned->done(DeviceCounts{});
    };
    if (uv_queue_work(loop_, &c->req, run, after) != 0) {
      run(&c->req);
      after(&c->req, 0);
    }
  }

  void abort() override {
    if (state_ != State::writing) return;
    state_ = State::aborted;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ::unlink(part_path_.c_str());
  }

private:
  enum class State { writing, finished, aborted };

  uv_loop_t *loop_;
  std::string folder_;
  std::string part_path_;
  std::string final_path_;
  int fd_;
  State state_ = State::writing;
};

class FileDevice final : public Device {
public:
  FileDevice(uv_loop_t *loop, std::string folder, std::string uri)
      : loop_(loop), folder_(std::move(folder)), uri_(std::move(uri)) {}

  // The file is created on libuv's thread pool: creating an inode can take the filesystem a
  // while (ext4 searches its bitmaps, more so after many deletions), and the station's loop is
  // streaming other workstations' documents meanwhile. `ready` is called on the loop.
  void open_job(const proto::JobInfo &job, const PrintSettings &,
                std::function<void(Result<DeviceJobPtr>)> ready) override {
    // The id comes from the network and becomes a file name: only a UUID may.
    if (!uuid_valid(job.id))
      return ready(make_error(Errc::bad_request, "job id \"" + job.id + "\" is not a UUID"));
    auto *o = new Opening;
    o->req.data = o;
    o->loop = loop_;
    o->folder = folder_;
    o->part_path = folder_ + "/" + job.id + ".part";
    o->final_path = folder_ + "/" + job.id + "." + extension_for_format(job.format);
    o->ready = std::move(ready);
    auto run = [](uv_work_t *req) {
      auto &opening = *static_cast<Opening *>(req->data);
      opening.fd =
          ::open(opening.part_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
      opening.error = opening.fd < 0 ? errno : 0;
    };
    auto after = [](uv_work_t *req, int) {
      std::unique_ptr<Opening> done(static_cast<Opening *>(req->data));
      if (done->fd < 0)
        return done->ready(
            make_error(Errc::io_error, "create " + done->part_path + ": " + std::strerror(done->error)));
      done->ready(DeviceJobPtr(
          std::make_unique<FileJob>(done->loop, done->folder, done->part_path, done->final_path, done->fd)));
    };
    if (uv_queue_work(loop_, &o->req, run, after) != 0) {
      run(&o->req);
      after(&o->req, 0);
    }
  }

  bool applies_settings() const override { return false; }

  const std::string &uri() const override { return uri_; }

private:
  // What open_job hands to the thread pool (copies, not the device: it may be gone by then).
  struct Opening {
    uv_work_t req{};
    uv_loop_t *loop = nullptr;
    std::string folder, part_path, final_path;
    int fd = -1;
    int error = 0;
    std::function<void(Result<DeviceJobPtr>)> ready;
  };

  uv_loop_t *loop_;
  std::string folder_;
  std::string uri_;
};

} // namespace

Result<std::unique_ptr<Device>> open_file_device(uv_loop_t *loop, const std::string &folder,
                                                 const std::string &uri) {
  Status made = make_dirs(folder, 0700);
  if (!made.ok()) return made.error();
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(Errc::io_error, "device folder " + folder + " is not a folder");
  if (::access(folder.c_str(), W_OK | X_OK) != 0)
    return make_error(Errc::io_error, "device folder " + folder + " is not writable: " + errno_text());
  return std::unique_ptr<Device>(std::make_unique<FileDevice>(loop, folder, uri));
}

} // namespace lpm::printer
