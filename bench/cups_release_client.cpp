// lpm_cups_release_client: CUPS's own local release, driven from one process so that starting a
// program per request (ipptool, lp) is not part of what the release benchmark times
// (scripts/bench_release.sh). It holds --jobs copies of a document on a private cupsd's queue
// (Print-Job with job-hold-until=indefinite, job-name "<prefix>-<i>"), prints
//
//   held <job-id> <job-name>        per job, then
//   ready
//
// and then, for each line it reads on standard input, releases the next held job (Release-Job)
// on the same keep-alive connection and prints
//
//   released <job-id> <sent ns> <answered ns> <status>
//
// with CLOCK_MONOTONIC times taken just before the request is written and just after the answer
// is read: the same clock as lpm_spool_probe's lines. End of input, or no held job left, ends it.
//
// Usage: lpm_cups_release_client --printer NAME --document FILE [--jobs N] [--format MIME]
//          [--prefix TEXT] [--user NAME]
// The cupsd is the one CUPS_SERVER names (a Unix socket path or HOST[:PORT]).
#include <cups/cups.h>
#include <cups/http.h>
#include <cups/ipp.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "bench_support.h"

using lpm::bench::now_ns;

namespace {

struct Options {
  std::string printer;
  std::string document;
  std::string format = "application/pdf";
  std::string prefix = "cups";
  std::string user = "bench";
  int jobs = 200;
};

int usage() {
  std::fprintf(stderr,
               "usage: lpm_cups_release_client --printer NAME --document FILE [--jobs N] [--format MIME]\n"
               "         [--prefix TEXT] [--user NAME]   (cupsd: CUPS_SERVER)\n");
  return 2;
}

bool parse(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return false;
    std::string value = argv[++i];
    if (arg == "--printer") {
      o.printer = value;
    } else if (arg == "--document") {
      o.document = value;
    } else if (arg == "--format") {
      o.format = value;
    } else if (arg == "--prefix") {
      o.prefix = value;
    } else if (arg == "--user") {
      o.user = value;
    } else if (arg == "--jobs") {
      char *end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (*end != '\0' || n < 1 || n > 100000) return false;
      o.jobs = static_cast<int>(n);
    } else {
      return false;
    }
  }
  return !o.printer.empty() && !o.document.empty();
}

// Holds one copy of the document; its job id, or 0 (printed why).
int hold_one(http_t *http, const Options &o, const std::string &printer_uri, const std::string &name) {
  ipp_t *request = ippNewRequest(IPP_OP_PRINT_JOB);
  ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", nullptr, printer_uri.c_str());
  ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", nullptr, o.user.c_str());
  ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", nullptr, name.c_str());
  ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", nullptr, o.format.c_str());
  ippAddString(request, IPP_TAG_JOB, IPP_TAG_KEYWORD, "job-hold-until", nullptr, "indefinite");
  std::string resource = "/printers/" + o.printer;
  ipp_t *response = cupsDoFileRequest(http, request, resource.c_str(), o.document.c_str());
  int job_id = 0;
  if (cupsLastError() <= IPP_STATUS_OK_CONFLICTING) {
    ipp_attribute_t *attr = ippFindAttribute(response, "job-id", IPP_TAG_INTEGER);
    if (attr != nullptr) job_id = ippGetInteger(attr, 0);
  }
  if (job_id == 0) std::fprintf(stderr, "hold %s: %s\n", name.c_str(), cupsLastErrorString());
  ippDelete(response);
  return job_id;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  if (!parse(argc, argv, o)) return usage();
  http_t *http = httpConnect2(cupsServer(), ippPort(), nullptr, AF_UNSPEC, HTTP_ENCRYPTION_IF_REQUESTED, 1,
                              30000, nullptr);
  if (http == nullptr) {
    std::fprintf(stderr, "cannot connect to cupsd at %s: %s\n", cupsServer(), cupsLastErrorString());
    return 1;
  }
  std::string printer_uri = "ipp://localhost/printers/" + o.printer;

  std::vector<int> held;
  for (int i = 1; i <= o.jobs; ++i) {
    std::string name = o.prefix + "-" + std::to_string(i);
    int job_id = hold_one(http, o, printer_uri, name);
    if (job_id == 0) {
      httpClose(http);
      return 1;
    }
    held.push_back(job_id);
    std::printf("held %d %s\n", job_id, name.c_str());
  }
  std::printf("ready\n");
  std::fflush(stdout);

  std::string line;
  size_t next = 0;
  while (next < held.size() && std::getline(std::cin, line)) {
    int job_id = held[next++];
    ipp_t *request = ippNewRequest(IPP_OP_RELEASE_JOB);
    ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", nullptr, printer_uri.c_str());
    ippAddInteger(request, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", job_id);
    ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", nullptr, o.user.c_str());
    int64_t sent = now_ns();
    ippDelete(cupsDoRequest(http, request, "/jobs/"));
    int64_t answered = now_ns();
    std::printf("released %d %lld %lld %s\n", job_id, static_cast<long long>(sent),
                static_cast<long long>(answered), ippErrorString(cupsLastError()));
    std::fflush(stdout);
  }
  httpClose(http);
  return 0;
}
