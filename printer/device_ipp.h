// The IPP device: ipp://HOST[:631]/PATH and ipps:// (TLS), through libcups (DESIGN §4 step 3).
//
// libcups blocks, so each job runs on a thread of its own and talks to the loop through a
// LoopInbox; the loop hands it the document in chunks through a bounded queue (backlogged past
// DeviceOptions::buffer_bytes). Per job, on one HTTP connection:
//   1. Get-Printer-Attributes (kept for a minute): document-format-supported, copies-supported,
//      sides-supported, print-color-mode-supported, operations-supported. A job whose format,
//      copies or sides the device does not support is refused before any byte moves, with the
//      reason; a color job on a device without color prints in monochrome and says so.
//   2. Create-Job with copies, sides, print-color-mode as job attributes; a device that answers
//      busy (one job at a time, as ippeveprinter) is asked again with a growing pause, up to
//      DeviceOptions::complete_timeout_ms, before any byte of the document moves. Then
//      Send-Document (last-document) with the document as a chunked request body while it
//      arrives from the workstation. A device without Create-Job gets one Print-Job instead.
//   3. After the last byte, the response, then Get-Job-Attributes until the job is completed,
//      aborted or canceled (DeviceOptions::complete_timeout_ms): job-impressions-completed,
//      job-media-sheets-completed, job-pages-completed are the counts.
// An aborted job closes the connection before the request body is complete, so the device never
// sees a whole document, and a created job is canceled (Cancel-Job).
#pragma once

#include <memory>
#include <string>

#include "device.h"

namespace lpm::printer {

Result<std::unique_ptr<Device>> open_ipp_device(uv_loop_t *loop, const std::string &uri,
                                                const DeviceOptions &options);

} // namespace lpm::printer
