// Inside the IPP capture printer: the state its connections share (store, printer attributes,
// job-ids, Create-Jobs waiting for their document) and one request's exchange, from its
// decoded attribute section through its document to its response (ipp_operations.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "identity_binding.h"
#include "ipp_document.h"
#include "ipp_job_ids.h"
#include "ipp_printer.h"
#include "ipp_request.h"
#include "lpm/protocol/loop_timer.h"

namespace lpm::agent {

// A Create-Job waiting for its document (Send-Document). Lives in memory only: a restart
// forgets it, as it would a half-received Print-Job.
struct PendingJob {
  int32_t id = 0;
  JobOwner owner;
  IppJobTicket ticket; // what Create-Job asked for
  int64_t created_ms = 0;
  int64_t touched_ms = 0; // last request for it; the sweep aborts it after the time-out
  bool receiving = false; // a Send-Document is streaming into it now
  // A document sent with last-document=false, waiting for the closing Send-Document.
  std::unique_ptr<CaptureDocument> document;
};

struct IppPrinter::State {
  uv_loop_t *loop = nullptr;
  std::shared_ptr<JobStore> store;
  IppPrinterOptions options;
  int64_t spooler_uid = -1;
  IppPtr printer_attributes; // the static part (ipp_printer_attributes.h)
  std::unique_ptr<IppJobIds> job_ids;
  std::map<int32_t, PendingJob> pending;
  std::unique_ptr<proto::LoopTimer> sweep;
  uint16_t port = 0;
  bool stopped = false;

  // Aborts the pending jobs idle for longer than multiple-operation-time-out.
  void sweep_pending(int64_t now_ms);
  // Drops a pending job and its reserved id.
  void drop_pending(int32_t id);
};

// Who is on the other end of a connection; asked once, when a request first needs it.
class IppCaller {
public:
  IppCaller(const IppPrinter::State &state, const TcpEnds &ends) : state_(state), ends_(ends) {}
  // The owner of what this request submits or asks about (ipp_peer_owner.h rules).
  Result<JobOwner> owner(const std::string &requesting_user);

private:
  const IppPrinter::State &state_;
  TcpEnds ends_;
  std::optional<Result<int64_t>> uid_;
};

// One IPP request, from its decoded attribute section to its response.
class IppExchange {
public:
  IppExchange(std::shared_ptr<IppPrinter::State> state, IppCaller &caller)
      : state_(std::move(state)), caller_(caller) {}
  ~IppExchange();
  IppExchange(const IppExchange &) = delete;
  IppExchange &operator=(const IppExchange &) = delete;

  // The attribute section decoded (`header`: its first 8 bytes): checks the request and, for
  // Print-Job and Send-Document, gets ready to store the document that follows.
  void begin(const IppHeader &header, IppPtr request);
  // Document bytes (whatever follows the attribute section). Ignored by operations that take
  // no document, and after a refusal.
  void document_data(std::span<const uint8_t> data);
  // The whole request arrived: runs the operation and returns the response.
  IppPtr finish();

private:
  enum class Op { none, print_job, send_document, other };

  IppPtr respond(const IppOutcome &outcome);
  IppPtr run_operation();
  IppPtr finish_print_job();
  IppPtr finish_send_document();
  IppPtr validate_job();
  IppPtr create_job();
  IppPtr get_printer_attributes();
  IppPtr get_jobs();
  IppPtr get_job_attributes();
  IppPtr cancel_job();
  void begin_print_job();
  void begin_send_document();
  // Fails the exchange: the response is this error, the document (if any) is discarded.
  void refuse(IppOutcome outcome);
  // The stored job behind a job-id, if it is the caller's.
  struct Found;
  Result<Found> find_job(int32_t id, const JobOwner &owner);
  IppPtr job_response(const IppOutcome &outcome, const Job &job, int32_t id);

  std::shared_ptr<IppPrinter::State> state_;
  IppCaller &caller_;
  IppPtr request_;
  IppHeader header_;
  Op op_ = Op::none;
  IppTarget target_;
  std::optional<IppOutcome> refused_; // set once the request is refused
  IppOutcome accepted_;               // ok or ok-ignored-or-substituted (ticket)
  IppJobTicket ticket_;
  JobOwner owner_;
  std::unique_ptr<CaptureDocument> document_;
  int32_t sending_to_ = 0;    // Send-Document: the pending job being fed
  bool store_failed_ = false; // the store refused the document (the job is aborted)
};

// Status codes for store errors met while storing a document.
IppOutcome ipp_outcome_for_store_error(const Error &error);

// A response with the request's version (1.1 when it is one we do not speak) and request-id:
// attributes-charset utf-8, attributes-natural-language en, the outcome's status-message, and
// its unsupported attributes in their own group.
IppPtr ipp_new_response(int major, int minor, int request_id, const IppOutcome &outcome);

} // namespace lpm::agent
