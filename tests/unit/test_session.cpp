// Session tokens: signing, decoding, every refusal of session_verify in its order, and the text
// form.
#include <catch2/catch.hpp>

#include "lpm/ids.h"
#include "lpm/protocol/session.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::proto;
using lpm::test::new_key;

namespace {

// A directory key and a clock shared by the cases.
struct SessionFixture {
  std::unique_ptr<KeyPair> directory = new_key();
  std::vector<PublicKey> trusted;
  std::string user = uuid_v7();
  std::string login = uuid_v7();
  int64_t now = 1'700'000'000'000;

  SessionFixture() { trusted.push_back(directory->public_key()); }

  Session session() const {
    Session s;
    s.user = user;
    s.email = "ada.lovelace@example.org";
    s.roles = {"prm-user", "prm-accounting"};
    s.session_id = login;
    s.issued_ms = now;
    s.expires_ms = now + kSessionLifetimeMs;
    return s;
  }

  SignedSession sign(const Session &s, const KeyPair &key) {
    auto signed_session = session_sign(s, key);
    REQUIRE(signed_session.ok());
    return std::move(signed_session).value();
  }
  SignedSession sign(const Session &s) { return sign(s, *directory); }

  Result<Session> verify(const SignedSession &ss, int64_t at_ms) {
    return session_verify(ss, trusted, at_ms);
  }
  Result<Session> verify(const SignedSession &ss) { return verify(ss, now + 1000); }
};

// The body as session_sign writes it, for bodies session_sign would refuse to produce.
Bytes raw_body(const Session &s, uint64_t version = 1) {
  MapWriter w;
  w.u64("v", version)
      .str("user", s.user)
      .str("email", s.email)
      .str_array("roles", s.roles)
      .str("sid", s.session_id)
      .i64("issued", s.issued_ms)
      .i64("expires", s.expires_ms)
      .str("signer", s.signer);
  return w.finish();
}

SignedSession sign_raw_session(Bytes body, const KeyPair &key) {
  SignedSession ss;
  auto sig = key.sign(body);
  REQUIRE(sig.ok());
  ss.body = std::move(body);
  ss.signature = std::move(*sig);
  return ss;
}

// A session as big as the caps allow.
Session largest(const SessionFixture &f) {
  Session s = f.session();
  s.email = std::string(kSessionMaxEmailBytes - 12, 'a') + "@example.org";
  s.roles.clear();
  for (size_t i = 0; i < kSessionMaxRoles; i++)
    s.roles.push_back(std::string(kSessionMaxRoleBytes, 'a' + i % 26));
  return s;
}

} // namespace

TEST_CASE("a valid session verifies with the effective roles it was issued with (RL-1)", "[session][RL-1]") {
  SessionFixture f;
  auto s = f.verify(f.sign(f.session()));
  REQUIRE(s.ok());
  CHECK(s->user == f.user);
  CHECK(s->email == "ada.lovelace@example.org");
  CHECK(s->roles == std::vector<std::string>{"prm-user", "prm-accounting"});
  CHECK(s->session_id == f.login);
  CHECK(s->issued_ms == f.now);
  CHECK(s->expires_ms == f.now + kSessionLifetimeMs);
  CHECK(s->signer == f.directory->fingerprint());

  SECTION("no roles at all") {
    Session none = f.session();
    none.roles.clear();
    auto r = f.verify(f.sign(none));
    REQUIRE(r.ok());
    CHECK(r->roles.empty());
  }
  SECTION("verifying does not consume anything: the same token verifies again") {
    SignedSession ss = f.sign(f.session());
    CHECK(f.verify(ss).ok());
    CHECK(f.verify(ss, f.now + kSessionLifetimeMs - 1).ok());
  }
}

TEST_CASE("session_sign fills the signer and refuses sessions no verifier would accept", "[session]") {
  SessionFixture f;
  Session given = f.session();
  given.signer = std::string(64, '0'); // overwritten by the key's fingerprint
  auto decoded = session_decode(f.sign(given).body);
  REQUIRE(decoded.ok());
  CHECK(decoded->signer == f.directory->fingerprint());

  auto refused = [&](Session s) {
    auto r = session_sign(std::move(s), *f.directory);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_request);
  };
  Session s = f.session();
  s.user = "ada";
  refused(s);
  s = f.session();
  s.session_id = "";
  refused(s);
  s = f.session();
  s.email = "Ada@example.org";
  refused(s);
  s = f.session();
  s.expires_ms = s.issued_ms;
  refused(s);
  s = f.session();
  s.roles.assign(kSessionMaxRoles + 1, "prm-user");
  refused(s);
}

TEST_CASE("the session wire form round-trips through body and sig", "[session]") {
  SessionFixture f;
  SignedSession ss = f.sign(f.session());
  Bytes wire = ss.to_map().finish();
  auto handle = unpack_map(wire);
  REQUIRE(handle.ok());
  MapReader r(handle->get(), "session");
  SignedSession back = SignedSession::from_map(r);
  REQUIRE(r.ok());
  CHECK(back.body == ss.body);
  CHECK(back.signature == ss.signature);
  CHECK(f.verify(back).ok());

  SECTION("an oversize body is refused by the reader") {
    MapWriter big;
    big.bin("body", Bytes(8193, 0)).bin("sig", ss.signature);
    Bytes enc = big.finish();
    auto h = unpack_map(enc);
    REQUIRE(h.ok());
    MapReader rr(h->get(), "session");
    (void)SignedSession::from_map(rr);
    CHECK_FALSE(rr.ok());
  }
}

// session_verify's checks, one case each, in the order it makes them.

TEST_CASE("session verify 1: a session signed by an untrusted key is an invalid signature", "[session]") {
  SessionFixture f;
  auto forger = new_key();
  auto forged = f.verify(f.sign(f.session(), *forger));
  REQUIRE_FALSE(forged.ok());
  CHECK(forged.error().code == Errc::invalid_signature);
  CHECK(forged.error().message == "session signature does not verify with any trusted signer key");

  SECTION("no trusted signers at all") {
    f.trusted.clear();
    CHECK(f.verify(f.sign(f.session())).error().code == Errc::invalid_signature);
  }
  SECTION("the right key among several trusted ones") {
    std::vector<PublicKey> keys;
    keys.push_back(new_key()->public_key());
    keys.push_back(forger->public_key());
    f.trusted = std::move(keys);
    CHECK(f.verify(f.sign(f.session(), *forger)).ok());
  }
  SECTION("the signature comes before everything else") {
    Session s = f.session();
    s.user = "not-a-uuid";
    s.issued_ms = f.now - 10 * kSessionMaxLifetimeMs;
    s.expires_ms = f.now - 9 * kSessionMaxLifetimeMs;
    s.signer = forger->fingerprint();
    CHECK(f.verify(sign_raw_session(raw_body(s), *forger)).error().code == Errc::invalid_signature);
  }
}

TEST_CASE("session verify 1: a tampered body or signature is an invalid signature", "[session]") {
  SessionFixture f;
  SignedSession ss = f.sign(f.session());
  for (size_t i = 0; i < ss.body.size(); i += 5) {
    SignedSession tampered = ss;
    tampered.body[i] ^= 0x01;
    auto r = f.verify(tampered);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_signature);
  }
  SignedSession bad_sig = ss;
  bad_sig.signature.back() ^= 0x01;
  CHECK(f.verify(bad_sig).error().code == Errc::invalid_signature);
  SignedSession no_sig = ss;
  no_sig.signature.clear();
  CHECK(f.verify(no_sig).error().code == Errc::invalid_signature);
  // A signature of another body by the right key does not transfer.
  Session other = f.session();
  other.roles = {"enterprise-admin"};
  SignedSession swapped = ss;
  swapped.body = f.sign(other).body;
  CHECK(f.verify(swapped).error().code == Errc::invalid_signature);
  CHECK(f.verify(ss).ok());
}

TEST_CASE("session verify 2: malformed bodies are bad requests", "[session]") {
  SessionFixture f;
  Session s = f.session();
  s.signer = f.directory->fingerprint();
  REQUIRE(f.verify(sign_raw_session(raw_body(s), *f.directory)).ok()); // the baseline is fine

  // Each malformed body is refused by session_decode, and by session_verify even when signed by
  // a trusted key.
  auto refused = [&](const Bytes &body) {
    auto decoded = session_decode(body);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == Errc::bad_request);
    auto verified = f.verify(sign_raw_session(body, *f.directory));
    REQUIRE_FALSE(verified.ok());
    CHECK(verified.error().code == Errc::bad_request);
  };
  SECTION("unknown version") {
    refused(raw_body(s, 2));
  }
  SECTION("user that is not a UUID") {
    s.user = "ada";
    refused(raw_body(s));
  }
  SECTION("session id that is not a UUID") {
    s.session_id = std::string(36, 'z');
    refused(raw_body(s));
  }
  SECTION("e-mail in upper case") {
    s.email = "Ada@example.org";
    refused(raw_body(s));
  }
  SECTION("e-mail empty, too long, or with a space") {
    s.email = "";
    refused(raw_body(s));
    s.email = std::string(kSessionMaxEmailBytes - 11, 'a') + "@example.org";
    refused(raw_body(s));
    s.email = "ada @example.org";
    refused(raw_body(s));
  }
  SECTION("too many roles") {
    s.roles.assign(kSessionMaxRoles + 1, "prm-user");
    refused(raw_body(s));
  }
  SECTION("a role name too long or empty") {
    s.roles = {std::string(kSessionMaxRoleBytes + 1, 'r')};
    refused(raw_body(s));
    s.roles = {""};
    refused(raw_body(s));
  }
  SECTION("expires not after issued") {
    s.expires_ms = s.issued_ms;
    refused(raw_body(s));
    s.expires_ms = s.issued_ms - 1;
    refused(raw_body(s));
  }
  SECTION("signer that is not a fingerprint") {
    s.signer = std::string(64, 'G');
    refused(raw_body(s));
  }
  SECTION("missing field") {
    MapWriter w;
    w.u64("v", 1).str("user", s.user).str("email", s.email);
    refused(w.finish());
  }
  SECTION("a field of the wrong type") {
    MapWriter w;
    w.u64("v", 1).str("user", s.user).str("email", s.email).str("roles", "prm-user").str("sid", s.session_id);
    w.i64("issued", s.issued_ms).i64("expires", s.expires_ms).str("signer", s.signer);
    refused(w.finish());
  }
  SECTION("a binary field, which the body never holds") {
    MapWriter w;
    w.u64("v", 1).bin("user", Bytes(36, 'a'));
    refused(w.finish());
  }
  SECTION("not msgpack") {
    refused(Bytes{0xc1, 0x00});
  }
  SECTION("a body over the cap") {
    CHECK(session_decode(Bytes(8193, 0x80)).error().code == Errc::bad_request);
  }
}

TEST_CASE("session verify 3: a body naming another signer than the one that signed is refused", "[session]") {
  SessionFixture f;
  Session s = f.session();
  s.signer = new_key()->fingerprint();
  auto r = f.verify(sign_raw_session(raw_body(s), *f.directory));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_request);
  CHECK(r.error().message.find("names signer") != std::string::npos);
}

TEST_CASE("session verify 4: a lifetime longer than allowed is a bad request", "[session]") {
  SessionFixture f;
  Session longest = f.session();
  longest.expires_ms = longest.issued_ms + kSessionMaxLifetimeMs;
  CHECK(f.verify(f.sign(longest)).ok());

  Session too_long = f.session();
  too_long.expires_ms = too_long.issued_ms + kSessionMaxLifetimeMs + 1;
  auto r = f.verify(f.sign(too_long));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_request);
  CHECK(r.error().message == "session: lifetime is invalid or longer than allowed");

  Session negative = f.session();
  negative.issued_ms = -1;
  negative.expires_ms = 1000;
  CHECK(f.verify(f.sign(negative)).error().code == Errc::bad_request);
  Session extreme = f.session();
  extreme.issued_ms = INT64_MIN;
  extreme.expires_ms = INT64_MAX;
  CHECK(f.verify(f.sign(extreme)).error().code == Errc::bad_request);

  SECTION("checked before the clock: a too long session that has also expired") {
    CHECK(f.verify(f.sign(too_long), too_long.expires_ms + 1).error().code == Errc::bad_request);
  }
}

TEST_CASE("session verify 5: a session issued in the future is refused beyond the allowed skew",
          "[session]") {
  SessionFixture f;
  int64_t at = f.now;
  Session s = f.session();
  s.issued_ms = at + kSessionMaxSkewMs + 1;
  s.expires_ms = s.issued_ms + kSessionLifetimeMs;
  auto r = f.verify(f.sign(s), at);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::expired);
  CHECK(r.error().message == "session issued in the future (clock skew?)");

  // Within the skew it is accepted.
  s.issued_ms = at + kSessionMaxSkewMs;
  s.expires_ms = s.issued_ms + kSessionLifetimeMs;
  CHECK(f.verify(f.sign(s), at).ok());
}

TEST_CASE("session verify 6: an expired session is refused", "[session]") {
  SessionFixture f;
  Session old = f.session();
  old.issued_ms = f.now - 2 * kSessionLifetimeMs;
  old.expires_ms = f.now - kSessionLifetimeMs;
  auto r = f.verify(f.sign(old));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::expired);
  CHECK(r.error().message == "session has expired");

  SECTION("at the exact expiry instant") {
    SignedSession ss = f.sign(f.session());
    CHECK(f.verify(ss, f.now + kSessionLifetimeMs).error().code == Errc::expired);
    CHECK(f.verify(ss, f.now + kSessionLifetimeMs - 1).ok());
  }
}

TEST_CASE("a session at every cap signs, verifies and fits the text form", "[session]") {
  SessionFixture f;
  Session big = largest(f);
  REQUIRE(big.email.size() == kSessionMaxEmailBytes);
  SignedSession ss = f.sign(big);
  auto verified = f.verify(ss);
  REQUIRE(verified.ok());
  CHECK(verified->roles == big.roles);
  CHECK(verified->email == big.email);

  std::string text = session_to_text(ss);
  CHECK(text.size() <= kSessionMaxTextBytes);
  auto back = session_from_text(text);
  REQUIRE(back.ok());
  CHECK(f.verify(*back).ok());
}

TEST_CASE("the session text form round-trips", "[session]") {
  SessionFixture f;
  SignedSession ss = f.sign(f.session());
  std::string text = session_to_text(ss);
  CHECK(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
  auto back = session_from_text(text);
  REQUIRE(back.ok());
  CHECK(back->body == ss.body);
  CHECK(back->signature == ss.signature);
  CHECK(session_to_text(*back) == text);
  auto s = f.verify(*back);
  REQUIRE(s.ok());
  CHECK(s->user == f.user);

  SECTION("every length of the last group decodes") {
    // A signature's DER length varies, and so does the text's length modulo 4; force each case.
    for (size_t extra = 0; extra < 3; extra++) {
      SignedSession padded = ss;
      padded.signature.resize(ss.signature.size() + extra, 0x42);
      auto again = session_from_text(session_to_text(padded));
      REQUIRE(again.ok());
      CHECK(again->signature == padded.signature);
      CHECK(again->body == padded.body);
    }
  }
}

TEST_CASE("malformed session text is refused", "[session]") {
  SessionFixture f;
  std::string text = session_to_text(f.sign(f.session()));
  auto refused = [](std::string_view t, Errc code = Errc::bad_request) {
    auto r = session_from_text(t);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == code);
  };

  SECTION("empty") {
    refused("");
  }
  SECTION("over 8 KiB is too large") {
    refused(std::string(kSessionMaxTextBytes + 1, 'A'), Errc::too_large);
    refused(text + std::string(kSessionMaxTextBytes, 'A'), Errc::too_large);
  }
  SECTION("white space, a line end, or padding") {
    refused(text + "\n");
    refused(" " + text);
    refused(text.substr(0, 10) + " " + text.substr(10));
    refused(text + "==");
  }
  SECTION("the standard base64 alphabet") {
    refused("+" + text.substr(1));
    refused("/" + text.substr(1));
  }
  SECTION("an impossible length") {
    refused("AAAAA");
    refused(text + std::string((4 + 1 - text.size() % 4) % 4, 'A'));
  }
  SECTION("bits set below the last byte") {
    // "gB" is 12 bits: the byte 0x80, then four bits that must be zero ("gA" is the same byte).
    auto r = session_from_text("gB");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_request);
    CHECK(r.error().message.find("byte boundary") != std::string::npos);
  }
  SECTION("truncated") {
    refused(text.substr(0, text.size() - 3));
  }
  SECTION("base64url of something other than the {body, sig} map") {
    // Written by hand; the first decodes, so the others are refused for what they hold.
    auto minimal = session_from_text("gqRib2R5xAJhYqNzaWfEATA"); // {"body": "ab" bin, "sig": "0" bin}
    REQUIRE(minimal.ok());
    CHECK(minimal->body == Bytes{'a', 'b'});
    CHECK(f.verify(*minimal).error().code == Errc::invalid_signature);

    refused("kwECAw");                      // [1, 2, 3]
    refused("gA");                          // {}
    refused("gaRib2R5xAJhYg");              // {"body"}: no sig
    refused("gqRib2R5omFio3NpZ8QBMA");      // body as a string
    refused("g6Rib2R5xAJhYqNzaWfEATCheAE"); // a third key
    refused("gqRib2R5xAJhYqNzaWfEATDA");    // a byte after the map
  }
}
