// What the capture printer advertises (Get-Printer-Attributes): built once from the capability
// profile in configuration.xml (<CaptureCapabilities>: media sizes, duplex, color) and the
// document formats the agent accepts. Complete enough for `lpadmin -m everywhere` to build a
// PPD (PDF, PostScript, PWG raster and Apple raster paths) and for the required printer
// attributes of CUPS's ipp-1.1.test and ipp-2.0.test (PWG 5100.12 section 6.2).
#pragma once

#include <cups/cups.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "ipp_message.h"
#include "lpm/error.h"
#include "lpm/packaging/configuration.h"

namespace lpm::agent {

// The path of the printer in ipp://localhost:PORT/ipp/print.
inline constexpr const char *kIppPrinterPath = "/ipp/print";

// The IPP operations the printer implements, in operations-supported order.
const std::vector<ipp_op_t> &ipp_operations_supported();
// document-format-supported.
// The configured capture formats (CaptureCapabilities), then application/octet-stream.
std::vector<std::string> ipp_document_formats(const packaging::CaptureCapabilities &capabilities);

// copies-supported is 1..kMaxIppCopies.
inline constexpr int kMaxIppCopies = 999;
// multiple-operation-time-out by default: a Create-Job whose document does not arrive in time is
// aborted.
inline constexpr int kMultipleOperationTimeoutS = 60;

struct IppPrinterDescription {
  std::string name;     // printer-name (<DefaultQueue>)
  std::string uuid;     // printer-uuid, "urn:uuid:..."
  std::string location; // printer-location
  uint16_t port = 0;    // the bound port, for printer-uri-supported and printer-more-info
  int multiple_operation_timeout_s = kMultipleOperationTimeoutS;
  packaging::CaptureCapabilities capabilities;
};

// ipp://localhost:PORT/ipp/print
std::string ipp_printer_uri(uint16_t port);
// A version-5 style UUID URN that stays the same for one workstation id ("urn:uuid:...").
std::string ipp_printer_uuid(const std::string &workstation_id);

// The static printer attributes (group printer-attributes). bad_request naming
// <CaptureCapabilities><MediaSize> when a configured media size is not a PWG self-describing
// name libcups can size.
Result<IppPtr> ipp_printer_attributes(const IppPrinterDescription &description);

// The attributes that change over time: printer-state (idle), printer-state-reasons,
// printer-is-accepting-jobs, printer-up-time, printer-current-time, queued-job-count.
void ipp_add_printer_state(ipp_t *attributes, int queued_jobs);

// Copies the attributes of `source` whose names are in `requested` (ippCreateRequestedArray:
// nullptr means all) into `response` under `group`.
void ipp_copy_requested(ipp_t *response, ipp_t *source, cups_array_t *requested, ipp_tag_t group);

// Releases an ippCreateRequestedArray result.
struct RequestedDeleter {
  void operator()(cups_array_t *a) const { cupsArrayDelete(a); }
};
using RequestedPtr = std::unique_ptr<cups_array_t, RequestedDeleter>;

} // namespace lpm::agent
