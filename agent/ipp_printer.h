// The agent's IPP/2.0 capture printer (issue 3, DESIGN §4 Submit): ipp://localhost:9167/ipp/print,
// loopback only, where the OS spooler (CUPS queue made with `lpadmin -m everywhere`) or any
// IPP client submits. HTTP/1.1 with keep-alive, chunked bodies and `Expect: 100-continue`; the
// attribute section is buffered up to a cap and decoded with libcups, the document streams
// into the job store. A job completes for IPP (job-state completed, "held for release") once
// the store committed it: holding it is the agent's business, not the spooler's.
//
// Operations: Print-Job, Validate-Job, Create-Job + Send-Document (one document per job),
// Get-Printer-Attributes, Get-Jobs, Get-Job-Attributes, Cancel-Job. Cancel-Job cancels a job
// still waiting for its document; a stored job is complete in IPP terms (RFC 8011 refuses to
// cancel it: client-error-not-possible) and is deleted only with the CUPS extension
// purge-job=true (`cancel -x`).
//
// Owner (ipp_peer_owner.h): root or lp on the other end means the CUPS backend, and the job
// belongs to requesting-user-name; anyone else submits as their own OS account. Job operations
// only ever see the requester's own jobs; an OS account without a directory user is refused
// with client-error-not-authorized and a message naming the <Bind/> line to add.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipp_listener.h"
#include "ipp_message.h"
#include "ipp_printer_attributes.h"
#include "job_store.h"
#include "lpm/packaging/configuration.h"
#include "user_logins.h"

namespace lpm::agent {

struct IppPrinterOptions {
  proto::Endpoint listen{"127.0.0.1", 9167};  // <CaptureListen>; must be loopback
  std::string printer_name = "LPMServerless"; // printer-name (<DefaultQueue>)
  std::string printer_uuid;                   // "urn:uuid:..." (ipp_printer_uuid(workstation id))
  std::string location;                       // printer-location
  packaging::CaptureCapabilities capabilities;
  std::vector<packaging::IdentityBind> bindings;
  std::shared_ptr<const LoginBindings> logins; // accounts bound by `lpm login` (may be null)
  CaptureLimits limits;
  size_t max_attribute_bytes = kMaxIppAttributeBytes;
  size_t max_pending_jobs = 64; // Create-Jobs waiting for their document, over all users
  int multiple_operation_timeout_s = kMultipleOperationTimeoutS; // then such a job is aborted
  // The uid owning a connection's peer socket; default: tcp_peer_uid (NETLINK_SOCK_DIAG).
  std::function<Result<int64_t>(const TcpEnds &)> peer_uid;
  // The spooler's account (its jobs belong to requesting-user-name, as root's do); default: lp.
  std::optional<int64_t> spooler_uid;
  // Cancel-Job with purge-job deletes a stored job: this runs inside the deleting transaction
  // (the daemon queues the job's "deleted" record there), and after_delete after the commit.
  std::function<Status(const Job &)> on_delete_in_transaction;
  std::function<void()> after_delete;
};

class IppPrinter {
public:
  // Builds the printer attributes (bad_request naming the configuration element when the
  // capability profile is unusable), opens table ipp_jobs and starts listening (bad_request
  // naming <CaptureListen> for a non-loopback address; unavailable when the port is taken).
  static Result<std::unique_ptr<IppPrinter>> start(uv_loop_t *loop, std::shared_ptr<JobStore> store,
                                                   IppPrinterOptions options);
  ~IppPrinter();
  IppPrinter(const IppPrinter &) = delete;
  IppPrinter &operator=(const IppPrinter &) = delete;

  uint16_t port() const;
  // Stops listening, closes every connection (documents being received are discarded) and
  // aborts the Create-Jobs still waiting for a document.
  void stop();

  struct State; // ipp_printer_private.h

private:
  IppPrinter() = default;
  std::shared_ptr<State> state_;
  std::unique_ptr<CaptureListener> listener_;
};

} // namespace lpm::agent
