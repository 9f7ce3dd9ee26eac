// Release tickets (DESIGN §5): short-lived, signed by the directory, naming the users whose jobs
// may be released, the printer key that may present it, and the workstations it opens.
//
// Wire form: {"body": bin, "sig": bin}. `body` is the msgpack map below, signed as bytes, so the
// verifier checks the exact bytes the signer produced:
//   {"v": 1, "users": [uuid], "printer": fingerprint, "workstations": [id], "issued": ms,
//    "expires": ms, "nonce": bin(16), "signer": fingerprint}
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/msg.h"

namespace lpm::proto {

inline constexpr int64_t kTicketLifetimeMs = 60 * 1000;  // issued -> expires
inline constexpr int64_t kTicketMaxSkewMs = 30 * 1000;   // issued may be this far in the future
inline constexpr int64_t kTicketMaxLifetimeMs = 10 * 60 * 1000; // longer tickets are refused
inline constexpr size_t kMaxTicketUsers = 64; // users one ticket may name (a badge's user and delegators)
inline constexpr size_t kMaxTicketWorkstations = 256; // workstations one ticket may open

struct Ticket {
  std::vector<std::string> users;        // directory user UUIDs
  Fingerprint printer;                   // the release station's TLS key
  std::vector<std::string> workstations; // workstation ids the ticket opens
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
  Bytes nonce;                           // 16 random bytes
  Fingerprint signer;                    // the signing key
};

struct SignedTicket {
  Bytes body;
  Bytes signature;

  MapWriter to_map() const;
  // Reads {"body", "sig"} from a reader (the reader records the error).
  static SignedTicket from_map(MapReader &reader);
};

// Signs a ticket; fills nonce (when empty) and signer from the key.
Result<SignedTicket> ticket_sign(Ticket ticket, const KeyPair &signer);
// The same, finished from a presignature of `signer` (keys.h), which it consumes.
Result<SignedTicket> ticket_sign(Ticket ticket, const KeyPair &signer, Presignature presignature);

// Decodes a ticket body without checking anything (for display and tests).
Result<Ticket> ticket_decode(std::span<const uint8_t> body);

// Where used nonces are remembered until their ticket expires. Each component implements it on
// its own storage (the agent on SQLite, so a replay after a restart is refused too).
class NonceStore {
public:
  virtual ~NonceStore() = default;
  // Records the nonce; true when it was new, false when it had been seen. Entries may be
  // forgotten once expires_ms has passed.
  virtual Result<bool> consume(std::span<const uint8_t> nonce, int64_t expires_ms) = 0;
};

struct TicketCheck {
  Fingerprint presenting_printer; // the key of the TLS peer presenting the ticket
  std::string workstation_id;     // our own workstation id
  int64_t now_ms = 0;
};

// Verifies in this order: signature by one of the trusted signers (invalid_signature), shape
// (bad_request), lifetime and clock (expired), printer key (forbidden), workstation listed
// (forbidden), nonce unused (replayed). The nonce is consumed only when everything else passed.
Result<Ticket> ticket_verify(const SignedTicket &ticket, const std::vector<PublicKey> &trusted_signers,
                             const TicketCheck &check, NonceStore &nonces);

} // namespace lpm::proto
