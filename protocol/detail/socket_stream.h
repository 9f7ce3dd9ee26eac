// Internal to protocol/: the libuv half of every stream.
#pragma once

#include <uv.h>

#include <memory>
#include <vector>

#include "lpm/protocol/stream.h"

namespace lpm::proto::detail {

Result<sockaddr_storage> resolve_literal(const Endpoint &ep);
std::string sockaddr_text(const sockaddr_storage &ss);
Error uv_error(Errc code, const std::string &what, int status);

class SocketStream : public Stream {
public:
  enum class Kind { tcp, pipe };
  enum class State { accepted, connecting, handshaking, open, closed };

  SocketStream(uv_loop_t *loop, Kind kind, const StreamLimits &limits);
  ~SocketStream() override;

  // The stream holds itself until its handles are closed.
  void adopt_self(std::shared_ptr<SocketStream> self);
  void set_handlers(Handlers h) { handlers_ = std::move(h); }
  void mark_accepted() { state_ = State::accepted; }
  // source: bind to this address first (null: the kernel chooses).
  void connect_tcp(const sockaddr_storage &addr, const sockaddr_storage *source = nullptr);
  void connect_pipe(const std::string &path);
  // Called by the listener after uv_accept.
  void accepted();
  uv_stream_t &raw_stream() { return handle_.stream; }
  void abort_with(Error reason);

  void start(Handlers handlers) override;
  void pause_reading() override;
  void resume_reading() override;
  void close(Error reason) override;
  bool is_open() const override { return state_ == State::open && !closing_; }
  const PeerInfo &peer() const override { return peer_; }
  uv_loop_t *loop() const override { return loop_; }

protected:
  // Hooks for the byte layer above the socket.
  virtual void on_transport_ready() = 0;                    // socket connected/accepted, reading
  virtual void on_raw_data(std::span<const uint8_t> data) = 0;
  virtual void on_raw_drained() = 0;                        // a socket write completed
  virtual void on_resumed() = 0;                            // user resumed reading
  virtual void begin_graceful_close() = 0;                  // queue whatever ends the session
  virtual void release_resources() {}                       // after the handles are closed

  void raw_write(const uint8_t *data, size_t len);
  void mark_open();
  void deliver(std::span<const uint8_t> data);
  void note_queued();
  void maybe_drain_event();
  void finish_graceful_close();
  void on_transport_eof();

  uv_loop_t *loop_;
  Kind kind_;
  State state_ = State::connecting;
  PeerInfo peer_;
  Handlers handlers_;
  size_t raw_queued_ = 0;
  bool closing_ = false;      // close() called or an error happened
  bool closing_hard_ = false; // the handles are being closed
  bool user_paused_ = false;

private:
  struct WriteReq {
    uv_write_t req;
    std::vector<uint8_t> data;
    SocketStream *owner;
  };

  void begin_io();
  void on_connected(int status);
  void on_read(ssize_t nread);
  void on_write_done(int status);
  void on_deadline();
  void arm_timer(uint32_t ms);
  void touch();
  void close_handles();
  void on_handles_closed();

  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_;
  uv_timer_t timer_;
  int handles_closed_ = 0;
  bool reading_ = false;
  bool above_high_ = false;
  Error close_reason_{Errc::ok, "closed"};
  uint8_t read_buf_[64 * 1024];
  std::shared_ptr<SocketStream> self_;
};

Result<std::shared_ptr<Listener>> listen_tcp_with(uv_loop_t *loop, const Endpoint &at,
                                                  std::function<std::shared_ptr<SocketStream>()> make,
                                                  Listener::AcceptFn on_accept);

} // namespace lpm::proto::detail
