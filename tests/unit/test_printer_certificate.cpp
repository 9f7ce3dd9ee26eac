// Issue 8: printer certificates and printer-signed tickets (release while the directory is
// unreachable). Every refusal of ticket_verify_printer_signed, in its order.
#include <catch2/catch.hpp>

#include <set>

#include "lpm/ids.h"
#include "lpm/protocol/printer_certificate.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::proto;
using lpm::test::new_key;

namespace {

class Nonces : public NonceStore {
public:
  Result<bool> consume(std::span<const uint8_t> nonce, int64_t) override {
    calls++;
    return seen.insert(Bytes(nonce.begin(), nonce.end())).second;
  }
  std::set<Bytes> seen;
  int calls = 0;
};

struct CertificateFixture {
  std::unique_ptr<KeyPair> directory = new_key();
  std::unique_ptr<KeyPair> station = new_key();
  std::vector<PublicKey> directory_keys;
  std::string printer_id = uuid_v7();
  std::string user = uuid_v7();
  int64_t now = 1'700'000'000'000;
  Nonces nonces;

  CertificateFixture() { directory_keys.push_back(directory->public_key()); }

  PrinterCertificate certificate(const KeyPair &of) const {
    PrinterCertificate c;
    c.printer_id = printer_id;
    c.printer = of.fingerprint();
    c.key = of.public_der();
    c.issued_ms = now - 60'000;
    c.expires_ms = c.issued_ms + kPrinterCertificateLifetimeMs;
    return c;
  }
  SignedPrinterCertificate certify(const PrinterCertificate &c, const KeyPair &by) {
    auto s = printer_certificate_sign(c, by);
    REQUIRE(s.ok());
    return std::move(s).value();
  }
  SignedTicket ticket(const KeyPair &by, const Fingerprint &printer) {
    Ticket t;
    t.users = {user};
    t.printer = printer;
    t.workstations = {"ws-1"};
    t.issued_ms = now;
    t.expires_ms = now + kTicketLifetimeMs;
    auto s = ticket_sign(t, by);
    REQUIRE(s.ok());
    return std::move(s).value();
  }
  OfflineTicketCheck check() const {
    OfflineTicketCheck c;
    c.ticket.presenting_printer = station->fingerprint();
    c.ticket.workstation_id = "ws-1";
    c.ticket.now_ms = now;
    c.window_ms = 8 * 3600 * 1000LL;
    c.last_heard_ms = now - 3600 * 1000LL;
    return c;
  }
};

} // namespace

TEST_CASE("issue 8: a printer certificate round-trips and verifies with the directory's key") {
  CertificateFixture f;
  auto signed_cert = f.certify(f.certificate(*f.station), *f.directory);
  auto back = printer_certificate_verify(signed_cert, f.directory_keys, f.now);
  REQUIRE(back.ok());
  CHECK(back->printer_id == f.printer_id);
  CHECK(back->printer == f.station->fingerprint());
  CHECK(back->key == f.station->public_der());
  CHECK(back->signer == f.directory->fingerprint());

  MapWriter w = signed_cert.to_map();
  Bytes packed = w.finish();
  auto handle = unpack_map(packed, UnpackLimits{});
  REQUIRE(handle.ok());
  MapReader r(handle->get(), "test");
  auto read = SignedPrinterCertificate::from_map(r);
  REQUIRE(r.ok());
  CHECK(read.body == signed_cert.body);
  CHECK(read.signature == signed_cert.signature);
}

TEST_CASE("issue 8: printer certificates the verifier must refuse") {
  CertificateFixture f;
  SECTION("signed by a key the agent does not trust") {
    auto other = new_key();
    auto r =
        printer_certificate_verify(f.certify(f.certificate(*f.station), *other), f.directory_keys, f.now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_signature);
  }
  SECTION("expired") {
    auto c = f.certificate(*f.station);
    c.issued_ms = f.now - kPrinterCertificateLifetimeMs - 1000;
    c.expires_ms = f.now - 1;
    auto r = printer_certificate_verify(f.certify(c, *f.directory), f.directory_keys, f.now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::expired);
    CHECK_THAT(r.error().message, Catch::Contains("certificate expired"));
  }
  SECTION("a key that is not the fingerprint's cannot even be signed") {
    auto c = f.certificate(*f.station);
    c.key = new_key()->public_der();
    auto r = printer_certificate_sign(c, *f.directory);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_request);
  }
  SECTION("longer than 24 hours cannot be signed") {
    auto c = f.certificate(*f.station);
    c.expires_ms = c.issued_ms + kPrinterCertificateMaxLifetimeMs + 1;
    CHECK_FALSE(printer_certificate_sign(c, *f.directory).ok());
  }
  SECTION("a flipped bit in the body") {
    auto s = f.certify(f.certificate(*f.station), *f.directory);
    s.body[s.body.size() / 2] ^= 1;
    auto r = printer_certificate_verify(s, f.directory_keys, f.now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_signature);
  }
}

TEST_CASE("issue 8: an agent accepts a ticket its station signed under a valid certificate") {
  CertificateFixture f;
  auto cert = f.certify(f.certificate(*f.station), *f.directory);
  auto ticket = f.ticket(*f.station, f.station->fingerprint());
  auto t = ticket_verify_printer_signed(ticket, cert, f.directory_keys, f.check(), f.nonces);
  REQUIRE(t.ok());
  CHECK(t->users == std::vector<std::string>{f.user});
  CHECK(t->signer == f.station->fingerprint());
  // Replayed: the nonce is spent, as for a directory's ticket.
  auto again = ticket_verify_printer_signed(ticket, cert, f.directory_keys, f.check(), f.nonces);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::replayed);
}

TEST_CASE("issue 8: printer-signed tickets an agent refuses, nonce untouched") {
  CertificateFixture f;
  auto cert = f.certify(f.certificate(*f.station), *f.directory);
  auto ticket = f.ticket(*f.station, f.station->fingerprint());
  auto check = f.check();
  Errc want = Errc::forbidden;
  std::string says;
  SECTION("the agent's window is 0 (not opted in)") {
    check.window_ms = 0;
    says = "OfflineReleaseWindow is 0";
  }
  SECTION("the agent has not heard from the directory for longer than its window") {
    check.last_heard_ms = f.now - check.window_ms - 1000;
    says = "longer than its window";
  }
  SECTION("the agent never heard from the directory") {
    check.last_heard_ms = 0;
    says = "has not heard from the directory";
  }
  SECTION("the certificate expired") {
    auto c = f.certificate(*f.station);
    c.issued_ms = f.now - 5 * 3600 * 1000LL;
    c.expires_ms = f.now - 60'000;
    cert = f.certify(c, *f.directory);
    want = Errc::expired;
    says = "certificate expired 1 min ago";
  }
  SECTION("the certificate was signed by another key (a forged one)") {
    auto other = new_key();
    cert = f.certify(f.certificate(*f.station), *other);
    want = Errc::invalid_signature;
  }
  SECTION("a stolen certificate presented by another station") {
    auto thief = new_key();
    check.ticket.presenting_printer = thief->fingerprint();
    ticket = f.ticket(*thief, thief->fingerprint());
    says = "another printer";
  }
  SECTION("a ticket signed by another key than the certified one") {
    auto other = new_key();
    ticket = f.ticket(*other, f.station->fingerprint());
    want = Errc::invalid_signature;
  }
  SECTION("a ticket for another printer") {
    ticket = f.ticket(*f.station, new_key()->fingerprint());
    says = "another printer";
  }
  auto r = ticket_verify_printer_signed(ticket, cert, f.directory_keys, check, f.nonces);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == want);
  if (!says.empty()) CHECK_THAT(r.error().message, Catch::Contains(says));
  CHECK(f.nonces.calls == 0);
}

TEST_CASE("issue 8: durations as messages say them") {
  CHECK(duration_text(45'000) == "45 s");
  CHECK(duration_text(5 * 60'000) == "5 min");
  CHECK(duration_text(3 * 3600'000LL + 12 * 60'000) == "3 h 12 min");
  CHECK(duration_text(8 * 3600'000LL) == "8 h");
  CHECK(duration_text(72 * 3600'000LL) == "3 days");
}
