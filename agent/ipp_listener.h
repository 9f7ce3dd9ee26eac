// The TCP side of the capture listeners (the IPP printer and the raw listener): a loopback-only
// listening socket and the connections it accepts, in plain TCP on libuv (no TLS: these ports
// never leave the machine, DESIGN §6).
//
// A CaptureConnection keeps itself alive from accept until its handles are closed (libuv frees
// nothing before its close callbacks). Subclasses get bytes in order (on_data), the peer's end
// of stream (on_eof), write-queue relief (on_drained) and the final on_closed. Every connection
// has an idle deadline; close_gracefully() sends what is queued, shuts the write side down and
// keeps reading (and discarding) for a short while, so a client still sending its request body
// receives the response instead of a reset.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ipp_peer_owner.h"
#include "lpm/error.h"
#include "lpm/protocol/stream.h"

namespace lpm::agent {

struct CaptureLimits {
  uint32_t idle_timeout_ms = 120000; // no byte read or written for this long closes
  uint32_t linger_ms = 2000;         // how long a graceful close keeps draining the peer's bytes
  size_t high_water_bytes = 1 << 20; // queued response bytes above which reading pauses
  size_t low_water_bytes = 256 << 10;
  size_t max_connections = 64; // further connections are accepted and closed at once
};

class CaptureConnection : public std::enable_shared_from_this<CaptureConnection> {
public:
  virtual ~CaptureConnection();
  CaptureConnection(const CaptureConnection &) = delete;
  CaptureConnection &operator=(const CaptureConnection &) = delete;

  // Queues bytes for the peer (copied).
  void write(std::span<const uint8_t> data);
  void write(std::string_view text) {
    write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(text.data()), text.size()));
  }
  size_t queued_bytes() const { return queued_bytes_; }
  void pause_reading();
  void resume_reading();
  // Sends what is queued, then ends the connection (see the header comment). No more on_data.
  void close_gracefully();
  // Drops the connection now (queued bytes are lost).
  void abort();
  bool closing() const { return closing_; }

  const TcpEnds &ends() const { return ends_; }
  const std::string &peer_text() const { return peer_text_; }
  uv_loop_t *loop() const { return loop_; }

protected:
  CaptureConnection(uv_loop_t *loop, const CaptureLimits &limits);
  virtual void on_open() {}
  virtual void on_data(std::span<const uint8_t> data) = 0;
  virtual void on_eof() = 0;
  virtual void on_drained() {}
  // After the handles are closed; `reason` says why ("" for an orderly end).
  virtual void on_closed(const std::string &reason) { (void)reason; }

private:
  friend class CaptureListener;
  struct WriteRequest;
  // Called by the listener once uv_accept succeeded.
  void start();
  uv_stream_t *stream() { return reinterpret_cast<uv_stream_t *>(&tcp_); }
  void start_reading();
  void on_read(ssize_t nread);
  void on_write_done(int status, size_t bytes);
  void arm_timer(uint32_t ms);
  void begin_shutdown();
  void close_handles(std::string reason);

  uv_loop_t *loop_;
  CaptureLimits limits_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  TcpEnds ends_;
  std::string peer_text_;
  std::shared_ptr<CaptureConnection> self_; // held from start() until the handles are closed
  size_t queued_bytes_ = 0;
  int handles_open_ = 2;
  bool reading_ = false;
  bool paused_ = false;
  bool closing_ = false; // close_gracefully() or abort() was called
  bool handles_closing_ = false;
  bool shutdown_sent_ = false;
  bool eof_seen_ = false; // the peer ended its side: nothing to linger for
  std::string close_reason_;
  uint8_t read_buf_[64 * 1024];
};

class CaptureListener {
public:
  using MakeConnection = std::function<std::shared_ptr<CaptureConnection>(uv_loop_t *)>;

  // Listens on `at`, which must be a loopback address; otherwise bad_request naming `element`
  // (the configuration element the address came from, e.g. "CaptureListen").
  static Result<std::unique_ptr<CaptureListener>> start(uv_loop_t *loop, const proto::Endpoint &at,
                                                        const std::string &element,
                                                        const CaptureLimits &limits, MakeConnection make);
  ~CaptureListener();
  CaptureListener(const CaptureListener &) = delete;
  CaptureListener &operator=(const CaptureListener &) = delete;

  uint16_t port() const { return port_; }
  // Stops accepting and aborts every open connection.
  void stop();

private:
  struct Handle;
  CaptureListener() = default;

  Handle *handle_ = nullptr; // freed in its close callback
  uint16_t port_ = 0;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string &host);

} // namespace lpm::agent
