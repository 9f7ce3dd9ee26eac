// The directory's network service (DESIGN §4): TLS listener, hello role "directory", and the ops
// enroll, register, badge-in and list-enrolled. Peers are known by the key of their TLS client
// certificate; the store says what that key was enrolled as.
//
// Everything runs on the loop thread but a few kinds of work: release tickets' signatures are
// precomputed on threads of their own (ticket_signer.h) and their audit rows committed by another
// (audit_writer.h); password and PIN checks and imports run on the libuv thread pool. SQLite
// reads are short and local and run on the loop.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>

#include "directory_folder.h"
#include "directory_store.h"
#include "lpm/error.h"
#include "lpm/protocol/stream.h"
#include "rate_limits.h"

namespace lpm::directory {

class DirectoryService {
public:
  // Takes the keys and the store; serves nothing until listen().
  DirectoryService(uv_loop_t *loop, DirectoryKeys keys, std::unique_ptr<DirectoryStore> store,
                   const proto::StreamLimits &limits = {});
  // Calls stop(). Connections still closing finish on the loop without touching this object.
  ~DirectoryService();
  DirectoryService(const DirectoryService &) = delete;
  DirectoryService &operator=(const DirectoryService &) = delete;

  // Binds and starts accepting; returns the bound port (at.port 0 picks a free one).
  Result<uint16_t> listen(const proto::Endpoint &at);
  // Stops accepting and closes every connection. Once their close callbacks have run the service
  // holds no handle, so uv_run returns and uv_loop_close succeeds. Safe to call twice.
  void stop();
  // The HOST:PORT devices are told to reach the directory at (printed with enrollment tokens).
  // Without one, listen() uses the listen address unless it is a wildcard.
  void set_advertised_address(std::string host_port);
  // Open connections (for tests and logs).
  size_t connection_count() const;

  // The per-printer limit on badge-in and badge-register (rate_limits.h; default 5/s, burst 20;
  // per_second 0: none). Takes effect at once.
  void set_badge_rate_limit(const BadgeRateLimit &limit);
  // A command that mails a finished import's log to the administrator who started it through
  // lpm (import_mail.h); "" (the default): no mail.
  void set_mail_command(std::string command);
  const BadgeRateLimit &badge_rate_limit() const;
  // Threads that precompute ticket signatures in spare CPU time (ticket_signer.h; default: the
  // cores, at most 4; 0: none, the loop signs every ticket whole). Read by listen().
  void set_signing_threads(unsigned threads);

  const proto::Fingerprint &fingerprint() const;
  // DER of the public half of the ticket-signing key (what enroll hands out).
  const proto::Bytes &ticket_public_der() const;
  // DER of the public half of the session-signing key (what verifies session tokens).
  const proto::Bytes &session_public_der() const;

  struct Core; // defined in directory_service.cpp

private:
  std::shared_ptr<Core> core_;
};

} // namespace lpm::directory
