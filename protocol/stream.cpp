// Streams on libuv. SocketStream owns the handles and the raw byte path (write queue, reads,
// deadlines, close sequencing); PlainStream passes bytes through; TlsStream (tls.cpp) puts
// mbedTLS between the socket and the user.
#include "lpm/protocol/stream.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "detail/socket_stream.h"
#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::proto {

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  Endpoint ep;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return make_error(Errc::bad_request, "address \"" + std::string(text) + "\" is not [IPv6]:PORT");
    ep.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      return make_error(Errc::bad_request, "address \"" + std::string(text) + "\" is not HOST:PORT");
    ep.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  unsigned long value = 0;
  if (port.empty() || port.size() > 5) return make_error(Errc::bad_request, "bad port in \"" + std::string(text) + "\"");
  for (char c : port) {
    if (c < '0' || c > '9') return make_error(Errc::bad_request, "bad port in \"" + std::string(text) + "\"");
    value = value * 10 + static_cast<unsigned long>(c - '0');
  }
  if (value > 65535) return make_error(Errc::bad_request, "port out of range in \"" + std::string(text) + "\"");
  ep.port = static_cast<uint16_t>(value);
  return ep;
}

namespace detail {

Result<sockaddr_storage> resolve_literal(const Endpoint &ep) {
  sockaddr_storage ss{};
  std::string host = ep.host == "localhost" ? "127.0.0.1" : ep.host;
  if (uv_ip4_addr(host.c_str(), ep.port, reinterpret_cast<sockaddr_in *>(&ss)) == 0) return ss;
  if (uv_ip6_addr(host.c_str(), ep.port, reinterpret_cast<sockaddr_in6 *>(&ss)) == 0) return ss;
  return make_error(Errc::bad_request, "\"" + ep.host + "\" is not an IP address (names are not resolved)");
}

std::string sockaddr_text(const sockaddr_storage &ss) {
  char ip[64] = {0};
  if (ss.ss_family == AF_INET) {
    const auto *a = reinterpret_cast<const sockaddr_in *>(&ss);
    uv_ip4_name(a, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto *a = reinterpret_cast<const sockaddr_in6 *>(&ss);
    uv_ip6_name(a, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "unix";
}

Error uv_error(Errc code, const std::string &what, int status) {
  return make_error(code, what + ": " + uv_strerror(status));
}

SocketStream::SocketStream(uv_loop_t *loop, Kind kind, const StreamLimits &limits) : loop_(loop), kind_(kind) {
  limits_ = limits;
  if (kind_ == Kind::tcp)
    uv_tcp_init(loop_, &handle_.tcp);
  else
    uv_pipe_init(loop_, &handle_.pipe, 0);
  handle_.handle.data = this;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

SocketStream::~SocketStream() = default;

void SocketStream::adopt_self(std::shared_ptr<SocketStream> self) { self_ = std::move(self); }

void SocketStream::arm_timer(uint32_t ms) {
  if (closing_) return;
  // Timers count from the loop's cached time, which is as old as the current loop iteration
  // (or uv_loop_init, when a tool does blocking work before connecting): refresh it so a
  // deadline is never shorter than promised.
  uv_update_time(loop_);
  uv_timer_start(&timer_, [](uv_timer_t *t) { static_cast<SocketStream *>(t->data)->on_deadline(); }, ms, 0);
}

void SocketStream::on_deadline() {
  if (state_ == State::connecting || state_ == State::handshaking)
    abort_with(make_error(Errc::timeout, "no connection to " + peer_.address + " within " +
                                             std::to_string(limits_.handshake_timeout_ms) + " ms"));
  else
    abort_with(make_error(Errc::timeout, "connection with " + peer_.address + " idle for " +
                                             std::to_string(limits_.idle_timeout_ms) + " ms"));
}

void SocketStream::touch() {
  if (state_ == State::open) arm_timer(limits_.idle_timeout_ms);
}

void SocketStream::connect_tcp(const sockaddr_storage &addr, const sockaddr_storage *source) {
  state_ = State::connecting;
  peer_.address = sockaddr_text(addr);
  arm_timer(limits_.handshake_timeout_ms);
  if (source) {
    int bound = uv_tcp_bind(&handle_.tcp, reinterpret_cast<const sockaddr *>(source), 0);
    if (bound != 0) {
      abort_with(uv_error(Errc::unavailable, "bind to " + sockaddr_text(*source), bound));
      return;
    }
  }
  auto *req = new uv_connect_t;
  req->data = this;
  int rc = uv_tcp_connect(req, &handle_.tcp, reinterpret_cast<const sockaddr *>(&addr), [](uv_connect_t *r, int status) {
    auto *self = static_cast<SocketStream *>(r->data);
    delete r;
    self->on_connected(status);
  });
  if (rc != 0) {
    delete req;
    abort_with(uv_error(Errc::unavailable, "connect " + peer_.address, rc));
  }
}

void SocketStream::connect_pipe(const std::string &path) {
  state_ = State::connecting;
  peer_.address = "unix";
  arm_timer(limits_.handshake_timeout_ms);
  auto *req = new uv_connect_t;
  req->data = this;
  uv_pipe_connect(req, &handle_.pipe, path.c_str(), [](uv_connect_t *r, int status) {
    auto *self = static_cast<SocketStream *>(r->data);
    delete r;
    self->on_connected(status);
  });
}

void SocketStream::on_connected(int status) {
  if (closing_) return;
  if (status != 0) {
    abort_with(uv_error(status == UV_ETIMEDOUT ? Errc::timeout : Errc::unavailable, "connect " + peer_.address, status));
    return;
  }
  if (kind_ == Kind::tcp) uv_tcp_nodelay(&handle_.tcp, 1);
  begin_io();
}

void SocketStream::accepted() {
  if (kind_ == Kind::tcp) {
    uv_tcp_nodelay(&handle_.tcp, 1);
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(&handle_.tcp, reinterpret_cast<sockaddr *>(&ss), &len) == 0) peer_.address = sockaddr_text(ss);
  } else {
    peer_.address = "unix";
    uv_os_fd_t fd;
    if (uv_fileno(&handle_.handle, &fd) == 0) {
      ucred cred{};
      socklen_t len = sizeof cred;
      if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        peer_.uid = cred.uid;
        peer_.gid = cred.gid;
        peer_.pid = cred.pid;
      }
    }
  }
}

void SocketStream::start(Handlers handlers) {
  handlers_ = std::move(handlers);
  if (state_ == State::accepted) {
    arm_timer(limits_.handshake_timeout_ms);
    begin_io();
  }
}

void SocketStream::begin_io() {
  state_ = State::handshaking;
  int rc = uv_read_start(
      &handle_.stream,
      [](uv_handle_t *h, size_t, uv_buf_t *buf) {
        auto *self = static_cast<SocketStream *>(h->data);
        buf->base = reinterpret_cast<char *>(self->read_buf_);
        buf->len = sizeof self->read_buf_;
      },
      [](uv_stream_t *s, ssize_t nread, const uv_buf_t *) {
        auto *self = static_cast<SocketStream *>(s->data);
        self->on_read(nread);
      });
  if (rc != 0) {
    abort_with(uv_error(Errc::io_error, "read " + peer_.address, rc));
    return;
  }
  reading_ = true;
  on_transport_ready();
}

void SocketStream::on_read(ssize_t nread) {
  if (closing_) return;
  if (nread == 0) return; // EAGAIN
  if (nread < 0) {
    if (nread == UV_EOF)
      on_transport_eof();
    else
      abort_with(uv_error(Errc::unavailable, "read from " + peer_.address, static_cast<int>(nread)));
    return;
  }
  touch();
  on_raw_data(std::span<const uint8_t>(read_buf_, static_cast<size_t>(nread)));
}

void SocketStream::mark_open() {
  state_ = State::open;
  arm_timer(limits_.idle_timeout_ms);
  auto keep = self_;
  if (handlers_.on_open) handlers_.on_open();
}

void SocketStream::raw_write(const uint8_t *data, size_t len) {
  if (closing_hard_) return;
  auto *req = new WriteReq;
  req->owner = this;
  req->data.assign(data, data + len);
  req->req.data = req;
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char *>(req->data.data()), static_cast<unsigned>(len));
  raw_queued_ += len;
  int rc = uv_write(&req->req, &handle_.stream, &buf, 1, [](uv_write_t *r, int status) {
    auto *wr = static_cast<WriteReq *>(r->data);
    SocketStream *self = wr->owner;
    self->raw_queued_ -= wr->data.size();
    delete wr;
    self->on_write_done(status);
  });
  if (rc != 0) {
    raw_queued_ -= len;
    delete req;
    abort_with(uv_error(Errc::io_error, "write to " + peer_.address, rc));
  }
}

void SocketStream::on_write_done(int status) {
  if (status == UV_ECANCELED) return;
  if (status != 0) {
    abort_with(uv_error(Errc::unavailable, "write to " + peer_.address, status));
    return;
  }
  touch();
  on_raw_drained();
  maybe_drain_event();
  if (closing_ && !closing_hard_ && queued_bytes() == 0) finish_graceful_close();
}

void SocketStream::maybe_drain_event() {
  if (closing_ || state_ != State::open) return;
  size_t q = queued_bytes();
  if (q > limits_.high_water_bytes) above_high_ = true;
  if (above_high_ && q <= limits_.low_water_bytes) {
    above_high_ = false;
    auto keep = self_;
    if (handlers_.on_drain) handlers_.on_drain();
  }
}

void SocketStream::note_queued() {
  if (queued_bytes() > limits_.high_water_bytes) above_high_ = true;
}

void SocketStream::pause_reading() {
  if (user_paused_) return;
  user_paused_ = true;
  if (reading_ && !closing_) {
    uv_read_stop(&handle_.stream);
    reading_ = false;
  }
}

void SocketStream::resume_reading() {
  if (!user_paused_) return;
  user_paused_ = false;
  if (closing_) return;
  if (!reading_ && state_ != State::accepted && state_ != State::connecting) {
    reading_ = true;
    uv_read_start(
        &handle_.stream,
        [](uv_handle_t *h, size_t, uv_buf_t *buf) {
          auto *self = static_cast<SocketStream *>(h->data);
          buf->base = reinterpret_cast<char *>(self->read_buf_);
          buf->len = sizeof self->read_buf_;
        },
        [](uv_stream_t *s, ssize_t nread, const uv_buf_t *) { static_cast<SocketStream *>(s->data)->on_read(nread); });
  }
  // Plaintext may already sit decrypted in a buffer with no new socket data coming for it.
  on_resumed();
}

void SocketStream::deliver(std::span<const uint8_t> data) {
  if (closing_hard_) return;
  if (handlers_.on_data) handlers_.on_data(data);
}

void SocketStream::close(Error reason) {
  if (closing_) return;
  if (reason.code != Errc::ok || state_ != State::open) {
    abort_with(std::move(reason));
    return;
  }
  closing_ = true;
  close_reason_ = std::move(reason);
  begin_graceful_close();
  if (queued_bytes() == 0) finish_graceful_close();
}

void SocketStream::finish_graceful_close() {
  if (closing_hard_) return;
  closing_hard_ = true;
  close_handles();
}

void SocketStream::abort_with(Error reason) {
  if (closing_hard_) return;
  if (!closing_) close_reason_ = std::move(reason);
  closing_ = true;
  closing_hard_ = true;
  close_handles();
}

void SocketStream::on_transport_eof() {
  if (state_ == State::open)
    abort_with(make_error(Errc::ok, "peer closed the connection"));
  else
    abort_with(make_error(Errc::unavailable, "peer " + peer_.address + " closed the connection during the handshake"));
}

void SocketStream::close_handles() {
  uv_timer_stop(&timer_);
  if (reading_) {
    uv_read_stop(&handle_.stream);
    reading_ = false;
  }
  auto on_handle_closed = [](uv_handle_t *h) {
    auto *self = static_cast<SocketStream *>(h->data);
    if (++self->handles_closed_ == 2) self->on_handles_closed();
  };
  uv_close(&handle_.handle, on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t *>(&timer_), on_handle_closed);
}

void SocketStream::on_handles_closed() {
  state_ = State::closed;
  // Release the self-reference last: the user's callback may drop its own reference.
  auto keep = std::move(self_);
  auto on_close = std::move(handlers_.on_close);
  handlers_ = {};
  if (on_close) on_close(close_reason_);
  release_resources();
}

// ---------------------------------------------------------------------------------------------

class PlainStream final : public SocketStream {
public:
  using SocketStream::SocketStream;
  void write(std::span<const uint8_t> data) override {
    if (closing_ || data.empty()) return;
    raw_write(data.data(), data.size());
    note_queued();
  }
  size_t queued_bytes() const override { return raw_queued_; }

protected:
  void on_transport_ready() override { mark_open(); }
  void on_raw_data(std::span<const uint8_t> data) override {
    if (state_ == State::open) deliver(data);
  }
  void on_resumed() override {}
  void on_raw_drained() override {}
  void begin_graceful_close() override {}
};

} // namespace detail

StreamPtr pipe_connect(uv_loop_t *loop, const std::string &path, const StreamLimits &limits, Stream::Handlers handlers) {
  auto s = std::make_shared<detail::PlainStream>(loop, detail::SocketStream::Kind::pipe, limits);
  s->adopt_self(s);
  s->set_handlers(std::move(handlers));
  s->connect_pipe(path);
  return s;
}

namespace detail {

class UvListener final : public Listener {
public:
  using MakeStream = std::function<std::shared_ptr<SocketStream>()>;
  UvListener(uv_loop_t *loop, bool tcp) : tcp_(tcp) {
    if (tcp)
      uv_tcp_init(loop, &h_.tcp);
    else
      uv_pipe_init(loop, &h_.pipe, 0);
    h_.handle.data = this;
  }
  Status listen(AcceptFn on_accept, MakeStream make) {
    on_accept_ = std::move(on_accept);
    make_ = std::move(make);
    // The kernel caps the backlog at net.core.somaxconn; 128 overflowed with 1,000 agents
    // reconnecting at once (bench/README.md, the register benchmark), each drop costing a 1 s+
    // SYN retry.
    int rc = uv_listen(&h_.stream, SOMAXCONN, [](uv_stream_t *server, int status) {
      static_cast<UvListener *>(server->data)->on_connection(status);
    });
    if (rc != 0) return uv_error(Errc::io_error, "listen", rc);
    return {};
  }
  void on_connection(int status) {
    if (status != 0 || closed_) return;
    auto stream = make_();
    if (uv_accept(&h_.stream, &stream->raw_stream()) != 0) {
      stream->abort_with(make_error(Errc::io_error, "accept failed"));
      return;
    }
    stream->accepted();
    on_accept_(stream);
  }
  uint16_t port() const override { return port_; }
  void close() override {
    if (closed_) return;
    closed_ = true;
    uv_close(&h_.handle, [](uv_handle_t *h) {
      auto *self = static_cast<UvListener *>(h->data);
      auto keep = std::move(self->self_); // freed here, in the close callback
    });
  }
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h_;
  bool tcp_;
  bool closed_ = false;
  uint16_t port_ = 0;
  AcceptFn on_accept_;
  MakeStream make_;
  std::shared_ptr<UvListener> self_;
};

Result<std::shared_ptr<Listener>> listen_tcp_with(uv_loop_t *loop, const Endpoint &at,
                                                  std::function<std::shared_ptr<SocketStream>()> make,
                                                  Listener::AcceptFn on_accept) {
  auto addr = resolve_literal(at);
  if (!addr.ok()) return addr.error();
  auto l = std::make_shared<UvListener>(loop, true);
  l->self_ = l;
  int rc = uv_tcp_bind(&l->h_.tcp, reinterpret_cast<const sockaddr *>(&*addr), 0);
  if (rc == 0) {
    Status s = l->listen(std::move(on_accept), std::move(make));
    if (!s.ok()) rc = UV_EADDRINUSE;
  }
  if (rc != 0) {
    l->close();
    return uv_error(Errc::unavailable, "listen on " + at.to_string(), rc);
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&l->h_.tcp, reinterpret_cast<sockaddr *>(&bound), &len);
  l->port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
  return std::shared_ptr<Listener>(l);
}

} // namespace detail

Result<std::shared_ptr<Listener>> Listener::listen_pipe(uv_loop_t *loop, const std::string &path, int mode,
                                                        const StreamLimits &limits, AcceptFn on_accept) {
  ::unlink(path.c_str());
  auto l = std::make_shared<detail::UvListener>(loop, false);
  l->self_ = l;
  int rc = uv_pipe_bind(&l->h_.pipe, path.c_str());
  if (rc != 0) {
    l->close();
    return detail::uv_error(Errc::io_error, "bind " + path, rc);
  }
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
  Status s = l->listen(std::move(on_accept), [loop, limits]() {
    auto st = std::make_shared<detail::PlainStream>(loop, detail::SocketStream::Kind::pipe, limits);
    st->adopt_self(st);
    st->mark_accepted();
    return std::shared_ptr<detail::SocketStream>(st);
  });
  if (!s.ok()) {
    l->close();
    return s.error();
  }
  return std::shared_ptr<Listener>(l);
}

void ignore_sigpipe() {
  std::signal(SIGPIPE, SIG_IGN);
}

bool run_until(uv_loop_t *loop, const std::function<bool()> &done, uint32_t timeout_ms) {
  int64_t deadline = mono_ms() + timeout_ms;
  uv_timer_t tick;
  uv_timer_init(loop, &tick);
  // A repeating timer wakes UV_RUN_ONCE so the deadline is seen even when nothing else happens.
  uv_timer_start(&tick, [](uv_timer_t *) {}, 20, 20);
  bool ok = true;
  while (!done()) {
    if (mono_ms() >= deadline) {
      ok = false;
      break;
    }
    uv_run(loop, UV_RUN_ONCE);
  }
  uv_close(reinterpret_cast<uv_handle_t *>(&tick), nullptr);
  uv_run(loop, UV_RUN_NOWAIT); // let the close callback run while `tick` is still in scope
  return ok;
}

} // namespace lpm::proto
