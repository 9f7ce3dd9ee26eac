// Writes the seed corpus of fuzz_ipp_request (fuzz/corpus/fuzz_ipp_request/*.hex): HTTP requests
// carrying IPP messages encoded by libcups, the way CUPS, ipptool and `lp` send them, plus
// hostile ones made by hand. The first byte of each seed is the read size the target splits the
// rest into. Run by hand and commit the output:
//   cmake --build BUILD --target lpm_fuzz_ipp_corpus && BUILD/bin/lpm_fuzz_ipp_corpus fuzz
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ipp_message.h"

using namespace lpm::agent;

namespace {

std::filesystem::path g_dir;

void put(const std::string &name, uint8_t step, const std::string &stream) {
  std::string bytes(1, static_cast<char>(step));
  bytes += stream;
  std::ofstream out(g_dir / (name + ".hex"), std::ios::trunc);
  static const char *digits = "0123456789abcdef";
  for (size_t i = 0; i < bytes.size(); i++) {
    auto b = static_cast<uint8_t>(bytes[i]);
    out << digits[b >> 4] << digits[b & 15];
    if (i % 32 == 31) out << '\n';
  }
  out << '\n';
}

IppPtr request(ipp_op_t op) {
  IppPtr r(ippNewRequest(op));
  ippAddString(r.get(), IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", nullptr,
               "ipp://localhost:9167/ipp/print");
  ippAddString(r.get(), IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", nullptr, "alice");
  return r;
}

std::string encode(ipp_t *ipp) {
  auto bytes = ipp_encode(ipp);
  if (!bytes.ok()) {
    std::fprintf(stderr, "encode: %s\n", bytes.error().message.c_str());
    std::exit(1);
  }
  return std::string(bytes->begin(), bytes->end());
}

std::string post(const std::string &body, const std::string &headers = {}) {
  return "POST /ipp/print HTTP/1.1\r\nHost: localhost:9167\r\nContent-Type: "
         "application/ipp\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + headers + "\r\n" + body;
}

std::string chunked(const std::string &body, size_t chunk) {
  std::string out = "POST /ipp/print HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\n"
                    "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n";
  for (size_t at = 0; at < body.size(); at += chunk) {
    std::string part = body.substr(at, chunk);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    out += size + part + "\r\n";
  }
  return out + "0\r\n\r\n";
}

const std::string kPdf = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FUZZ_DIR\n", argv[0]);
    return 2;
  }
  g_dir = std::filesystem::path(argv[1]) / "corpus" / "fuzz_ipp_request";
  std::filesystem::create_directories(g_dir);

  IppPtr print = request(IPP_OP_PRINT_JOB);
  ippAddString(print.get(), IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", nullptr, "report.pdf");
  ippAddString(print.get(), IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", nullptr,
               "application/pdf");
  ippAddInteger(print.get(), IPP_TAG_JOB, IPP_TAG_INTEGER, "copies", 2);
  ippAddString(print.get(), IPP_TAG_JOB, IPP_TAG_KEYWORD, "sides", nullptr, "two-sided-long-edge");
  ippAddString(print.get(), IPP_TAG_JOB, IPP_TAG_KEYWORD, "print-color-mode", nullptr, "monochrome");
  ipp_t *col = ippNew();
  ipp_t *size = ippNew();
  ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "x-dimension", 21000);
  ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "y-dimension", 29700);
  ippAddCollection(col, IPP_TAG_ZERO, "media-size", size);
  ippAddCollection(print.get(), IPP_TAG_JOB, "media-col", col);
  ippDelete(size);
  ippDelete(col);
  put("print-job", 64, post(encode(print.get()) + kPdf));
  put("print-job-chunked-expect", 7, chunked(encode(print.get()) + kPdf, 13));

  IppPtr gpa = request(IPP_OP_GET_PRINTER_ATTRIBUTES);
  const char *groups[] = {"all", "media-col-database"};
  ippAddStrings(gpa.get(), IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", 2, nullptr, groups);
  IppPtr validate = request(IPP_OP_VALIDATE_JOB);
  ippAddString(validate.get(), IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", nullptr, "text/plain");
  put("pipelined-get-printer-attributes-validate-job", 64,
      post(encode(gpa.get())) + post(encode(validate.get())));

  IppPtr create = request(IPP_OP_CREATE_JOB);
  ippAddInteger(create.get(), IPP_TAG_JOB, IPP_TAG_INTEGER, "job-priority", 50);
  IppPtr send = request(IPP_OP_SEND_DOCUMENT);
  ippAddInteger(send.get(), IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", 7);
  ippAddBoolean(send.get(), IPP_TAG_OPERATION, "last-document", 1);
  put("create-job-send-document", 31,
      post(encode(create.get())) + post(encode(send.get()) + "%!PS\nshowpage\n"));

  IppPtr jobs = request(IPP_OP_GET_JOBS);
  ippAddString(jobs.get(), IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "which-jobs", nullptr, "completed");
  ippAddInteger(jobs.get(), IPP_TAG_OPERATION, IPP_TAG_INTEGER, "limit", 10);
  ippAddBoolean(jobs.get(), IPP_TAG_OPERATION, "my-jobs", 1);
  IppPtr cancel(ippNewRequest(IPP_OP_CANCEL_JOB));
  ippAddString(cancel.get(), IPP_TAG_OPERATION, IPP_TAG_URI, "job-uri", nullptr,
               "ipp://localhost:9167/ipp/print/7");
  ippAddBoolean(cancel.get(), IPP_TAG_OPERATION, "purge-job", 1);
  put("get-jobs-cancel-job-uri", 64, post(encode(jobs.get())) + post(encode(cancel.get())));

  // Hostile.
  IppPtr version = request(IPP_OP_GET_PRINTER_ATTRIBUTES);
  ippSetVersion(version.get(), 0, 0);
  ippSetRequestId(version.get(), 0);
  put("hostile-version-0-request-id-0", 64, post(encode(version.get())));
  IppPtr print_uri = request(IPP_OP_PRINT_URI);
  ippAddString(print_uri.get(), IPP_TAG_OPERATION, IPP_TAG_URI, "document-uri", nullptr, "ftp://x/y");
  put("hostile-print-uri", 64, post(encode(print_uri.get())));
  std::string section = encode(gpa.get());
  put("hostile-truncated-section", 3, post(section.substr(0, section.size() / 2)));
  std::string extension = section;
  extension.insert(extension.size() - 1, std::string("\x7f\x00\x01x\x00\x04\x00\x00\x00\x01", 10));
  put("hostile-extension-tag", 64, post(extension));
  std::string long_name = section;
  long_name.insert(long_name.size() - 1, std::string("\x44\xff\xff", 3)); // name length 65535, missing
  put("hostile-name-length", 64, post(long_name));
  std::string bad_int("\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x21\x00\x01n\x00\x02\x00\x00\x03", 18);
  put("hostile-integer-2-bytes", 64, post(bad_int));
  put("hostile-bad-chunk", 64,
      "POST /ipp/print HTTP/1.1\r\nContent-Type: application/ipp\r\nTransfer-Encoding: "
      "chunked\r\n\r\nzz\r\n");
  put("hostile-expect-other", 64,
      "POST /ipp/print HTTP/1.1\r\nExpect: 42-sorts\r\nContent-Length: 5\r\n\r\nhello");
  put("http-get-and-garbage", 5,
      "GET / HTTP/1.1\r\nHost: x\r\n\r\nPUT /x HTTP/1.1\r\nContent-Length: 1\r\n\r\nzHELLO\r\n\r\n");
  std::string http10 =
      "POST /ipp/print HTTP/1.0\r\nContent-Type: application/ipp\r\n\r\n" + encode(print.get()) + kPdf;
  put("http10-post-without-length", 64, http10);
  std::printf("wrote %s\n", g_dir.c_str());
  return 0;
}
