// Byte streams on libuv: TCP with TLS (mbedTLS) between machines, plain Unix sockets between
// `lpm` and the local agent. The RPC layer (rpc.h) runs on either.
//
// Lifetime: a stream keeps itself alive from creation until its handles' close callbacks have
// run; on_close fires exactly once, after which no handler is called again. Callbacks run on the
// loop thread and must not throw.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"

namespace lpm::proto {

struct PeerInfo {
  std::string address;     // "127.0.0.1:50412", "[::1]:50412" or "unix"
  Fingerprint fingerprint; // TLS peer's key; empty on Unix sockets or when the peer sent no cert
  int64_t uid = -1;        // Unix sockets: the peer's credentials (SO_PEERCRED)
  int64_t gid = -1;
  int64_t pid = -1;
};

struct StreamLimits {
  uint32_t handshake_timeout_ms = 10000; // connect + TLS handshake must finish within this
  uint32_t idle_timeout_ms = 120000;     // no byte read or written for this long closes the stream
  size_t high_water_bytes = 1 << 20;     // producers wait for on_drain above this many queued bytes
  size_t low_water_bytes = 256 << 10;    // on_drain fires when the queue falls to this
};

class Stream {
public:
  struct Handlers {
    std::function<void()> on_open;                         // connected (TLS: handshake and pin check done)
    std::function<void(std::span<const uint8_t>)> on_data; // plaintext as it arrives
    std::function<void()> on_drain;                        // queued_bytes() fell to low water
    std::function<void(const Error &)> on_close;           // once; Errc::ok for an orderly end
  };

  virtual ~Stream() = default;

  // Begins I/O on an accepted stream (client streams start when created).
  virtual void start(Handlers handlers) = 0;
  // Copies data into the send queue; never refuses. Producers watch queued_bytes() against
  // the limits' high water and wait for on_drain (backpressure).
  virtual void write(std::span<const uint8_t> data) = 0;
  // Plaintext accepted by write() and not yet handed to the kernel (TLS: plus ciphertext).
  virtual size_t queued_bytes() const = 0;
  // Stops delivering on_data (and reading from the socket) until resume_reading().
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  // Orderly close: queued data is sent first (TLS: then close_notify). With an error code the
  // stream is dropped at once. on_close receives `reason`.
  virtual void close(Error reason = Error{Errc::ok, "closed"}) = 0;
  virtual bool is_open() const = 0;
  virtual const PeerInfo &peer() const = 0;
  // TLS: true when this connection resumed an earlier session (abbreviated handshake).
  virtual bool resumed() const { return false; }
  // TLS: mbedTLS's name of the negotiated ciphersuite ("" before the handshake, and on Unix sockets).
  virtual std::string cipher() const { return {}; }
  virtual uv_loop_t *loop() const = 0;
  const StreamLimits &limits() const { return limits_; }

protected:
  StreamLimits limits_;
};

using StreamPtr = std::shared_ptr<Stream>;

// TLS configuration shared by the streams of one side of one process: our identity, the
// protocol's fixed choices (TLS 1.2, ECDHE on X25519/P-256, AEAD suites with ChaCha20-Poly1305
// first, no renegotiation), server session tickets and the client session cache.
class TlsContext {
public:
  enum class Side { client, server };
  // identity: our key and certificate; a client may have none (it then cannot be identified).
  static Result<std::shared_ptr<TlsContext>> create(Side side, std::shared_ptr<Identity> identity);
  virtual ~TlsContext() = default;
  virtual Side side() const = 0;
  // Client: completed handshakes, and how many of them resumed a cached session.
  virtual uint64_t handshakes() const = 0;
  virtual uint64_t resumed_handshakes() const = 0;
  // Client: forget cached sessions (the next connections do full handshakes).
  virtual void clear_sessions() = 0;
};

struct Endpoint {
  std::string host; // IPv4 or IPv6 literal, or "localhost"
  uint16_t port = 0;
  std::string to_string() const;
};

// Parses "HOST:PORT" or "[V6]:PORT".
Result<Endpoint> parse_endpoint(std::string_view text);

struct ConnectOptions {
  // The server's key must have one of these fingerprints (a package pins a set, for rotation).
  // Empty accepts any key: only for enrollment-free tools and tests that say so.
  std::vector<Fingerprint> pins;
  StreamLimits limits;
  // IP literal the socket is bound to before connecting ("": the kernel chooses). Lets a load
  // generator speak from many loopback addresses (127.x.y.z), as many machines would.
  std::string source;
};

// Connects, handshakes, checks the pin, then calls on_open; on any failure on_close gets the
// error (unavailable, timeout, unauthenticated for a pin mismatch).
StreamPtr tls_connect(uv_loop_t *loop, std::shared_ptr<TlsContext> ctx, const Endpoint &to,
                      const ConnectOptions &options, Stream::Handlers handlers);

// Connects to a Unix socket.
StreamPtr pipe_connect(uv_loop_t *loop, const std::string &path, const StreamLimits &limits,
                       Stream::Handlers handlers);

// A listening socket. Accepted streams are handed over not yet started.
class Listener {
public:
  using AcceptFn = std::function<void(StreamPtr)>;
  // TCP + TLS on host:port (port 0 picks one; see port()).
  static Result<std::shared_ptr<Listener>> listen_tls(uv_loop_t *loop, std::shared_ptr<TlsContext> ctx,
                                                      const Endpoint &at, const StreamLimits &limits,
                                                      AcceptFn on_accept);
  // Unix socket at path with the given mode (an existing socket file is replaced).
  static Result<std::shared_ptr<Listener>> listen_pipe(uv_loop_t *loop, const std::string &path, int mode,
                                                       const StreamLimits &limits, AcceptFn on_accept);
  virtual ~Listener() = default;
  virtual uint16_t port() const = 0;
  // Stops accepting; the handle is freed in its close callback.
  virtual void close() = 0;
};

// Makes a write to a socket whose peer has gone fail with EPIPE instead of killing the process:
// libuv leaves SIGPIPE at its default (terminate). Every binary calls this first thing in main().
void ignore_sigpipe();

// Runs the loop until done() is true or timeout_ms passes; false on timeout. For tools and
// tests that drive a few async calls to completion.
bool run_until(uv_loop_t *loop, const std::function<bool()> &done, uint32_t timeout_ms);

} // namespace lpm::proto
