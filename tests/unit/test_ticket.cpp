// Release tickets: signing, decoding and every refusal of ticket_verify, in its order.
#include <catch2/catch.hpp>

#include <set>

#include "lpm/ids.h"
#include "lpm/protocol/ticket.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::proto;
using lpm::test::new_key;

namespace {

// Remembers nonces in memory; counts calls so tests can see whether a check reached it.
class MemoryNonceStore : public NonceStore {
public:
  Result<bool> consume(std::span<const uint8_t> nonce, int64_t expires_ms) override {
    calls++;
    last_expires_ms = expires_ms;
    if (fail) return make_error(Errc::io_error, "disk on fire");
    return seen.insert(Bytes(nonce.begin(), nonce.end())).second;
  }
  std::set<Bytes> seen;
  int calls = 0;
  int64_t last_expires_ms = 0;
  bool fail = false;
};

// A directory key, a printer, a workstation and a clock shared by the cases.
struct TicketFixture {
  std::unique_ptr<KeyPair> directory = new_key();
  std::vector<PublicKey> trusted;
  Fingerprint printer = new_key()->fingerprint();
  std::string user = uuid_v7();
  int64_t now = 1'700'000'000'000;
  MemoryNonceStore nonces;

  TicketFixture() { trusted.push_back(directory->public_key()); }

  Ticket ticket() const {
    Ticket t;
    t.users = {user};
    t.printer = printer;
    t.workstations = {"ws-lab-1", "ws-lab-2"};
    t.issued_ms = now;
    t.expires_ms = now + kTicketLifetimeMs;
    return t;
  }

  SignedTicket sign(const Ticket &t, const KeyPair &key) {
    auto signed_ticket = ticket_sign(t, key);
    REQUIRE(signed_ticket.ok());
    return std::move(signed_ticket).value();
  }
  SignedTicket sign(const Ticket &t) { return sign(t, *directory); }

  TicketCheck check(std::string workstation = "ws-lab-2") const {
    TicketCheck c;
    c.presenting_printer = printer;
    c.workstation_id = std::move(workstation);
    c.now_ms = now + 1000;
    return c;
  }

  Result<Ticket> verify(const SignedTicket &st, const TicketCheck &c) {
    return ticket_verify(st, trusted, c, nonces);
  }
  Result<Ticket> verify(const SignedTicket &st) { return verify(st, check()); }
};

// The body as ticket_sign writes it, for bodies ticket_sign would refuse to produce.
Bytes raw_body(const Ticket &t, uint64_t version = 1) {
  MapWriter w;
  w.u64("v", version)
      .str_array("users", t.users)
      .str("printer", t.printer)
      .str_array("workstations", t.workstations)
      .i64("issued", t.issued_ms)
      .i64("expires", t.expires_ms)
      .bin("nonce", t.nonce)
      .str("signer", t.signer);
  return w.finish();
}

SignedTicket sign_raw_ticket(Bytes body, const KeyPair &key) {
  SignedTicket st;
  auto sig = key.sign(body);
  REQUIRE(sig.ok());
  st.body = std::move(body);
  st.signature = std::move(*sig);
  return st;
}

} // namespace

TEST_CASE("a valid ticket verifies and consumes its nonce", "[ticket]") {
  TicketFixture f;
  SignedTicket st = f.sign(f.ticket());
  auto t = f.verify(st);
  REQUIRE(t.ok());
  CHECK(t->users == std::vector<std::string>{f.user});
  CHECK(t->printer == f.printer);
  CHECK(t->workstations == std::vector<std::string>{"ws-lab-1", "ws-lab-2"});
  CHECK(t->issued_ms == f.now);
  CHECK(t->expires_ms == f.now + kTicketLifetimeMs);
  CHECK(t->nonce.size() == 16);
  CHECK(t->signer == f.directory->fingerprint());
  CHECK(f.nonces.calls == 1);
  CHECK(f.nonces.seen.count(t->nonce) == 1);
  CHECK(f.nonces.last_expires_ms == t->expires_ms);
}

TEST_CASE("ticket_sign fills a fresh nonce and the signer", "[ticket]") {
  TicketFixture f;
  auto a = ticket_decode(f.sign(f.ticket()).body);
  auto b = ticket_decode(f.sign(f.ticket()).body);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->nonce.size() == 16);
  CHECK(a->nonce != b->nonce);
  CHECK(a->signer == f.directory->fingerprint());

  Ticket given = f.ticket();
  given.nonce = Bytes(16, 0x5a);
  given.signer = std::string(64, '0'); // overwritten by the key's fingerprint
  auto c = ticket_decode(f.sign(given).body);
  REQUIRE(c.ok());
  CHECK(c->nonce == Bytes(16, 0x5a));
  CHECK(c->signer == f.directory->fingerprint());
}

TEST_CASE("ticket_sign refuses tickets no verifier would accept", "[ticket]") {
  TicketFixture f;
  Ticket bad_user = f.ticket();
  bad_user.users = {"alice"};
  CHECK(ticket_sign(bad_user, *f.directory).error().code == Errc::bad_request);
  Ticket bad_printer = f.ticket();
  bad_printer.printer = "printer-7";
  CHECK(ticket_sign(bad_printer, *f.directory).error().code == Errc::bad_request);
  Ticket bad_nonce = f.ticket();
  bad_nonce.nonce = Bytes(8, 1);
  CHECK(ticket_sign(bad_nonce, *f.directory).error().code == Errc::bad_request);
}

TEST_CASE("the wire form round-trips through body and sig", "[ticket]") {
  TicketFixture f;
  SignedTicket st = f.sign(f.ticket());
  Bytes wire = st.to_map().finish();
  auto handle = unpack_map(wire);
  REQUIRE(handle.ok());
  MapReader r(handle->get(), "ticket");
  SignedTicket back = SignedTicket::from_map(r);
  REQUIRE(r.ok());
  CHECK(back.body == st.body);
  CHECK(back.signature == st.signature);
  CHECK(f.verify(back).ok());

  SECTION("an oversize body is refused by the reader") {
    MapWriter big;
    big.bin("body", Bytes(8193, 0)).bin("sig", st.signature);
    Bytes enc = big.finish();
    auto h = unpack_map(enc);
    REQUIRE(h.ok());
    MapReader rr(h->get(), "ticket");
    (void)SignedTicket::from_map(rr);
    CHECK_FALSE(rr.ok());
  }
}

TEST_CASE("a ticket signed by an untrusted key is an invalid signature", "[ticket]") {
  TicketFixture f;
  auto forger = new_key();
  auto forged = f.verify(f.sign(f.ticket(), *forger));
  REQUIRE_FALSE(forged.ok());
  CHECK(forged.error().code == Errc::invalid_signature);
  CHECK(forged.error().message.find("signature") != std::string::npos);
  CHECK(f.nonces.calls == 0);

  SECTION("no trusted signers at all") {
    f.trusted.clear();
    CHECK(f.verify(f.sign(f.ticket())).error().code == Errc::invalid_signature);
  }
  SECTION("the right key among several trusted ones") {
    std::vector<PublicKey> keys;
    keys.push_back(new_key()->public_key());
    keys.push_back(forger->public_key());
    f.trusted = std::move(keys);
    CHECK(f.verify(f.sign(f.ticket(), *forger)).ok());
  }
}

TEST_CASE("a tampered ticket is an invalid signature", "[ticket]") {
  TicketFixture f;
  SignedTicket st = f.sign(f.ticket());
  for (size_t i = 0; i < st.body.size(); i += 7) {
    SignedTicket tampered = st;
    tampered.body[i] ^= 0x01;
    auto r = f.verify(tampered);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_signature);
  }
  SignedTicket bad_sig = st;
  bad_sig.signature.back() ^= 0x01;
  CHECK(f.verify(bad_sig).error().code == Errc::invalid_signature);
  CHECK(f.nonces.calls == 0);
  // The untouched ticket still works: nothing above used its nonce.
  CHECK(f.verify(st).ok());
}

TEST_CASE("an expired ticket is refused", "[ticket]") {
  TicketFixture f;
  Ticket t = f.ticket();
  t.issued_ms = f.now - 2 * kTicketLifetimeMs;
  t.expires_ms = f.now - kTicketLifetimeMs;
  auto r = f.verify(f.sign(t));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::expired);

  SECTION("at the exact expiry instant") {
    SignedTicket st = f.sign(f.ticket());
    TicketCheck c = f.check();
    c.now_ms = f.now + kTicketLifetimeMs;
    CHECK(f.verify(st, c).error().code == Errc::expired);
    c.now_ms = f.now + kTicketLifetimeMs - 1;
    CHECK(f.verify(st, c).ok());
  }
}

TEST_CASE("a ticket issued in the future is refused beyond the allowed skew", "[ticket]") {
  TicketFixture f;
  TicketCheck c = f.check();
  Ticket t = f.ticket();
  t.issued_ms = c.now_ms + kTicketMaxSkewMs + 1;
  t.expires_ms = t.issued_ms + kTicketLifetimeMs;
  auto r = f.verify(f.sign(t), c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::expired);
  CHECK(r.error().message == "ticket issued in the future (clock skew?)");
  CHECK(f.nonces.calls == 0);

  // Within the skew it is accepted.
  t.issued_ms = c.now_ms + kTicketMaxSkewMs;
  t.expires_ms = t.issued_ms + kTicketLifetimeMs;
  CHECK(f.verify(f.sign(t), c).ok());
}

TEST_CASE("a ticket with an impossible lifetime is a bad request", "[ticket]") {
  TicketFixture f;
  Ticket too_long = f.ticket();
  too_long.expires_ms = too_long.issued_ms + kTicketMaxLifetimeMs + 1;
  CHECK(f.verify(f.sign(too_long)).error().code == Errc::bad_request);
  Ticket backwards = f.ticket();
  backwards.expires_ms = backwards.issued_ms;
  CHECK(f.verify(f.sign(backwards)).error().code == Errc::bad_request);
  Ticket extreme = f.ticket();
  extreme.issued_ms = INT64_MIN;
  extreme.expires_ms = INT64_MAX;
  CHECK(f.verify(f.sign(extreme)).error().code == Errc::bad_request);
  CHECK(f.nonces.calls == 0);
}

TEST_CASE("a ticket presented by another printer is forbidden", "[ticket]") {
  TicketFixture f;
  SignedTicket st = f.sign(f.ticket());
  TicketCheck c = f.check();
  c.presenting_printer = new_key()->fingerprint();
  auto r = f.verify(st, c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::forbidden);
  CHECK(r.error().message == "ticket was issued to another printer");
}

TEST_CASE("a ticket for other workstations is forbidden", "[ticket]") {
  TicketFixture f;
  auto r = f.verify(f.sign(f.ticket()), f.check("ws-office-9"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::forbidden);
}

TEST_CASE("a replayed ticket is refused", "[ticket]") {
  TicketFixture f;
  SignedTicket st = f.sign(f.ticket());
  REQUIRE(f.verify(st).ok());
  auto again = f.verify(st);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::replayed);
  CHECK(again.error().message == "ticket already used");
  // Another workstation of the same ticket shares the nonce too.
  CHECK(f.verify(st, f.check("ws-lab-1")).error().code == Errc::replayed);
}

TEST_CASE("the nonce is not consumed when another check fails", "[ticket]") {
  TicketFixture f;
  SignedTicket st = f.sign(f.ticket());

  TicketCheck wrong_printer = f.check();
  wrong_printer.presenting_printer = new_key()->fingerprint();
  CHECK(f.verify(st, wrong_printer).error().code == Errc::forbidden);
  CHECK(f.verify(st, f.check("ws-elsewhere")).error().code == Errc::forbidden);
  TicketCheck too_late = f.check();
  too_late.now_ms = f.now + kTicketLifetimeMs;
  CHECK(f.verify(st, too_late).error().code == Errc::expired);
  CHECK(f.nonces.calls == 0);
  CHECK(f.nonces.seen.empty());

  // The ticket is still good where it is valid, exactly once.
  CHECK(f.verify(st).ok());
  CHECK(f.verify(st).error().code == Errc::replayed);
}

TEST_CASE("a nonce store failure passes through", "[ticket]") {
  TicketFixture f;
  f.nonces.fail = true;
  auto r = f.verify(f.sign(f.ticket()));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::io_error);
}

TEST_CASE("a body naming another signer than the one that signed is refused", "[ticket]") {
  TicketFixture f;
  Ticket t = f.ticket();
  t.nonce = Bytes(16, 7);
  t.signer = new_key()->fingerprint();
  auto r = f.verify(sign_raw_ticket(raw_body(t), *f.directory));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_request);
  CHECK(f.nonces.calls == 0);
}

TEST_CASE("malformed ticket bodies are bad requests", "[ticket]") {
  TicketFixture f;
  Ticket t = f.ticket();
  t.nonce = Bytes(16, 7);
  t.signer = f.directory->fingerprint();
  REQUIRE(f.verify(sign_raw_ticket(raw_body(t), *f.directory)).ok()); // the baseline is fine

  SECTION("unknown version") {
    auto r = ticket_decode(raw_body(t, 2));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_request);
    CHECK(f.verify(sign_raw_ticket(raw_body(t, 2), *f.directory)).error().code == Errc::bad_request);
  }
  SECTION("short nonce") {
    t.nonce = Bytes(15, 7);
    CHECK(ticket_decode(raw_body(t)).error().code == Errc::bad_request);
  }
  SECTION("user that is not a UUID") {
    t.users = {"bob"};
    CHECK(ticket_decode(raw_body(t)).error().code == Errc::bad_request);
  }
  SECTION("printer that is not a fingerprint") {
    t.printer = std::string(64, 'G');
    CHECK(ticket_decode(raw_body(t)).error().code == Errc::bad_request);
  }
  SECTION("too many users") {
    t.users.assign(65, f.user);
    CHECK(ticket_decode(raw_body(t)).error().code == Errc::bad_request);
  }
  SECTION("too many workstations") {
    t.workstations.assign(257, "ws");
    CHECK(ticket_decode(raw_body(t)).error().code == Errc::bad_request);
  }
  SECTION("missing field") {
    MapWriter w;
    w.u64("v", 1).str_array("users", t.users).str("printer", t.printer);
    CHECK(ticket_decode(w.finish()).error().code == Errc::bad_request);
  }
  SECTION("not msgpack") {
    Bytes junk{0xc1, 0x00};
    CHECK(ticket_decode(junk).error().code == Errc::bad_request);
  }
}
