#include "device_socket.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <charconv>
#include <cstring>

#include "lpm/log.h"

namespace lpm::printer {
namespace {

std::string uv_text(int status) { return uv_strerror(status); }

// One job's TCP connection. Its handles live on the loop until their close callbacks ran, which
// may be after the DeviceJob that drives it is gone: `keep` holds it until then.
class SocketConn : public std::enable_shared_from_this<SocketConn> {
public:
  SocketConn(uv_loop_t *loop, SocketAddress at, std::string uri, DeviceOptions options)
      : loop_(loop), at_(std::move(at)), uri_(std::move(uri)), options_(options) {}

  void start(std::function<void(Result<bool>)> connected) {
    connected_ = std::move(connected);
    keep_ = shared_from_this();
    uv_tcp_init(loop_, &tcp_);
    uv_timer_init(loop_, &timer_);
    tcp_.data = this;
    timer_.data = this;
    handles_ = 2;
    arm(options_.connect_timeout_ms);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    gai_.data = this;
    resolving_ = true;
    std::string port = std::to_string(at_.port);
    int rc = uv_getaddrinfo(
        loop_, &gai_,
        [](uv_getaddrinfo_t *req, int status, addrinfo *res) {
          auto *self = static_cast<SocketConn *>(req->data);
          self->resolving_ = false;
          self->on_resolved(status, res);
          uv_freeaddrinfo(res);
          self->release_if_done();
        },
        at_.host.c_str(), port.c_str(), &hints);
    if (rc != 0) {
      resolving_ = false;
      fail(make_error(Errc::unavailable, "cannot resolve " + at_.host + ": " + uv_text(rc)));
    }
  }

  Status write(std::span<const uint8_t> data) {
    if (state_ != State::open) return failure_or("write after the device job ended");
    if (data.empty()) return {};
    struct WriteReq {
      uv_write_t req;
      std::unique_ptr<char[]> bytes;
      size_t size;
    };
    auto *w = new WriteReq;
    w->bytes.reset(new char[data.size()]);
    std::memcpy(w->bytes.get(), data.data(), data.size());
    w->size = data.size();
    w->req.data = this;
    uv_buf_t buf = uv_buf_init(w->bytes.get(), static_cast<unsigned>(data.size()));
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t *>(&tcp_), &buf, 1, [](uv_write_t *req, int status) {
      auto *done = reinterpret_cast<WriteReq *>(req);
      auto *self = static_cast<SocketConn *>(req->data);
      self->queued_ -= done->size;
      self->sent_ += status == 0 ? done->size : 0;
      delete done;
      if (status < 0 && status != UV_ECANCELED)
        self->fail(make_error(Errc::unavailable, "the device " + self->uri_ + " stopped taking the job after " +
                                                     std::to_string(self->sent_) + " bytes: " + uv_text(status)));
      else
        self->maybe_drained();
    });
    if (rc != 0) {
      delete w;
      fail(make_error(Errc::unavailable, "write to " + uri_ + ": " + uv_text(rc)));
      return failure_or("");
    }
    queued_ += data.size();
    return {};
  }

  bool backlogged() const { return state_ == State::open && queued_ > options_.buffer_bytes; }
  void on_drained(std::function<void()> fn) {
    drained_ = std::move(fn);
    maybe_drained();
  }

  void finish(CountsFn done) {
    if (state_ != State::open) {
      done(failure_or("the device job already ended"));
      return;
    }
    finished_ = std::move(done);
    state_ = State::finishing;
    shutdown_.data = this;
    // Waits for the queued writes, then sends FIN; the printer closes its side once it has the
    // whole job.
    int rc = uv_shutdown(&shutdown_, reinterpret_cast<uv_stream_t *>(&tcp_), [](uv_shutdown_t *req, int status) {
      auto *self = static_cast<SocketConn *>(req->data);
      self->shutting_down_ = false;
      if (status < 0 && status != UV_ECANCELED)
        self->fail(make_error(Errc::unavailable, "finishing the job at " + self->uri_ + ": " + uv_text(status)));
      else if (self->state_ == State::finishing)
        self->arm(self->options_.complete_timeout_ms);
      self->release_if_done();
    });
    if (rc != 0) {
      fail(make_error(Errc::unavailable, "finishing the job at " + uri_ + ": " + uv_text(rc)));
      return;
    }
    shutting_down_ = true;
  }

  void abort() {
    if (state_ == State::done || state_ == State::failed || state_ == State::closed) {
      close_handles(false);
      return;
    }
    state_ = State::failed;
    failure_ = make_error(Errc::internal, "the device job was aborted");
    // A reset, not a FIN: the printer must not take half a document for a whole one.
    close_handles(true);
  }

private:
  enum class State { connecting, open, finishing, done, failed, closed };

  Error failure_or(const std::string &otherwise) const {
    return failure_.code != Errc::ok ? failure_ : make_error(Errc::internal, otherwise);
  }

  void arm(uint32_t ms) {
    uv_timer_start(
        &timer_, [](uv_timer_t *t) { static_cast<SocketConn *>(t->data)->on_timer(); }, ms, 0);
  }

  void on_timer() {
    if (state_ == State::connecting)
      fail(make_error(Errc::timeout, "no connection to " + uri_ + " within " +
                                         std::to_string(options_.connect_timeout_ms) + " ms"));
    else if (state_ == State::finishing)
      // Everything was sent and the printer did not say no: it has the job, it just keeps the
      // connection (some do until the paper is out).
      succeed("the device kept the connection open " + std::to_string(options_.complete_timeout_ms) +
              " ms after the last byte");
  }

  void on_resolved(int status, addrinfo *res) {
    if (state_ != State::connecting) return;
    if (status < 0 || !res) {
      fail(make_error(Errc::unavailable, "cannot resolve " + at_.host + ": " + uv_text(status)));
      return;
    }
    connect_.data = this;
    int rc = uv_tcp_connect(&connect_, &tcp_, res->ai_addr, [](uv_connect_t *req, int st) {
      auto *self = static_cast<SocketConn *>(req->data);
      self->connecting_ = false;
      self->on_connected(st);
      self->release_if_done();
    });
    if (rc != 0) {
      fail(make_error(Errc::unavailable, "cannot connect to " + uri_ + ": " + uv_text(rc)));
      return;
    }
    connecting_ = true;
  }

  void on_connected(int status) {
    if (state_ != State::connecting) return;
    if (status < 0) {
      fail(make_error(Errc::unavailable, "cannot connect to " + uri_ + ": " + uv_text(status)));
      return;
    }
    uv_timer_stop(&timer_);
    uv_tcp_nodelay(&tcp_, 1);
    state_ = State::open;
    // The back channel (status bytes some printers send) is read and dropped; its end says the
    // printer closed the connection.
    uv_read_start(
        reinterpret_cast<uv_stream_t *>(&tcp_),
        [](uv_handle_t *, size_t, uv_buf_t *buf) {
          static char scratch[4096];
          *buf = uv_buf_init(scratch, sizeof scratch);
        },
        [](uv_stream_t *stream, ssize_t n, const uv_buf_t *) {
          if (n >= 0) return;
          auto *self = static_cast<SocketConn *>(stream->data);
          self->on_peer_closed(static_cast<int>(n));
        });
    auto connected = std::move(connected_);
    connected_ = nullptr;
    if (connected) connected(true);
  }

  void on_peer_closed(int status) {
    if (state_ == State::finishing && status == UV_EOF) {
      // The printer's close ends a whole job only once it has every byte: our FIN went out after
      // the last write, and its kernel acknowledged everything. A printer that hangs up mid-job
      // with nothing unread sends a FIN too, and the bytes written after it are still unacknowledged
      // (they get a reset): without this check such a job, most of it never printed, was taken as
      // printed whenever the kernel had accepted all our writes before the FIN was seen.
      size_t unacknowledged = unacknowledged_bytes();
      if (!shutting_down_ && unacknowledged == 0) {
        succeed("");
        return;
      }
      fail(make_error(Errc::unavailable, "the device closed the connection before it had the whole job (" +
                                             std::to_string(sent_) + " bytes written, " +
                                             std::to_string(unacknowledged) + " not acknowledged)"));
      return;
    }
    std::string how = status == UV_EOF ? "closed the connection" : "dropped the connection (" + uv_text(status) + ")";
    fail(make_error(Errc::unavailable, "the device " + how + " after " + std::to_string(sent_) + " bytes"));
  }

  // Bytes written to the socket that the printer's kernel has not acknowledged (SIOCOUTQ); 0 when
  // it cannot be asked.
  size_t unacknowledged_bytes() {
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t *>(&tcp_), &fd) != 0) return 0;
    int pending = 0;
    if (::ioctl(fd, SIOCOUTQ, &pending) != 0 || pending < 0) return 0;
    return static_cast<size_t>(pending);
  }

  void maybe_drained() {
    if (!drained_ || queued_ > options_.buffer_bytes / 2) return;
    auto fn = std::move(drained_);
    drained_ = nullptr;
    fn();
  }

  void succeed(const std::string &note) {
    if (state_ != State::finishing) return;
    state_ = State::done;
    close_handles(false);
    DeviceCounts counts;
    counts.note = note;
    auto done = std::move(finished_);
    finished_ = nullptr;
    if (done) done(counts);
  }

  void fail(Error error) {
    if (state_ == State::done || state_ == State::failed || state_ == State::closed) return;
    failure_ = error;
    state_ = State::failed;
    close_handles(true);
    auto connected = std::move(connected_);
    connected_ = nullptr;
    auto finished = std::move(finished_);
    finished_ = nullptr;
    if (connected) connected(error);
    if (finished) finished(error);
  }

  void close_handles(bool reset) {
    if (closing_) return;
    closing_ = true;
    uv_timer_stop(&timer_);
    auto closed = [](uv_handle_t *h) {
      auto *self = static_cast<SocketConn *>(h->data);
      self->handles_--;
      self->release_if_done();
    };
    auto *tcp = reinterpret_cast<uv_handle_t *>(&tcp_);
    // A reset needs a connected socket with no shutdown under way; otherwise a plain close.
    if (!(reset && uv_tcp_close_reset(&tcp_, closed) == 0) && !uv_is_closing(tcp)) uv_close(tcp, closed);
    uv_close(reinterpret_cast<uv_handle_t *>(&timer_), closed);
  }

  // The last callback that may touch this object lets it go.
  void release_if_done() {
    if (!closing_ || handles_ > 0 || resolving_ || connecting_ || shutting_down_) return;
    state_ = State::closed;
    auto keep = std::move(keep_);
  }

  uv_loop_t *loop_;
  SocketAddress at_;
  std::string uri_;
  DeviceOptions options_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  uv_getaddrinfo_t gai_{};
  uv_connect_t connect_{};
  uv_shutdown_t shutdown_{};
  State state_ = State::connecting;
  int handles_ = 0;
  bool resolving_ = false, connecting_ = false, shutting_down_ = false, closing_ = false;
  size_t queued_ = 0;
  uint64_t sent_ = 0;
  Error failure_{Errc::ok, ""};
  std::function<void(Result<bool>)> connected_;
  std::function<void()> drained_;
  CountsFn finished_;
  std::shared_ptr<SocketConn> keep_;
};

class SocketJob final : public DeviceJob {
public:
  explicit SocketJob(std::shared_ptr<SocketConn> conn) : conn_(std::move(conn)) {}
  ~SocketJob() override { abort(); }
  Status write(std::span<const uint8_t> data) override { return conn_->write(data); }
  bool backlogged() const override { return conn_->backlogged(); }
  void on_drained(std::function<void()> fn) override { conn_->on_drained(std::move(fn)); }
  void finish(CountsFn done) override {
    finished_ = true;
    conn_->finish(std::move(done));
  }
  void abort() override {
    if (aborted_) return;
    aborted_ = true;
    if (!finished_) conn_->abort();
  }

private:
  std::shared_ptr<SocketConn> conn_;
  bool finished_ = false;
  bool aborted_ = false;
};

class SocketDevice final : public Device {
public:
  SocketDevice(uv_loop_t *loop, SocketAddress at, std::string uri, DeviceOptions options)
      : loop_(loop), at_(std::move(at)), uri_(std::move(uri)), options_(options) {}

  void open_job(const proto::JobInfo &, const PrintSettings &,
                std::function<void(Result<DeviceJobPtr>)> ready) override {
    auto conn = std::make_shared<SocketConn>(loop_, at_, uri_, options_);
    conn->start([conn, ready = std::move(ready)](Result<bool> connected) {
      if (!connected.ok()) return ready(connected.error());
      ready(DeviceJobPtr(std::make_unique<SocketJob>(conn)));
    });
  }

  bool applies_settings() const override { return false; }
  const std::string &uri() const override { return uri_; }

private:
  uv_loop_t *loop_;
  SocketAddress at_;
  std::string uri_;
  DeviceOptions options_;
};

} // namespace

Result<SocketAddress> parse_socket_uri(std::string_view uri) {
  constexpr std::string_view prefix = "socket://";
  auto bad = [&](const std::string &why) {
    return make_error(Errc::bad_request, "device \"" + std::string(uri) + "\": " + why);
  };
  if (uri.size() < prefix.size() || uri.substr(0, prefix.size()) != prefix) return bad("must be socket://HOST[:PORT]");
  std::string_view rest = uri.substr(prefix.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  SocketAddress out;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 address needs its closing ]");
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("only a port may follow the address");
      port = rest.substr(1);
    }
  } else {
    auto colon = rest.find(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (out.host.empty()) return bad("names no host");
  for (char c : out.host)
    if (c == '/' || c == '?' || c == '#' || c == '@' || static_cast<unsigned char>(c) <= ' ')
      return bad("the host may not contain '" + std::string(1, c) + "'");
  if (!port.empty() || rest.find(':') != std::string_view::npos) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return bad("the port must be a number from 1 to 65535");
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

Result<std::unique_ptr<Device>> open_socket_device(uv_loop_t *loop, const std::string &uri,
                                                   const DeviceOptions &options) {
  auto at = parse_socket_uri(uri);
  if (!at.ok()) return at.error();
  return std::unique_ptr<Device>(std::make_unique<SocketDevice>(loop, std::move(*at), uri, options));
}

} // namespace lpm::printer
