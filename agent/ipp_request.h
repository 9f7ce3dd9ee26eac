// Checking decoded IPP requests (RFC 8011 section 4.1 and the operations' own attributes) and
// reading what a job submission asks for. Pure functions over libcups' ipp_t: no sockets, no
// store, so the fuzzer runs them on any bytes that decode. Every refusal carries the precise
// status code, a status-message saying what to change, and the offending request attributes
// for the unsupported-attributes group.
#pragma once

#include <cups/cups.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipp_message.h"
#include "lpm/packaging/configuration.h"

namespace lpm::agent {

struct IppOutcome {
  ipp_status_t status = IPP_STATUS_OK;
  std::string message;
  // Request attributes (owned by the request) to return in the unsupported-attributes group.
  std::vector<ipp_attribute_t *> unsupported;

  bool ok() const { return status < IPP_STATUS_REDIRECTION_OTHER_SITE; }
  static IppOutcome fail(ipp_status_t status, std::string message, ipp_attribute_t *unsupported = nullptr);
};

// What a request is addressed to.
struct IppTarget {
  std::optional<int32_t> job_id; // job operations: from job-id (with printer-uri) or job-uri
};

// The checks every request passes before its operation runs, in RFC 8011's order: version
// (1.x or 2.x, else server-error-version-not-supported), request-id > 0, the operation group
// first with attributes-charset then attributes-natural-language (client-error-bad-request),
// the charset utf-8 or us-ascii (client-error-charset-not-supported), well-formed values
// (ippValidateAttributes), an implemented operation (server-error-operation-not-supported,
// Print-URI and Send-URI included), and the target: printer-uri naming this printer's path
// (client-error-not-found otherwise) and, for job operations, job-id or job-uri.
// `header` is the request's first 8 bytes as sent: its operation-id is checked as the number on
// the wire (libcups' ipp_op_t cannot hold every 16-bit value), so after an ok outcome
// `static_cast<ipp_op_t>(header.operation)` is one of ipp_operations_supported().
IppOutcome ipp_check_request(const IppHeader &header, ipp_t *request, IppTarget &target);

// What Print-Job, Validate-Job, Create-Job and Send-Document ask for.
struct IppJobTicket {
  std::string requesting_user; // requesting-user-name ("" when absent)
  std::string title;           // job-name, else document-name ("" when neither: "Untitled")
  std::string format;          // document-format ("" when absent: sniffed from the bytes)
  uint64_t copies = 1;
  std::string sides = "one-sided";
  std::string color = "color";       // "color" or "monochrome" (what the job store keeps)
  std::optional<bool> last_document; // Send-Document
};

// Reads the operation and job-template attributes of a job submission. Unsupported values of
// the attributes the printer advertises (document-format, compression, copies, sides,
// print-color-mode, media, media-col, ...) fail with their precise status; job attributes the
// printer does not know are ignored (successful-ok-ignored-or-substituted-attributes) unless
// ipp-attribute-fidelity is true (client-error-attributes-or-values-not-supported).
IppOutcome ipp_read_job_ticket(ipp_t *request, const packaging::CaptureCapabilities &capabilities,
                               IppJobTicket &ticket);

// Get-Jobs' own operation attributes.
struct IppJobsQuery {
  enum class Which { completed, not_completed, all };
  Which which = Which::not_completed;
  std::optional<int> limit;
  bool requested_given = false; // requested-attributes present (else job-id and job-uri only)
};
IppOutcome ipp_read_jobs_query(ipp_t *request, IppJobsQuery &query);

// The requesting-user-name operation attribute ("" when absent).
std::string ipp_requesting_user(ipp_t *request);
// The boolean operation attribute `name`, nullopt when absent; sets `bad` when it is not one
// boolean value.
std::optional<bool> ipp_boolean_attribute(ipp_t *request, const char *name, ipp_attribute_t **bad);

} // namespace lpm::agent
