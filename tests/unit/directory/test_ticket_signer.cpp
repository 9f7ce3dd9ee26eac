// The badge-in hot path's helpers: tickets signed on threads of their own (ticket_signer.h) and
// their audit rows committed in batches off the loop (audit_writer.h). DESIGN §4, badge in.
#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <thread>

#include "audit_writer.h"
#include "directory_store.h"
#include "lpm/ids.h"
#include "ticket_signer.h"
#include "transport_support.h"

namespace lpm::directory::test {
namespace {

using lpm::test::TempDir;

proto::Ticket ticket_for(int i) {
  proto::Ticket t;
  t.users = {"0190c0de-0000-7000-8000-00000000000" + std::to_string(i % 10)};
  t.printer = std::string(64, 'a');
  t.workstations = {"ws-" + std::to_string(i)};
  t.issued_ms = wall_ms();
  t.expires_ms = t.issued_ms + proto::kTicketLifetimeMs;
  return t;
}

// The r of a DER ECDSA signature (SEQUENCE { INTEGER r, INTEGER s }): two signatures with the same
// r share their secret nonce, which would give the key away.
std::string signature_r(const proto::Bytes &der) {
  REQUIRE(der.size() > 4);
  REQUIRE(der[0] == 0x30);
  REQUIRE(der[2] == 0x02);
  size_t len = der[3];
  REQUIRE(der.size() >= 4 + len);
  return std::string(der.begin() + 4, der.begin() + 4 + static_cast<long>(len));
}

void run_until(uv_loop_t *loop, const std::function<bool()> &done) {
  int64_t deadline = mono_ms() + 20000;
  while (!done() && mono_ms() < deadline)
    uv_run(loop, UV_RUN_ONCE);
  REQUIRE(done());
}

} // namespace

TEST_CASE("ticket signer: every ticket signed once, delivered on the loop thread in batches",
          "[directory][signer]") {
  unsigned threads = GENERATE(0u, 1u, 3u);
  CAPTURE(threads);
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto key = proto::KeyPair::generate();
  REQUIRE(key.ok());
  auto loop_thread = std::this_thread::get_id();
  size_t batches = 0, delivered = 0;
  {
    auto signer = TicketSigner::start(&loop, **key, threads, [&] { batches++; });
    REQUIRE(signer.ok());
    CHECK((*signer)->threads() == threads);
    std::set<std::string> nonces, rs;
    constexpr int kTickets = 24;
    for (int i = 0; i < kTickets; i++)
      (*signer)->sign(ticket_for(i), [&, i](Result<proto::SignedTicket> st) {
        CHECK(std::this_thread::get_id() == loop_thread);
        REQUIRE(st.ok());
        CHECK((*key)->public_key().verify(st->body, st->signature).ok());
        auto decoded = proto::ticket_decode(st->body);
        REQUIRE(decoded.ok());
        CHECK(decoded->workstations == std::vector<std::string>{"ws-" + std::to_string(i)});
        CHECK(decoded->signer == (*key)->fingerprint());
        nonces.insert(std::string(decoded->nonce.begin(), decoded->nonce.end()));
        rs.insert(signature_r(st->signature));
        delivered++;
      });
    // Never inside sign(). The first tickets find no reserve (nothing was asked for yet): the
    // loop signs them whole.
    CHECK(delivered == 0);
    CHECK((*signer)->pending() == kTickets);
    run_until(&loop, [&] { return delivered == kTickets; });
    CHECK(nonces.size() == static_cast<size_t>(kTickets));
    CHECK(rs.size() == static_cast<size_t>(kTickets));
    CHECK((*signer)->pending() == 0);
    CHECK(batches >= 1);
    CHECK(batches <= static_cast<size_t>(kTickets));

    if (threads > 0) {
      // The demand built a reserve of presignatures: the next tickets are finished from it, on
      // the loop, and are as good.
      int64_t deadline = mono_ms() + 20000;
      while ((*signer)->reserve() < 8 && mono_ms() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      REQUIRE((*signer)->reserve() >= 8);
      CHECK((*signer)->reserve() <= TicketSigner::kMaxReserve);
      uint64_t before = (*signer)->presigned_count();
      delivered = 0;
      for (int i = 0; i < 8; i++)
        (*signer)->sign(ticket_for(100 + i), [&, i](Result<proto::SignedTicket> st) {
          REQUIRE(st.ok());
          CHECK((*key)->public_key().verify(st->body, st->signature).ok());
          auto decoded = proto::ticket_decode(st->body);
          REQUIRE(decoded.ok());
          CHECK(decoded->workstations == std::vector<std::string>{"ws-" + std::to_string(100 + i)});
          nonces.insert(std::string(decoded->nonce.begin(), decoded->nonce.end()));
          rs.insert(signature_r(st->signature));
          delivered++;
        });
      CHECK(delivered == 0);
      run_until(&loop, [&] { return delivered == 8; });
      CHECK((*signer)->presigned_count() >= before + 8);
      CHECK(nonces.size() == static_cast<size_t>(kTickets) + 8);
      // No presignature was used twice: every signature has its own r.
      CHECK(rs.size() == static_cast<size_t>(kTickets) + 8);
    }
  }
  // The signer's handle closes on the loop: nothing is left behind.
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("ticket signer: tickets signed but not delivered when it stops are delivered then",
          "[directory][signer]") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto key = proto::KeyPair::generate();
  REQUIRE(key.ok());
  size_t ok = 0;
  {
    auto signer = TicketSigner::start(&loop, **key, 1, {});
    REQUIRE(signer.ok());
    for (int i = 0; i < 5; i++)
      (*signer)->sign(ticket_for(i), [&](Result<proto::SignedTicket> st) {
        CHECK(st.ok());
        ok++;
      });
    CHECK(ok == 0);
  } // stopped before the loop ran
  CHECK(ok == 5);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("ticket signer: more threads than allowed is refused", "[directory][signer]") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto key = proto::KeyPair::generate();
  REQUIRE(key.ok());
  auto signer = TicketSigner::start(&loop, **key, TicketSigner::kMaxThreads + 1, {});
  REQUIRE_FALSE(signer.ok());
  CHECK(signer.error().code == Errc::bad_request);
  CHECK(TicketSigner::default_threads() >= 1);
  CHECK(TicketSigner::default_threads() <= 4);
  CHECK(uv_loop_close(&loop) == 0);
}

namespace {

// A directory database, a loop, and a writer on them (the writer stops first, then the loop
// runs its handle's close).
struct WriterFixture {
  TempDir dir;
  std::string path = dir.path + "/directory.db";
  std::unique_ptr<DirectoryStore> store;
  uv_loop_t loop{};
  std::unique_ptr<AuditWriter> writer;
  WriterFixture() {
    auto opened = DirectoryStore::open(path);
    REQUIRE(opened.ok());
    store = std::move(*opened);
    uv_loop_init(&loop);
    auto started = AuditWriter::start(&loop, path);
    REQUIRE(started.ok());
    writer = std::move(*started);
  }
  ~WriterFixture() {
    writer.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
  WriterFixture(const WriterFixture &) = delete;
  WriterFixture &operator=(const WriterFixture &) = delete;
};

} // namespace

TEST_CASE("audit writer: rows are committed before their callback runs, batches from many writes",
          "[directory][audit]") {
  WriterFixture f;
  size_t done = 0;
  for (int i = 0; i < 20; i++) {
    std::vector<AuditRow> rows{AuditRow{1000 + i, "printer p", "badge-in", "row " + std::to_string(i)}};
    f.writer->write(std::move(rows), {}, [&, i](Status s) {
      REQUIRE(s.ok());
      // Visible to another connection by the time the callback runs.
      auto tail = f.store->audit_tail(100);
      REQUIRE(tail.ok());
      bool found = false;
      for (const auto &e : *tail)
        found = found || e.detail == "row " + std::to_string(i);
      CHECK(found);
      done++;
    });
  }
  run_until(&f.loop, [&] { return done == 20; });
}

TEST_CASE("audit writer: rows queued when it stops are committed and answered", "[directory][audit]") {
  WriterFixture f;
  size_t done = 0;
  for (int i = 0; i < 10; i++)
    f.writer->write({AuditRow{1, "a", "b", "late " + std::to_string(i)}}, {}, [&](Status s) {
      CHECK(s.ok());
      done++;
    });
  f.writer.reset(); // every callback ran by now
  CHECK(done == 10);
  auto tail = f.store->audit_tail(100);
  REQUIRE(tail.ok());
  size_t late = 0;
  for (const auto &e : *tail)
    if (e.detail.rfind("late ", 0) == 0) late++;
  CHECK(late == 10);
}

TEST_CASE("audit writer: a database that cannot be opened fails at start", "[directory][audit]") {
  TempDir dir;
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto writer = AuditWriter::start(&loop, dir.path + "/missing/directory.db");
  REQUIRE_FALSE(writer.ok());
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

} // namespace lpm::directory::test
