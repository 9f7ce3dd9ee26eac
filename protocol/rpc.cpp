#include "lpm/protocol/rpc.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::proto {
namespace {
// The id an error frame carries when it answers no request (a refused hello, a broken frame).
const std::string kNoId = "00000000-0000-0000-0000-000000000000";
} // namespace

// ---------------------------------------------------------------------------------------------
// Dispatcher

Dispatcher &Dispatcher::on(std::string op, HandlerFn fn) {
  ops_[std::move(op)] = Entry{std::move(fn), false};
  return *this;
}

Dispatcher &Dispatcher::on_upload(std::string op, HandlerFn fn) {
  ops_[std::move(op)] = Entry{std::move(fn), true};
  return *this;
}

const Dispatcher::Entry *Dispatcher::find(const std::string &op) const {
  auto it = ops_.find(op);
  return it == ops_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------------------------
// Call

Call::Call(PeerPtr peer, std::string id, std::string op, msgpack::object_handle handle, const msgpack::object *args)
    : peer_(peer), peer_info_(peer->info()), id_(std::move(id)), op_(std::move(op)), handle_(std::move(handle)),
      args_(*args, "args") {}

void Call::reply(const MapWriter &result) {
  if (answered_) return;
  answered_ = true;
  if (auto p = peer_.lock()) {
    p->send_frame(encode_result(id_, result));
    p->call_answered();
  }
}

void Call::fail(Errc code, std::string message) { fail(make_error(code, std::move(message))); }

void Call::fail(const Error &error) {
  if (answered_) return;
  answered_ = true;
  if (auto p = peer_.lock()) {
    p->send_frame(encode_error(id_, error));
    p->call_answered();
  }
}

void Call::reply_stream(const MapWriter &header, std::unique_ptr<ChunkSource> source, Bytes expected_sha256) {
  if (answered_) return;
  answered_ = true;
  auto p = peer_.lock();
  if (!p) return;
  p->send_frame(encode_result(id_, header));
  std::weak_ptr<Peer> weak = p;
  p->start_pump(
      id_, std::move(source),
      [weak](Status) {
        if (auto peer = weak.lock()) peer->call_answered();
      },
      std::move(expected_sha256));
}

void Call::receive_stream(std::unique_ptr<ChunkSink> sink, std::function<void(std::shared_ptr<Call>, Status)> done) {
  sink_ = std::move(sink);
  stream_done_ = std::move(done);
}

// ---------------------------------------------------------------------------------------------
// Peer

Peer::Peer(StreamPtr stream, PeerOptions options) : stream_(std::move(stream)), options_(std::move(options)) {}

Peer::~Peer() = default;

PeerPtr Peer::attach(StreamPtr stream, PeerOptions options) {
  auto peer = std::make_shared<Peer>(stream, std::move(options));
  // The handlers hold the peer: it lives as long as its connection. The stream drops its
  // handlers when it closes, which ends the cycle.
  Stream::Handlers h;
  h.on_open = [peer]() { peer->on_open(); };
  h.on_data = [peer](std::span<const uint8_t> data) { peer->on_data(data); };
  h.on_drain = [peer]() { peer->run_pumps(); };
  h.on_close = [peer](const Error &reason) { peer->on_stream_close(reason); };
  stream->start(std::move(h));
  return peer;
}

void Peer::on_open() {
  opened_ = true;
  Hello hello;
  hello.role = options_.role;
  stream_->write(frame(encode_hello(hello)));
  for (auto &f : before_open_) stream_->write(f);
  before_open_.clear();
  // Pumps stopped at the pre-open cap; when that backlog is under high water no on_drain will
  // come to resume them.
  run_pumps();
}

void Peer::send_frame(const Bytes &body) {
  if (closed_) return;
  Bytes f = frame(body);
  if (!opened_)
    before_open_.push_back(std::move(f));
  else
    stream_->write(f);
}

void Peer::close(Error reason) {
  if (closed_) return;
  stream_->close(std::move(reason));
}

void Peer::on_data(std::span<const uint8_t> data) {
  if (closed_) return;
  Status s = decoder_.feed(data, [this](std::span<const uint8_t> body) { return on_frame(body); });
  if (!s.ok()) {
    protocol_failure(s.error());
    return;
  }
  // A peer that sends requests but does not read our answers would make us queue answers
  // without end: past kReadPauseFactor times high water we stop reading its requests until our
  // queue drains. Streams stop themselves at high water, so only answers get this far.
  if (!closed_ && !paused_for_output_ &&
      stream_->queued_bytes() > kReadPauseFactor * stream_->limits().high_water_bytes) {
    paused_for_output_ = true;
    update_reading();
  }
}

// Reading runs only while neither our answers' queue nor a download's sink holds it back.
void Peer::update_reading() {
  if (closed_) return;
  if (paused_for_output_ || paused_for_sink_)
    stream_->pause_reading();
  else
    stream_->resume_reading();
}

void Peer::sink_drained() {
  if (!paused_for_sink_) return;
  paused_for_sink_ = false;
  update_reading();
}

void Peer::protocol_failure(const Error &error) {
  if (closed_) return;
  LPM_WARN("closing connection with %s: %s", stream_->peer().address.c_str(), error.to_string().c_str());
  // Tell the peer why before dropping it; the orderly close sends this frame first.
  send_frame(encode_error(kNoId, error));
  stream_->close();
  closed_ = true;
  if (refusal_.code == Errc::ok) refusal_ = error;
  // Fail local waiters now with the precise reason rather than "connection closed".
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto &[id, p] : pending)
    if (p.done) p.done(error);
}

Status Peer::on_frame(std::span<const uint8_t> body) {
  if (closed_) return {};
  auto decoded = decode_envelope(body);
  if (!decoded.ok()) return decoded.error();
  Envelope env = std::move(*decoded);
  if (!hello_seen_) {
    if (env.kind == FrameKind::error) {
      // The peer refused us before saying hello (version mismatch, refused role).
      Error e = env.error;
      auto pending = std::move(pending_);
      pending_.clear();
      for (auto &[id, p] : pending)
        if (p.done) p.done(e);
      return make_error(e.code, "peer refused the connection: " + e.message);
    }
    if (env.kind != FrameKind::hello) return make_error(Errc::protocol_error, "the first frame must be hello");
    Status v = check_hello(env.hello);
    if (!v.ok()) return v.error();
    if (!options_.accept_roles.empty()) {
      bool ok = false;
      for (const auto &r : options_.accept_roles) ok = ok || r == env.hello.role;
      if (!ok) return make_error(Errc::forbidden, "role \"" + env.hello.role + "\" may not connect here");
    }
    peer_hello_ = env.hello;
    hello_seen_ = true;
    ready_ = true;
    if (options_.on_ready) options_.on_ready(*this);
    return {};
  }
  switch (env.kind) {
  case FrameKind::hello: return make_error(Errc::protocol_error, "hello sent twice");
  case FrameKind::request: handle_request(std::move(env)); break;
  case FrameKind::result:
  case FrameKind::error: handle_response(std::move(env)); break;
  case FrameKind::chunk: handle_chunk(std::move(env)); break;
  case FrameKind::end: handle_end(std::move(env)); break;
  }
  return {};
}

void Peer::handle_request(Envelope env) {
  const Dispatcher::Entry *entry = options_.dispatcher ? options_.dispatcher->find(env.op) : nullptr;
  if (!entry) {
    send_frame(encode_error(env.id, make_error(Errc::unknown_op, "unknown op \"" + env.op + "\"")));
    return;
  }
  if (calls_in_flight_ >= options_.max_calls_in_flight) {
    send_frame(encode_error(env.id, make_error(Errc::rate_limited, "too many requests in flight on this connection")));
    return;
  }
  if (uploads_.count(env.id)) {
    protocol_failure(make_error(Errc::protocol_error, "request id reused while its stream is open"));
    return;
  }
  calls_in_flight_++;
  const msgpack::object *args = env.body;
  auto call = std::make_shared<Call>(shared_from_this(), env.id, env.op, std::move(env.handle), args);
  if (entry->upload) uploads_[call->id()] = call;
  entry->fn(call);
  // An upload handler that answered at once (refused) no longer wants the stream: forget the
  // call now (its chunks are dropped as they arrive), or refused requests would pile up.
  if (entry->upload && call->answered() && !call->sink_) uploads_.erase(call->id());
}

void Peer::call_answered() {
  if (calls_in_flight_ > 0) calls_in_flight_--;
}

void Peer::handle_response(Envelope env) {
  if (env.kind == FrameKind::error && env.id == kNoId) {
    // The peer is about to close: fail everything with its reason, and keep the reason for
    // calls made from now on and for on_close.
    refusal_ = env.error;
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto &[id, p] : pending)
      if (p.done) p.done(env.error);
    return;
  }
  if (env.kind == FrameKind::error) {
    // The uploader gave up on a stream we are receiving: end it and free its slot.
    auto up = uploads_.find(env.id);
    if (up != uploads_.end()) {
      CallPtr call = up->second;
      uploads_.erase(up);
      auto done = std::move(call->stream_done_);
      call->sink_.reset();
      if (done) done(call, env.error);
      call->fail(env.error);
      return;
    }
  }
  auto it = pending_.find(env.id);
  if (it == pending_.end()) return; // answer to a call we gave up on
  Pending &p = it->second;
  if (env.kind == FrameKind::error) {
    auto done = std::move(p.done);
    pending_.erase(it);
    if (done) done(env.error);
    return;
  }
  if (p.sink) {
    if (p.header_seen) {
      protocol_failure(make_error(Errc::protocol_error, "second result for a download"));
      return;
    }
    p.header_seen = true;
    p.header = Response(std::move(env.handle), env.body);
    p.hash = std::make_unique<Sha256>();
    return;
  }
  auto done = std::move(p.done);
  Response r(std::move(env.handle), env.body);
  pending_.erase(it);
  if (done) done(std::move(r));
}

void Peer::handle_chunk(Envelope env) {
  // A served upload?
  auto up = uploads_.find(env.id);
  if (up != uploads_.end()) {
    CallPtr call = up->second;
    if (!call->sink_) return; // refused or not yet claimed: drop
    if (!call->hash_) call->hash_ = std::make_unique<Sha256>();
    call->hash_->update(env.chunk);
    call->bytes_ += env.chunk.size();
    Status s = call->sink_->write(env.chunk);
    if (!s.ok()) {
      auto done = std::move(call->stream_done_);
      call->sink_.reset();
      uploads_.erase(up);
      if (done) done(call, s);
      call->fail(s.error());
    }
    return;
  }
  // A download we asked for?
  auto it = pending_.find(env.id);
  if (it == pending_.end() || !it->second.sink || !it->second.header_seen) {
    if (it != pending_.end()) fail_pending(env.id, make_error(Errc::protocol_error, "chunk before the result header"));
    return;
  }
  Pending &p = it->second;
  p.hash->update(env.chunk);
  p.bytes += env.chunk.size();
  Status s = p.sink->write(env.chunk);
  if (!s.ok()) {
    fail_pending(env.id, s.error());
    return;
  }
  // Frames already decoded still arrive after this; the sink takes them beyond its mark.
  if (!paused_for_sink_ && p.sink->backlogged()) {
    paused_for_sink_ = true;
    update_reading();
  }
}

void Peer::handle_end(Envelope env) {
  auto up = uploads_.find(env.id);
  if (up != uploads_.end()) {
    CallPtr call = up->second;
    uploads_.erase(up);
    if (!call->sink_) return;
    Bytes digest = call->hash_ ? call->hash_->finish() : sha256({});
    Status s;
    if (env.bytes != call->bytes_)
      s = make_error(Errc::checksum_mismatch, "stream ended after " + std::to_string(call->bytes_) +
                                                  " bytes but the sender counted " + std::to_string(env.bytes));
    else if (digest != env.sha256)
      s = make_error(Errc::checksum_mismatch, "stream SHA-256 does not match what was received");
    else
      s = call->sink_->finish(digest, call->bytes_);
    auto done = std::move(call->stream_done_);
    call->sink_.reset();
    if (done) done(call, s);
    if (!s.ok()) call->fail(s.error());
    return;
  }
  auto it = pending_.find(env.id);
  if (it == pending_.end() || !it->second.sink || !it->second.header_seen) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  sink_drained();
  Bytes digest = p.hash->finish();
  if (env.bytes != p.bytes) {
    p.done(make_error(Errc::checksum_mismatch, "download ended after " + std::to_string(p.bytes) +
                                                   " bytes but the sender counted " + std::to_string(env.bytes)));
    return;
  }
  if (digest != env.sha256) {
    p.done(make_error(Errc::checksum_mismatch, "download SHA-256 does not match what was received"));
    return;
  }
  Status s = p.sink->finish(digest, p.bytes);
  if (!s.ok()) {
    p.done(s.error());
    return;
  }
  p.done(std::move(p.header));
}

void Peer::fail_pending(const std::string &id, const Error &error) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  auto done = std::move(it->second.done);
  bool download = it->second.sink != nullptr;
  pending_.erase(it);
  if (download) sink_drained(); // a backlogged sink gone holds nothing back
  if (done) done(error);
}

std::string Peer::send_request(std::string_view op, const MapWriter &args, Pending pending) {
  std::string id = uuid_v7();
  if (closed_) {
    if (pending.done)
      pending.done(refusal_.code != Errc::ok ? refusal_ : make_error(Errc::unavailable, "connection is closed"));
    return {};
  }
  pending_[id] = std::move(pending);
  send_frame(encode_request(id, op, args));
  return id;
}

void Peer::call(std::string_view op, const MapWriter &args, ResponseFn done) {
  Pending p;
  p.done = std::move(done);
  send_request(op, args, std::move(p));
}

void Peer::call_upload(std::string_view op, const MapWriter &args, std::unique_ptr<ChunkSource> source,
                       ResponseFn done) {
  Pending p;
  p.done = std::move(done);
  std::string id = send_request(op, args, std::move(p));
  if (id.empty()) return;
  std::weak_ptr<Peer> weak = shared_from_this();
  start_pump(id, std::move(source), [weak, id](Status s) {
    auto self = weak.lock();
    if (self && !s.ok()) self->fail_pending(id, s.error());
  });
}

void Peer::call_download(std::string_view op, const MapWriter &args, std::unique_ptr<ChunkSink> sink, ResponseFn done) {
  Pending p;
  p.done = std::move(done);
  std::weak_ptr<Peer> weak = weak_from_this();
  sink->set_resume([weak] {
    if (auto self = weak.lock()) self->sink_drained();
  });
  p.sink = std::move(sink);
  send_request(op, args, std::move(p));
}

void Peer::start_pump(std::string id, std::unique_ptr<ChunkSource> source, std::function<void(Status)> after,
                      Bytes expected_sha256) {
  auto pump = std::make_unique<Pump>();
  pump->expected_sha256 = std::move(expected_sha256);
  pump->id = std::move(id);
  pump->source = std::move(source);
  pump->hash = std::make_unique<Sha256>();
  pump->after = std::move(after);
  pumps_.push_back(std::move(pump));
  run_pumps();
}

void Peer::run_pumps() {
  if (paused_for_output_ && !closed_ && stream_->queued_bytes() <= stream_->limits().low_water_bytes) {
    paused_for_output_ = false;
    update_reading();
  }
  // Each pump sends until the stream's queue reaches high water; on_drain brings us back.
  std::vector<uint8_t> buf(kMaxChunkBytes);
  size_t i = 0;
  while (i < pumps_.size() && !closed_) {
    Pump &p = *pumps_[i];
    bool finished = false;
    Status status;
    while (stream_->queued_bytes() <= stream_->limits().high_water_bytes || !opened_) {
      // A closing stream drops what it is given: reading on would only burn the source.
      if (opened_ && !stream_->is_open()) {
        status = make_error(Errc::unavailable, "connection closing");
        finished = true;
        break;
      }
      if (!opened_ && before_open_.size() > 64) break; // wait for the connection to open
      auto n = p.source->read(buf.data(), buf.size());
      if (!n.ok()) {
        status = n.error();
        send_frame(encode_error(p.id, n.error()));
        finished = true;
        break;
      }
      if (*n == 0) {
        Bytes digest = p.hash->finish();
        if (!p.expected_sha256.empty() && digest != p.expected_sha256) {
          status = make_error(Errc::checksum_mismatch, "the stored data does not match its recorded SHA-256");
          send_frame(encode_error(p.id, status.error()));
        } else {
          send_frame(encode_end(p.id, digest, p.bytes));
        }
        finished = true;
        break;
      }
      std::span<const uint8_t> chunk(buf.data(), *n);
      p.hash->update(chunk);
      p.bytes += *n;
      send_frame(encode_chunk(p.id, chunk));
    }
    if (finished) {
      auto after = std::move(p.after);
      pumps_.erase(pumps_.begin() + static_cast<std::ptrdiff_t>(i));
      if (after) after(status);
    } else {
      i++;
    }
  }
}

void Peer::on_stream_close(const Error &reason) {
  closed_ = true;
  ready_ = false;
  Error e = refusal_.code != Errc::ok ? refusal_
            : reason.code == Errc::ok ? make_error(Errc::unavailable, "connection closed: " + reason.message)
                                      : make_error(reason.code, reason.message);
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto &[id, p] : pending)
    if (p.done) p.done(e);
  auto uploads = std::move(uploads_);
  uploads_.clear();
  for (auto &[id, call] : uploads) {
    auto done = std::move(call->stream_done_);
    if (done) done(call, e);
  }
  auto pumps = std::move(pumps_);
  pumps_.clear();
  for (auto &p : pumps)
    if (p->after) p->after(e);
  if (options_.on_close) options_.on_close(*this, refusal_.code != Errc::ok ? refusal_ : reason);
  // Drop callbacks that might hold references to us.
  options_.on_ready = nullptr;
  options_.on_close = nullptr;
}

// ---------------------------------------------------------------------------------------------
// SyncClient

Result<std::unique_ptr<SyncClient>> SyncClient::finish_connect(uv_loop_t *loop, StreamPtr stream, PeerOptions options,
                                                               std::shared_ptr<Error> failure, uint32_t timeout_ms) {
  auto ready = std::make_shared<bool>(false);
  options.on_ready = [ready](Peer &) { *ready = true; };
  options.on_close = [failure](Peer &, const Error &e) {
    if (failure->code == Errc::ok) *failure = e.code == Errc::ok ? make_error(Errc::unavailable, e.message) : e;
  };
  PeerPtr peer = Peer::attach(stream, std::move(options));
  bool finished = run_until(loop, [&] { return *ready || failure->code != Errc::ok || peer->closed(); }, timeout_ms);
  if (!*ready) {
    Error e = peer->refusal().code != Errc::ok ? peer->refusal()
              : failure->code != Errc::ok       ? *failure
                                                : make_error(finished ? Errc::unavailable : Errc::timeout,
                                                     finished ? "connection closed" : "no answer from the peer in time");
    peer->close(e);
    run_until(loop, [&] { return stream.use_count() <= 2 && peer->closed(); }, 1000);
    return e;
  }
  return std::unique_ptr<SyncClient>(new SyncClient(loop, peer));
}

Result<std::unique_ptr<SyncClient>> SyncClient::connect_tls(uv_loop_t *loop, std::shared_ptr<TlsContext> ctx,
                                                            const Endpoint &to, const ConnectOptions &options,
                                                            const std::string &role, uint32_t timeout_ms) {
  auto failure = std::make_shared<Error>(Error{Errc::ok, ""});
  Stream::Handlers none;
  StreamPtr stream = tls_connect(loop, std::move(ctx), to, options, none);
  PeerOptions po;
  po.role = role;
  return finish_connect(loop, std::move(stream), std::move(po), failure, timeout_ms);
}

Result<std::unique_ptr<SyncClient>> SyncClient::connect_pipe(uv_loop_t *loop, const std::string &path,
                                                             const std::string &role, uint32_t timeout_ms) {
  auto failure = std::make_shared<Error>(Error{Errc::ok, ""});
  Stream::Handlers none;
  StreamPtr stream = pipe_connect(loop, path, StreamLimits{}, none);
  PeerOptions po;
  po.role = role;
  return finish_connect(loop, std::move(stream), std::move(po), failure, timeout_ms);
}

SyncClient::~SyncClient() { close(); }

void SyncClient::close() {
  if (!peer_) return;
  peer_->close();
  run_until(loop_, [&] { return peer_->closed(); }, 2000);
  peer_.reset();
}

Result<Response> SyncClient::wait(const std::function<void(ResponseFn)> &start, uint32_t timeout_ms) {
  auto slot = std::make_shared<std::optional<Result<Response>>>();
  start([slot](Result<Response> r) { slot->emplace(std::move(r)); });
  if (!run_until(loop_, [&] { return slot->has_value(); }, timeout_ms))
    return make_error(Errc::timeout, "no answer within " + std::to_string(timeout_ms) + " ms");
  return std::move(**slot);
}

Result<Response> SyncClient::call(std::string_view op, const MapWriter &args, uint32_t timeout_ms) {
  return wait([&](ResponseFn done) { peer_->call(op, args, std::move(done)); }, timeout_ms);
}

Result<Response> SyncClient::call_upload(std::string_view op, const MapWriter &args,
                                         std::unique_ptr<ChunkSource> source, uint32_t timeout_ms) {
  return wait([&](ResponseFn done) { peer_->call_upload(op, args, std::move(source), std::move(done)); }, timeout_ms);
}

Result<Response> SyncClient::call_download(std::string_view op, const MapWriter &args,
                                           std::unique_ptr<ChunkSink> sink, uint32_t timeout_ms) {
  return wait([&](ResponseFn done) { peer_->call_download(op, args, std::move(sink), std::move(done)); }, timeout_ms);
}

// ---------------------------------------------------------------------------------------------
// Sources and sinks

namespace {
class FdSource final : public ChunkSource {
public:
  explicit FdSource(int fd) : fd_(fd) {}
  ~FdSource() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Result<size_t> read(uint8_t *out, size_t max) override {
    for (;;) {
      ssize_t n = ::read(fd_, out, max);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      return make_error(Errc::io_error, std::string("read: ") + std::strerror(errno));
    }
  }

private:
  int fd_;
};
} // namespace

std::unique_ptr<ChunkSource> fd_source(int fd) { return std::make_unique<FdSource>(fd); }

Status MemorySink::write(std::span<const uint8_t> chunk) {
  if (data->size() + chunk.size() > max_) return make_error(Errc::too_large, "stream over " + std::to_string(max_) + " bytes");
  data->insert(data->end(), chunk.begin(), chunk.end());
  return {};
}

} // namespace lpm::proto
