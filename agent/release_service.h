// The release service (DESIGN §4, "Badge in and release"): TLS on ReleaseListen, hello role
// "agent", only release stations (role "printer") may connect. A station opens a
// conversation with a directory-signed ticket, then lists, claims, fetches and reports jobs of
// the ticket's users on that same connection.
//
//   open-release {ticket}      ticket_verify against the enrolled ticket key, presented by this
//                              connection's TLS key, for this workstation, nonce unused
//                              (persisted). The conversation is bound to the connection.
//                              With {certificate}: a ticket the station signed itself while the
//                              directory is unreachable (ticket_verify_printer_signed, issue 8).
//   list-jobs                  held jobs of the ticket's users (printed too when asked)
//   acknowledge-job {job}      claim + 60 s lease; conflict when another live claim holds it
//   fetch-document {job,claim} header {size, format, sha256}, then the spool file in chunks;
//                              the job moves claimed -> printing. While its document streams
//                              the job is in streaming_jobs(): the claim sweep skips it
//                              (backpressure from a slow device may stop reads past the lease)
//   update-job-status          completed -> printed (+ a "printed" record in the outbox);
//                              aborted/canceled -> held. Idempotent per claim and outcome.
//                              Signed by the station (protocol outcome.h): a completed outcome
//                              must be, any signature must verify with the station's TLS key
//                              (invalid_signature otherwise, nothing changes). The record keeps
//                              the signed bytes, signature and key (issue 5).
//   report-outcome             (no open-release needed) a station's late report after its
//                              restart, accepted from the key that acknowledged the claim:
//                              JobStore::report_late; answers {state, counted}.
//   delete-job {job}           the user at an interactive station deletes a held (or kept
//                              printed) job; conflict while a station holds a claim on it
// Every op but open-release without an open conversation: forbidden. A job of a user the
// ticket does not name: not_found.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "job_store.h"
#include "lpm/protocol/rpc.h"
#include "lpm/protocol/ticket.h"
#include "outbox.h"
#include "revoked_keys.h"
#include "served_listener.h"

namespace lpm::agent {

struct ReleaseServiceOptions {
  proto::Endpoint listen;
  std::string workstation_id;
  std::vector<proto::PublicKey> ticket_keys; // keys that sign release tickets (enrollment)
  // Printer-signed tickets (issue 8): accepted only this long after the agent last heard from
  // the directory (OfflineReleaseWindow; 0: refused), under a certificate one of ticket_keys
  // signed. directory_heard_ms says when that was (0: never); empty: never.
  int64_t offline_window_ms = 0;
  std::function<int64_t()> directory_heard_ms;
  RecordContext records;                     // site and workstation for accounting records
  proto::StreamLimits limits;
  // Keys the directory revoked: such a station is refused at open-release and on every later op
  // of a conversation it opened before. Null: none known.
  std::shared_ptr<const RevokedKeys> revoked;
  // LateBindingEnabled (configuration.xml): told to stations in list-jobs (JobInfo.late_binding).
  bool late_binding = false;
  // delete-job (the user's choice at an interactive station): runs inside the deleting
  // transaction (the agent queues a "deleted" record there when it tracks deletions), then
  // after_delete once committed.
  std::function<Status(const Job &)> on_delete;
  std::function<void()> after_delete;
};

class ReleaseService {
public:
  static Result<std::unique_ptr<ReleaseService>>
  start(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> server_ctx, std::shared_ptr<JobStore> store,
        std::shared_ptr<proto::NonceStore> nonces, std::shared_ptr<Outbox> outbox,
        ReleaseServiceOptions options);
  ~ReleaseService();
  // The bound port (ReleaseListen may say 0).
  uint16_t port() const { return listener_->port(); }
  // Stops accepting and closes every station connection.
  void stop();
  // Jobs whose document is being sent right now (from fetch-document until its stream source
  // is destroyed: stream ended, failed, or connection gone). Pass to JobStore::expire_claims.
  std::set<std::string> streaming_jobs() const;

  struct StreamingJobs; // counted per job id (two streams may send the same job)

private:
  ReleaseService() = default;
  std::unique_ptr<ServedListener> listener_;
  std::shared_ptr<StreamingJobs> streaming_;
};

} // namespace lpm::agent
