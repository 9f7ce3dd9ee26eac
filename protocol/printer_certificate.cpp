#include "lpm/protocol/printer_certificate.h"

#include "detail/field_limits.h"
#include "detail/signed_envelope.h"
#include "lpm/ids.h"

namespace lpm::proto {

namespace {
using detail::kMaxFingerprintLen;
using detail::kMaxUuidLen;

constexpr uint64_t kCertificateVersion = 1;

constexpr detail::SignedKind kCertificateKind{"printer certificate", kPrinterCertificateMaxLifetimeMs,
                                              kPrinterCertificateMaxSkewMs};

Error certificate_bad(std::string message) {
  return detail::signed_bad(kCertificateKind, std::move(message));
}

// What printer_certificate_decode refuses; printer_certificate_sign checks the same.
Status check_shape(const PrinterCertificate &c) {
  if (!uuid_valid(c.printer_id)) return certificate_bad("printer_id '" + c.printer_id + "' is not a UUID");
  if (!fingerprint_valid(c.printer)) return certificate_bad("printer is not a key fingerprint");
  if (!fingerprint_valid(c.signer)) return certificate_bad("signer is not a key fingerprint");
  if (c.key.empty() || c.key.size() > kMaxPublicKeyDerBytes)
    return certificate_bad("key has an invalid length");
  auto key = PublicKey::from_der(c.key);
  if (!key.ok()) return certificate_bad("key is not a public key: " + key.error().message);
  if (key->fingerprint() != c.printer)
    return certificate_bad("key is not the one the printer fingerprint names");
  return {};
}

Bytes encode_body(const PrinterCertificate &c) {
  // The key order is part of the format: the signature covers these exact bytes.
  MapWriter w;
  w.u64("v", kCertificateVersion)
      .str("printer_id", c.printer_id)
      .str("printer", c.printer)
      .bin("key", c.key)
      .i64("issued", c.issued_ms)
      .i64("expires", c.expires_ms)
      .str("signer", c.signer);
  return w.finish();
}

} // namespace

MapWriter SignedPrinterCertificate::to_map() const {
  return detail::signed_to_map(body, signature);
}

SignedPrinterCertificate SignedPrinterCertificate::from_map(MapReader &reader) {
  SignedPrinterCertificate c;
  detail::signed_from_map(reader, c.body, c.signature);
  return c;
}

Result<SignedPrinterCertificate> printer_certificate_sign(PrinterCertificate certificate,
                                                          const KeyPair &signer) {
  certificate.signer = signer.fingerprint();
  Status shape = check_shape(certificate);
  if (!shape.ok()) return shape.error();
  if (certificate.expires_ms <= certificate.issued_ms ||
      certificate.expires_ms - certificate.issued_ms > kPrinterCertificateMaxLifetimeMs)
    return certificate_bad("lifetime must be positive and at most 24 h");
  SignedPrinterCertificate out;
  Status sealed = detail::signed_seal(encode_body(certificate), signer, out.body, out.signature);
  if (!sealed.ok()) return sealed.error();
  return out;
}

Result<PrinterCertificate> printer_certificate_decode(std::span<const uint8_t> body) {
  UnpackLimits limits;
  limits.max_depth = 1;
  limits.max_array = 0;
  limits.max_map = 16;
  limits.max_str = kMaxFingerprintLen;
  limits.max_bin = kMaxPublicKeyDerBytes;
  auto handle = detail::signed_unpack_body(kCertificateKind, body, limits);
  if (!handle.ok()) return handle.error();

  MapReader r(handle->get(), "printer certificate");
  uint64_t version = r.u64("v");
  PrinterCertificate c;
  c.printer_id = r.str("printer_id", kMaxUuidLen);
  c.printer = r.str("printer", kMaxFingerprintLen);
  c.key = r.bin("key", kMaxPublicKeyDerBytes);
  c.issued_ms = r.i64("issued");
  c.expires_ms = r.i64("expires");
  c.signer = r.str("signer", kMaxFingerprintLen);
  if (!r.ok()) return r.error();
  if (version != kCertificateVersion)
    return certificate_bad("unsupported version " + std::to_string(version));
  Status shape = check_shape(c);
  if (!shape.ok()) return shape.error();
  return c;
}

Result<PrinterCertificate> printer_certificate_verify(const SignedPrinterCertificate &certificate,
                                                      const std::vector<PublicKey> &trusted_signers,
                                                      int64_t now_ms) {
  // The signature first: nothing below parses bytes an unknown party wrote.
  auto verified_by =
      detail::signed_find_signer(kCertificateKind, certificate.body, certificate.signature, trusted_signers);
  if (!verified_by.ok()) return verified_by.error();
  auto decoded = printer_certificate_decode(certificate.body);
  if (!decoded.ok()) return decoded.error();
  Status claims = detail::signed_check_claims(kCertificateKind, decoded->signer, **verified_by,
                                              decoded->issued_ms, decoded->expires_ms, now_ms);
  if (!claims.ok()) {
    if (claims.error().code == Errc::expired && now_ms >= decoded->expires_ms)
      return make_error(Errc::expired, "the printer's certificate expired " +
                                           duration_text(now_ms - decoded->expires_ms) + " ago");
    return claims.error();
  }
  return decoded;
}

Result<Ticket> ticket_verify_printer_signed(const SignedTicket &ticket,
                                            const SignedPrinterCertificate &certificate,
                                            const std::vector<PublicKey> &directory_keys,
                                            const OfflineTicketCheck &check, NonceStore &nonces) {
  if (check.window_ms <= 0)
    return make_error(Errc::forbidden, "this workstation does not accept printer-signed tickets "
                                       "(its OfflineReleaseWindow is 0)");
  if (check.last_heard_ms <= 0)
    return make_error(Errc::forbidden, "this workstation has not heard from the directory since it "
                                       "started: it accepts no printer-signed ticket");
  int64_t silent_ms = check.ticket.now_ms - check.last_heard_ms;
  if (silent_ms > check.window_ms)
    return make_error(Errc::forbidden, "this workstation last heard from the directory " +
                                           duration_text(silent_ms) +
                                           " ago, longer than its window for printer-signed tickets (" +
                                           duration_text(check.window_ms) + ")");
  auto cert = printer_certificate_verify(certificate, directory_keys, check.ticket.now_ms);
  if (!cert.ok()) return cert.error();
  if (cert->printer != check.ticket.presenting_printer)
    return make_error(Errc::forbidden, "the printer certificate was issued to another printer");
  auto key = PublicKey::from_der(cert->key);
  if (!key.ok()) return key.error();
  std::vector<PublicKey> station_key;
  station_key.push_back(std::move(*key));
  return ticket_verify(ticket, station_key, check.ticket, nonces);
}

std::string duration_text(int64_t ms) {
  if (ms < 0) ms = 0;
  int64_t s = ms / 1000;
  if (s < 60) return std::to_string(s) + " s";
  int64_t min = s / 60;
  if (min < 60) return std::to_string(min) + " min";
  int64_t h = min / 60;
  if (h < 48) return std::to_string(h) + " h" + (min % 60 ? " " + std::to_string(min % 60) + " min" : "");
  return std::to_string(h / 24) + " days";
}

} // namespace lpm::proto
