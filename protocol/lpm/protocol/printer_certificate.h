// Release while the directory is unreachable (issue 8, DESIGN §5): the directory vouches for a
// release station's key for a few hours at a time with a printer certificate, and renews it
// while it is reachable. When it cannot be reached, the station signs release tickets itself and
// presents the certificate with them; an agent accepts such a ticket only when the certificate
// verifies with a directory key it trusts and has not expired, the certificate names the key of
// the station presenting it, and the agent heard from the directory within its window.
//
// Wire form: {"body": bin, "sig": bin}, signed like tickets (detail/signed_envelope.h):
//   {"v": 1, "printer_id": uuid, "printer": fingerprint, "key": bin (the station's public key,
//    DER), "issued": ms, "expires": ms, "signer": fingerprint}
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/msg.h"
#include "lpm/protocol/ticket.h"

namespace lpm::proto {

inline constexpr int64_t kPrinterCertificateLifetimeMs = 4 * 3600 * 1000LL;     // the directory's default
inline constexpr int64_t kPrinterCertificateMaxLifetimeMs = 24 * 3600 * 1000LL; // longer: refused
inline constexpr int64_t kPrinterCertificateMaxSkewMs = 5 * 60 * 1000;          // issued ahead of now
inline constexpr size_t kMaxPublicKeyDerBytes = 256;

struct PrinterCertificate {
  std::string printer_id; // the directory's id of the release station (UUID)
  Fingerprint printer;    // SHA-256 of `key`: the station's TLS key
  Bytes key;              // the station's public key (DER), which signs its tickets
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
  Fingerprint signer; // the directory key that signed
};

struct SignedPrinterCertificate {
  Bytes body;
  Bytes signature;

  bool empty() const { return body.empty(); }
  MapWriter to_map() const;
  // Reads {"body", "sig"} from a reader (the reader records the error).
  static SignedPrinterCertificate from_map(MapReader &reader);
};

// Signs a certificate; fills signer from the key. bad_request for a shape the decoder refuses
// (the key's fingerprint must be `printer`).
Result<SignedPrinterCertificate> printer_certificate_sign(PrinterCertificate certificate,
                                                          const KeyPair &signer);
// Decodes a body and checks its shape only (bad_request).
Result<PrinterCertificate> printer_certificate_decode(std::span<const uint8_t> body);
// Signature by one of the trusted keys (invalid_signature), shape (bad_request), lifetime and
// clock (expired: "the printer's certificate expired ...").
Result<PrinterCertificate> printer_certificate_verify(const SignedPrinterCertificate &certificate,
                                                      const std::vector<PublicKey> &trusted_signers,
                                                      int64_t now_ms);

// What an agent knows when a printer-signed ticket arrives.
struct OfflineTicketCheck {
  TicketCheck ticket;
  int64_t window_ms = 0;     // OfflineReleaseWindow; 0: printer-signed tickets are refused
  int64_t last_heard_ms = 0; // when the agent last heard from the directory (0: never)
};

// A ticket the presenting station signed itself. In this order: the agent's window (forbidden),
// the certificate (printer_certificate_verify against the directory's keys), the certificate
// names the presenting station (forbidden), then ticket_verify with the certificate's key as the
// one trusted signer (the nonce is consumed last, as there).
Result<Ticket> ticket_verify_printer_signed(const SignedTicket &ticket,
                                            const SignedPrinterCertificate &certificate,
                                            const std::vector<PublicKey> &directory_keys,
                                            const OfflineTicketCheck &check, NonceStore &nonces);

// "3 h 12 min", "45 s": a span of time as messages say it.
std::string duration_text(int64_t ms);

} // namespace lpm::proto
