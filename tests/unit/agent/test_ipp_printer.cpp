// The IPP capture printer on a real loop (issue 3, "Capture from the operating system's
// spooler"): each operation, the job facts that reach the store, ownership, and the precise
// status of every refusal. Requests are built with libcups and sent as hand-built HTTP.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "ipp_test_support.h"
#include "lpm/protocol/keys.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;

namespace {

IppPtr print_job(uint16_t port, const std::string &user, const std::string &format,
                 const std::string &title = "report") {
  IppPtr r = ipp_request(IPP_OP_PRINT_JOB, port, user);
  ippAddString(r.get(), IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", nullptr, title.c_str());
  if (!format.empty())
    ippAddString(r.get(), IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", nullptr, format.c_str());
  return r;
}

int submit(IppServer &s, const std::string &user, const std::string &document = kTwoPagePostScript) {
  IppPtr r = print_job(s.port, user, "application/postscript");
  IppPtr resp = call(s.port, r.get(), document);
  REQUIRE(status_of(resp.get()) == IPP_STATUS_OK);
  return integer_of(resp.get(), "job-id");
}

} // namespace

TEST_CASE("Print-Job stores the document held, with its facts, and the job is complete for IPP (issue 3)",
          "[agent][ipp]") {
  IppServer s;
  IppPtr r = print_job(s.port, "alice", "application/postscript", "Quarterly report");
  ippAddInteger(r.get(), IPP_TAG_JOB, IPP_TAG_INTEGER, "copies", 2);
  ippAddString(r.get(), IPP_TAG_JOB, IPP_TAG_KEYWORD, "sides", nullptr, "two-sided-long-edge");
  ippAddString(r.get(), IPP_TAG_JOB, IPP_TAG_KEYWORD, "print-color-mode", nullptr, "monochrome");
  ippAddString(r.get(), IPP_TAG_JOB, IPP_TAG_KEYWORD, "media", nullptr, "iso_a4_210x297mm");
  IppPtr resp = call(s.port, r.get(), kTwoPagePostScript);

  CHECK(status_of(resp.get()) == IPP_STATUS_OK);
  int id = integer_of(resp.get(), "job-id");
  CHECK(id > 0);
  CHECK(integer_of(resp.get(), "job-state") == IPP_JSTATE_COMPLETED);
  CHECK(string_of(resp.get(), "job-state-message") == "held for release");
  CHECK(string_of(resp.get(), "job-state-reasons") == "job-completed-successfully");
  CHECK(string_of(resp.get(), "job-uri") == ipp_printer_uri(s.port) + "/" + std::to_string(id));

  auto jobs = s.jobs_of(kAlice);
  REQUIRE(jobs.size() == 1);
  const Job &job = jobs[0];
  CHECK(job.state == JobState::held);
  CHECK(job.os_account == "alice");
  CHECK(job.title == "Quarterly report");
  CHECK(job.format == "application/postscript");
  CHECK(job.copies == 2);
  CHECK(job.sides == "two-sided-long-edge");
  CHECK(job.color == "monochrome");
  CHECK(job.size_bytes == kTwoPagePostScript.size());
  CHECK(job.pages == 2);
  auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(kTwoPagePostScript.data()),
                                        kTwoPagePostScript.size());
  CHECK(job.sha256 == proto::sha256(bytes));
  CHECK(s.document_of(job) == kTwoPagePostScript);
}

TEST_CASE(
    "Print-Job without a format, or application/octet-stream, is sniffed from the first bytes, the title "
    "falls back to document-name, then Untitled",
    "[agent][ipp]") {
  IppServer s;
  IppPtr a = ipp_request(IPP_OP_PRINT_JOB, s.port, "alice");
  ippAddString(a.get(), IPP_TAG_OPERATION, IPP_TAG_NAME, "document-name", nullptr, "scan.pdf");
  CHECK(status_of(call(s.port, a.get(), "%PDF-1.4\nnot really a pdf\n").get()) == IPP_STATUS_OK);
  IppPtr b = ipp_request(IPP_OP_PRINT_JOB, s.port, "alice");
  ippAddString(b.get(), IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", nullptr,
               "application/octet-stream");
  CHECK(status_of(call(s.port, b.get(), "UNIRAST").get()) == IPP_STATUS_OK); // shorter than the sniff window
  IppPtr c = ipp_request(IPP_OP_PRINT_JOB, s.port, "alice");
  CHECK(status_of(call(s.port, c.get(), "\x1b%-12345X@PJL\n").get()) == IPP_STATUS_OK);

  auto jobs = s.jobs_of(kAlice);
  REQUIRE(jobs.size() == 3);
  CHECK(jobs[0].format == "application/pdf");
  CHECK(jobs[0].title == "scan.pdf");
  CHECK(jobs[0].pages == -1);                          // not a PDF qpdf can read
  CHECK(jobs[1].format == "application/octet-stream"); // "UNIRAST" without its NUL is not URF
  CHECK(jobs[1].title == "Untitled");
  CHECK(jobs[2].format == "application/octet-stream");
}

TEST_CASE("a chunked Print-Job sent with Expect: 100-continue gets 100 Continue, then its response, on a "
          "connection that stays open",
          "[agent][ipp]") {
  IppServer s;
  TestClient client(s.port);
  IppPtr r = print_job(s.port, "alice", "application/postscript");
  std::string body = encode(r.get()) + kTwoPagePostScript;
  REQUIRE(client.send("POST /ipp/print HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\n"
                      "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"));
  HttpResponse go_on = client.read_response();
  CHECK(go_on.status == 100);
  // Chunks cut across the attribute section and the document.
  std::string chunked;
  for (size_t at = 0; at < body.size(); at += 37) {
    std::string part = body.substr(at, 37);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    chunked += size + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  REQUIRE(client.send(chunked));
  IppPtr resp = decode_response(client.read_response());
  CHECK(status_of(resp.get()) == IPP_STATUS_OK);

  // Keep-alive: the next request goes on the same connection.
  IppPtr again = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  CHECK(status_of(call(client, again.get()).get()) == IPP_STATUS_OK);
  auto jobs = s.jobs_of(kAlice);
  REQUIRE(jobs.size() == 1);
  CHECK(s.document_of(jobs[0]) == kTwoPagePostScript);
}

TEST_CASE("pipelined requests on one connection are answered in order", "[agent][ipp]") {
  IppServer s;
  TestClient client(s.port);
  IppPtr a = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  ippSetRequestId(a.get(), 41);
  IppPtr b = print_job(s.port, "alice", "application/postscript");
  ippSetRequestId(b.get(), 42);
  REQUIRE(client.send(post(encode(a.get())) + post(encode(b.get()) + kTwoPagePostScript)));
  IppPtr first = decode_response(client.read_response());
  IppPtr second = decode_response(client.read_response());
  CHECK(ippGetRequestId(first.get()) == 41);
  CHECK(ippGetRequestId(second.get()) == 42);
  CHECK(status_of(second.get()) == IPP_STATUS_OK);
}

TEST_CASE("Validate-Job accepts a good ticket and refuses an unsupported document-format precisely",
          "[agent][ipp]") {
  IppServer s;
  IppPtr good = print_job(s.port, "alice", "application/pdf");
  ippSetOperation(good.get(), IPP_OP_VALIDATE_JOB);
  CHECK(status_of(call(s.port, good.get()).get()) == IPP_STATUS_OK);

  IppPtr bad = print_job(s.port, "alice", "text/plain");
  ippSetOperation(bad.get(), IPP_OP_VALIDATE_JOB);
  IppPtr resp = call(s.port, bad.get());
  CHECK(status_of(resp.get()) == IPP_STATUS_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED);
  CHECK(unsupported_of(resp.get()) == std::vector<std::string>{"document-format"});
  CHECK_THAT(message_of(resp.get()), Catch::Contains("text/plain"));
  CHECK(s.jobs_of(kAlice).empty());
}

TEST_CASE("Create-Job then Send-Document stores one job under the created job-id, a Send-Document without "
          "last-document is a bad request",
          "[agent][ipp]") {
  IppServer s;
  IppPtr create = ipp_request(IPP_OP_CREATE_JOB, s.port, "alice");
  ippAddString(create.get(), IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", nullptr, "Two-step");
  ippAddInteger(create.get(), IPP_TAG_JOB, IPP_TAG_INTEGER, "copies", 3);
  IppPtr created = call(s.port, create.get());
  REQUIRE(status_of(created.get()) == IPP_STATUS_OK);
  int id = integer_of(created.get(), "job-id");
  CHECK(integer_of(created.get(), "job-state") == IPP_JSTATE_PENDING);

  // Listed as not completed while it waits.
  IppPtr pending = ipp_request(IPP_OP_GET_JOBS, s.port, "alice");
  ippAddString(pending.get(), IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "which-jobs", nullptr, "not-completed");
  CHECK(integer_of(call(s.port, pending.get()).get(), "job-id") == id);

  IppPtr no_last = job_request(IPP_OP_SEND_DOCUMENT, s.port, id, "alice");
  IppPtr refused = call(s.port, no_last.get(), kTwoPagePostScript);
  CHECK(status_of(refused.get()) == IPP_STATUS_ERROR_BAD_REQUEST);
  CHECK_THAT(message_of(refused.get()), Catch::Contains("last-document"));

  IppPtr send = job_request(IPP_OP_SEND_DOCUMENT, s.port, id, "alice");
  ippAddBoolean(send.get(), IPP_TAG_OPERATION, "last-document", 1);
  ippAddString(send.get(), IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", nullptr,
               "application/postscript");
  IppPtr sent = call(s.port, send.get(), kTwoPagePostScript);
  CHECK(status_of(sent.get()) == IPP_STATUS_OK);
  CHECK(integer_of(sent.get(), "job-id") == id);
  CHECK(integer_of(sent.get(), "job-state") == IPP_JSTATE_COMPLETED);

  auto jobs = s.jobs_of(kAlice);
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].title == "Two-step");
  CHECK(jobs[0].copies == 3);
  CHECK(jobs[0].pages == 2);
  // The created id now names the stored job.
  IppPtr attrs = job_request(IPP_OP_GET_JOB_ATTRIBUTES, s.port, id, "alice");
  IppPtr got = call(s.port, attrs.get());
  CHECK(status_of(got.get()) == IPP_STATUS_OK);
  CHECK(string_of(got.get(), "job-name") == "Two-step");
  // A stored job takes no second document.
  IppPtr again = job_request(IPP_OP_SEND_DOCUMENT, s.port, id, "alice");
  ippAddBoolean(again.get(), IPP_TAG_OPERATION, "last-document", 1);
  CHECK(status_of(call(s.port, again.get(), "%!PS\n").get()) == IPP_STATUS_ERROR_NOT_POSSIBLE);
}

TEST_CASE("Send-Document with last-document false keeps the job open until a closing Send-Document, a second "
          "document is refused",
          "[agent][ipp]") {
  IppServer s;
  IppPtr create = ipp_request(IPP_OP_CREATE_JOB, s.port, "alice");
  int id = integer_of(call(s.port, create.get()).get(), "job-id");
  IppPtr first = job_request(IPP_OP_SEND_DOCUMENT, s.port, id, "alice");
  ippAddBoolean(first.get(), IPP_TAG_OPERATION, "last-document", 0);
  CHECK(status_of(call(s.port, first.get(), kTwoPagePostScript).get()) == IPP_STATUS_OK);
  CHECK(s.jobs_of(kAlice).empty());
  IppPtr second = job_request(IPP_OP_SEND_DOCUMENT, s.port, id, "alice");
  ippAddBoolean(second.get(), IPP_TAG_OPERATION, "last-document", 0);
  CHECK(status_of(call(s.port, second.get(), "%!PS\nmore\n").get()) ==
        IPP_STATUS_ERROR_MULTIPLE_JOBS_NOT_SUPPORTED);
  IppPtr close = job_request(IPP_OP_SEND_DOCUMENT, s.port, id, "alice");
  ippAddBoolean(close.get(), IPP_TAG_OPERATION, "last-document", 1);
  CHECK(status_of(call(s.port, close.get()).get()) == IPP_STATUS_OK);
  auto jobs = s.jobs_of(kAlice);
  REQUIRE(jobs.size() == 1);
  CHECK(s.document_of(jobs[0]) == kTwoPagePostScript);
}

TEST_CASE("Get-Printer-Attributes answers the requested attributes and groups from the capability profile",
          "[agent][ipp]") {
  IppServer s([](IppPrinterOptions &o) {
    o.capabilities.media_sizes = {"na_letter_8.5x11in", "iso_a5_148x210mm"};
    o.capabilities.duplex = false;
    o.capabilities.color = false;
  });
  IppPtr all = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  const char *groups[] = {"all", "media-col-database"};
  ippAddStrings(all.get(), IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", 2, nullptr, groups);
  IppPtr resp = call(s.port, all.get());
  CHECK(status_of(resp.get()) == IPP_STATUS_OK);
  CHECK(string_of(resp.get(), "printer-name") == "LPMServerless");
  CHECK(string_of(resp.get(), "printer-uuid") == ipp_printer_uuid("test-workstation"));
  CHECK(string_of(resp.get(), "media-default") == "na_letter_8.5x11in");
  ipp_attribute_t *media = ippFindAttribute(resp.get(), "media-supported", IPP_TAG_KEYWORD);
  REQUIRE(media != nullptr);
  CHECK(ippGetCount(media) == 2);
  ipp_attribute_t *sides = ippFindAttribute(resp.get(), "sides-supported", IPP_TAG_KEYWORD);
  REQUIRE(sides != nullptr);
  CHECK(ippGetCount(sides) == 1);
  CHECK(ippGetBoolean(ippFindAttribute(resp.get(), "color-supported", IPP_TAG_BOOLEAN), 0) == 0);
  CHECK(ippFindAttribute(resp.get(), "pages-per-minute-color", IPP_TAG_ZERO) == nullptr);
  CHECK(ippGetCount(ippFindAttribute(resp.get(), "media-col-database", IPP_TAG_BEGIN_COLLECTION)) == 2);
  CHECK(integer_of(resp.get(), "printer-state") == IPP_PSTATE_IDLE);
  ipp_attribute_t *formats = ippFindAttribute(resp.get(), "document-format-supported", IPP_TAG_MIMETYPE);
  REQUIRE(formats != nullptr);
  CHECK(ippContainsString(formats, "application/pdf"));
  CHECK(ippContainsString(formats, "image/pwg-raster"));
  CHECK(ippContainsString(formats, "application/octet-stream"));

  IppPtr one = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  ippAddString(one.get(), IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", nullptr,
               "printer-uri-supported");
  IppPtr only = call(s.port, one.get());
  CHECK(string_of(only.get(), "printer-uri-supported") == ipp_printer_uri(s.port));
  CHECK(ippFindAttribute(only.get(), "printer-name", IPP_TAG_ZERO) == nullptr);

  IppPtr tmpl = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  ippAddString(tmpl.get(), IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", nullptr,
               "job-template");
  IppPtr jt = call(s.port, tmpl.get());
  CHECK(ippFindAttribute(jt.get(), "copies-supported", IPP_TAG_RANGE) != nullptr);
  CHECK(ippFindAttribute(jt.get(), "printer-name", IPP_TAG_ZERO) == nullptr);
}

TEST_CASE("the document formats advertised and accepted are the capability profile's (issue 3)", "[agent][ipp]") {
  IppServer s([](IppPrinterOptions &o) { o.capabilities.document_formats = {"application/pdf"}; });
  IppPtr all = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  IppPtr resp = call(s.port, all.get());
  ipp_attribute_t *formats = ippFindAttribute(resp.get(), "document-format-supported", IPP_TAG_MIMETYPE);
  REQUIRE(formats != nullptr);
  CHECK(ippGetCount(formats) == 2);
  CHECK(ippContainsString(formats, "application/pdf"));
  CHECK(ippContainsString(formats, "application/octet-stream"));
  IppPtr ps = print_job(s.port, "alice", "application/postscript");
  IppPtr ps_resp = call(s.port, ps.get(), kTwoPagePostScript);
  CHECK(status_of(ps_resp.get()) == IPP_STATUS_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED);
  CHECK_THAT(message_of(ps_resp.get()), Catch::Contains("application/pdf"));
  CHECK(unsupported_of(ps_resp.get()) == std::vector<std::string>{"document-format"});
  CHECK(s.jobs_of(kAlice).empty());

  // Sent as application/octet-stream, the document is sniffed: PostScript is refused as well,
  // whether it arrives in one piece or is shorter than the sniffing window.
  IppPtr sniffed = print_job(s.port, "alice", "application/octet-stream");
  IppPtr sniffed_resp = call(s.port, sniffed.get(), kTwoPagePostScript);
  CHECK(status_of(sniffed_resp.get()) == IPP_STATUS_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED);
  CHECK_THAT(message_of(sniffed_resp.get()), Catch::Contains("application/postscript"));
  IppPtr tiny = print_job(s.port, "alice", "application/octet-stream");
  CHECK(status_of(call(s.port, tiny.get(), "%!PS\n").get()) == IPP_STATUS_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED);
  // Unknown bytes and a PDF are still taken.
  IppPtr pdf = print_job(s.port, "alice", "application/octet-stream");
  CHECK(status_of(call(s.port, pdf.get(), "%PDF-1.4\n%%EOF\n").get()) == IPP_STATUS_OK);
  IppPtr other = print_job(s.port, "alice", "application/octet-stream");
  CHECK(status_of(call(s.port, other.get(), "plain bytes of no known kind").get()) == IPP_STATUS_OK);
  CHECK(s.jobs_of(kAlice).size() == 2);
}

TEST_CASE("Get-Jobs lists only the requester's jobs and honours which-jobs, limit and requested-attributes",
          "[agent][ipp]") {
  IppServer s;
  int a1 = submit(s, "alice");
  int b1 = submit(s, "bob");
  int a2 = submit(s, "alice");

  IppPtr mine = ipp_request(IPP_OP_GET_JOBS, s.port, "alice");
  ippAddString(mine.get(), IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "which-jobs", nullptr, "completed");
  IppPtr resp = call(s.port, mine.get());
  std::vector<int> ids;
  for (ipp_attribute_t *a = ippFirstAttribute(resp.get()); a; a = ippNextAttribute(resp.get()))
    if (ippGetName(a) && std::string(ippGetName(a)) == "job-id") ids.push_back(ippGetInteger(a, 0));
  CHECK(ids == std::vector<int>{a1, a2});
  // Without requested-attributes: job-id and job-uri only (RFC 8011 4.2.6.1).
  CHECK(ippFindAttribute(resp.get(), "job-name", IPP_TAG_ZERO) == nullptr);
  CHECK(ippFindAttribute(resp.get(), "job-uri", IPP_TAG_URI) != nullptr);

  // The default which-jobs is not-completed: stored jobs are complete.
  IppPtr dflt = ipp_request(IPP_OP_GET_JOBS, s.port, "alice");
  CHECK(ippFindAttribute(call(s.port, dflt.get()).get(), "job-id", IPP_TAG_ZERO) == nullptr);

  IppPtr limited = ipp_request(IPP_OP_GET_JOBS, s.port, "bob");
  ippAddString(limited.get(), IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "which-jobs", nullptr, "all");
  ippAddInteger(limited.get(), IPP_TAG_OPERATION, IPP_TAG_INTEGER, "limit", 1);
  ippAddString(limited.get(), IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", nullptr, "all");
  IppPtr bob = call(s.port, limited.get());
  CHECK(integer_of(bob.get(), "job-id") == b1);
  CHECK(string_of(bob.get(), "job-originating-user-name") == "bob");
  CHECK(string_of(bob.get(), "job-state-message") == "held for release");
  CHECK(integer_of(bob.get(), "job-impressions") == 2);

  IppPtr bad = ipp_request(IPP_OP_GET_JOBS, s.port, "alice");
  ippAddString(bad.get(), IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "which-jobs", nullptr, "proof-print");
  IppPtr refused = call(s.port, bad.get());
  CHECK(status_of(refused.get()) == IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES);
  CHECK(unsupported_of(refused.get()) == std::vector<std::string>{"which-jobs"});
}

TEST_CASE("another user's job is not found for Get-Job-Attributes and Cancel-Job, and stays intact",
          "[agent][ipp]") {
  IppServer s;
  int bobs = submit(s, "bob");
  IppPtr get = job_request(IPP_OP_GET_JOB_ATTRIBUTES, s.port, bobs, "alice");
  CHECK(status_of(call(s.port, get.get()).get()) == IPP_STATUS_ERROR_NOT_FOUND);
  IppPtr cancel = job_request(IPP_OP_CANCEL_JOB, s.port, bobs, "alice");
  ippAddBoolean(cancel.get(), IPP_TAG_OPERATION, "purge-job", 1);
  CHECK(status_of(call(s.port, cancel.get()).get()) == IPP_STATUS_ERROR_NOT_FOUND);
  // A local account that is not the backend cannot borrow a name either (nobody is bound to bob).
  s.peer_uid = uid_of("nobody");
  IppPtr as_alice = job_request(IPP_OP_GET_JOB_ATTRIBUTES, s.port, bobs, "alice");
  CHECK(status_of(call(s.port, as_alice.get()).get()) == IPP_STATUS_OK);
  s.peer_uid = uid_of("daemon");
  CHECK(status_of(call(s.port, as_alice.get()).get()) == IPP_STATUS_ERROR_NOT_AUTHORIZED);
  REQUIRE(s.jobs_of(kBob).size() == 1);
  CHECK(s.jobs_of(kBob)[0].state == JobState::held);
}

TEST_CASE(
    "Cancel-Job: a stored job is complete (client-error-not-possible) unless purge-job deletes it, a job "
    "still waiting for its document is canceled",
    "[agent][ipp]") {
  IppServer s;
  int id = submit(s, "alice");
  IppPtr plain = job_request(IPP_OP_CANCEL_JOB, s.port, id, "alice");
  IppPtr refused = call(s.port, plain.get());
  CHECK(status_of(refused.get()) == IPP_STATUS_ERROR_NOT_POSSIBLE);
  CHECK_THAT(message_of(refused.get()), Catch::Contains("purge-job"));
  CHECK(s.jobs_of(kAlice).size() == 1);

  IppPtr purge = job_request(IPP_OP_CANCEL_JOB, s.port, id, "alice");
  ippAddBoolean(purge.get(), IPP_TAG_OPERATION, "purge-job", 1);
  CHECK(status_of(call(s.port, purge.get()).get()) == IPP_STATUS_OK);
  CHECK(s.jobs_of(kAlice).empty());
  IppPtr gone = job_request(IPP_OP_GET_JOB_ATTRIBUTES, s.port, id, "alice");
  CHECK(status_of(call(s.port, gone.get()).get()) == IPP_STATUS_ERROR_NOT_FOUND);

  IppPtr create = ipp_request(IPP_OP_CREATE_JOB, s.port, "alice");
  int pending = integer_of(call(s.port, create.get()).get(), "job-id");
  CHECK(pending > id); // ids are never reused
  IppPtr cancel = job_request(IPP_OP_CANCEL_JOB, s.port, pending, "alice");
  CHECK(status_of(call(s.port, cancel.get()).get()) == IPP_STATUS_OK);
  IppPtr send = job_request(IPP_OP_SEND_DOCUMENT, s.port, pending, "alice");
  ippAddBoolean(send.get(), IPP_TAG_OPERATION, "last-document", 1);
  CHECK(status_of(call(s.port, send.get(), kTwoPagePostScript).get()) == IPP_STATUS_ERROR_NOT_FOUND);
  CHECK(s.jobs_of(kAlice).empty());
}

TEST_CASE("the owner: root and lp submit for requesting-user-name, other accounts as themselves, an unbound "
          "account is refused with what to configure",
          "[agent][ipp]") {
  IppServer s;
  s.peer_uid = uid_of("lp");
  submit(s, "bob");
  CHECK(s.jobs_of(kBob).size() == 1);

  s.peer_uid = uid_of("nobody"); // bound to bob; requesting-user-name is not believed
  submit(s, "alice");
  CHECK(s.jobs_of(kBob).size() == 2);
  CHECK(s.jobs_of(kAlice).empty());
  CHECK(s.jobs_of(kBob)[1].os_account == "nobody");

  s.peer_uid = 0;
  IppPtr mallory = print_job(s.port, "mallory", "application/postscript");
  IppPtr refused = call(s.port, mallory.get(), kTwoPagePostScript);
  CHECK(status_of(refused.get()) == IPP_STATUS_ERROR_NOT_AUTHORIZED);
  CHECK_THAT(message_of(refused.get()), Catch::Contains("<Bind account=\"mallory\""));
  CHECK_THAT(message_of(refused.get()), Catch::Contains("IdentityBinding"));

  IppPtr nameless = print_job(s.port, "", "application/postscript");
  IppPtr refused2 = call(s.port, nameless.get(), kTwoPagePostScript);
  CHECK(status_of(refused2.get()) == IPP_STATUS_ERROR_NOT_AUTHORIZED);
  CHECK_THAT(message_of(refused2.get()), Catch::Contains("requesting-user-name"));

  s.peer_uid = uid_of("daemon");
  IppPtr unbound = ipp_request(IPP_OP_GET_JOBS, s.port, "alice");
  IppPtr refused3 = call(s.port, unbound.get());
  CHECK(status_of(refused3.get()) == IPP_STATUS_ERROR_NOT_AUTHORIZED);
  CHECK_THAT(message_of(refused3.get()), Catch::Contains("'daemon'"));
  // Get-Printer-Attributes needs no owner: CUPS asks it before any job.
  IppPtr attrs = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port, "");
  CHECK(status_of(call(s.port, attrs.get()).get()) == IPP_STATUS_OK);
  CHECK(s.jobs_of(kAlice).empty());
}

TEST_CASE("every malformed or unsupported request gets the precise IPP status (RFC 8011 4.1)",
          "[agent][ipp]") {
  IppServer s;
  auto status = [&](IppPtr r, const std::string &doc = {}) {
    return status_of(call(s.port, r.get(), doc).get());
  };

  IppPtr version = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  ippSetVersion(version.get(), 0, 0);
  CHECK(status(std::move(version)) == IPP_STATUS_ERROR_VERSION_NOT_SUPPORTED);

  IppPtr zero_id = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  ippSetRequestId(zero_id.get(), 0);
  CHECK(status(std::move(zero_id)) == IPP_STATUS_ERROR_BAD_REQUEST);

  IppPtr no_attrs(ippNew());
  ippSetOperation(no_attrs.get(), IPP_OP_GET_PRINTER_ATTRIBUTES);
  ippSetRequestId(no_attrs.get(), 7);
  ippSetVersion(no_attrs.get(), 2, 0);
  CHECK(status(std::move(no_attrs)) == IPP_STATUS_ERROR_BAD_REQUEST);

  IppPtr swapped(ippNew());
  ippSetOperation(swapped.get(), IPP_OP_GET_PRINTER_ATTRIBUTES);
  ippSetRequestId(swapped.get(), 8);
  ippSetVersion(swapped.get(), 2, 0);
  ippAddString(swapped.get(), IPP_TAG_OPERATION, IPP_TAG_LANGUAGE, "attributes-natural-language", nullptr,
               "en");
  ippAddString(swapped.get(), IPP_TAG_OPERATION, IPP_TAG_CHARSET, "attributes-charset", nullptr, "utf-8");
  ippAddString(swapped.get(), IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", nullptr,
               ipp_printer_uri(s.port).c_str());
  CHECK(status(std::move(swapped)) == IPP_STATUS_ERROR_BAD_REQUEST);

  IppPtr no_uri(ippNewRequest(IPP_OP_GET_PRINTER_ATTRIBUTES));
  CHECK(status(std::move(no_uri)) == IPP_STATUS_ERROR_BAD_REQUEST);

  IppPtr wrong_printer(ippNewRequest(IPP_OP_GET_PRINTER_ATTRIBUTES));
  ippAddString(wrong_printer.get(), IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", nullptr,
               "ipp://localhost/printers/other");
  CHECK(status(std::move(wrong_printer)) == IPP_STATUS_ERROR_NOT_FOUND);

  IppPtr unknown = ipp_request(IPP_OP_PAUSE_PRINTER, s.port);
  CHECK(status(std::move(unknown)) == IPP_STATUS_ERROR_OPERATION_NOT_SUPPORTED);
  IppPtr print_uri = ipp_request(IPP_OP_PRINT_URI, s.port);
  ippAddString(print_uri.get(), IPP_TAG_OPERATION, IPP_TAG_URI, "document-uri", nullptr,
               "ftp://example/doc.pdf");
  CHECK(status(std::move(print_uri)) == IPP_STATUS_ERROR_OPERATION_NOT_SUPPORTED);
  IppPtr send_uri = job_request(IPP_OP_SEND_URI, s.port, 1);
  CHECK(status(std::move(send_uri)) == IPP_STATUS_ERROR_OPERATION_NOT_SUPPORTED);

  IppPtr latin1 = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  ipp_attribute_t *charset = ippFindAttribute(latin1.get(), "attributes-charset", IPP_TAG_CHARSET);
  ippSetString(latin1.get(), &charset, 0, "iso-8859-1");
  CHECK(status(std::move(latin1)) == IPP_STATUS_ERROR_CHARSET);

  // naturalLanguage and mimeMediaType values are checked to their grammar (not by libcups'
  // per-call regular expressions); well-formed variants pass.
  for (const char *bad : {"", "english language", "en--us", "toolonglanguage", "e1"}) {
    IppPtr lang = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
    ipp_attribute_t *nl = ippFindAttribute(lang.get(), "attributes-natural-language", IPP_TAG_LANGUAGE);
    ippSetString(lang.get(), &nl, 0, bad);
    INFO("natural language \"" << bad << "\"");
    CHECK(status(std::move(lang)) == IPP_STATUS_ERROR_BAD_REQUEST);
  }
  for (const char *good : {"en", "en-US", "zh-Hant-TW", "de-CH-1996"}) {
    IppPtr lang = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
    ipp_attribute_t *nl = ippFindAttribute(lang.get(), "attributes-natural-language", IPP_TAG_LANGUAGE);
    ippSetString(lang.get(), &nl, 0, good);
    INFO("natural language \"" << good << "\"");
    CHECK(status(std::move(lang)) == IPP_STATUS_OK);
  }
  for (const char *bad : {"pdf", "application/", "/pdf", "application/p df", "app(lication)/pdf"}) {
    IppPtr mime = ipp_request(IPP_OP_VALIDATE_JOB, s.port);
    ippAddString(mime.get(), IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", nullptr, bad);
    INFO("document-format \"" << bad << "\"");
    CHECK(status(std::move(mime)) == IPP_STATUS_ERROR_BAD_REQUEST);
  }
  IppPtr params = ipp_request(IPP_OP_VALIDATE_JOB, s.port);
  ippAddString(params.get(), IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", nullptr,
               "application/pdf;charset=binary");
  CHECK(status(std::move(params)) != IPP_STATUS_ERROR_BAD_REQUEST);

  IppPtr no_job_id = ipp_request(IPP_OP_GET_JOB_ATTRIBUTES, s.port);
  CHECK(status(std::move(no_job_id)) == IPP_STATUS_ERROR_BAD_REQUEST);

  IppPtr sides = print_job(s.port, "alice", "application/pdf");
  ippAddString(sides.get(), IPP_TAG_JOB, IPP_TAG_KEYWORD, "sides", nullptr, "two-sided-sideways");
  IppPtr sides_resp = call(s.port, sides.get(), "%PDF-1.4\n");
  CHECK(status_of(sides_resp.get()) == IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES);
  CHECK(unsupported_of(sides_resp.get()) == std::vector<std::string>{"sides"});

  IppPtr copies = print_job(s.port, "alice", "application/pdf");
  ippAddInteger(copies.get(), IPP_TAG_JOB, IPP_TAG_INTEGER, "copies", 0);
  IppPtr copies_resp = call(s.port, copies.get(), "%PDF-1.4\n");
  CHECK(status_of(copies_resp.get()) == IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES);
  CHECK(unsupported_of(copies_resp.get()) == std::vector<std::string>{"copies"});

  IppPtr gzip = print_job(s.port, "alice", "application/pdf");
  ippAddString(gzip.get(), IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "compression", nullptr, "gzip");
  CHECK(status(std::move(gzip), "%PDF-1.4\n") == IPP_STATUS_ERROR_COMPRESSION_NOT_SUPPORTED);

  // Unknown job attributes are ignored and reported, unless the client wants fidelity.
  IppPtr extra = print_job(s.port, "alice", "application/postscript");
  ippAddInteger(extra.get(), IPP_TAG_JOB, IPP_TAG_INTEGER, "job-priority", 50);
  IppPtr extra_resp = call(s.port, extra.get(), kTwoPagePostScript);
  CHECK(status_of(extra_resp.get()) == IPP_STATUS_OK_IGNORED_OR_SUBSTITUTED);
  CHECK(unsupported_of(extra_resp.get()) == std::vector<std::string>{"job-priority"});
  IppPtr strict = print_job(s.port, "alice", "application/postscript");
  ippAddBoolean(strict.get(), IPP_TAG_OPERATION, "ipp-attribute-fidelity", 1);
  ippAddInteger(strict.get(), IPP_TAG_JOB, IPP_TAG_INTEGER, "job-priority", 50);
  CHECK(status(std::move(strict), kTwoPagePostScript) == IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES);

  IppPtr empty = print_job(s.port, "alice", "application/postscript");
  IppPtr empty_resp = call(s.port, empty.get());
  CHECK(status_of(empty_resp.get()) == IPP_STATUS_ERROR_BAD_REQUEST);
  CHECK_THAT(message_of(empty_resp.get()), Catch::Contains("no document"));

  CHECK(s.jobs_of(kAlice).size() == 1); // only the job with the ignored attribute
}

TEST_CASE("an IPP body that is not a complete, decodable attribute section is refused precisely",
          "[agent][ipp]") {
  IppServer s([](IppPrinterOptions &o) { o.max_attribute_bytes = 4096; });
  IppPtr big = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  for (int i = 0; i < 40; i++)
    ippAddString(big.get(), IPP_TAG_OPERATION, IPP_TAG_NAME, "padding", nullptr,
                 std::string(200, 'x').c_str());
  IppPtr too_large = call(s.port, big.get());
  CHECK(status_of(too_large.get()) == IPP_STATUS_ERROR_REQUEST_ENTITY);
  CHECK_THAT(message_of(too_large.get()), Catch::Contains("4096"));

  std::string truncated = encode(ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port).get());
  truncated.resize(truncated.size() - 5);
  TestClient client(s.port);
  REQUIRE(client.send(post(truncated)));
  IppPtr cut = decode_response(client.read_response());
  CHECK(status_of(cut.get()) == IPP_STATUS_ERROR_BAD_REQUEST);
  CHECK_THAT(message_of(cut.get()), Catch::Contains("ends inside"));

  std::string extension = encode(ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port).get());
  extension.insert(extension.size() - 1, std::string("\x7f\x00\x01x\x00\x04\x00\x00\x00\x01", 10));
  REQUIRE(client.send(post(extension)));
  IppPtr ext = decode_response(client.read_response());
  CHECK(status_of(ext.get()) == IPP_STATUS_ERROR_BAD_REQUEST);
  CHECK_THAT(message_of(ext.get()), Catch::Contains("extension tag"));

  // A name starting with NUL would become an empty name, which on the wire means something else:
  // libcups' validation refuses it.
  std::string nul_name = encode(ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port).get());
  nul_name.insert(nul_name.size() - 1, std::string("\x02\x44\x00\x02\x00x\x00\x01v", 9));
  REQUIRE(client.send(post(nul_name)));
  IppPtr nul = decode_response(client.read_response());
  CHECK(status_of(nul.get()) == IPP_STATUS_ERROR_BAD_REQUEST);
  CHECK_THAT(message_of(nul.get()), Catch::Contains("attribute name"));

  REQUIRE(client.send(post("IPP")));
  CHECK(client.read_response().status == 400);
}

TEST_CASE("HTTP: methods, paths and content types other than POST application/ipp to /ipp/print get the "
          "matching HTTP status",
          "[agent][ipp]") {
  IppServer s;
  TestClient client(s.port);
  REQUIRE(client.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  HttpResponse page = client.read_response();
  CHECK(page.status == 200);
  CHECK_THAT(page.body, Catch::Contains("LPMServerless"));
  REQUIRE(client.send("GET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  CHECK(client.read_response().status == 404);
  REQUIRE(client.send("PUT /ipp/print HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc"));
  HttpResponse put = client.read_response();
  CHECK(put.status == 405);
  CHECK(put.headers["allow"] == "GET, HEAD, POST");
  REQUIRE(client.send(
      "POST /printers/x HTTP/1.1\r\nContent-Type: application/ipp\r\nContent-Length: 2\r\n\r\nab"));
  CHECK(client.read_response().status == 404);
  REQUIRE(client.send("POST /ipp/print HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nab"));
  CHECK(client.read_response().status == 415);
  // The connection survived all of that.
  IppPtr ok = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  CHECK(status_of(call(client, ok.get()).get()) == IPP_STATUS_OK);

  // A refused head with Expect: 100-continue is answered at once, without waiting for a body.
  TestClient expect(s.port);
  REQUIRE(
      expect.send("POST /elsewhere HTTP/1.1\r\nContent-Type: application/ipp\r\nContent-Length: 1000000\r\n"
                  "Expect: 100-continue\r\n\r\n"));
  HttpResponse early = expect.read_response();
  CHECK(early.status == 404);
  CHECK(early.headers["connection"] == "close");
  CHECK(expect.closed_by_server());

  TestClient garbage(s.port);
  REQUIRE(garbage.send("HELLO\r\n\r\n"));
  CHECK(garbage.read_response().status == 400);
  CHECK(garbage.closed_by_server());
}

TEST_CASE("a client that disconnects in the middle of its document leaves nothing stored", "[agent][ipp]") {
  IppServer s;
  {
    TestClient client(s.port);
    IppPtr r = print_job(s.port, "alice", "application/postscript");
    std::string body = encode(r.get()) + kTwoPagePostScript;
    REQUIRE(client.send("POST /ipp/print HTTP/1.1\r\nContent-Type: application/ipp\r\nContent-Length: " +
                        std::to_string(body.size() + 1000) + "\r\n\r\n" + body));
    // Wait until the server has taken the bytes in (it answers on a second connection).
    IppPtr ping = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
    CHECK(status_of(call(s.port, ping.get()).get()) == IPP_STATUS_OK);
  }
  IppPtr ping = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  CHECK(status_of(call(s.port, ping.get()).get()) == IPP_STATUS_OK);
  CHECK(s.jobs_of(kAlice).empty());
  std::vector<Job> receiving;
  s.loop.run([&] {
    auto st = s.store->db().prepare("SELECT count(*) FROM jobs");
    REQUIRE(st.ok());
    REQUIRE(*st->step());
    CHECK(st->col_int(0) == 0);
  });
}

TEST_CASE("a full disk refuses the job with server-error-internal-error and stores nothing (issue 3)",
          "[agent][ipp]") {
  IppServer s({}, uint64_t{1} << 62); // a free-space reserve no disk has
  IppPtr r = print_job(s.port, "alice", "application/postscript");
  IppPtr resp = call(s.port, r.get(), kTwoPagePostScript);
  CHECK(status_of(resp.get()) == IPP_STATUS_ERROR_INTERNAL);
  CHECK_THAT(message_of(resp.get()), Catch::Contains("disk"));
  CHECK(s.jobs_of(kAlice).empty());
}

TEST_CASE("the capture listeners refuse a non-loopback address, naming the configuration element",
          "[agent][ipp]") {
  TempDir dir;
  auto db = open_db(dir.path);
  auto store = open_store(db, dir.path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  IppPrinterOptions o;
  o.listen = proto::Endpoint{"0.0.0.0", 0};
  auto p = IppPrinter::start(&loop, store, o);
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().code == Errc::bad_request);
  CHECK_THAT(p.error().message, Catch::Contains("<CaptureListen>"));
  RawCaptureOptions ro;
  ro.listen = proto::Endpoint{"192.0.2.1", 0};
  auto raw = RawCapture::start(&loop, store, ro);
  REQUIRE_FALSE(raw.ok());
  CHECK_THAT(raw.error().message, Catch::Contains("<RawListen>"));
  IppPrinterOptions bad_media;
  bad_media.listen = proto::Endpoint{"127.0.0.1", 0};
  bad_media.capabilities.media_sizes = {"a4"};
  auto m = IppPrinter::start(&loop, store, bad_media);
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(m.error().message, Catch::Contains("<CaptureCapabilities><MediaSize>"));
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("a Create-Job whose document does not come within multiple-operation-time-out is aborted",
          "[agent][ipp]") {
  IppServer s([](IppPrinterOptions &o) { o.multiple_operation_timeout_s = 1; });
  IppPtr attrs = ipp_request(IPP_OP_GET_PRINTER_ATTRIBUTES, s.port);
  CHECK(integer_of(call(s.port, attrs.get()).get(), "multiple-operation-time-out") == 1);
  IppPtr create = ipp_request(IPP_OP_CREATE_JOB, s.port, "alice");
  int id = integer_of(call(s.port, create.get()).get(), "job-id");
  std::this_thread::sleep_for(std::chrono::milliseconds(1700));
  IppPtr get = job_request(IPP_OP_GET_JOB_ATTRIBUTES, s.port, id, "alice");
  CHECK(status_of(call(s.port, get.get()).get()) == IPP_STATUS_ERROR_NOT_FOUND);
  IppPtr send = job_request(IPP_OP_SEND_DOCUMENT, s.port, id, "alice");
  ippAddBoolean(send.get(), IPP_TAG_OPERATION, "last-document", 1);
  CHECK(status_of(call(s.port, send.get(), kTwoPagePostScript).get()) == IPP_STATUS_ERROR_NOT_FOUND);
  CHECK(s.jobs_of(kAlice).empty());
}

TEST_CASE("a printer-uri carrying CUPS device-URI options in its query names the printer", "[agent][ipp]") {
  IppServer s;
  IppPtr r(ippNewRequest(IPP_OP_GET_PRINTER_ATTRIBUTES));
  std::string uri = ipp_printer_uri(s.port) + "?waitjob=false";
  ippAddString(r.get(), IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", nullptr, uri.c_str());
  CHECK(status_of(call(s.port, r.get()).get()) == IPP_STATUS_OK);
}
