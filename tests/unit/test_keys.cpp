// Keys, signatures, fingerprints and on-disk identities (ECDSA P-256 on mbedTLS).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <sys/stat.h>
#include <thread>

#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509.h>

#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/presign_reserve.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::proto;
using lpm::test::new_key;
using lpm::test::TempDir;

namespace {

Bytes text_bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

mode_t file_mode(const std::string &path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

int test_rng(void *, unsigned char *out, size_t len) {
  random_bytes(out, len);
  return 0;
}

} // namespace

TEST_CASE("sha256 matches the FIPS 180-2 vector, in one go and incrementally", "[keys]") {
  Bytes abc = text_bytes("abc");
  CHECK(to_hex(sha256(abc)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.update(std::span<const uint8_t>(abc).first(1));
  h.update(std::span<const uint8_t>(abc).subspan(1));
  CHECK(h.finish() == sha256(abc));
  CHECK(to_hex(sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("a generated key signs and its public key verifies", "[keys]") {
  auto key = new_key();
  Bytes message = text_bytes("release job 42 to printer 7");
  auto sig = key->sign(message);
  REQUIRE(sig.ok());
  CHECK(sig->size() <= 72); // DER ECDSA P-256

  PublicKey pub = key->public_key();
  CHECK(pub.verify(message, *sig).ok());
  CHECK(pub.fingerprint() == key->fingerprint());
  CHECK(pub.der() == key->public_der());

  auto parsed = PublicKey::from_der(key->public_der());
  REQUIRE(parsed.ok());
  CHECK(parsed->verify(message, *sig).ok());
  CHECK(parsed->fingerprint() == key->fingerprint());

  // Copies and moves keep a working key.
  PublicKey copy(pub);
  CHECK(copy.verify(message, *sig).ok());
  PublicKey moved(std::move(copy));
  CHECK(moved.verify(message, *sig).ok());
  PublicKey assigned = new_key()->public_key();
  assigned = std::move(moved);
  CHECK(assigned.verify(message, *sig).ok());
  CHECK(assigned.fingerprint() == key->fingerprint());
}

TEST_CASE("a signature finished from a presignature is an ordinary ECDSA-SHA256 signature", "[keys][presign]") {
  auto key = new_key();
  PublicKey pub = key->public_key();
  // Checked with mbedTLS's own verifier (PublicKey::verify -> mbedtls_pk_verify), over many
  // signatures of distinct messages, each from its own presignature.
  std::set<Bytes> signatures;
  for (int i = 0; i < 64; i++) {
    Bytes message = text_bytes("ticket body " + std::to_string(i));
    auto pre = key->presign();
    REQUIRE(pre.ok());
    CHECK(pre->key_fingerprint() == key->fingerprint());
    auto sig = key->sign(message, std::move(*pre));
    REQUIRE(sig.ok());
    CHECK(sig->size() <= 72);
    CHECK(pub.verify(message, *sig).ok());
    // Another message does not verify with it.
    CHECK_FALSE(pub.verify(text_bytes("ticket body x" + std::to_string(i)), *sig).ok());
    signatures.insert(*sig);
  }
  CHECK(signatures.size() == 64);

  // The same message twice: two presignatures, two different signatures (fresh nonces), both good.
  Bytes message = text_bytes("same body");
  auto a = key->presign(), b = key->presign();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto sa = key->sign(message, std::move(*a)), sb = key->sign(message, std::move(*b));
  REQUIRE(sa.ok());
  REQUIRE(sb.ok());
  CHECK(*sa != *sb);
  CHECK(pub.verify(message, *sa).ok());
  CHECK(pub.verify(message, *sb).ok());
}

TEST_CASE("a presignature is made on one copy of a key and finishes on another", "[keys][presign]") {
  auto key = new_key();
  auto copy = KeyPair::from_pem(key->private_pem());
  REQUIRE(copy.ok());
  auto pre = (*copy)->presign();
  REQUIRE(pre.ok());
  Bytes message = text_bytes("made on a worker, finished on the loop");
  auto sig = key->sign(message, std::move(*pre));
  REQUIRE(sig.ok());
  CHECK(key->public_key().verify(message, *sig).ok());
}

TEST_CASE("a presignature is used once and only for its own key", "[keys][presign]") {
  auto key = new_key();
  auto other = new_key();
  Bytes message = text_bytes("m");
  auto pre = other->presign();
  REQUIRE(pre.ok());
  auto wrong = key->sign(message, std::move(*pre));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == Errc::bad_request);
  // It was consumed by the refusal: nothing is left in the moved-from object to sign with.
  auto again = other->sign(message, std::move(*pre));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::bad_request);

  auto good = key->presign();
  REQUIRE(good.ok());
  Presignature kept = std::move(*good);
  REQUIRE(key->sign(message, std::move(kept)).ok());
  auto reused = key->sign(message, std::move(kept));
  REQUIRE_FALSE(reused.ok());
  CHECK(reused.error().message.find("used already") != std::string::npos);
}

TEST_CASE("a presignature reserve fills to its start target, grows with use and signs with or without one",
          "[keys][presign]") {
  auto key = new_key();
  PublicKey pub = key->public_key();
  Bytes message = text_bytes("outcome of job 42");
  PresignReserve::Options options;
  options.threads = 1;
  options.initial = 3;
  options.grow_per_take = 1;
  options.max = 5;
  auto reserve = PresignReserve::start(*key, options);
  REQUIRE(reserve.ok());
  CHECK((*reserve)->threads() == 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((*reserve)->ready() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE((*reserve)->ready() == 3);
  // Never more than the target: nothing was taken, so it stays at 3.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK((*reserve)->ready() == 3);

  // Each take hands one over and raises the target by one (3 -> 4 -> 5, then the maximum).
  std::set<Bytes> signatures;
  for (int i = 0; i < 3; i++) {
    auto sig = sign_from_reserve(*key, reserve->get(), message);
    REQUIRE(sig.ok());
    REQUIRE(pub.verify(message, *sig).ok());
    signatures.insert(*sig);
  }
  CHECK(signatures.size() == 3); // a fresh nonce each time
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((*reserve)->ready() < 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  CHECK((*reserve)->ready() == 5);

  // A reserve of another key's presignatures cannot sign for this one: refused, never a wrong signature.
  auto other = new_key();
  auto foreign = PresignReserve::start(*other, options);
  REQUIRE(foreign.ok());
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((*foreign)->ready() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto refused = sign_from_reserve(*key, foreign->get(), message);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::bad_request);

  // No reserve, or one without threads: signed whole.
  auto whole = sign_from_reserve(*key, nullptr, message);
  REQUIRE(whole.ok());
  CHECK(pub.verify(message, *whole).ok());
  options.threads = 0;
  auto idle = PresignReserve::start(*key, options);
  REQUIRE(idle.ok());
  CHECK((*idle)->ready() == 0);
  auto from_idle = sign_from_reserve(*key, idle->get(), message);
  REQUIRE(from_idle.ok());
  CHECK(pub.verify(message, *from_idle).ok());

  options.threads = PresignReserve::kMaxThreads + 1;
  auto too_many = PresignReserve::start(*key, options);
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.error().code == Errc::bad_request);
  // Destroyed with presignatures left: the workers are joined (ASan/TSan would see a leak or a race).
}

TEST_CASE("verification fails on any flipped byte of the message or the signature", "[keys]") {
  auto key = new_key();
  PublicKey pub = key->public_key();
  Bytes message = text_bytes("badge 0451");
  auto sig = key->sign(message);
  REQUIRE(sig.ok());
  REQUIRE(pub.verify(message, *sig).ok());

  for (size_t i = 0; i < message.size(); i++) {
    Bytes m = message;
    m[i] ^= 0x01;
    Status s = pub.verify(m, *sig);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Errc::invalid_signature);
  }
  for (size_t i = 0; i < sig->size(); i++) {
    Bytes s2 = *sig;
    s2[i] ^= 0x01;
    Status s = pub.verify(message, s2);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Errc::invalid_signature);
  }
  SECTION("truncated, extended and empty signatures") {
    Bytes shorter(sig->begin(), sig->end() - 1);
    CHECK(pub.verify(message, shorter).error().code == Errc::invalid_signature);
    Bytes longer = *sig;
    longer.push_back(0);
    CHECK(pub.verify(message, longer).error().code == Errc::invalid_signature);
    CHECK(pub.verify(message, {}).error().code == Errc::invalid_signature);
  }
  SECTION("another key's signature") {
    auto other = new_key();
    auto other_sig = other->sign(message);
    REQUIRE(other_sig.ok());
    CHECK(pub.verify(message, *other_sig).error().code == Errc::invalid_signature);
  }
}

namespace {

// What mbedTLS alone says of (message, signature): the reference PublicKey::verify must agree
// with (it verifies from a table of the key's multiples, protocol/verify_table.h).
bool mbedtls_says_valid(const KeyPair &key, const Bytes &message, const Bytes &signature) {
  Bytes hash = sha256(message);
  return mbedtls_pk_verify(key.pk(), MBEDTLS_MD_SHA256, hash.data(), hash.size(), signature.data(),
                           signature.size()) == 0;
}

// DER ECDSA-Sig-Value {r, s} from two big-endian numbers.
Bytes der_signature(const Bytes &r, const Bytes &s) {
  mbedtls_mpi mr, ms;
  mbedtls_mpi_init(&mr);
  mbedtls_mpi_init(&ms);
  REQUIRE(mbedtls_mpi_read_binary(&mr, r.data(), r.size()) == 0);
  REQUIRE(mbedtls_mpi_read_binary(&ms, s.data(), s.size()) == 0);
  unsigned char buf[128];
  unsigned char *p = buf + sizeof buf;
  size_t len = 0;
  len += mbedtls_asn1_write_mpi(&p, buf, &ms);
  len += mbedtls_asn1_write_mpi(&p, buf, &mr);
  len += mbedtls_asn1_write_len(&p, buf, len);
  len += mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  mbedtls_mpi_free(&mr);
  mbedtls_mpi_free(&ms);
  return Bytes(p, p + len);
}

Bytes curve_order() {
  mbedtls_ecp_group grp;
  mbedtls_ecp_group_init(&grp);
  REQUIRE(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0);
  Bytes n(32);
  REQUIRE(mbedtls_mpi_write_binary(&grp.N, n.data(), n.size()) == 0);
  mbedtls_ecp_group_free(&grp);
  return n;
}

} // namespace

TEST_CASE("verification from the key's table agrees with mbedTLS on valid, altered and odd signatures",
          "[keys][verify]") {
  auto key = new_key();
  PublicKey pub = key->public_key();
  auto other = new_key();
  for (int round = 0; round < 40; round++) {
    Bytes message(1 + round * 7);
    random_bytes(message.data(), message.size());
    auto sig = key->sign(message);
    REQUIRE(sig.ok());
    CHECK(pub.verify(message, *sig).ok());
    REQUIRE(mbedtls_says_valid(*key, message, *sig));
    // Every single-bit change of the signature: the same verdict as mbedTLS's.
    Bytes altered = *sig;
    size_t bit = static_cast<size_t>(round * 13) % (altered.size() * 8);
    altered[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    CHECK(pub.verify(message, altered).ok() == mbedtls_says_valid(*key, message, altered));
    auto foreign = other->sign(message);
    REQUIRE(foreign.ok());
    CHECK_FALSE(pub.verify(message, *foreign).ok());
  }
  SECTION("r or s out of [1, n-1]") {
    Bytes message = text_bytes("ticket");
    Bytes n = curve_order();
    Bytes zero(1, 0), one(1, 1);
    for (const auto &[r, s] : std::vector<std::pair<Bytes, Bytes>>{{zero, one}, {one, zero}, {n, one}, {one, n}}) {
      Bytes sig = der_signature(r, s);
      CHECK(pub.verify(message, sig).error().code == Errc::invalid_signature);
      CHECK_FALSE(mbedtls_says_valid(*key, message, sig));
    }
  }
  SECTION("a copy and a moved key verify alike") {
    Bytes message = text_bytes("outcome");
    auto sig = key->sign(message);
    REQUIRE(sig.ok());
    PublicKey copy = pub;
    CHECK(copy.verify(message, *sig).ok());
    PublicKey moved = std::move(copy);
    CHECK(moved.verify(message, *sig).ok());
  }
}

TEST_CASE("one public key verifies on several threads at once, its table built by the first", "[keys][verify]") {
  auto key = new_key();
  PublicKey pub = key->public_key();
  Bytes message = text_bytes("release ticket");
  auto sig = key->sign(message);
  REQUIRE(sig.ok());
  Bytes bad = *sig;
  bad[bad.size() - 1] ^= 0x01;
  std::atomic<int> valid{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; i++) {
        if (pub.verify(message, *sig).ok()) valid++;
        if (!pub.verify(message, bad).ok()) refused++;
      }
    });
  for (auto &t : threads)
    t.join();
  CHECK(valid == 40);
  CHECK(refused == 40);
}

TEST_CASE("a private key survives a PEM round trip", "[keys]") {
  auto key = new_key();
  std::string pem = key->private_pem();
  CHECK(pem.find("-----BEGIN EC PRIVATE KEY-----") == 0);
  auto again = KeyPair::from_pem(pem);
  REQUIRE(again.ok());
  CHECK((*again)->fingerprint() == key->fingerprint());
  Bytes message = text_bytes("hello");
  auto sig = (*again)->sign(message);
  REQUIRE(sig.ok());
  CHECK(key->public_key().verify(message, *sig).ok());

  auto garbage = KeyPair::from_pem("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.error().code == Errc::bad_request);
}

TEST_CASE("public keys other than canonical P-256 DER are refused", "[keys]") {
  SECTION("garbage") {
    auto r = PublicKey::from_der(text_bytes("not a key at all"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_request);
  }
  SECTION("empty") {
    CHECK(PublicKey::from_der({}).error().code == Errc::bad_request);
  }
  SECTION("trailing bytes") {
    Bytes der = new_key()->public_der();
    der.push_back(0);
    auto r = PublicKey::from_der(der);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_request);
  }
  SECTION("a P-384 key") {
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    REQUIRE(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0);
    REQUIRE(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP384R1, mbedtls_pk_ec(pk), test_rng, nullptr) == 0);
    unsigned char buf[512];
    int n = mbedtls_pk_write_pubkey_der(&pk, buf, sizeof buf);
    REQUIRE(n > 0);
    Bytes der(buf + sizeof buf - static_cast<size_t>(n), buf + sizeof buf);
    mbedtls_pk_free(&pk);
    auto r = PublicKey::from_der(der);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_request);
    CHECK(r.error().message.find("P-256") != std::string::npos);
  }
}

TEST_CASE("fingerprint_valid accepts exactly 64 lower-case hex digits", "[keys]") {
  CHECK(fingerprint_valid(new_key()->fingerprint()));
  CHECK(fingerprint_valid(std::string(64, 'a')));
  CHECK_FALSE(fingerprint_valid(std::string(63, 'a')));
  CHECK_FALSE(fingerprint_valid(std::string(65, 'a')));
  CHECK_FALSE(fingerprint_valid(std::string(64, 'A')));
  CHECK_FALSE(fingerprint_valid(std::string(64, 'g')));
  CHECK_FALSE(fingerprint_valid(""));
}

TEST_CASE("an identity keeps its fingerprint across save and load", "[keys][identity]") {
  TempDir tmp;
  std::string dir = tmp.path + "/state/tls"; // created by Identity::create
  auto created = Identity::create(dir, "agent", "agent.example");
  REQUIRE(created.ok());
  const Fingerprint fp = (*created)->fingerprint();
  CHECK(fp.size() == 64);
  CHECK(fingerprint_valid(fp));
  CHECK(fp == fingerprint_of_der((*created)->key().public_der()));
  CHECK(fp == to_hex(sha256((*created)->key().public_der())));
  CHECK(fingerprint_of_cert((*created)->cert()) == fp);

  auto loaded = Identity::load(dir, "agent");
  REQUIRE(loaded.ok());
  CHECK((*loaded)->fingerprint() == fp);
  CHECK(fingerprint_of_cert((*loaded)->cert()) == fp);

  // The certificate says who it is, is self-issued and is X.509 v3.
  char name[256];
  REQUIRE(mbedtls_x509_dn_gets(name, sizeof name, &(*loaded)->cert()->subject) > 0);
  CHECK(std::string(name) == "CN=agent.example");
  REQUIRE(mbedtls_x509_dn_gets(name, sizeof name, &(*loaded)->cert()->issuer) > 0);
  CHECK(std::string(name) == "CN=agent.example");
  CHECK((*loaded)->cert()->version == 3);
  CHECK(((*loaded)->cert()->serial.p[0] & 0x80) == 0);
  CHECK(mbedtls_x509_time_is_past(&(*loaded)->cert()->valid_from) == 1);
  CHECK(mbedtls_x509_time_is_future(&(*loaded)->cert()->valid_to) == 1);
  CHECK((*loaded)->cert()->valid_to.year >= (*loaded)->cert()->valid_from.year + 20);

  // What was signed with the loaded key verifies with the created one.
  Bytes message = text_bytes("ping");
  auto sig = (*loaded)->key().sign(message);
  REQUIRE(sig.ok());
  CHECK((*created)->key().public_key().verify(message, *sig).ok());

  auto again = Identity::load_or_create(dir, "agent", "ignored");
  REQUIRE(again.ok());
  CHECK((*again)->fingerprint() == fp);
}

TEST_CASE("the identity key file is private and the certificate is readable", "[keys][identity]") {
  TempDir tmp;
  auto created = Identity::create(tmp.path, "printer", "printer-1");
  REQUIRE(created.ok());
  CHECK(file_mode(tmp.path + "/printer.key") == 0600);
  CHECK(file_mode(tmp.path + "/printer.crt") == 0644);
}

TEST_CASE("creating over an existing identity is a conflict", "[keys][identity]") {
  TempDir tmp;
  auto first = Identity::create(tmp.path, "dir", "directory");
  REQUIRE(first.ok());
  auto second = Identity::create(tmp.path, "dir", "directory");
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == Errc::conflict);
  // The first identity is untouched.
  auto loaded = Identity::load(tmp.path, "dir");
  REQUIRE(loaded.ok());
  CHECK((*loaded)->fingerprint() == (*first)->fingerprint());
}

TEST_CASE("a missing identity file is not_found and named", "[keys][identity]") {
  TempDir tmp;
  auto none = Identity::load(tmp.path, "agent");
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == Errc::not_found);
  CHECK(none.error().message.find(tmp.path + "/agent.key") != std::string::npos);

  REQUIRE(Identity::create(tmp.path, "agent", "agent").ok());
  std::filesystem::remove(tmp.path + "/agent.crt");
  auto no_cert = Identity::load(tmp.path, "agent");
  REQUIRE_FALSE(no_cert.ok());
  CHECK(no_cert.error().code == Errc::not_found);
  CHECK(no_cert.error().message.find(tmp.path + "/agent.crt") != std::string::npos);
}

TEST_CASE("loading a certificate that does not match the key fails", "[keys][identity]") {
  TempDir tmp;
  REQUIRE(Identity::create(tmp.path, "a", "a").ok());
  REQUIRE(Identity::create(tmp.path, "b", "b").ok());
  auto b_cert = read_file(tmp.path + "/b.crt", 65536);
  REQUIRE(b_cert.ok());
  REQUIRE(write_file_atomic(tmp.path + "/a.crt", *b_cert, 0644).ok());
  auto mixed = Identity::load(tmp.path, "a");
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.error().code == Errc::bad_request);
  CHECK(mixed.error().message.find("is not for the key") != std::string::npos);
}

TEST_CASE("a corrupt certificate file is refused", "[keys][identity]") {
  TempDir tmp;
  REQUIRE(Identity::create(tmp.path, "a", "a").ok());
  REQUIRE(write_file_atomic(tmp.path + "/a.crt", std::string("not a certificate\n"), 0644).ok());
  auto r = Identity::load(tmp.path, "a");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_request);
}

TEST_CASE("a common name with a comma is kept whole", "[keys][identity]") {
  TempDir tmp;
  auto created = Identity::create(tmp.path, "x", "Print room, 2nd floor");
  REQUIRE(created.ok());
  // The stored value holds the comma as is (mbedtls_x509_dn_gets would print it escaped).
  const mbedtls_x509_buf &cn = (*created)->cert()->subject.val;
  CHECK(std::string(reinterpret_cast<const char *>(cn.p), cn.len) == "Print room, 2nd floor");
  CHECK((*created)->cert()->subject.next == nullptr);

  CHECK(Identity::create(tmp.path, "y", "").error().code == Errc::bad_request);
  CHECK(Identity::create(tmp.path, "z", "a\\b").error().code == Errc::bad_request);
  CHECK(Identity::create(tmp.path, "../evil", "a").error().code == Errc::bad_request);
}

TEST_CASE("an identity made from PEM texts is the one the same files load", "[keys][identity]") {
  auto key = new_key();
  auto cert_pem = self_signed_certificate_pem(*key, "bench-ws-1");
  REQUIRE(cert_pem.ok());
  auto from_text = Identity::from_pem(key->private_pem(), *cert_pem);
  REQUIRE(from_text.ok());
  CHECK((*from_text)->fingerprint() == key->fingerprint());
  CHECK(fingerprint_of_cert((*from_text)->cert()) == key->fingerprint());
  char name[256];
  REQUIRE(mbedtls_x509_dn_gets(name, sizeof name, &(*from_text)->cert()->subject) > 0);
  CHECK(std::string(name) == "CN=bench-ws-1");

  TempDir tmp;
  REQUIRE(write_file_atomic(tmp.path + "/ws.key", key->private_pem(), 0600).ok());
  REQUIRE(write_file_atomic(tmp.path + "/ws.crt", *cert_pem, 0644).ok());
  auto loaded = Identity::load(tmp.path, "ws");
  REQUIRE(loaded.ok());
  CHECK((*loaded)->fingerprint() == (*from_text)->fingerprint());
}

TEST_CASE("an identity from PEM texts refuses a certificate of another key, or no key", "[keys][identity]") {
  auto key = new_key();
  auto other = new_key();
  auto other_cert = self_signed_certificate_pem(*other, "other");
  REQUIRE(other_cert.ok());
  auto mixed = Identity::from_pem(key->private_pem(), *other_cert);
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.error().code == Errc::bad_request);
  CHECK(mixed.error().message.find("is not for the key") != std::string::npos);

  auto no_key = Identity::from_pem("not a key", *other_cert);
  REQUIRE_FALSE(no_key.ok());
  CHECK(no_key.error().code == Errc::bad_request);
  auto no_cert = Identity::from_pem(key->private_pem(), "not a certificate");
  REQUIRE_FALSE(no_cert.ok());
  CHECK(no_cert.error().code == Errc::bad_request);
  CHECK(self_signed_certificate_pem(*key, "").error().code == Errc::bad_request);
}
