// The agent's Unix control socket for `lpm` (hello role "cli"): submit-job (the document
// streams in after the request) and local-jobs. The caller is identified by the socket's peer
// credentials; its OS account must be bound to a directory user (identity_binding.h).
//
// submit-job args: SubmitJobRequest; the upload is written to the spool file as it arrives
// and committed once the stream's end frame verified (the RPC layer checks SHA-256 and byte
// count); result: SubmitJobResult {job, state "held", user}. Errors: forbidden (unbound
// account), too_large (over 2 GiB), no_space (disk full), io_error.
// local-jobs args: optional {after, limit}; result: ListJobsResult with the caller's jobs in
// every visible state (held, claimed, printing, printed), oldest first.
// delete-job args: DeleteJobRequest {job}; result: the deleted JobInfo. Only the job's owner
// (the directory user the caller's account is bound to) may delete it; anyone else gets
// not_found, exactly as for a job that does not exist. conflict while a printer has it.
// watch-events args: WatchEventsRequest {wait_ms}; a long poll answered with WatchEventsResult
// {events, dropped}: events about the caller's own jobs (job_events.h); the first call on a
// connection subscribes it and is answered at once with none. forbidden when
// DisplayNotifications is off (no JobEvents given) or the account is not bound.
// login, logout, directory, directory-upload: `lpm login` and the directory's person ops for the
// caller's OS account, relayed by the DirectoryProxy (directory_proxy.h).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "directory_proxy.h"
#include "report_relay.h"
#include "job_events.h"
#include "job_store.h"
#include "lpm/packaging/configuration.h"
#include "lpm/protocol/rpc.h"
#include "served_listener.h"

namespace lpm::agent {

struct ControlSocketOptions {
  std::string path;
  std::vector<packaging::IdentityBind> bindings;
  std::shared_ptr<const LoginBindings> logins; // accounts bound by `lpm login` (may be null)
  // login, logout, directory, directory-upload go here; null refuses them (no directory).
  std::shared_ptr<DirectoryProxy> directory;
  // usage-report goes here (`lpm report`); null refuses it.
  std::shared_ptr<ReportRelay> reports;
  uint64_t max_document_bytes = kMaxDocumentBytes;
  // Runs inside the transaction that deletes a job on delete-job (the daemon queues the
  // *deleted* record there when TrackDeletedJobs is on); may be empty.
  std::function<Status(const Job &)> on_delete;
  std::function<void()> after_delete; // after that transaction committed
  // Where watch-events subscribes (DisplayNotifications on); null refuses watch-events.
  std::shared_ptr<JobEvents> events;
  // agent-status (`lpm doctor`); empty refuses it.
  std::function<Result<proto::AgentStatusResult>()> status;
};

class ControlSocket {
public:
  // Binds the socket (mode 0666: any local user may submit; the peer uid says who they are).
  static Result<std::unique_ptr<ControlSocket>> start(uv_loop_t *loop, std::shared_ptr<JobStore> store,
                                                      ControlSocketOptions options);
  ~ControlSocket();
  // Stops accepting, removes the socket file and closes the open connections (uploads in
  // progress are discarded).
  void stop();

private:
  ControlSocket() = default;
  std::unique_ptr<ServedListener> listener_;
};

} // namespace lpm::agent
