#include "badge_reader.h"

#include <string.h>
#include <unistd.h>

namespace lpm::printer {

std::string trim_badge_line(std::string_view line) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
  };
  size_t begin = 0;
  size_t end = line.size();
  while (begin < end && space(line[begin]))
    begin++;
  while (end > begin && space(line[end - 1]))
    end--;
  return std::string(line.substr(begin, end - begin));
}

std::optional<Result<std::string>> LineReader::take_line() {
  if (discarding_) {
    auto newline = buffer_.find('\n');
    if (newline == std::string::npos) {
      buffer_.clear();
      return std::nullopt;
    }
    buffer_.erase(0, newline + 1);
    discarding_ = false;
  }
  auto newline = buffer_.find('\n');
  if (newline != std::string::npos && newline <= kMaxLineBytes) {
    std::string line = buffer_.substr(0, newline);
    buffer_.erase(0, newline + 1);
    return Result<std::string>(std::move(line));
  }
  if (buffer_.size() > kMaxLineBytes) {
    // Never cut a long line into a shorter badge id: that could name somebody else's badge.
    discarding_ = true;
    return Result<std::string>(make_error(
        Errc::too_large, "input line longer than " + std::to_string(kMaxLineBytes) + " bytes skipped"));
  }
  if (eof_ && !buffer_.empty()) {
    std::string line = std::move(buffer_);
    buffer_.clear();
    return Result<std::string>(std::move(line));
  }
  return std::nullopt;
}

void LineReader::fill(std::function<void(Status)> done) {
  if (filling_ || eof_) {
    if (!filling_ && done) done(Status{});
    return;
  }
  filling_ = true;
  done_ = std::move(done);
  req_.data = this;
  uv_buf_t buf = uv_buf_init(chunk_, sizeof chunk_);
  int rc = uv_fs_read(loop_, &req_, fd_, &buf, 1, -1, on_read);
  if (rc != 0) {
    filling_ = false;
    uv_fs_req_cleanup(&req_);
    eof_ = true;
    auto cb = std::move(done_);
    if (cb) cb(make_error(Errc::io_error, std::string("read input: ") + uv_strerror(rc)));
  }
}

void LineReader::on_read(uv_fs_t *req) {
  auto *self = static_cast<LineReader *>(req->data);
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  self->filling_ = false;
  Status status;
  if (n > 0) {
    self->buffer_.append(self->chunk_, static_cast<size_t>(n));
  } else {
    // 0 is the end of input; an error ends it too (there is nothing else to read).
    self->eof_ = true;
    if (n < 0)
      status = make_error(Errc::io_error, std::string("read input: ") + uv_strerror(static_cast<int>(n)));
  }
  auto cb = std::move(self->done_);
  if (cb) cb(status);
}

int LineReader::terminal_fd() const {
  return ::isatty(fd_) == 1 ? fd_ : -1;
}

void LineReader::scrub() {
  // The lines still buffered move to fresh memory; every byte of the old buffer (its spare
  // capacity too, where taken lines were) and of the last chunk read is overwritten.
  std::string rest(buffer_);
  buffer_.resize(buffer_.capacity());
  ::explicit_bzero(buffer_.data(), buffer_.size());
  buffer_ = std::move(rest);
  if (!filling_) ::explicit_bzero(chunk_, sizeof chunk_);
}

} // namespace lpm::printer
