// TLS streams on a real loop over 127.0.0.1: handshake and pinning, session resumption,
// deadlines, backpressure under a slow reader, and what the client offers and the server picks
// in the handshake (ciphersuites, ECDHE groups).
#include <catch2/catch.hpp>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include <algorithm>
#include <optional>
#include <random>
#include <thread>

#include "lpm/ids.h"
#include "lpm/protocol/stream.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::proto;
using namespace lpm::test;

namespace {

// A TLS listener on 127.0.0.1 with the server identity.
std::shared_ptr<Listener> listen_tls(TestLoop &t, const StreamLimits &limits, Listener::AcceptFn on_accept) {
  auto l = Listener::listen_tls(&t.loop, make_ctx(TlsContext::Side::server, ids().server), Endpoint{"127.0.0.1", 0},
                                limits, std::move(on_accept));
  REQUIRE(l.ok());
  REQUIRE((*l)->port() != 0);
  return *l;
}

Endpoint local(uint16_t port) { return Endpoint{"127.0.0.1", port}; }

// Options of a client that pins the server identity.
ConnectOptions pinned(const StreamLimits &limits = {}) {
  ConnectOptions co;
  co.pins = {ids().server->fingerprint()};
  co.limits = limits;
  return co;
}

Bytes pattern(size_t len, uint64_t offset = 0) {
  Bytes out(len);
  fill_pattern(out.data(), len, offset);
  return out;
}

// What one side of a connection saw.
struct Seen {
  bool opened = false;
  bool closed = false;
  bool resumed = false;
  std::string fingerprint;
  std::string cipher;
  Error close_reason{Errc::internal, "not closed"};
  int64_t opened_ms = 0;
  int64_t closed_ms = 0;
};

// A server side that echoes everything and records what it saw.
Stream::Handlers echo_handlers(Stream *s, Seen &seen, std::function<void()> after_close = {}) {
  Stream::Handlers h;
  h.on_open = [s, &seen] {
    seen.opened = true;
    seen.opened_ms = mono_ms();
    seen.resumed = s->resumed();
    seen.fingerprint = s->peer().fingerprint;
    seen.cipher = s->cipher();
  };
  h.on_data = [s](std::span<const uint8_t> data) { s->write(data); };
  h.on_close = [&seen, after_close](const Error &e) {
    seen.closed = true;
    seen.closed_ms = mono_ms();
    seen.close_reason = e;
    if (after_close) after_close();
  };
  return h;
}

// An echo server for one connection at a time; it stops listening when a connection ends
// (tests that make several connections listen themselves).
struct EchoServer {
  Seen seen;
  std::shared_ptr<Listener> listener;
  explicit EchoServer(TestLoop &t, const StreamLimits &limits = {}) {
    listener = listen_tls(t, limits, [this](StreamPtr s) {
      s->start(echo_handlers(s.get(), seen, [this] { listener->close(); }));
    });
  }
  uint16_t port() const { return listener->port(); }
};

} // namespace

TEST_CASE("TLS: handshake, echo, both sides see the other's key, ChaCha20-Poly1305 is negotiated", "[tls]") {
  TestLoop t;
  auto cctx = make_ctx(TlsContext::Side::client, ids().client);
  EchoServer echo(t);
  const Seen &server = echo.seen;

  const Bytes message = pattern(100000);
  Bytes echoed;
  Seen client;
  StreamPtr stream;
  Stream::Handlers h;
  h.on_open = [&] {
    client.opened = true;
    client.fingerprint = stream->peer().fingerprint;
    client.cipher = stream->cipher();
    client.resumed = stream->resumed();
    stream->write(message);
  };
  h.on_data = [&](std::span<const uint8_t> data) {
    echoed.insert(echoed.end(), data.begin(), data.end());
    if (echoed.size() >= message.size()) stream->close();
  };
  h.on_close = [&](const Error &e) {
    client.closed = true;
    client.close_reason = e;
  };
  stream = tls_connect(&t.loop, cctx, local(echo.port()), pinned(), std::move(h));
  t.run();

  CHECK(client.opened);
  CHECK(client.close_reason.code == Errc::ok);
  CHECK(echoed == message);
  CHECK(client.fingerprint == ids().server->fingerprint());
  CHECK(server.opened);
  CHECK(server.fingerprint == ids().client->fingerprint());
  CHECK(server.close_reason.code == Errc::ok); // the client's close_notify
  CHECK(client.cipher == "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256");
  CHECK(server.cipher == client.cipher);
  CHECK_FALSE(client.resumed);
  CHECK_FALSE(server.resumed);
  CHECK(cctx->handshakes() == 1);
  CHECK(cctx->resumed_handshakes() == 0);
  stream.reset();
  t.finish();
}

TEST_CASE("TLS: a server key that is not the pinned one closes with unauthenticated, never opens", "[tls]") {
  TestLoop t;
  auto cctx = make_ctx(TlsContext::Side::client, ids().client);
  EchoServer echo(t);

  Seen client;
  Stream::Handlers h;
  h.on_open = [&] { client.opened = true; };
  h.on_close = [&](const Error &e) {
    client.closed = true;
    client.close_reason = e;
  };
  ConnectOptions co;
  co.pins = {ids().stranger->fingerprint()};
  tls_connect(&t.loop, cctx, local(echo.port()), co, std::move(h));
  t.run();

  CHECK_FALSE(client.opened);
  CHECK(client.close_reason.code == Errc::unauthenticated);
  CHECK_THAT(client.close_reason.message, Catch::Contains(ids().server->fingerprint()));
  CHECK(echo.seen.closed);
  CHECK(cctx->handshakes() == 0); // a refused key is not a completed handshake
  t.finish();
}

TEST_CASE("TLS: a second connection resumes the session on both sides and keeps the client's identity", "[tls]") {
  TestLoop t;
  auto cctx = make_ctx(TlsContext::Side::client, ids().client);
  std::vector<std::unique_ptr<Seen>> servers;
  auto listener = listen_tls(t, StreamLimits{}, [&](StreamPtr s) {
    servers.push_back(std::make_unique<Seen>());
    s->start(echo_handlers(s.get(), *servers.back()));
  });

  // One connection: open, check that data flows with the (maybe resumed) keys, close.
  auto connect_once = [&]() {
    auto seen = std::make_shared<Seen>();
    auto echoed = std::make_shared<std::string>();
    auto stream = std::make_shared<StreamPtr>();
    Stream::Handlers h;
    h.on_open = [seen, stream] {
      seen->opened = true;
      seen->resumed = (*stream)->resumed();
      seen->fingerprint = (*stream)->peer().fingerprint;
      const std::string ping = "ping";
      (*stream)->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(ping.data()), ping.size()));
    };
    h.on_data = [echoed, stream](std::span<const uint8_t> data) {
      echoed->append(reinterpret_cast<const char *>(data.data()), data.size());
      if (*echoed == "ping") (*stream)->close();
    };
    h.on_close = [seen](const Error &e) {
      seen->closed = true;
      seen->close_reason = e;
    };
    *stream = tls_connect(&t.loop, cctx, local(listener->port()), pinned(), std::move(h));
    t.run_until([&] { return seen->closed; });
    CHECK(*echoed == "ping");
    CHECK(seen->close_reason.code == Errc::ok);
    stream->reset();
    return *seen;
  };

  Seen first = connect_once();
  Seen second = connect_once();
  cctx->clear_sessions();
  Seen third = connect_once(); // control: without a cached session nothing is resumed
  listener->close();
  t.run();

  CHECK(first.opened);
  CHECK_FALSE(first.resumed);
  CHECK(second.opened);
  CHECK(second.resumed);
  CHECK(third.opened);
  CHECK_FALSE(third.resumed);
  CHECK(second.fingerprint == ids().server->fingerprint());
  CHECK(cctx->handshakes() == 3);
  CHECK(cctx->resumed_handshakes() == 1);
  REQUIRE(servers.size() == 3);
  CHECK_FALSE(servers[0]->resumed);
  CHECK(servers[1]->resumed);
  CHECK_FALSE(servers[2]->resumed);
  for (const auto &s : servers) CHECK(s->fingerprint == ids().client->fingerprint());
  t.finish();
}

namespace {
// A TCP listener that accepts one connection and never says anything.
struct MuteServer {
  uv_tcp_t listener;
  uv_tcp_t accepted;
  bool has_accepted = false;
  uint16_t port = 0;

  explicit MuteServer(uv_loop_t *loop) {
    uv_tcp_init(loop, &listener);
    listener.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    REQUIRE(uv_tcp_bind(&listener, reinterpret_cast<const sockaddr *>(&addr), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t *>(&listener), 8, [](uv_stream_t *server, int status) {
              auto *self = static_cast<MuteServer *>(server->data);
              if (status != 0 || self->has_accepted) return;
              uv_tcp_init(server->loop, &self->accepted);
              self->has_accepted = uv_accept(server, reinterpret_cast<uv_stream_t *>(&self->accepted)) == 0;
            }) == 0);
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr *>(&bound), &len);
    port = ntohs(reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
  }
  void close() {
    uv_close(reinterpret_cast<uv_handle_t *>(&listener), nullptr);
    if (has_accepted) uv_close(reinterpret_cast<uv_handle_t *>(&accepted), nullptr);
  }
};
} // namespace

TEST_CASE("TLS: a server that never answers the handshake is dropped at the handshake deadline", "[tls][deadline]") {
  TestLoop t;
  auto cctx = make_ctx(TlsContext::Side::client, ids().client);
  MuteServer mute(&t.loop);

  Seen client;
  Stream::Handlers h;
  h.on_open = [&] { client.opened = true; };
  h.on_close = [&](const Error &e) {
    client.closed_ms = mono_ms();
    client.close_reason = e;
    mute.close();
  };
  StreamLimits limits;
  limits.handshake_timeout_ms = 300;
  int64_t start_ms = mono_ms();
  tls_connect(&t.loop, cctx, local(mute.port), pinned(limits), std::move(h));
  t.run();

  CHECK(mute.has_accepted);
  CHECK_FALSE(client.opened);
  CHECK(client.close_reason.code == Errc::timeout);
  CHECK(client.closed_ms - start_ms >= 250);
  CHECK(client.closed_ms - start_ms < 2000);
  t.finish();
}

TEST_CASE("TLS: a client that connects and sends nothing is dropped at the server's handshake deadline",
          "[tls][deadline]") {
  TestLoop t;
  StreamLimits limits;
  limits.handshake_timeout_ms = 300;
  Seen server;
  int64_t accepted_ms = 0;
  std::shared_ptr<Listener> listener;
  uv_tcp_t raw;
  uv_tcp_init(&t.loop, &raw);
  listener = listen_tls(t, limits, [&](StreamPtr s) {
    accepted_ms = mono_ms();
    s->start(echo_handlers(s.get(), server, [&] {
      listener->close();
      uv_close(reinterpret_cast<uv_handle_t *>(&raw), nullptr);
    }));
  });
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", listener->port(), &addr);
  uv_connect_t req;
  REQUIRE(uv_tcp_connect(&req, &raw, reinterpret_cast<const sockaddr *>(&addr), [](uv_connect_t *, int) {}) == 0);
  t.run();

  CHECK_FALSE(server.opened);
  CHECK(server.close_reason.code == Errc::timeout);
  CHECK(server.closed_ms - accepted_ms >= 250);
  CHECK(server.closed_ms - accepted_ms < 2000);
  t.finish();
}

TEST_CASE("TLS: the idle deadline closes a quiet connection, and traffic postpones it", "[tls][deadline]") {
  TestLoop t;
  auto cctx = make_ctx(TlsContext::Side::client, ids().client);
  EchoServer echo(t);

  // The client pings every 100 ms five times, then goes quiet; its idle deadline is 300 ms.
  struct Pinger {
    uv_timer_t timer;
    StreamPtr stream;
    int sent = 0;
  } pinger;
  uv_timer_init(&t.loop, &pinger.timer);
  pinger.timer.data = &pinger;
  Seen client;
  size_t echoed = 0;
  int64_t last_echo_ms = 0;
  Stream::Handlers h;
  h.on_open = [&] {
    client.opened = true;
    client.opened_ms = mono_ms();
    uv_timer_start(
        &pinger.timer,
        [](uv_timer_t *timer) {
          auto *p = static_cast<Pinger *>(timer->data);
          const uint8_t byte = 'x';
          p->stream->write(std::span<const uint8_t>(&byte, 1));
          if (++p->sent == 5) uv_timer_stop(timer);
        },
        100, 100);
  };
  h.on_data = [&](std::span<const uint8_t> data) {
    last_echo_ms = mono_ms();
    echoed += data.size();
  };
  h.on_close = [&](const Error &e) {
    client.closed_ms = mono_ms();
    client.close_reason = e;
    uv_close(reinterpret_cast<uv_handle_t *>(&pinger.timer), nullptr);
  };
  StreamLimits limits;
  limits.idle_timeout_ms = 300;
  pinger.stream = tls_connect(&t.loop, cctx, local(echo.port()), pinned(limits), std::move(h));
  t.run();

  CHECK(client.opened);
  CHECK(pinger.sent == 5);
  CHECK(echoed == 5);
  CHECK(client.close_reason.code == Errc::timeout);
  // Open for five pings (~500 ms) although the deadline is 300 ms: traffic re-arms it.
  CHECK(client.closed_ms - client.opened_ms >= 450);
  CHECK(client.closed_ms - last_echo_ms >= 250);
  CHECK(client.closed_ms - last_echo_ms < 2000);
  CHECK(echo.seen.closed); // the server saw the connection go
  pinger.stream.reset();
  t.finish();
}

namespace {

// Sends `total_bytes` of the pattern with writes of sizes from next_size(), writing only while
// queued_bytes() is at or below high water and continuing on on_drain; never goes past
// `allowed` (which a test may raise step by step); closes once everything is queued.
struct PatternSender {
  Stream *stream = nullptr;
  uint64_t total_bytes = 0;
  uint64_t allowed = UINT64_MAX;
  uint64_t sent = 0;
  std::function<size_t()> next_size;
  // Tiny writes made regardless of the queue after each round, the way a protocol sends a
  // control message in the middle of a bulk stream (write() never refuses).
  std::function<int()> overshoot_writes = [] { return 0; };
  size_t largest_write = 0;
  size_t max_queued = 0;
  int drains = 0;
  bool drain_above_low_water = false;
  Bytes buf;

  void pump() {
    const StreamLimits &lim = stream->limits();
    uint64_t end = std::min(total_bytes, allowed);
    while (sent < end && stream->queued_bytes() <= lim.high_water_bytes) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(next_size(), end - sent));
      write_next(n);
      largest_write = std::max(largest_write, n);
      max_queued = std::max(max_queued, stream->queued_bytes());
    }
    for (int i = overshoot_writes(); i > 0 && sent < end; i--) write_next(std::min<uint64_t>(1 + sent % 61, end - sent));
    if (sent == total_bytes) stream->close();
  }
  void write_next(uint64_t n) {
    buf.resize(static_cast<size_t>(n));
    fill_pattern(buf.data(), buf.size(), sent);
    stream->write(buf);
    sent += n;
  }
  void on_drain() {
    drains++;
    if (stream->queued_bytes() > stream->limits().low_water_bytes) drain_above_low_water = true;
    pump();
  }
};

// Bytes that mbedTLS adds to the plaintext queued on a stream: a record is at most 16 KiB of
// plaintext plus a 5-byte header and at most 8 + 16 bytes of nonce and tag; bound the whole
// queue generously by records of 4 KiB.
size_t record_overhead_bound(size_t queued_bytes) { return (queued_bytes / 4096 + 2) * 29; }

} // namespace

TEST_CASE("TLS: 64 MiB to a reader that keeps pausing arrive complete and in order, under high water",
          "[tls][backpressure]") {
  TestLoop t(60000);
  auto cctx = make_ctx(TlsContext::Side::client, ids().client);

  // Receiver (server side): a timer flips between paused and reading every 7 ms.
  PatternCheck check;
  Seen server;
  uv_timer_t toggler;
  uv_timer_init(&t.loop, &toggler);
  bool paused = false;
  int pauses = 0;
  Stream *receiver = nullptr;
  std::shared_ptr<Listener> listener;
  listener = listen_tls(t, StreamLimits{}, [&](StreamPtr s) {
    receiver = s.get();
    Stream::Handlers h;
    h.on_open = [&] {
      uv_timer_start(
          &toggler,
          [](uv_timer_t *timer) {
            auto *flip = static_cast<std::function<void()> *>(timer->data);
            (*flip)();
          },
          7, 7);
    };
    h.on_data = [&](std::span<const uint8_t> data) { check.feed(data); };
    h.on_close = [&](const Error &e) {
      server.closed = true;
      server.close_reason = e;
      receiver = nullptr;
      uv_close(reinterpret_cast<uv_handle_t *>(&toggler), nullptr);
      listener->close();
    };
    s->start(std::move(h));
  });
  std::function<void()> flip = [&] {
    if (!receiver) return;
    paused = !paused;
    if (paused) {
      pauses++;
      receiver->pause_reading();
    } else {
      receiver->resume_reading();
    }
  };
  toggler.data = &flip;

  PatternSender sender;
  sender.total_bytes = 64ull << 20;
  sender.next_size = [] { return size_t{100 * 1024 + 7}; };
  Seen client;
  StreamPtr stream;
  Stream::Handlers h;
  h.on_open = [&] { sender.pump(); };
  h.on_drain = [&] { sender.on_drain(); };
  h.on_close = [&](const Error &e) {
    client.closed = true;
    client.close_reason = e;
  };
  stream = tls_connect(&t.loop, cctx, local(listener->port()), pinned(), std::move(h));
  sender.stream = stream.get();
  t.run();

  const StreamLimits lim;
  INFO("first wrong byte at " << check.first_bad);
  CHECK(check.ok);
  CHECK(check.received == sender.total_bytes);
  CHECK(client.close_reason.code == Errc::ok);
  CHECK(server.close_reason.code == Errc::ok);
  CHECK(pauses > 10);
  // The reader's pauses really pushed back on the writer...
  CHECK(sender.drains > 10);
  CHECK_FALSE(sender.drain_above_low_water);
  // ...and the stream never held more than high water plus the one write that crossed it.
  INFO("max queued " << sender.max_queued);
  CHECK(sender.max_queued <= lim.high_water_bytes + sender.largest_write + record_overhead_bound(sender.max_queued));
  stream.reset();
  t.finish();
}

TEST_CASE("TLS: a write whose records, not its plaintext, cross high water still gets on_drain",
          "[tls][backpressure]") {
  // Found by the randomised test below (seed 2858715673): one write of exactly high water bytes
  // is not above high water as plaintext, but the four records it becomes are (header and tag),
  // so a producer that waits while queued_bytes() > high water must be woken by on_drain.
  TestLoop t;
  auto cctx = make_ctx(TlsContext::Side::client, ids().client);
  StreamLimits limits;
  limits.high_water_bytes = 64 * 1024;
  limits.low_water_bytes = 16 * 1024;
  PatternCheck check;
  Seen server;
  std::shared_ptr<Listener> listener;
  listener = listen_tls(t, limits, [&](StreamPtr s) {
    Stream::Handlers h;
    h.on_data = [&](std::span<const uint8_t> data) { check.feed(data); };
    h.on_close = [&](const Error &e) {
      server.closed = true;
      server.close_reason = e;
      listener->close();
    };
    s->start(std::move(h));
  });
  StreamPtr stream;
  size_t queued_after_write = 0;
  int drains = 0;
  Bytes chunk(limits.high_water_bytes);
  fill_pattern(chunk.data(), chunk.size(), 0);
  Stream::Handlers h;
  h.on_open = [&] {
    stream->write(chunk);
    queued_after_write = stream->queued_bytes();
  };
  h.on_drain = [&] {
    drains++;
    stream->close();
  };
  stream = tls_connect(&t.loop, cctx, local(listener->port()), pinned(limits), std::move(h));
  t.run();
  CHECK(queued_after_write > limits.high_water_bytes);
  CHECK(drains == 1);
  CHECK(check.ok);
  CHECK(check.received == chunk.size());
  stream.reset();
  t.finish();
}

TEST_CASE("TLS: writes of random sizes to a reader pausing at random points arrive exactly once, in order",
          "[tls][backpressure]") {
  TestLoop t(60000);
  auto cctx = make_ctx(TlsContext::Side::client, ids().client);
  // A low high water makes the TLS layer meet a full socket queue (WANT_WRITE) over and over.
  StreamLimits limits;
  limits.high_water_bytes = 64 * 1024;
  limits.low_water_bytes = 16 * 1024;
  const uint64_t seed = test_seed();
  INFO("seed " << seed << " (LPM_TEST_SEED=" << seed << " repeats it)");
  std::mt19937_64 rng(seed);

  // Sender: the server, with writes from 1 byte to 200 KiB (a third of them tiny), in bursts of
  // up to 1 MiB. It starts a burst only when the client has acknowledged the previous one, so
  // at the end of each burst no socket data follows: bytes the client left buffered when it
  // paused must come out on resume_reading() alone, or the test stalls.
  PatternSender sender;
  sender.total_bytes = 24ull << 20;
  sender.next_size = [&rng] {
    if (rng() % 3 == 0) return static_cast<size_t>(1 + rng() % 64);
    return static_cast<size_t>(1 + rng() % (200 * 1024));
  };
  sender.overshoot_writes = [&rng] { return static_cast<int>(rng() % 4); };
  auto next_burst = [&] { sender.allowed = sender.sent + 1 + rng() % (1 << 20); };
  next_burst();
  int bursts = 0;
  Seen server;
  std::shared_ptr<Listener> listener;
  listener = listen_tls(t, limits, [&](StreamPtr s) {
    sender.stream = s.get();
    Stream::Handlers h;
    h.on_open = [&] { sender.pump(); };
    h.on_data = [&](std::span<const uint8_t> acks) {
      bursts += static_cast<int>(acks.size());
      next_burst();
      sender.pump();
    };
    h.on_drain = [&] { sender.on_drain(); };
    h.on_close = [&](const Error &e) {
      server.closed = true;
      server.close_reason = e;
      listener->close();
    };
    s->start(std::move(h));
  });

  // Receiver: the client. Now and then it pauses in the middle of on_data, leaving decrypted or
  // undecrypted records behind, and resumes from a timer 0-3 ms later; sometimes it resumes at
  // once from inside on_data.
  PatternCheck check;
  Seen client;
  StreamPtr stream;
  uv_timer_t resumer;
  uv_timer_init(&t.loop, &resumer);
  resumer.data = &stream;
  int pauses = 0;
  Stream::Handlers h;
  h.on_data = [&](std::span<const uint8_t> data) {
    check.feed(data);
    if (check.received == sender.allowed && check.received < sender.total_bytes) {
      const uint8_t ack = 'a';
      stream->write(std::span<const uint8_t>(&ack, 1));
    }
    uint64_t dice = rng() % 16;
    if (dice == 0) {
      pauses++;
      stream->pause_reading();
      stream->resume_reading();
    } else if (dice < 6 && !uv_is_active(reinterpret_cast<uv_handle_t *>(&resumer))) {
      pauses++;
      stream->pause_reading();
      uv_timer_start(
          &resumer, [](uv_timer_t *timer) { (*static_cast<StreamPtr *>(timer->data))->resume_reading(); },
          rng() % 4, 0);
    }
  };
  h.on_close = [&](const Error &e) {
    client.closed = true;
    client.close_reason = e;
    uv_close(reinterpret_cast<uv_handle_t *>(&resumer), nullptr);
  };
  stream = tls_connect(&t.loop, cctx, local(listener->port()), pinned(limits), std::move(h));
  t.run();

  INFO("first wrong byte at " << check.first_bad);
  CHECK(check.ok);
  CHECK(check.received == sender.total_bytes);
  CHECK(client.close_reason.code == Errc::ok);
  CHECK(server.close_reason.code == Errc::ok);
  CHECK(bursts > 10);
  CHECK(pauses > 10);
  CHECK(sender.drains > 10);
  CHECK_FALSE(sender.drain_above_low_water);
  // max_queued is sampled in the disciplined loop, where the overshoot of a previous round may
  // still be queued: up to three writes of at most 61 bytes per round, and two rounds at most
  // between drains (a drain and an acknowledgement).
  CHECK(sender.max_queued <=
        limits.high_water_bytes + sender.largest_write + 2 * 3 * 61 + record_overhead_bound(sender.max_queued));
  stream.reset();
  t.finish();
}

// ---------------------------------------------------------------------------------------------
// What goes over the wire during the handshake.

namespace {

uint16_t be16(const Bytes &b, size_t at) { return static_cast<uint16_t>(b.at(at) << 8 | b.at(at + 1)); }

// The handshake messages carried by the plaintext handshake records at the start of `bytes`.
Bytes handshake_payload(const Bytes &bytes) {
  Bytes out;
  size_t pos = 0;
  while (pos + 5 <= bytes.size() && bytes[pos] == 0x16) {
    size_t len = be16(bytes, pos + 3);
    if (pos + 5 + len > bytes.size()) break;
    out.insert(out.end(), bytes.begin() + static_cast<long>(pos + 5), bytes.begin() + static_cast<long>(pos + 5 + len));
    pos += 5 + len;
  }
  return out;
}

// Body of the first handshake message of `type` (1 ClientHello, 12 ServerKeyExchange).
std::optional<Bytes> handshake_message(const Bytes &payload, uint8_t type) {
  size_t pos = 0;
  while (pos + 4 <= payload.size()) {
    size_t len = static_cast<size_t>(payload[pos + 1]) << 16 | static_cast<size_t>(payload[pos + 2]) << 8 | payload[pos + 3];
    if (pos + 4 + len > payload.size()) break;
    if (payload[pos] == type)
      return Bytes(payload.begin() + static_cast<long>(pos + 4), payload.begin() + static_cast<long>(pos + 4 + len));
    pos += 4 + len;
  }
  return std::nullopt;
}

struct ClientHelloView {
  uint16_t version = 0;
  std::vector<uint16_t> suites;
  std::vector<uint16_t> groups;
  bool parsed = false;
};

ClientHelloView parse_client_hello(const Bytes &body) {
  ClientHelloView v;
  size_t p = 0;
  v.version = be16(body, p);
  p += 2 + 32;                       // version, random
  p += 1 + body.at(p);               // session id
  size_t suites_len = be16(body, p); // cipher suites
  for (size_t i = 0; i < suites_len; i += 2) v.suites.push_back(be16(body, p + 2 + i));
  p += 2 + suites_len;
  p += 1 + body.at(p); // compression methods
  size_t ext_end = p + 2 + be16(body, p);
  p += 2;
  while (p + 4 <= ext_end) {
    uint16_t type = be16(body, p);
    size_t len = be16(body, p + 2);
    if (type == 0x000a) { // supported_groups
      size_t list_len = be16(body, p + 4);
      for (size_t i = 0; i < list_len; i += 2) v.groups.push_back(be16(body, p + 6 + i));
    }
    p += 4 + len;
  }
  v.parsed = p == ext_end;
  return v;
}

constexpr uint16_t kGroupX25519 = 0x001d;
constexpr uint16_t kGroupP256 = 0x0017;

} // namespace

TEST_CASE("TLS: the client offers TLS 1.2, AEAD suites with ChaCha20-Poly1305 first, X25519 and P-256 only",
          "[tls][handshake]") {
  TestLoop t;
  auto cctx = make_ctx(TlsContext::Side::client, ids().client);

  // A TCP server that reads what the client sends until the ClientHello is complete.
  struct Capture {
    uv_tcp_t listener;
    uv_tcp_t conn;
    bool accepted = false;
    Bytes bytes;
    uint8_t buf[4096];
  } cap;
  uv_tcp_init(&t.loop, &cap.listener);
  cap.listener.data = &cap;
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", 0, &addr);
  REQUIRE(uv_tcp_bind(&cap.listener, reinterpret_cast<const sockaddr *>(&addr), 0) == 0);
  REQUIRE(uv_listen(reinterpret_cast<uv_stream_t *>(&cap.listener), 8, [](uv_stream_t *server, int) {
            auto *c = static_cast<Capture *>(server->data);
            uv_tcp_init(server->loop, &c->conn);
            c->conn.data = c;
            c->accepted = true;
            uv_accept(server, reinterpret_cast<uv_stream_t *>(&c->conn));
            uv_read_start(
                reinterpret_cast<uv_stream_t *>(&c->conn),
                [](uv_handle_t *h, size_t, uv_buf_t *b) {
                  auto *cc = static_cast<Capture *>(h->data);
                  *b = uv_buf_init(reinterpret_cast<char *>(cc->buf), sizeof cc->buf);
                },
                [](uv_stream_t *s, ssize_t n, const uv_buf_t *) {
                  auto *cc = static_cast<Capture *>(s->data);
                  if (n > 0) cc->bytes.insert(cc->bytes.end(), cc->buf, cc->buf + n);
                  bool complete = cc->bytes.size() >= 5 && cc->bytes.size() >= 5u + be16(cc->bytes, 3);
                  if (n < 0 || complete) {
                    uv_close(reinterpret_cast<uv_handle_t *>(&cc->conn), nullptr);
                    uv_close(reinterpret_cast<uv_handle_t *>(&cc->listener), nullptr);
                  }
                });
          }) == 0);
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&cap.listener, reinterpret_cast<sockaddr *>(&bound), &len);

  Seen client;
  Stream::Handlers h;
  h.on_open = [&] { client.opened = true; };
  h.on_close = [&](const Error &e) { client.close_reason = e; };
  tls_connect(&t.loop, cctx, local(ntohs(reinterpret_cast<sockaddr_in *>(&bound)->sin_port)), pinned(), std::move(h));
  t.run();

  CHECK_FALSE(client.opened);
  CHECK(client.close_reason.code != Errc::ok);
  auto hello = handshake_message(handshake_payload(cap.bytes), 1);
  REQUIRE(hello);
  ClientHelloView v = parse_client_hello(*hello);
  CHECK(v.parsed);
  CHECK(v.version == 0x0303);
  CHECK(v.groups == std::vector<uint16_t>{kGroupX25519, kGroupP256});
  std::vector<uint16_t> suites;
  for (uint16_t s : v.suites)
    if (s != 0x00ff) suites.push_back(s); // the renegotiation SCSV is a signal, not a suite
  // ECDHE-ECDSA with ChaCha20-Poly1305, AES-256-GCM, AES-128-GCM: AEAD only, ChaCha first.
  CHECK(suites == std::vector<uint16_t>{0xcca9, 0xc02c, 0xc02b});
  t.finish();
}

namespace {

// A TLS peer made with mbedTLS directly (not with our stream code), run in a thread on blocking
// sockets: a second implementation to check ours against. It records every byte it receives.
struct RawPeer {
  struct Io {
    mbedtls_net_context net;
    Bytes received;
  };
  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
  Io io;
  std::vector<mbedtls_ecp_group_id> groups; // empty: the library's default list

  RawPeer() {
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    mbedtls_net_init(&io.net);
  }
  ~RawPeer() {
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_net_free(&io.net);
  }
  RawPeer(const RawPeer &) = delete;
  RawPeer &operator=(const RawPeer &) = delete;

  // Configures, sets up and runs the handshake on the connected io.net; returns its result.
  int handshake(int endpoint, Identity *identity) {
    int rc = mbedtls_ssl_config_defaults(&conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) return rc;
    mbedtls_ssl_conf_rng(
        &conf,
        [](void *, unsigned char *out, size_t n) {
          random_bytes(out, n);
          return 0;
        },
        nullptr);
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
    if (!groups.empty()) {
      groups.push_back(MBEDTLS_ECP_DP_NONE);
      mbedtls_ssl_conf_curves(&conf, groups.data());
    }
    mbedtls_ssl_conf_read_timeout(&conf, 10000); // a stuck test ends instead of hanging
    if (identity && (rc = mbedtls_ssl_conf_own_cert(&conf, identity->cert(), identity->key().pk())) != 0) return rc;
    if ((rc = mbedtls_ssl_setup(&ssl, &conf)) != 0) return rc;
    mbedtls_ssl_set_bio(
        &ssl, &io,
        [](void *p, const unsigned char *b, size_t n) { return mbedtls_net_send(&static_cast<Io *>(p)->net, b, n); },
        nullptr,
        [](void *p, unsigned char *b, size_t n, uint32_t timeout_ms) {
          auto *self = static_cast<Io *>(p);
          int got = mbedtls_net_recv_timeout(&self->net, b, n, timeout_ms);
          if (got > 0) self->received.insert(self->received.end(), b, b + got);
          return got;
        });
    do {
      rc = mbedtls_ssl_handshake(&ssl);
    } while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
    return rc;
  }
};

// A raw client: connects, handshakes offering `groups`, says close_notify.
struct RawTlsClient {
  std::vector<mbedtls_ecp_group_id> groups;
  int handshake_rc = -1;
  Bytes received;

  void run(uint16_t port) {
    RawPeer peer;
    peer.groups = groups;
    if (mbedtls_net_connect(&peer.io.net, "127.0.0.1", std::to_string(port).c_str(), MBEDTLS_NET_PROTO_TCP) == 0) {
      handshake_rc = peer.handshake(MBEDTLS_SSL_IS_CLIENT, nullptr);
      if (handshake_rc == 0) mbedtls_ssl_close_notify(&peer.ssl);
    }
    received = std::move(peer.io.received);
  }
};

// A raw server with our server identity: accepts one connection, handshakes, reads plaintext
// against the pattern until the stream ends, and remembers how it ended.
struct RawServer {
  mbedtls_net_context listen_net;
  uint16_t port = 0;
  int handshake_rc = -1;
  int end_rc = 0; // what ended the reading: MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY for an orderly close
  PatternCheck check;

  RawServer() {
    mbedtls_net_init(&listen_net);
    REQUIRE(mbedtls_net_bind(&listen_net, "127.0.0.1", "0", MBEDTLS_NET_PROTO_TCP) == 0);
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listen_net.fd, reinterpret_cast<sockaddr *>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~RawServer() { mbedtls_net_free(&listen_net); }

  void run(Identity &identity) {
    RawPeer peer;
    if (mbedtls_net_poll(&listen_net, MBEDTLS_NET_POLL_READ, 10000) <= 0) return;
    if (mbedtls_net_accept(&listen_net, &peer.io.net, nullptr, 0, nullptr) != 0) return;
    handshake_rc = peer.handshake(MBEDTLS_SSL_IS_SERVER, &identity);
    if (handshake_rc != 0) return;
    uint8_t buf[16384];
    for (;;) {
      int rc = mbedtls_ssl_read(&peer.ssl, buf, sizeof buf);
      if (rc > 0) {
        check.feed(std::span<const uint8_t>(buf, static_cast<size_t>(rc)));
        continue;
      }
      if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
      end_rc = rc;
      return;
    }
  }
};

} // namespace

TEST_CASE("TLS: small writes made regardless of high water arrive intact at another TLS stack, then close_notify",
          "[tls][backpressure]") {
  TestLoop t;
  auto cctx = make_ctx(TlsContext::Side::client, ids().client);
  // With 1 KiB of high water the socket queue is full after a few records, so most writes find
  // mbedTLS holding a record it could not send, which must be retried with the same bytes; and
  // the close_notify itself may have to wait for room.
  StreamLimits limits;
  limits.high_water_bytes = 1024;
  limits.low_water_bytes = 256;
  RawServer raw;

  uint64_t sent = 0;
  StreamPtr stream;
  Seen client;
  Stream::Handlers h;
  h.on_open = [&] {
    Bytes buf;
    for (int i = 0; i < 5000; i++) {
      buf.resize(1 + (static_cast<size_t>(i) * 7919) % 300);
      fill_pattern(buf.data(), buf.size(), sent);
      stream->write(buf);
      sent += buf.size();
    }
    stream->close();
  };
  h.on_close = [&](const Error &e) { client.close_reason = e; };
  {
    std::jthread thread([&raw] { raw.run(*ids().server); });
    stream = tls_connect(&t.loop, cctx, local(raw.port), pinned(limits), std::move(h));
    t.run();
  }

  CHECK(raw.handshake_rc == 0);
  INFO("first wrong byte at " << raw.check.first_bad);
  CHECK(raw.check.ok);
  CHECK(raw.check.received == sent);
  CHECK(raw.end_rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
  CHECK(client.close_reason.code == Errc::ok);
  stream.reset();
  t.finish();
}

namespace {

// Runs a RawTlsClient against our TLS server; returns the ECDHE group the server chose (0 if the
// handshake did not get that far).
uint16_t server_group_choice(std::vector<mbedtls_ecp_group_id> offered, int &handshake_rc) {
  TestLoop t;
  EchoServer echo(t);
  RawTlsClient raw;
  raw.groups = std::move(offered);
  uint16_t port = echo.port();
  {
    std::jthread thread([&raw, port] { raw.run(port); });
    t.run();
  }
  t.finish();
  handshake_rc = raw.handshake_rc;
  auto ske = handshake_message(handshake_payload(raw.received), 12);
  if (!ske || ske->size() < 3 || (*ske)[0] != 3) return 0; // 3: named_curve
  return be16(*ske, 1);
}

} // namespace

TEST_CASE("TLS: the server never picks P-521, even when the client prefers it", "[tls][handshake]") {
  int rc = -1;
  CHECK(server_group_choice({MBEDTLS_ECP_DP_SECP521R1, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_CURVE25519}, rc) ==
        kGroupX25519);
  CHECK(rc == 0);
  CHECK(server_group_choice({MBEDTLS_ECP_DP_SECP521R1, MBEDTLS_ECP_DP_SECP256R1}, rc) == kGroupP256);
  CHECK(rc == 0);
}
