// Fuzz target: what the agent's IPP capture printer does with the bytes of a connection before
// any of them reach the job store (agent/ipp_http.h, ipp_message.h, ipp_request.h): HTTP
// framing by llhttp (keep-alive, chunked bodies, Expect), the attribute section found by the
// framing scan under its cap and decoded by libcups from memory, the RFC 8011 request checks,
// the job ticket, Get-Jobs' query, requested-attributes over the printer's attributes, and the
// response encoded. Any bytes must end in responses or refusals, never a crash, and:
//  - the scan and libcups agree: a section the scan calls complete decodes to exactly its
//    bytes or is refused as bad_request; an accepted request, encoded again, scans complete at
//    its full length and decodes again;
//  - every refusal carries an error status and a status-message;
//  - the HTTP reader never hands out body bytes after a head it was told to reject.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "ipp_http.h"
#include "ipp_message.h"
#include "ipp_printer_attributes.h"
#include "ipp_printer_private.h"
#include "ipp_request.h"
#include "lpm/log.h"

using namespace lpm;
using namespace lpm::agent;

namespace {

// A small cap, so the fuzzer reaches "too large" without megabyte inputs.
constexpr size_t kFuzzSectionCap = 16 * 1024;

void require(bool holds) {
  if (!holds) std::abort();
}

const packaging::CaptureCapabilities &capabilities() {
  static const packaging::CaptureCapabilities caps;
  return caps;
}

ipp_t *printer_attributes() {
  static IppPtr attrs = [] {
    IppPrinterDescription d;
    d.name = "LPMServerless";
    d.uuid = ipp_printer_uuid("fuzz");
    d.port = 9167;
    d.capabilities = capabilities();
    auto a = ipp_printer_attributes(d);
    require(a.ok());
    return std::move(*a);
  }();
  return attrs.get();
}

void check_outcome(const IppOutcome &o) {
  if (!o.ok()) require(o.status >= IPP_STATUS_ERROR_BAD_REQUEST && !o.message.empty());
}

// Runs what the printer runs on a decoded request, short of the store.
void handle(const IppHeader &header, ipp_t *request) {
  IppTarget target;
  IppOutcome checked = ipp_check_request(header, request, target);
  check_outcome(checked);
  if (checked.ok()) {
    // An accepted request, encoded again, scans and decodes the same way: what the printer
    // copies from it into a response is well formed.
    auto again = ipp_encode(request);
    require(again.ok());
    IppSectionScanner rescan(again->size() + 1);
    require(rescan.scan(*again) == IppSectionScanner::Verdict::complete);
    require(rescan.section_bytes() == again->size());
    require(ipp_decode(*again).ok());
  }
  IppOutcome reply = checked;
  if (checked.ok()) {
    // After an ok check the operation is one of ours (ipp_op_t cannot hold every wire value).
    switch (static_cast<ipp_op_t>(header.operation)) {
    case IPP_OP_PRINT_JOB:
    case IPP_OP_VALIDATE_JOB:
    case IPP_OP_CREATE_JOB:
    case IPP_OP_SEND_DOCUMENT: {
      IppJobTicket ticket;
      reply = ipp_read_job_ticket(request, capabilities(), ticket);
      check_outcome(reply);
      if (reply.ok()) require(ticket.copies >= 1 && ticket.copies <= static_cast<uint64_t>(kMaxIppCopies));
      break;
    }
    case IPP_OP_GET_JOBS: {
      IppJobsQuery query;
      reply = ipp_read_jobs_query(request, query);
      check_outcome(reply);
      if (reply.ok() && query.limit) require(*query.limit >= 1);
      break;
    }
    case IPP_OP_SEND_URI:
    case IPP_OP_PRINT_URI: require(false); break; // refused by the checks
    default: break;
    }
    if (target.job_id) require(*target.job_id >= 1);
  }
  IppPtr response = ipp_new_response(header.major, header.minor, header.request_id, reply);
  if (reply.ok() && header.operation == IPP_OP_GET_PRINTER_ATTRIBUTES) {
    RequestedPtr requested(ippCreateRequestedArray(request));
    ipp_copy_requested(response.get(), printer_attributes(), requested.get(), IPP_TAG_PRINTER);
  }
  auto bytes = ipp_encode(response.get());
  require(bytes.ok());
  require(ipp_decode(*bytes).ok());
}

// The connection's side of HttpRequestSink, without the socket.
struct Sink : HttpRequestSink {
  bool rejected = false;
  bool ipp = false;
  std::vector<uint8_t> section;
  IppSectionScanner scanner{kFuzzSectionCap};
  bool section_done = false;
  uint64_t document_bytes = 0;

  HeadVerdict on_request_head(const HttpRequestHead &head) override {
    require(!rejected);
    section.clear();
    scanner = IppSectionScanner(kFuzzSectionCap);
    section_done = false;
    ipp = head.method == "POST" && head.path == kIppPrinterPath;
    // As the printer does: a head it will not serve, announced with Expect, is answered at once.
    if (head.expect_other || (!ipp && head.expect_continue)) {
      rejected = true;
      return HeadVerdict::reject;
    }
    return HeadVerdict::read_body;
  }

  void on_request_body(std::span<const uint8_t> data) override {
    require(!rejected);
    if (!ipp) return;
    if (section_done) {
      document_bytes += data.size();
      return;
    }
    section.insert(section.end(), data.begin(), data.end());
    auto verdict = scanner.scan(section);
    if (verdict == IppSectionScanner::Verdict::need_more) return;
    section_done = true;
    if (verdict == IppSectionScanner::Verdict::complete) {
      size_t n = scanner.section_bytes();
      require(n >= 9 && n <= section.size() && n <= kFuzzSectionCap);
      auto decoded = ipp_decode(std::span<const uint8_t>(section).first(n));
      if (decoded.ok())
        handle(*ipp_peek_header(section), decoded->get());
      else
        require(decoded.error().code == Errc::bad_request);
      document_bytes += section.size() - n;
    } else if (verdict == IppSectionScanner::Verdict::too_large) {
      require(section.size() > kFuzzSectionCap);
    } else {
      require(!scanner.error().empty());
    }
    section.clear();
  }

  bool on_request_end(bool) override {
    require(!rejected);
    return true;
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const bool quiet = [] {
    log_set_level(LogLevel::error);
    return true;
  }();
  (void)quiet;
  // The first byte splits the stream into reads of varying size, as a socket would.
  if (size == 0) return 0;
  size_t step = (data[0] % 64) + 1;
  Sink sink;
  HttpRequestReader reader(sink);
  std::span<const uint8_t> rest(data + 1, size - 1);
  while (!rest.empty()) {
    size_t n = std::min(step, rest.size());
    auto state = reader.feed(rest.first(n));
    rest = rest.subspan(n);
    if (state == HttpRequestReader::State::paused) reader.resume();
    if (reader.state() == HttpRequestReader::State::stopped) break;
  }
  reader.finish();
  if (reader.error_status() != 0) require(reader.error_status() >= 400 && !reader.error().empty());
  return 0;
}
