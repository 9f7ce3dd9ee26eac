// HTTP/1.1 framing of the IPP capture printer (RFC 8010 section 4: IPP rides on HTTP POST): the
// request reader wraps llhttp (keep-alive, chunked bodies, `Expect: 100-continue`) and hands
// the request head and the decoded body bytes to a sink; responses are written by hand (a
// status line, a few headers, a body of known length). No sockets here: the connection code
// (ipp_printer.cpp) feeds bytes in and writes what comes out, and the fuzzer does the same.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace lpm::agent {

// Caps on what a request head may cost before any of it is acted on.
inline constexpr size_t kMaxHttpUrlBytes = 1024;
inline constexpr size_t kMaxHttpHeaderBytes = 16 * 1024; // names and values of all headers

struct HttpRequestHead {
  std::string method;           // "POST", "GET", ...
  std::string path;             // the request target without its query ("/ipp/print")
  std::string content_type;     // the Content-Type value, "" when absent
  bool expect_continue = false; // `Expect: 100-continue`
  bool expect_other = false;    // an Expect header with anything else (417)
  int http_major = 1;
  int http_minor = 1;
};

// What the sink tells the reader about a request whose head just arrived.
enum class HeadVerdict {
  read_body, // go on; the body (possibly empty) follows
  reject,    // the sink answers without the body: stop reading; the connection closes after
};

class HttpRequestSink {
public:
  virtual ~HttpRequestSink() = default;
  virtual HeadVerdict on_request_head(const HttpRequestHead &head) = 0;
  // Decoded body bytes (chunk framing removed), in order, as they arrive.
  virtual void on_request_body(std::span<const uint8_t> data) = 0;
  // The whole request arrived. keep_alive: the client may send another request on the
  // connection. Returns false to make the reader pause before the next request (the sink calls
  // HttpRequestReader::resume() later).
  virtual bool on_request_end(bool keep_alive) = 0;
};

// One connection's request stream. Not copyable; one per connection.
class HttpRequestReader {
public:
  enum class State {
    reading, // ready for more bytes
    paused,  // on_request_end asked to wait; bytes after that request are kept for resume()
    stopped, // a head was rejected or the stream is malformed: read no further
  };

  explicit HttpRequestReader(HttpRequestSink &sink);
  ~HttpRequestReader();
  HttpRequestReader(const HttpRequestReader &) = delete;
  HttpRequestReader &operator=(const HttpRequestReader &) = delete;

  // Parses bytes from the socket. While paused, the bytes are appended to what resume() will
  // parse (the caller should stop reading the socket meanwhile).
  State feed(std::span<const uint8_t> data);
  // Parses what was kept while paused.
  State resume();
  // The peer ended its half of the connection: a body delimited by the connection's end is
  // complete now; anything else unfinished is an error.
  State finish();

  State state() const { return state_; }
  // Set when the stream is malformed: the HTTP status to answer (400, 413, 431, 505) and why.
  int error_status() const { return error_status_; }
  const std::string &error() const { return error_; }
  // True between the end of a request head and the end of its body.
  bool in_body() const { return in_body_; }

private:
  struct Parser;
  State run(std::span<const uint8_t> data);
  void fail(int status, std::string why);

  friend struct HttpReaderCallbacks;
  HttpRequestSink &sink_;
  std::unique_ptr<Parser> parser_;
  State state_ = State::reading;
  HttpRequestHead head_;
  std::string field_; // header name being read
  std::string value_; // header value being read
  size_t header_bytes_ = 0;
  bool in_body_ = false;
  bool want_pause_ = false;
  std::string kept_; // bytes received while paused
  int error_status_ = 0;
  std::string error_;
};

// "HTTP/1.1 <status> <reason>\r\n" plus Content-Type/Content-Length (when content_type is not
// empty), "Connection: close" when !keep_alive, any extra header lines (each ending in CRLF),
// and the blank line.
std::string http_response_head(int status, std::string_view content_type, size_t content_length,
                               bool keep_alive, std::string_view extra_headers = {});
// The standard reason phrase ("Not Found"); "Unknown" for codes we never send.
const char *http_reason(int status);

} // namespace lpm::agent
