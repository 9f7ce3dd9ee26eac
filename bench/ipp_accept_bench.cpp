// lpm_ipp_accept_bench: durable accept rate of an IPP printer (issue 3, "Benchmarks"), figures
// only. An in-process libcups client sends small Print-Job requests (a one-page PDF of about
// --doc-bytes) over keep-alive HTTP connections, one request at a time per connection, and
// prints one JSON line: jobs accepted, seconds, jobs/s, and the p50/p99 of one request.
//
// The same client measures the agent's capture printer and a private cupsd (scripts/bench.sh):
// --hold adds job-hold-until=indefinite so cupsd keeps every job held, as the agent does.
//
// Usage: lpm_ipp_accept_bench --uri ipp://127.0.0.1:PORT/RESOURCE [--jobs N] [--seconds S]
//          [--connections C] [--user NAME] [--doc-bytes B] [--hold] [--octet-stream] [--label TEXT]
// The run stops after N jobs or once S seconds have passed, whichever comes first.
// --octet-stream sends as many bytes no sniffer recognises, as application/octet-stream: the
// agent then stores the job without counting its pages (to show what the page count costs).
#include <cups/cups.h>
#include <cups/http.h>
#include <cups/ipp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"

using lpm::bench::now_ns;
using lpm::bench::percentile_ms;
using lpm::bench::small_pdf;

namespace {

struct Options {
  std::string uri;
  std::string user;
  std::string label;
  int jobs = 1000;
  double seconds = 20;
  int connections = 1;
  size_t doc_bytes = 2048;
  bool hold = false;
  bool octet = false; // random bytes as application/octet-stream instead of a PDF
};

struct Target {
  std::string host;
  int port = 631;
  std::string resource;
};

bool parse_uri(const std::string &uri, Target &t) {
  char scheme[32], userpass[256], host[256], resource[1024];
  int port = 0;
  if (httpSeparateURI(HTTP_URI_CODING_ALL, uri.c_str(), scheme, sizeof scheme, userpass, sizeof userpass, host,
                      sizeof host, &port, resource, sizeof resource) < HTTP_URI_STATUS_OK)
    return false;
  t.host = host;
  t.port = port;
  t.resource = resource;
  return true;
}

// What one connection did.
struct Tally {
  int accepted = 0;
  int refused = 0;
  std::string first_error;
  std::vector<int64_t> request_ns;
};

// Sends Print-Jobs on one keep-alive connection until `next` reaches the job count or the
// deadline passes.
void run_connection(const Options &o, const Target &t, const std::string &doc, std::atomic<int> &next,
                    int64_t deadline_ns, Tally &tally) {
  http_t *http = httpConnect2(t.host.c_str(), t.port, nullptr, AF_UNSPEC, HTTP_ENCRYPTION_NEVER, 1, 30000, nullptr);
  if (!http) {
    tally.first_error = "cannot connect to " + t.host + ":" + std::to_string(t.port);
    return;
  }
  for (;;) {
    int n = next.fetch_add(1);
    if (n >= o.jobs || now_ns() >= deadline_ns) break;
    int64_t t0 = now_ns();
    ipp_t *request = ippNewRequest(IPP_OP_PRINT_JOB);
    ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", nullptr, o.uri.c_str());
    ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", nullptr, o.user.c_str());
    std::string title = "bench job " + std::to_string(n + 1);
    ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", nullptr, title.c_str());
    ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", nullptr,
                 o.octet ? "application/octet-stream" : "application/pdf");
    if (o.hold) ippAddString(request, IPP_TAG_JOB, IPP_TAG_KEYWORD, "job-hold-until", nullptr, "indefinite");
    // The length libcups sends as Content-Length is the whole body: attributes plus document.
    http_status_t status = cupsSendRequest(http, request, t.resource.c_str(), ippLength(request) + doc.size());
    if (status == HTTP_STATUS_CONTINUE) status = cupsWriteRequestData(http, doc.data(), doc.size());
    ipp_t *response = status == HTTP_STATUS_CONTINUE ? cupsGetResponse(http, t.resource.c_str()) : nullptr;
    ippDelete(request);
    ipp_status_t ipp_status = response ? ippGetStatusCode(response) : cupsLastError();
    if (response && ipp_status < IPP_STATUS_REDIRECTION_OTHER_SITE) {
      tally.accepted++;
      tally.request_ns.push_back(now_ns() - t0);
    } else {
      tally.refused++;
      if (tally.first_error.empty())
        tally.first_error = std::string(ippErrorString(ipp_status)) + ": " +
                            (cupsLastErrorString() ? cupsLastErrorString() : "no message");
    }
    ippDelete(response);
  }
  httpClose(http);
}

int usage() {
  std::fprintf(stderr, "usage: lpm_ipp_accept_bench --uri ipp://HOST:PORT/RESOURCE [--jobs N] [--seconds S] "
                       "[--connections C] [--user NAME] [--doc-bytes B] [--hold] [--octet-stream] [--label TEXT]\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  const char *login = std::getenv("USER");
  o.user = login ? login : "root";
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> const char * { return i + 1 < argc ? argv[++i] : nullptr; };
    const char *v = nullptr;
    if (a == "--hold") {
      o.hold = true;
      continue;
    }
    if (a == "--octet-stream") {
      o.octet = true;
      continue;
    }
    if (!(v = value())) return usage();
    if (a == "--uri") o.uri = v;
    else if (a == "--jobs") o.jobs = std::atoi(v);
    else if (a == "--seconds") o.seconds = std::atof(v);
    else if (a == "--connections") o.connections = std::max(1, std::atoi(v));
    else if (a == "--user") o.user = v;
    else if (a == "--doc-bytes") o.doc_bytes = static_cast<size_t>(std::atol(v));
    else if (a == "--label") o.label = v;
    else return usage();
  }
  Target target;
  if (o.uri.empty() || !parse_uri(o.uri, target)) return usage();

  std::string doc = small_pdf(o.doc_bytes);
  if (o.octet) {
    // Bytes no format sniffer recognises, so the printer stores them without a page count.
    uint32_t x = 2463534242u;
    for (char &c : doc) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      c = static_cast<char>(0x80 | (x & 0x7f));
    }
  }
  std::atomic<int> next{0};
  std::vector<Tally> tallies(static_cast<size_t>(o.connections));
  std::vector<std::thread> threads;
  int64_t t0 = now_ns();
  int64_t deadline = t0 + static_cast<int64_t>(o.seconds * 1e9);
  for (int c = 0; c < o.connections; c++)
    threads.emplace_back(run_connection, std::cref(o), std::cref(target), std::cref(doc), std::ref(next), deadline,
                         std::ref(tallies[static_cast<size_t>(c)]));
  for (auto &t : threads)
    t.join();
  double elapsed = static_cast<double>(now_ns() - t0) / 1e9;

  Tally all;
  for (auto &t : tallies) {
    all.accepted += t.accepted;
    all.refused += t.refused;
    if (all.first_error.empty()) all.first_error = t.first_error;
    all.request_ns.insert(all.request_ns.end(), t.request_ns.begin(), t.request_ns.end());
  }
  if (!all.first_error.empty()) std::fprintf(stderr, "lpm_ipp_accept_bench: %s\n", all.first_error.c_str());
  double p50 = percentile_ms(all.request_ns, 50), p99 = percentile_ms(all.request_ns, 99);
  std::printf("{\"label\":\"%s\",\"jobs\":%d,\"refused\":%d,\"connections\":%d,\"document_bytes\":%zu,"
              "\"seconds\":%.3f,\"jobs_per_s\":%.1f,\"request_p50_ms\":%.3f,\"request_p99_ms\":%.3f}\n",
              o.label.c_str(), all.accepted, all.refused, o.connections, doc.size(), elapsed,
              elapsed > 0 ? all.accepted / elapsed : 0.0, p50, p99);
  return all.accepted > 0 ? 0 : 1;
}
