// The RPC layer (Peer, Dispatcher, SyncClient) over TLS and over a Unix socket, on a real loop:
// calls, streams both ways with their SHA-256, and how a server treats a client that breaks the
// protocol (driven by a raw client that writes frames itself).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <optional>

#include "lpm/ids.h"
#include "lpm/protocol/rpc.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::proto;
using namespace lpm::test;

namespace {

enum class Transport { tls, pipe };

const char *transport_name(Transport t) { return t == Transport::tls ? "tls" : "unix socket"; }

const std::string kNoId = "00000000-0000-0000-0000-000000000000";
constexpr uint64_t kStreamBytes = 5ull << 20;

// The pattern, produced in chunks of whatever size the pump asks for.
class PatternSource final : public ChunkSource {
public:
  explicit PatternSource(uint64_t total_bytes) : total_(total_bytes) {}
  Result<size_t> read(uint8_t *out, size_t max) override {
    size_t n = static_cast<size_t>(std::min<uint64_t>(max, total_ - offset_));
    fill_pattern(out, n, offset_);
    offset_ += n;
    return n;
  }

private:
  uint64_t total_;
  uint64_t offset_ = 0;
};

// What a PatternSink saw; shared so the test can read it after the sink is gone.
struct SinkReport {
  PatternCheck check;
  Bytes own_sha256;      // computed here, from the bytes as they came
  Bytes finish_sha256;   // what finish() was given
  uint64_t finish_bytes = 0;
  bool finished = false;
};

class PatternSink final : public ChunkSink {
public:
  explicit PatternSink(std::shared_ptr<SinkReport> report) : report_(std::move(report)) {}
  Status write(std::span<const uint8_t> data) override {
    report_->check.feed(data);
    hash_.update(data);
    return {};
  }
  Status finish(std::span<const uint8_t> sha, uint64_t bytes) override {
    report_->own_sha256 = hash_.finish();
    report_->finish_sha256.assign(sha.begin(), sha.end());
    report_->finish_bytes = bytes;
    report_->finished = true;
    return {};
  }

private:
  std::shared_ptr<SinkReport> report_;
  Sha256 hash_;
};

Bytes pattern_sha256(uint64_t total_bytes) {
  Sha256 h;
  Bytes buf(64 * 1024);
  for (uint64_t off = 0; off < total_bytes; off += buf.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), total_bytes - off));
    fill_pattern(buf.data(), n, off);
    h.update(std::span<const uint8_t>(buf.data(), n));
  }
  return h.finish();
}

// A server on one transport with a few ops:
//   echo {text} -> {text, fingerprint, uid}   the caller as the server sees it (counted in echo_calls)
//   put (upload) -> {bytes, sha256}           the stream goes to a PatternSink
//   get {bytes} -> stream of that many pattern bytes, header {size}
struct Server {
  TestLoop &t;
  Transport transport;
  TempDir dir;
  std::string pipe_path = dir.path + "/rpc.sock";
  std::shared_ptr<TlsContext> ctx;
  std::shared_ptr<Listener> listener;
  std::vector<std::string> accept_roles;
  StreamLimits limits;                        // of the accepted streams
  std::vector<std::weak_ptr<Stream>> accepted; // so a test can watch the server's side of a connection
  uint64_t echo_calls = 0;
  std::shared_ptr<SinkReport> upload = std::make_shared<SinkReport>();
  Status upload_status = make_error(Errc::internal, "no upload finished");
  std::vector<Error> peer_closes; // on_close of each server-side Peer

  Server(TestLoop &loop, Transport tr) : t(loop), transport(tr) {}

  void start() {
    auto d = std::make_shared<Dispatcher>();
    d->on("echo", [this](CallPtr call) {
      echo_calls++;
      std::string text = call->args().str("text");
      if (!call->args().ok()) return call->fail(call->args().error());
      MapWriter w;
      w.str("text", text).str("fingerprint", call->peer_info().fingerprint).i64("uid", call->peer_info().uid);
      w.str("address", call->peer_info().address);
      call->reply(w);
    });
    d->on_upload("put", [this](CallPtr call) {
      call->receive_stream(std::make_unique<PatternSink>(upload), [this](CallPtr c, Status s) {
        upload_status = s;
        if (!s.ok()) return; // the RPC layer answers with the error
        MapWriter w;
        w.u64("bytes", upload->check.received).bin("sha256", upload->own_sha256);
        c->reply(w);
      });
    });
    d->on("get", [](CallPtr call) {
      uint64_t n = call->args().u64("bytes");
      if (!call->args().ok()) return call->fail(call->args().error());
      Bytes expected = call->args().opt_bin("expect_sha256", 32);
      MapWriter header;
      header.u64("size", n);
      call->reply_stream(header, std::make_unique<PatternSource>(n), expected);
    });
    auto on_accept = [this, d](StreamPtr s) {
      accepted.push_back(s);
      PeerOptions o;
      o.role = "server";
      o.accept_roles = accept_roles;
      o.dispatcher = d;
      o.on_close = [this](Peer &, const Error &e) { peer_closes.push_back(e); };
      Peer::attach(s, o);
    };
    if (transport == Transport::tls) {
      ctx = make_ctx(TlsContext::Side::server, ids().server);
      auto l = Listener::listen_tls(&t.loop, ctx, Endpoint{"127.0.0.1", 0}, limits, on_accept);
      REQUIRE(l.ok());
      listener = *l;
    } else {
      auto l = Listener::listen_pipe(&t.loop, pipe_path, 0600, limits, on_accept);
      REQUIRE(l.ok());
      listener = *l;
    }
  }

  Result<std::unique_ptr<SyncClient>> connect(const std::string &role = "client") {
    if (transport == Transport::pipe) return SyncClient::connect_pipe(&t.loop, pipe_path, role);
    ConnectOptions co;
    co.pins = {ids().server->fingerprint()};
    return SyncClient::connect_tls(&t.loop, make_ctx(TlsContext::Side::client, ids().client),
                                   Endpoint{"127.0.0.1", listener->port()}, co, role);
  }

  // A stream to the server with raw handlers (no Peer on our side).
  StreamPtr raw_connect(Stream::Handlers h) {
    if (transport == Transport::pipe) return pipe_connect(&t.loop, pipe_path, StreamLimits{}, std::move(h));
    ConnectOptions co;
    co.pins = {ids().server->fingerprint()};
    return tls_connect(&t.loop, make_ctx(TlsContext::Side::client, ids().client),
                       Endpoint{"127.0.0.1", listener->port()}, co, std::move(h));
  }

  // Closes the listener and runs the loop until every connection has ended.
  void stop() {
    listener->close();
    t.run();
  }
};

std::unique_ptr<SyncClient> connected(Server &server, const std::string &role = "client") {
  auto c = server.connect(role);
  INFO((c.ok() ? std::string("connected") : c.error().to_string()));
  REQUIRE(c.ok());
  return std::move(*c);
}

// A client that writes frames by hand and decodes what comes back.
struct RawClient {
  Server &server;
  StreamPtr stream;
  FrameDecoder decoder;
  std::vector<Envelope> frames;
  Error decode_error{Errc::ok, ""};
  bool opened = false;
  bool closed = false;
  Error close_reason{Errc::internal, "not closed"};
  std::function<void(RawClient &)> on_open;  // what to send
  std::function<bool(const Envelope &)> stop_on; // close once a frame matches

  explicit RawClient(Server &s) : server(s) {}

  void connect() {
    Stream::Handlers h;
    h.on_open = [this] {
      opened = true;
      on_open(*this);
    };
    h.on_data = [this](std::span<const uint8_t> data) {
      Status s = decoder.feed(data, [this](std::span<const uint8_t> body) -> Status {
        auto env = decode_envelope(body);
        if (!env.ok()) return env.error();
        frames.push_back(std::move(*env));
        if (stop_on && stop_on(frames.back())) stream->close();
        return {};
      });
      if (!s.ok() && decode_error.code == Errc::ok) decode_error = s.error();
    };
    h.on_close = [this](const Error &e) {
      closed = true;
      close_reason = e;
    };
    stream = server.raw_connect(std::move(h));
  }
  void send(const Bytes &body) { stream->write(frame(body)); }
  void send_raw(const Bytes &bytes) { stream->write(bytes); }
  // Runs until the server (or stop_on) ended the connection.
  void run() {
    server.t.run_until([this] { return closed; });
    stream.reset();
  }
  const Envelope *first(FrameKind kind) const {
    for (const auto &f : frames)
      if (f.kind == kind) return &f;
    return nullptr;
  }
};

// A loop with a started server on one transport.
struct RpcFixture {
  TestLoop t;
  Server server;
  explicit RpcFixture(Transport transport, std::vector<std::string> accept_roles = {},
                      StreamLimits limits = {})
      : server(t, transport) {
    server.accept_roles = std::move(accept_roles);
    server.limits = limits;
    server.start();
  }
  // Stops the server, runs the loop until everything is closed, closes it.
  void finish() {
    server.stop();
    t.finish();
  }
};

// Connects a RawClient that sends what on_open sends, and runs until the connection ends.
std::unique_ptr<RawClient> exchange(Server &server, std::function<void(RawClient &)> on_open,
                                    std::function<bool(const Envelope &)> stop_on = {}) {
  auto raw = std::make_unique<RawClient>(server);
  raw->on_open = std::move(on_open);
  raw->stop_on = std::move(stop_on);
  raw->connect();
  raw->run();
  return raw;
}

Bytes hello_frame(uint32_t major = kProtocolMajor) {
  Hello h;
  h.major = major;
  h.role = "client";
  return encode_hello(h);
}

} // namespace

TEST_CASE("RPC: request and response, the caller's identity, unknown op", "[rpc]") {
  RpcFixture f(GENERATE(Transport::tls, Transport::pipe));
  INFO(transport_name(f.server.transport));
  auto client = connected(f.server);

  MapWriter args;
  args.str("text", "héllo wörld");
  auto r = client->call("echo", args);
  REQUIRE(r.ok());
  MapReader result = r->reader();
  CHECK(result.str("text") == "héllo wörld");
  if (f.server.transport == Transport::tls) {
    // The fingerprint the server saw came from the TLS handshake.
    CHECK(result.str("fingerprint") == ids().client->fingerprint());
    CHECK_THAT(result.str("address"), Catch::StartsWith("127.0.0.1:"));
    CHECK(result.i64("uid") == -1);
  } else {
    CHECK(result.str("fingerprint").empty());
    CHECK(result.str("address") == "unix");
    CHECK(result.i64("uid") == static_cast<int64_t>(::getuid()));
  }
  CHECK(result.ok());

  auto unknown = client->call("no-such-op", MapWriter{});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::unknown_op);

  // A handler's refusal of bad arguments comes back as bad_request and the connection stays.
  auto bad = client->call("echo", MapWriter{});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::bad_request);
  auto again = client->call("echo", args);
  CHECK(again.ok());

  client->close();
  client.reset();
  f.finish();
  CHECK(f.server.peer_closes.size() == 1);
}

TEST_CASE("RPC: a client bound to a source address is seen from it, and a bad one fails the connect",
          "[rpc]") {
  RpcFixture f(Transport::tls);
  ConnectOptions co;
  co.pins = {ids().server->fingerprint()};
  co.source = "127.0.0.2"; // loopback is 127.0.0.0/8 on Linux: any of it can be a source
  auto client = SyncClient::connect_tls(&f.t.loop, make_ctx(TlsContext::Side::client, ids().client),
                                        Endpoint{"127.0.0.1", f.server.listener->port()}, co, "client");
  REQUIRE(client.ok());
  MapWriter args;
  args.str("text", "from where");
  auto r = (*client)->call("echo", args);
  REQUIRE(r.ok());
  CHECK_THAT(r->reader().str("address"), Catch::StartsWith("127.0.0.2:"));
  (*client)->close();
  client->reset();

  co.source = "192.0.2.1"; // TEST-NET-1: not an address of this machine, so bind() fails
  auto refused = SyncClient::connect_tls(&f.t.loop, make_ctx(TlsContext::Side::client, ids().client),
                                         Endpoint{"127.0.0.1", f.server.listener->port()}, co, "client");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::unavailable);
  f.finish();
}

TEST_CASE("RPC: a 5 MiB upload arrives whole, and its SHA-256 is the one sent", "[rpc][stream]") {
  RpcFixture f(GENERATE(Transport::tls, Transport::pipe));
  INFO(transport_name(f.server.transport));
  auto client = connected(f.server);

  auto r = client->call_upload("put", MapWriter{}, std::make_unique<PatternSource>(kStreamBytes), 20000);
  INFO((r.ok() ? std::string() : r.error().to_string()));
  REQUIRE(r.ok());
  Bytes expected = pattern_sha256(kStreamBytes);
  MapReader result = r->reader();
  CHECK(result.u64("bytes") == kStreamBytes);
  CHECK(result.bin("sha256") == expected);
  CHECK(f.server.upload_status.ok());
  CHECK(f.server.upload->check.ok);
  CHECK(f.server.upload->finish_bytes == kStreamBytes);
  CHECK(f.server.upload->finish_sha256 == expected);

  client->close();
  client.reset();
  f.finish();
}

TEST_CASE("RPC: a 5 MiB download arrives whole and verified", "[rpc][stream]") {
  RpcFixture f(GENERATE(Transport::tls, Transport::pipe));
  INFO(transport_name(f.server.transport));
  auto client = connected(f.server);

  auto report = std::make_shared<SinkReport>();
  MapWriter args;
  args.u64("bytes", kStreamBytes);
  auto r = client->call_download("get", args, std::make_unique<PatternSink>(report), 20000);
  INFO((r.ok() ? std::string() : r.error().to_string()));
  REQUIRE(r.ok());
  CHECK(r->reader().u64("size") == kStreamBytes);
  CHECK(report->finished);
  CHECK(report->check.ok);
  CHECK(report->check.received == kStreamBytes);
  CHECK(report->finish_bytes == kStreamBytes);
  CHECK(report->finish_sha256 == pattern_sha256(kStreamBytes));
  CHECK(report->own_sha256 == report->finish_sha256);

  // An empty stream is a stream too.
  auto empty_report = std::make_shared<SinkReport>();
  MapWriter none;
  none.u64("bytes", 0);
  auto e = client->call_download("get", none, std::make_unique<PatternSink>(empty_report));
  REQUIRE(e.ok());
  CHECK(empty_report->finished);
  CHECK(empty_report->finish_sha256 == sha256({}));

  client->close();
  client.reset();
  f.finish();
}

TEST_CASE("RPC: a download whose data no longer matches its stored SHA-256 ends in checksum_mismatch",
          "[rpc][stream]") {
  RpcFixture f(GENERATE(Transport::tls, Transport::pipe));
  INFO(transport_name(f.server.transport));
  auto client = connected(f.server);
  constexpr uint64_t bytes = 300000;

  // The digest the server recorded: right for the pattern, then one bit off.
  Bytes good = pattern_sha256(bytes);
  MapWriter right;
  right.u64("bytes", bytes).bin("expect_sha256", good);
  auto ok_report = std::make_shared<SinkReport>();
  auto r = client->call_download("get", right, std::make_unique<PatternSink>(ok_report));
  REQUIRE(r.ok());
  CHECK(ok_report->finished);

  Bytes bad = good;
  bad[0] ^= 1;
  MapWriter wrong;
  wrong.u64("bytes", bytes).bin("expect_sha256", bad);
  auto bad_report = std::make_shared<SinkReport>();
  auto e = client->call_download("get", wrong, std::make_unique<PatternSink>(bad_report));
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().code == Errc::checksum_mismatch);
  CHECK_FALSE(bad_report->finished); // the sink is never told the stream was good

  client->close();
  client.reset();
  f.finish();
}

TEST_CASE("RPC: an upload started before the connection opens completes, whatever the high water", "[rpc][stream]") {
  // Peer buffers up to 64 chunks while the stream is still connecting; with a high water above
  // what those chunks hold, the rest must still follow once the stream opens.
  uint64_t high_water = GENERATE(uint64_t{1} << 20, uint64_t{16} << 20);
  INFO("high water " << high_water);
  RpcFixture f(Transport::tls);

  ConnectOptions co;
  co.pins = {ids().server->fingerprint()};
  co.limits.high_water_bytes = high_water;
  co.limits.low_water_bytes = high_water / 4;
  StreamPtr stream = tls_connect(&f.t.loop, make_ctx(TlsContext::Side::client, ids().client),
                                 Endpoint{"127.0.0.1", f.server.listener->port()}, co, Stream::Handlers{});
  PeerOptions po;
  po.role = "client";
  PeerPtr peer = Peer::attach(stream, po);
  std::optional<Result<Response>> answer;
  peer->call_upload("put", MapWriter{}, std::make_unique<PatternSource>(kStreamBytes),
                    [&](Result<Response> r) { answer.emplace(std::move(r)); });
  f.t.run_until([&] { return answer.has_value(); });
  INFO((answer->ok() ? std::string() : answer->error().to_string()));
  REQUIRE(answer->ok());
  CHECK(answer->value().reader().u64("bytes") == kStreamBytes);
  CHECK(f.server.upload->check.ok);
  peer->close();
  f.t.run_until([&] { return peer->closed(); });
  peer.reset();
  stream.reset();
  f.finish();
}

TEST_CASE("RPC: an upload whose end frame lies about its SHA-256 or size is refused with checksum_mismatch",
          "[rpc][stream]") {
  enum class Lie { none, sha256, size };
  Lie lie = GENERATE(Lie::none, Lie::sha256, Lie::size);
  RpcFixture f(GENERATE(Transport::tls, Transport::pipe));
  INFO(transport_name(f.server.transport) << ", lie " << static_cast<int>(lie));

  const std::string id = uuid_v7();
  auto raw = exchange(
      f.server,
      [&](RawClient &c) {
        c.send(hello_frame());
        c.send(encode_request(id, "put", MapWriter{}));
        Bytes data(3000);
        fill_pattern(data.data(), data.size(), 0);
        c.send(encode_chunk(id, std::span<const uint8_t>(data.data(), 1000)));
        c.send(encode_chunk(id, std::span<const uint8_t>(data.data() + 1000, 2000)));
        Bytes digest = sha256(data);
        if (lie == Lie::sha256) digest[7] ^= 0x01;
        c.send(encode_end(id, digest, lie == Lie::size ? 2999 : 3000));
      },
      [&](const Envelope &frame) { return frame.id == id; });

  const Envelope *answer = nullptr;
  for (const auto &frame : raw->frames)
    if (frame.id == id) answer = &frame;
  REQUIRE(answer);
  if (lie == Lie::none) {
    REQUIRE(answer->kind == FrameKind::result);
    CHECK(MapReader(*answer->body, "result").u64("bytes") == 3000);
    CHECK(f.server.upload_status.ok());
  } else {
    REQUIRE(answer->kind == FrameKind::error);
    CHECK(answer->error.code == Errc::checksum_mismatch);
    CHECK(f.server.upload_status.error().code == Errc::checksum_mismatch);
  }
  f.finish();
}

TEST_CASE("RPC: a hello one major version ahead gets version_mismatch, then the connection closes", "[rpc][hello]") {
  RpcFixture f(GENERATE(Transport::tls, Transport::pipe));
  INFO(transport_name(f.server.transport));

  auto raw = exchange(f.server, [](RawClient &c) { c.send(hello_frame(kProtocolMajor + 1)); });

  CHECK(raw->decode_error.code == Errc::ok);
  REQUIRE(raw->frames.size() == 2);
  CHECK(raw->frames[0].kind == FrameKind::hello); // the server's own hello, sent on open
  CHECK(raw->frames[0].hello.major == kProtocolMajor);
  CHECK(raw->frames[1].kind == FrameKind::error);
  CHECK(raw->frames[1].id == kNoId);
  CHECK(raw->frames[1].error.code == Errc::version_mismatch);
  CHECK(raw->closed); // closed by the server: the client never closes
  f.finish();
  REQUIRE(f.server.peer_closes.size() == 1);
  CHECK(f.server.peer_closes[0].code == Errc::version_mismatch);
}

TEST_CASE("RPC: a first frame that is not hello gets protocol_error, then the connection closes", "[rpc][hello]") {
  RpcFixture f(GENERATE(Transport::tls, Transport::pipe));
  INFO(transport_name(f.server.transport));

  auto raw = exchange(f.server, [](RawClient &c) {
    MapWriter args;
    args.str("text", "hi");
    c.send(encode_request(uuid_v7(), "echo", args));
  });

  const Envelope *err = raw->first(FrameKind::error);
  REQUIRE(err);
  CHECK(err->id == kNoId);
  CHECK(err->error.code == Errc::protocol_error);
  CHECK(raw->first(FrameKind::result) == nullptr); // the request was not served
  CHECK(raw->closed);
  f.finish();
}

TEST_CASE("RPC: a length header over the frame cap gets too_large, then the connection closes", "[rpc][frame]") {
  RpcFixture f(GENERATE(Transport::tls, Transport::pipe));
  INFO(transport_name(f.server.transport));

  auto raw = exchange(f.server, [](RawClient &c) {
    c.send(hello_frame());
    uint32_t n = static_cast<uint32_t>(kMaxFrameBytes + 1);
    c.send_raw(Bytes{static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                     static_cast<uint8_t>(n)});
  });

  const Envelope *err = raw->first(FrameKind::error);
  REQUIRE(err);
  CHECK(err->id == kNoId);
  CHECK(err->error.code == Errc::too_large);
  CHECK(raw->closed);
  f.finish();
  REQUIRE(f.server.peer_closes.size() == 1);
  CHECK(f.server.peer_closes[0].code == Errc::too_large);
}

TEST_CASE("RPC: a client refused for its role learns why", "[rpc][hello]") {
  RpcFixture f(GENERATE(Transport::tls, Transport::pipe), {"printer"});
  INFO(transport_name(f.server.transport));

  // The server's hello may arrive before its refusal: then connecting succeeds and the first
  // call carries the reason.
  auto c = f.server.connect("cli");
  Error why = c.ok() ? Error{Errc::ok, ""} : c.error();
  if (c.ok()) {
    auto r = (*c)->call("echo", MapWriter{}.str("text", "x"));
    REQUIRE_FALSE(r.ok());
    why = r.error();
    (*c)->close();
  }
  CHECK(why.code == Errc::forbidden);
  CHECK_THAT(why.message, Catch::Contains("cli"));
  f.finish();
}

TEST_CASE("RPC: a client meeting a server one major version ahead fails to connect with version_mismatch",
          "[rpc][hello]") {
  TestLoop t;
  // A server that opens with a hello from the future and says nothing else.
  auto sctx = make_ctx(TlsContext::Side::server, ids().server);
  auto l = Listener::listen_tls(&t.loop, sctx, Endpoint{"127.0.0.1", 0}, StreamLimits{}, [](StreamPtr s) {
    Stream::Handlers h;
    Stream *raw = s.get();
    h.on_open = [raw] { raw->write(frame(hello_frame(kProtocolMajor + 1))); };
    s->start(std::move(h));
  });
  REQUIRE(l.ok());
  ConnectOptions co;
  co.pins = {ids().server->fingerprint()};
  int64_t start_ms = mono_ms();
  auto c = SyncClient::connect_tls(&t.loop, make_ctx(TlsContext::Side::client, ids().client),
                                   Endpoint{"127.0.0.1", (*l)->port()}, co, "client", 5000);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == Errc::version_mismatch);
  // It gives up at once: the refusal is final, nothing is left to wait for (a loose bound; the
  // exchange takes a few milliseconds).
  CHECK(mono_ms() - start_ms < 900);
  (*l)->close();
  t.run();
  t.finish();
}

namespace {

// The text of echo request i: about 4 KiB, different for every i, so an answer that is lost,
// repeated or out of place shows.
std::string flood_text(size_t i) {
  std::string text = std::to_string(i) + ":";
  text.reserve(4096);
  while (text.size() < 4096) text.push_back(static_cast<char>('a' + (i + text.size()) % 26));
  return text;
}

// A client that keeps sending echo requests (as fast as its own send queue allows) but does not
// read the answers until told to, then checks that they arrive exactly once and in order.
struct FloodClient {
  Server &server;
  size_t total;
  StreamPtr stream;
  FrameDecoder decoder;
  std::vector<std::string> ids; // of the requests sent, in order
  bool reading = false;
  bool hello_seen = false;
  size_t answers = 0; // answers checked so far (in order)
  std::string problem; // the first thing that was wrong (callbacks must not throw)
  bool closed = false;
  Error close_reason{Errc::internal, "not closed"};

  FloodClient(Server &s, size_t requests) : server(s), total(requests) { ids.reserve(requests); }

  void note(std::string what) {
    if (problem.empty()) problem = std::move(what);
  }

  void send_more() {
    while (ids.size() < total && stream->queued_bytes() <= stream->limits().high_water_bytes) {
      ids.push_back(uuid_v7());
      MapWriter args;
      args.str("text", flood_text(ids.size() - 1));
      stream->write(frame(encode_request(ids.back(), "echo", args)));
    }
  }

  Status on_frame(std::span<const uint8_t> body) {
    auto env = decode_envelope(body);
    if (!env.ok()) return env.error();
    if (!hello_seen) {
      hello_seen = true;
      if (env->kind != FrameKind::hello) note("the first frame is not hello");
      return {};
    }
    size_t i = answers++;
    if (i >= ids.size()) {
      note("answer " + std::to_string(i) + " arrived for a request never sent");
    } else if (env->kind != FrameKind::result) {
      note("answer " + std::to_string(i) + " is not a result: " + env->error.to_string());
    } else if (env->id != ids[i]) {
      note("answer " + std::to_string(i) + " carries the id of another request");
    } else {
      MapReader result(*env->body, "result");
      if (result.str("text") != flood_text(i)) note("answer " + std::to_string(i) + " has the wrong text");
    }
    if (answers == total) stream->close();
    return {};
  }

  void connect() {
    Stream::Handlers h;
    h.on_open = [this] {
      stream->write(frame(hello_frame()));
      stream->pause_reading();
      send_more();
    };
    h.on_drain = [this] { send_more(); };
    h.on_data = [this](std::span<const uint8_t> data) {
      if (!reading) note("data delivered while reading was paused");
      Status s = decoder.feed(data, [this](std::span<const uint8_t> body) { return on_frame(body); });
      if (!s.ok()) note("undecodable answer: " + s.error().to_string());
    };
    h.on_close = [this](const Error &e) {
      closed = true;
      close_reason = e;
    };
    stream = server.raw_connect(std::move(h));
  }

  void resume() {
    reading = true;
    stream->resume_reading();
  }
};

// Watches the server's side of its connections every few milliseconds, keeping the largest
// send queue seen, and calls on_stalled once the queue is over `threshold_bytes` and has not
// moved for `stall_ms` (the server has stopped producing answers), or after `give_up_ms`.
struct QueueWatch {
  Server &server;
  size_t threshold_bytes;
  int64_t stall_ms;
  int64_t give_up_ms;
  std::function<void()> on_stalled;
  uv_timer_t timer;
  size_t max_queued_bytes = 0;
  size_t last_queued_bytes = 0;
  int64_t started_ms = mono_ms();
  int64_t last_change_ms = mono_ms();
  bool stalled = false;

  QueueWatch(Server &s, size_t threshold, int64_t stall, int64_t give_up)
      : server(s), threshold_bytes(threshold), stall_ms(stall), give_up_ms(give_up) {}

  void start() {
    uv_timer_init(&server.t.loop, &timer);
    timer.data = this;
    uv_timer_start(&timer, [](uv_timer_t *h) { static_cast<QueueWatch *>(h->data)->sample(); }, 2, 2);
  }
  void sample() {
    size_t queued = 0;
    for (const auto &weak : server.accepted)
      if (auto s = weak.lock()) queued += s->queued_bytes();
    max_queued_bytes = std::max(max_queued_bytes, queued);
    int64_t now_ms = mono_ms();
    if (queued != last_queued_bytes) {
      last_queued_bytes = queued;
      last_change_ms = now_ms;
    }
    if (stalled) return;
    if ((queued > threshold_bytes && now_ms - last_change_ms >= stall_ms) || now_ms - started_ms >= give_up_ms) {
      stalled = true;
      on_stalled();
    }
  }
  void stop() { uv_close(reinterpret_cast<uv_handle_t *>(&timer), nullptr); }
};

} // namespace

TEST_CASE("RPC: a client that sends requests without reading the answers is paused, then gets every answer "
          "in order", "[rpc][backpressure]") {
  // Small limits keep the test quick: reading pauses above 4 x 256 KiB of queued answers.
  StreamLimits limits;
  limits.high_water_bytes = 256 << 10;
  limits.low_water_bytes = 64 << 10;
  const size_t pause_bytes = Peer::kReadPauseFactor * limits.high_water_bytes;
  // One read (the stream's 64 KiB buffer) can finish a frame begun earlier and bring ~16 more
  // requests; their answers are a little larger than the requests. Twice that is a safe margin.
  const size_t one_read_of_answers_bytes = 2 * (64 << 10);
  // ~24 MiB of answers: several times what the kernel's socket buffers take in (on loopback TCP
  // here about 5 MiB), so without the pause the server's queue would grow far past the bound.
  constexpr size_t kRequests = 6000;

  RpcFixture f(GENERATE(Transport::tls, Transport::pipe), {}, limits);
  INFO(transport_name(f.server.transport));

  FloodClient client(f.server, kRequests);
  uint64_t served_at_resume = 0;
  size_t queued_at_resume = 0;
  QueueWatch watch(f.server, pause_bytes, 200, 5000);
  watch.on_stalled = [&] {
    served_at_resume = f.server.echo_calls;
    queued_at_resume = watch.last_queued_bytes;
    client.resume();
  };
  watch.start();
  client.connect();
  f.t.run_until([&] { return client.closed; });
  watch.stop();
  client.stream.reset();

  INFO("largest server queue " << watch.max_queued_bytes << " bytes, " << served_at_resume
                               << " requests served before the client read");
  INFO(client.problem);
  CHECK(client.problem.empty());
  CHECK(client.close_reason.code == Errc::ok);
  CHECK(client.answers == kRequests);
  // The server did stop: its queue reached the pause point and stayed there, with requests
  // still unread.
  CHECK(queued_at_resume > pause_bytes);
  CHECK(served_at_resume < kRequests);
  // ... and never held much more than the pause point.
  CHECK(watch.max_queued_bytes <= pause_bytes + one_read_of_answers_bytes);
  f.finish();
  CHECK(f.server.echo_calls == kRequests);
}
