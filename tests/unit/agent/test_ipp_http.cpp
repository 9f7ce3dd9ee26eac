// The capture printer's parsers without sockets: HTTP framing over llhttp (bytes in any
// split, chunked bodies, caps, pauses between pipelined requests) and the IPP attribute
// section scan and decode (issue 3).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "ipp_http.h"
#include "ipp_message.h"

using namespace lpm;
using namespace lpm::agent;

namespace {

// Records what the reader reports.
struct Recorder : HttpRequestSink {
  std::vector<HttpRequestHead> heads;
  std::vector<std::string> bodies;
  std::vector<bool> keep_alive;
  bool pause_after_each = false;
  HeadVerdict verdict = HeadVerdict::read_body;

  HeadVerdict on_request_head(const HttpRequestHead &head) override {
    heads.push_back(head);
    bodies.emplace_back();
    return verdict;
  }
  void on_request_body(std::span<const uint8_t> data) override {
    bodies.back().append(reinterpret_cast<const char *>(data.data()), data.size());
  }
  bool on_request_end(bool keep) override {
    keep_alive.push_back(keep);
    return !pause_after_each;
  }
};

std::span<const uint8_t> bytes(const std::string &s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(s.data()), s.size());
}

const std::string kTwoRequests = "POST /ipp/print?x=1 HTTP/1.1\r\nContent-Type: application/ipp; "
                                 "charset=x\r\nTransfer-Encoding: chunked\r\n"
                                 "Expect: 100-continue\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                                 "GET / HTTP/1.0\r\n\r\n";

} // namespace

TEST_CASE("the HTTP reader gives the same heads and bodies whatever way the bytes are split",
          "[agent][ipp]") {
  for (size_t step : {size_t{1}, size_t{2}, size_t{7}, kTwoRequests.size()}) {
    Recorder r;
    HttpRequestReader reader(r);
    for (size_t at = 0; at < kTwoRequests.size(); at += step)
      reader.feed(bytes(kTwoRequests.substr(at, step)));
    REQUIRE(r.heads.size() == 2);
    CHECK(r.heads[0].method == "POST");
    CHECK(r.heads[0].path == "/ipp/print");
    CHECK(r.heads[0].content_type == "application/ipp; charset=x");
    CHECK(r.heads[0].expect_continue);
    CHECK(r.bodies[0] == "hello world");
    CHECK(r.heads[1].method == "GET");
    CHECK(r.heads[1].http_minor == 0);
    CHECK(r.keep_alive == std::vector<bool>{true, false});
    CHECK(reader.state() == HttpRequestReader::State::stopped); // HTTP/1.0 without keep-alive ends it
    CHECK(reader.error_status() == 0);
  }
}

TEST_CASE(
    "the HTTP reader pauses between pipelined requests when the sink asks, and resumes where it stopped",
    "[agent][ipp]") {
  Recorder r;
  r.pause_after_each = true;
  HttpRequestReader reader(r);
  CHECK(reader.feed(bytes(kTwoRequests)) == HttpRequestReader::State::paused);
  CHECK(r.heads.size() == 1);
  CHECK(reader.feed(bytes("bytes arriving while paused are kept for resume")) ==
        HttpRequestReader::State::paused);
  r.pause_after_each = false;
  reader.resume();
  CHECK(r.heads.size() == 2);
  CHECK(r.heads[1].path == "/");
}

TEST_CASE("the HTTP reader refuses oversized or malformed heads with the matching status", "[agent][ipp]") {
  {
    Recorder r;
    HttpRequestReader reader(r);
    reader.feed(bytes("GET /" + std::string(kMaxHttpUrlBytes, 'a') + " HTTP/1.1\r\n\r\n"));
    CHECK(reader.state() == HttpRequestReader::State::stopped);
    CHECK(reader.error_status() == 414);
  }
  {
    Recorder r;
    HttpRequestReader reader(r);
    std::string head = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 200; i++)
      head += "X-Filler-" + std::to_string(i) + ": " + std::string(100, 'v') + "\r\n";
    reader.feed(bytes(head + "\r\n"));
    CHECK(reader.error_status() == 431);
  }
  {
    Recorder r;
    HttpRequestReader reader(r);
    reader.feed(bytes("GET / HTTP/3.0\r\n\r\n"));
    CHECK(reader.error_status() == 505);
  }
  {
    Recorder r;
    HttpRequestReader reader(r);
    reader.feed(bytes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
    CHECK(reader.error_status() == 400);
    CHECK_THAT(reader.error(), Catch::Contains("malformed"));
  }
  {
    Recorder r;
    HttpRequestReader reader(r);
    reader.feed(bytes("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
    CHECK(reader.in_body());
    reader.finish();
    CHECK(reader.error_status() == 400);
    CHECK_THAT(reader.error(), Catch::Contains("inside a request body"));
  }
  {
    Recorder r;
    r.verdict = HeadVerdict::reject;
    HttpRequestReader reader(r);
    reader.feed(bytes("POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc"));
    CHECK(reader.state() == HttpRequestReader::State::stopped);
    CHECK(reader.error_status() == 0);
    CHECK(r.bodies[0].empty());
  }
}

TEST_CASE("the attribute section scan finds the end of attributes however the body arrives, and stops at the "
          "cap",
          "[agent][ipp]") {
  IppPtr request(ippNewRequest(IPP_OP_PRINT_JOB));
  ippAddString(request.get(), IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", nullptr,
               "ipp://localhost/ipp/print");
  ipp_t *col = ippNew();
  ippAddInteger(col, IPP_TAG_ZERO, IPP_TAG_INTEGER, "x-dimension", 21000);
  ippAddCollection(request.get(), IPP_TAG_JOB, "media-col", col);
  ippDelete(col);
  auto encoded = ipp_encode(request.get());
  REQUIRE(encoded.ok());
  std::vector<uint8_t> body = *encoded;
  const std::string document = "%PDF-1.7 and the rest";
  body.insert(body.end(), document.begin(), document.end());

  for (size_t step : {size_t{1}, size_t{3}, size_t{64}, body.size()}) {
    IppSectionScanner scanner;
    std::vector<uint8_t> buffered;
    IppSectionScanner::Verdict v = IppSectionScanner::Verdict::need_more;
    for (size_t at = 0; at < body.size() && v == IppSectionScanner::Verdict::need_more; at += step) {
      buffered.insert(buffered.end(), body.begin() + static_cast<std::ptrdiff_t>(at),
                      body.begin() + static_cast<std::ptrdiff_t>(std::min(body.size(), at + step)));
      v = scanner.scan(buffered);
    }
    REQUIRE(v == IppSectionScanner::Verdict::complete);
    CHECK(scanner.section_bytes() == encoded->size());
  }
  auto decoded = ipp_decode(std::span<const uint8_t>(body).first(encoded->size()));
  REQUIRE(decoded.ok());
  CHECK(ippGetOperation(decoded->get()) == IPP_OP_PRINT_JOB);
  CHECK(ippFindAttribute(decoded->get(), "media-col", IPP_TAG_BEGIN_COLLECTION) != nullptr);

  IppSectionScanner small(16);
  CHECK(small.scan(body) == IppSectionScanner::Verdict::too_large);

  // A section libcups refuses (a value length past what the tag allows) is a bad request.
  std::vector<uint8_t> bad = {2, 0, 0, 11, 0, 0, 0, 1, 0x01, 0x21, 0, 1, 'n', 0, 2, 0, 0, 0x03};
  IppSectionScanner scanner;
  REQUIRE(scanner.scan(bad) == IppSectionScanner::Verdict::complete);
  auto refused = ipp_decode(bad);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::bad_request);
}
