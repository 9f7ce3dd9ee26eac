// Loopback TCP listener and connections of the capture listeners, on libuv.
#include "ipp_listener.h"

#include <arpa/inet.h>

#include <cstring>

#include "lpm/log.h"

namespace lpm::agent {

namespace {

std::string address_text(const sockaddr_storage &ss) {
  char ip[INET6_ADDRSTRLEN] = {0};
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
  return "unknown";
}

} // namespace

bool is_loopback_host(const std::string &host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Connections

struct CaptureConnection::WriteRequest {
  uv_write_t req;
  std::vector<uint8_t> data;
  CaptureConnection *owner;
};

CaptureConnection::CaptureConnection(uv_loop_t *loop, const CaptureLimits &limits)
    : loop_(loop), limits_(limits) {
  uv_tcp_init(loop_, &tcp_);
  uv_timer_init(loop_, &timer_);
  tcp_.data = this;
  timer_.data = this;
}

CaptureConnection::~CaptureConnection() = default;

void CaptureConnection::start() {
  self_ = shared_from_this();
  uv_tcp_nodelay(&tcp_, 1);
  int len = sizeof ends_.local;
  uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr *>(&ends_.local), &len);
  len = sizeof ends_.peer;
  uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr *>(&ends_.peer), &len);
  peer_text_ = address_text(ends_.peer);
  arm_timer(limits_.idle_timeout_ms);
  start_reading();
  if (!handles_closing_) on_open();
}

void CaptureConnection::arm_timer(uint32_t ms) {
  if (handles_closing_) return;
  uv_update_time(loop_);
  uv_timer_start(
      &timer_,
      [](uv_timer_t *t) {
        auto *self = static_cast<CaptureConnection *>(t->data);
        if (self->closing_)
          self->close_handles("");
        else
          self->close_handles("idle for " + std::to_string(self->limits_.idle_timeout_ms) + " ms");
      },
      ms, 0);
}

void CaptureConnection::start_reading() {
  if (reading_ || handles_closing_) return;
  int rc = uv_read_start(
      stream(),
      [](uv_handle_t *h, size_t, uv_buf_t *buf) {
        auto *self = static_cast<CaptureConnection *>(h->data);
        buf->base = reinterpret_cast<char *>(self->read_buf_);
        buf->len = sizeof self->read_buf_;
      },
      [](uv_stream_t *s, ssize_t nread, const uv_buf_t *) {
        static_cast<CaptureConnection *>(s->data)->on_read(nread);
      });
  if (rc != 0) {
    close_handles(std::string("read: ") + uv_strerror(rc));
    return;
  }
  reading_ = true;
}

void CaptureConnection::on_read(ssize_t nread) {
  if (handles_closing_ || nread == 0) return;
  auto keep = self_;
  if (nread < 0) {
    if (nread == UV_EOF) {
      eof_seen_ = true;
      if (closing_)
        close_handles("");
      else
        on_eof();
    } else {
      close_handles(std::string("read: ") + uv_strerror(static_cast<int>(nread)));
    }
    return;
  }
  if (closing_) {
    // Lingering: the response is out; what the peer still sends is dropped.
    return;
  }
  arm_timer(limits_.idle_timeout_ms);
  on_data(std::span<const uint8_t>(read_buf_, static_cast<size_t>(nread)));
}

void CaptureConnection::write(std::span<const uint8_t> data) {
  if (handles_closing_ || shutdown_sent_ || data.empty()) return;
  auto *wr = new WriteRequest;
  wr->owner = this;
  wr->data.assign(data.begin(), data.end());
  wr->req.data = wr;
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char *>(wr->data.data()), static_cast<unsigned>(wr->data.size()));
  queued_bytes_ += wr->data.size();
  int rc = uv_write(&wr->req, stream(), &buf, 1, [](uv_write_t *r, int status) {
    auto *w = static_cast<WriteRequest *>(r->data);
    CaptureConnection *self = w->owner;
    size_t n = w->data.size();
    delete w;
    self->on_write_done(status, n);
  });
  if (rc != 0) {
    queued_bytes_ -= wr->data.size();
    delete wr;
    close_handles(std::string("write: ") + uv_strerror(rc));
  }
}

void CaptureConnection::on_write_done(int status, size_t bytes) {
  size_t before = queued_bytes_;
  queued_bytes_ -= bytes;
  if (handles_closing_) return;
  auto keep = self_;
  if (status != 0) {
    close_handles(std::string("write: ") + uv_strerror(status));
    return;
  }
  if (!closing_) arm_timer(limits_.idle_timeout_ms);
  if (closing_) {
    if (queued_bytes_ == 0) begin_shutdown();
    return;
  }
  if (before > limits_.low_water_bytes && queued_bytes_ <= limits_.low_water_bytes) on_drained();
}

void CaptureConnection::pause_reading() {
  paused_ = true;
  if (reading_ && !closing_ && !handles_closing_) {
    uv_read_stop(stream());
    reading_ = false;
  }
}

void CaptureConnection::resume_reading() {
  paused_ = false;
  start_reading();
}

void CaptureConnection::close_gracefully() {
  if (closing_) return;
  closing_ = true;
  start_reading(); // drain whatever the peer still sends, even if reading was paused
  if (queued_bytes_ == 0) begin_shutdown();
}

void CaptureConnection::begin_shutdown() {
  if (shutdown_sent_ || handles_closing_) return;
  shutdown_sent_ = true;
  auto *req = new uv_shutdown_t;
  req->data = this;
  int rc = uv_shutdown(req, stream(), [](uv_shutdown_t *r, int status) {
    auto *self = static_cast<CaptureConnection *>(r->data);
    delete r;
    // Both sides have ended: close now rather than at the end of the linger time.
    if (status == 0 && self->eof_seen_) self->close_handles("");
  });
  if (rc != 0) {
    delete req;
    close_handles("");
    return;
  }
  arm_timer(limits_.linger_ms);
}

void CaptureConnection::abort() {
  closing_ = true;
  close_handles("closed by the agent");
}

void CaptureConnection::close_handles(std::string reason) {
  if (handles_closing_) return;
  handles_closing_ = true;
  closing_ = true;
  close_reason_ = std::move(reason);
  if (!self_) self_ = shared_from_this();
  uv_timer_stop(&timer_);
  if (reading_) {
    uv_read_stop(stream());
    reading_ = false;
  }
  auto closed = [](uv_handle_t *h) {
    auto *self = static_cast<CaptureConnection *>(h->data);
    if (--self->handles_open_ > 0) return;
    // The subclass may drop its last outside reference in on_closed: keep it alive until here.
    auto keep = std::move(self->self_);
    self->on_closed(self->close_reason_);
  };
  uv_close(reinterpret_cast<uv_handle_t *>(&tcp_), closed);
  uv_close(reinterpret_cast<uv_handle_t *>(&timer_), closed);
}

// ---------------------------------------------------------------------------------------------
// Listener

struct CaptureListener::Handle {
  uv_tcp_t tcp{};
  CaptureLimits limits;
  MakeConnection make;
  std::vector<std::weak_ptr<CaptureConnection>> connections;
  std::string name;
};

Result<std::unique_ptr<CaptureListener>> CaptureListener::start(uv_loop_t *loop, const proto::Endpoint &at,
                                                                const std::string &element,
                                                                const CaptureLimits &limits,
                                                                MakeConnection make) {
  // The capture listeners take jobs without TLS or passwords: they must never face the network.
  if (!is_loopback_host(at.host))
    return make_error(Errc::bad_request,
                      "configuration.xml: <" + element +
                          "> must be a loopback address (127.0.0.1, [::1] or localhost), not " + at.host);
  std::string host = at.host == "localhost" ? "127.0.0.1" : at.host;
  sockaddr_storage addr{};
  if (uv_ip4_addr(host.c_str(), at.port, reinterpret_cast<sockaddr_in *>(&addr)) != 0 &&
      uv_ip6_addr(host.c_str(), at.port, reinterpret_cast<sockaddr_in6 *>(&addr)) != 0)
    return make_error(Errc::bad_request,
                      "configuration.xml: <" + element + "> " + at.host + " is not an IP address");

  auto *h = new Handle;
  h->limits = limits;
  h->make = std::move(make);
  h->name = element + " " + at.to_string();
  uv_tcp_init(loop, &h->tcp);
  h->tcp.data = h;
  auto fail = [h](const std::string &what, int rc) {
    uv_close(reinterpret_cast<uv_handle_t *>(&h->tcp),
             [](uv_handle_t *handle) { delete static_cast<Handle *>(handle->data); });
    return make_error(Errc::unavailable, what + ": " + uv_strerror(rc));
  };
  int rc = uv_tcp_bind(&h->tcp, reinterpret_cast<const sockaddr *>(&addr), 0);
  if (rc != 0) return fail("listen on " + at.to_string(), rc);
  rc = uv_listen(reinterpret_cast<uv_stream_t *>(&h->tcp), 128, [](uv_stream_t *server, int status) {
    auto *self = static_cast<Handle *>(server->data);
    if (status != 0) {
      LPM_WARN("%s: accept: %s", self->name.c_str(), uv_strerror(status));
      return;
    }
    auto conn = self->make(server->loop);
    if (uv_accept(server, conn->stream()) != 0) {
      conn->abort();
      return;
    }
    std::erase_if(self->connections, [](const std::weak_ptr<CaptureConnection> &c) { return c.expired(); });
    conn->start();
    if (self->connections.size() >= self->limits.max_connections) {
      LPM_WARN("%s: more than %zu connections; closing the one from %s", self->name.c_str(),
               self->limits.max_connections, conn->peer_text().c_str());
      conn->abort();
      return;
    }
    self->connections.push_back(conn);
  });
  if (rc != 0) return fail("listen on " + at.to_string(), rc);

  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&h->tcp, reinterpret_cast<sockaddr *>(&bound), &len);
  std::unique_ptr<CaptureListener> self(new CaptureListener());
  self->handle_ = h;
  self->port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port
                                                  : reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
  return self;
}

CaptureListener::~CaptureListener() {
  stop();
}

void CaptureListener::stop() {
  if (handle_ == nullptr) return;
  Handle *h = handle_;
  handle_ = nullptr;
  auto connections = std::move(h->connections);
  h->connections.clear();
  for (auto &weak : connections)
    if (auto c = weak.lock()) c->abort();
  uv_close(reinterpret_cast<uv_handle_t *>(&h->tcp),
           [](uv_handle_t *handle) { delete static_cast<Handle *>(handle->data); });
}

} // namespace lpm::agent
