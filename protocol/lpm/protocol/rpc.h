// The generic RPC layer every component speaks (docs/protocol.md): hello exchange, requests and
// responses matched by id, chunk streams in both directions with a final SHA-256, backpressure.
//
// One Peer wraps one Stream. Either side may call and either side may serve: a Peer with a
// Dispatcher answers the requests it receives. Callbacks run on the loop thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lpm/protocol/keys.h"
#include "lpm/protocol/msg.h"
#include "lpm/protocol/stream.h"
#include "lpm/protocol/wire.h"

namespace lpm::proto {

class Peer;
using PeerPtr = std::shared_ptr<Peer>;

// Produces the bytes of an outgoing stream, on demand, under backpressure.
class ChunkSource {
public:
  virtual ~ChunkSource() = default;
  // Copies up to `max` bytes into `out`; 0 means the end. Called on the loop thread.
  virtual Result<size_t> read(uint8_t *out, size_t max) = 0;
};

// Consumes the bytes of an incoming stream.
class ChunkSink {
public:
  virtual ~ChunkSink() = default;
  // An error stops the stream; the call fails with it.
  virtual Status write(std::span<const uint8_t> data) = 0;
  // The end frame arrived and its SHA-256 and byte count match what was received.
  virtual Status finish(std::span<const uint8_t> sha256, uint64_t bytes) = 0;
  // Flow control for a consumer slower than the network (a print device). A download's sink is
  // asked after each write; while it answers true the peer stops reading the connection, until
  // the sink calls the function it was given by set_resume (on the loop thread; calling it when
  // nothing is paused is harmless). Sinks that take every write at once keep the defaults.
  virtual bool backlogged() const { return false; }
  virtual void set_resume(std::function<void()> resume) { (void)resume; }
};

// A result received from the peer. The reader points into memory this object owns.
class Response {
public:
  Response() = default;
  Response(msgpack::object_handle handle, const msgpack::object *body) : handle_(std::move(handle)), body_(body) {}
  MapReader reader() const { return MapReader(*body_, "result"); }
  // The result map itself (to pass it on unchanged).
  const msgpack::object &object() const { return *body_; }

private:
  msgpack::object_handle handle_;
  const msgpack::object *body_ = nullptr;
};

using ResponseFn = std::function<void(Result<Response>)>;

// A request being served. Exactly one of reply / fail / reply_stream answers it; later answers
// are ignored. Handlers may keep the shared_ptr and answer later.
class Call : public std::enable_shared_from_this<Call> {
public:
  const std::string &op() const { return op_; }
  const std::string &id() const { return id_; }
  MapReader &args() { return args_; }
  // The connection it came on (null once that connection is gone).
  PeerPtr peer() const { return peer_.lock(); }
  const PeerInfo &peer_info() const { return peer_info_; }

  void reply(const MapWriter &result);
  void fail(Errc code, std::string message);
  void fail(const Error &error);
  // Answers with `header`, then streams `source` in chunks, then the end frame. With
  // `expected_sha256` (a stored digest), a source whose bytes hash differently ends the stream
  // with a checksum_mismatch error instead of the end frame: corrupted data is never vouched for.
  void reply_stream(const MapWriter &header, std::unique_ptr<ChunkSource> source, Bytes expected_sha256 = {});
  // For ops registered with Dispatcher::on_upload: where the request's stream goes. `done`
  // runs once with ok after the end frame verified, or with the error that stopped it.
  void receive_stream(std::unique_ptr<ChunkSink> sink, std::function<void(std::shared_ptr<Call>, Status)> done);
  bool answered() const { return answered_; }

  // Internal (Peer only).
  Call(PeerPtr peer, std::string id, std::string op, msgpack::object_handle handle, const msgpack::object *args);
  std::unique_ptr<ChunkSink> sink_;
  std::function<void(std::shared_ptr<Call>, Status)> stream_done_;
  std::unique_ptr<Sha256> hash_;
  uint64_t bytes_ = 0;

private:
  std::weak_ptr<Peer> peer_;
  PeerInfo peer_info_;
  std::string id_;
  std::string op_;
  msgpack::object_handle handle_;
  MapReader args_;
  bool answered_ = false;
};

using CallPtr = std::shared_ptr<Call>;
using HandlerFn = std::function<void(CallPtr)>;

// The ops a side serves.
class Dispatcher {
public:
  Dispatcher &on(std::string op, HandlerFn fn);
  // The request is followed by a chunk stream (the handler calls receive_stream).
  Dispatcher &on_upload(std::string op, HandlerFn fn);

  struct Entry {
    HandlerFn fn;
    bool upload = false;
  };
  const Entry *find(const std::string &op) const;

private:
  std::map<std::string, Entry, std::less<>> ops_;
};

struct PeerOptions {
  std::string role;                       // our hello role
  std::vector<std::string> accept_roles;  // roles we talk to; empty accepts any
  std::shared_ptr<const Dispatcher> dispatcher; // null: we serve nothing
  std::function<void(Peer &)> on_ready;   // both hellos exchanged
  std::function<void(Peer &, const Error &)> on_close;
  size_t max_calls_in_flight = 64;        // served requests not yet answered, per connection
};

class Peer : public std::enable_shared_from_this<Peer> {
public:
  // Reading pauses while more than this many times the stream's high water is queued for the peer.
  static constexpr size_t kReadPauseFactor = 4;

  // Takes over `stream`: sends our hello as soon as it opens, then serves and calls.
  // For accepted streams this starts them.
  static PeerPtr attach(StreamPtr stream, PeerOptions options);
  ~Peer();

  void call(std::string_view op, const MapWriter &args, ResponseFn done);
  void call_upload(std::string_view op, const MapWriter &args, std::unique_ptr<ChunkSource> source, ResponseFn done);
  // `done` gets the header result after the stream ended and verified.
  void call_download(std::string_view op, const MapWriter &args, std::unique_ptr<ChunkSink> sink, ResponseFn done);

  bool ready() const { return ready_; }
  bool closed() const { return closed_; }
  const std::string &peer_role() const { return peer_hello_.role; }
  // Why the connection was refused or failed at the protocol level (code ok when it was not).
  const Error &refusal() const { return refusal_; }
  const PeerInfo &info() const { return stream_->peer(); }
  Stream &stream() { return *stream_; }
  void close(Error reason = Error{Errc::ok, "closed"});

  // Per-connection state of the application (a release conversation, an authenticated user).
  std::shared_ptr<void> app_state;

  // Internal (Call only).
  void send_frame(const Bytes &body);
  void start_pump(std::string id, std::unique_ptr<ChunkSource> source, std::function<void(Status)> after,
                  Bytes expected_sha256 = {});
  void call_answered();

  explicit Peer(StreamPtr stream, PeerOptions options);

private:
  struct Pending {
    ResponseFn done;
    std::unique_ptr<ChunkSink> sink; // download: where chunks go
    bool header_seen = false;
    Response header;
    std::unique_ptr<Sha256> hash;
    uint64_t bytes = 0;
  };
  struct Pump {
    std::string id;
    std::unique_ptr<ChunkSource> source;
    std::unique_ptr<Sha256> hash;
    uint64_t bytes = 0;
    std::function<void(Status)> after;
    Bytes expected_sha256; // empty: nothing to compare with
  };

  void on_open();
  void on_data(std::span<const uint8_t> data);
  void on_stream_close(const Error &reason);
  Status on_frame(std::span<const uint8_t> body);
  void handle_request(Envelope env);
  void handle_response(Envelope env);
  void handle_chunk(Envelope env);
  void handle_end(Envelope env);
  void fail_pending(const std::string &id, const Error &error);
  void protocol_failure(const Error &error);
  void run_pumps();
  std::string send_request(std::string_view op, const MapWriter &args, Pending pending);

  StreamPtr stream_;
  PeerOptions options_;
  FrameDecoder decoder_;
  Hello peer_hello_;
  bool hello_seen_ = false;
  bool ready_ = false;
  bool opened_ = false;
  bool closed_ = false;
  std::vector<Bytes> before_open_;
  std::map<std::string, Pending> pending_;
  std::map<std::string, CallPtr> uploads_; // served requests whose stream is arriving
  std::vector<std::unique_ptr<Pump>> pumps_;
  size_t calls_in_flight_ = 0;
  Error refusal_{Errc::ok, ""};
  bool paused_for_output_ = false; // reading stopped because the peer is not reading our answers
  bool paused_for_sink_ = false;   // reading stopped because a download's sink is backlogged
  void sink_drained();
  void update_reading();
};

// Blocking use of the RPC layer for command-line tools and tests: runs the loop until the
// answer arrives or the timeout passes (Errc::timeout).
class SyncClient {
public:
  static Result<std::unique_ptr<SyncClient>> connect_tls(uv_loop_t *loop, std::shared_ptr<TlsContext> ctx,
                                                         const Endpoint &to, const ConnectOptions &options,
                                                         const std::string &role, uint32_t timeout_ms = 10000);
  static Result<std::unique_ptr<SyncClient>> connect_pipe(uv_loop_t *loop, const std::string &path,
                                                          const std::string &role, uint32_t timeout_ms = 10000);
  ~SyncClient();

  Result<Response> call(std::string_view op, const MapWriter &args, uint32_t timeout_ms = 30000);
  Result<Response> call_upload(std::string_view op, const MapWriter &args, std::unique_ptr<ChunkSource> source,
                               uint32_t timeout_ms = 600000);
  Result<Response> call_download(std::string_view op, const MapWriter &args, std::unique_ptr<ChunkSink> sink,
                                 uint32_t timeout_ms = 600000);
  PeerPtr peer() const { return peer_; }
  // Closes the connection and runs the loop until its handles are freed.
  void close();

private:
  SyncClient(uv_loop_t *loop, PeerPtr peer) : loop_(loop), peer_(std::move(peer)) {}
  Result<Response> wait(const std::function<void(ResponseFn)> &start, uint32_t timeout_ms);
  static Result<std::unique_ptr<SyncClient>> finish_connect(uv_loop_t *loop, StreamPtr stream, PeerOptions options,
                                                            std::shared_ptr<Error> failure, uint32_t timeout_ms);
  uv_loop_t *loop_;
  PeerPtr peer_;
};

// A ChunkSource over a file descriptor the source owns (closed on destruction).
std::unique_ptr<ChunkSource> fd_source(int fd);
// A ChunkSink that collects everything in memory up to max_bytes (too_large past it).
class MemorySink : public ChunkSink {
public:
  explicit MemorySink(size_t max_bytes) : max_(max_bytes) {}
  Status write(std::span<const uint8_t> data) override;
  Status finish(std::span<const uint8_t>, uint64_t) override { return {}; }
  std::shared_ptr<Bytes> data = std::make_shared<Bytes>();

private:
  size_t max_;
};

} // namespace lpm::proto
