// llhttp under the capture printer: request heads collected under caps, body bytes passed
// through as they arrive, pauses between pipelined requests, and one HTTP status per way a
// stream can be malformed.
#include "ipp_http.h"

#include <llhttp.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace lpm::agent {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

} // namespace

struct HttpRequestReader::Parser {
  llhttp_t http{};
  llhttp_settings_t settings{};
};

// The llhttp callbacks: each finds its reader through parser->data.
struct HttpReaderCallbacks {
  static HttpRequestReader &reader(llhttp_t *p) { return *static_cast<HttpRequestReader *>(p->data); }

  static int message_begin(llhttp_t *p) {
    HttpRequestReader &r = reader(p);
    r.head_ = HttpRequestHead{};
    r.field_.clear();
    r.value_.clear();
    r.header_bytes_ = 0;
    r.in_body_ = false;
    return 0;
  }

  static int url(llhttp_t *p, const char *at, size_t len) {
    HttpRequestReader &r = reader(p);
    if (r.head_.path.size() + len > kMaxHttpUrlBytes) {
      r.fail(414, "the request target is longer than " + std::to_string(kMaxHttpUrlBytes) + " bytes");
      return -1;
    }
    r.head_.path.append(at, len);
    return 0;
  }

  static int header_part(llhttp_t *p, std::string &into, const char *at, size_t len) {
    HttpRequestReader &r = reader(p);
    r.header_bytes_ += len;
    if (r.header_bytes_ > kMaxHttpHeaderBytes) {
      r.fail(431, "the request headers are larger than " + std::to_string(kMaxHttpHeaderBytes) + " bytes");
      return -1;
    }
    into.append(at, len);
    return 0;
  }
  static int header_field(llhttp_t *p, const char *at, size_t len) {
    return header_part(p, reader(p).field_, at, len);
  }
  static int header_value(llhttp_t *p, const char *at, size_t len) {
    return header_part(p, reader(p).value_, at, len);
  }

  static int header_value_complete(llhttp_t *p) {
    HttpRequestReader &r = reader(p);
    std::string_view value = trim(r.value_);
    if (iequals(r.field_, "Content-Type")) {
      r.head_.content_type = std::string(value);
    } else if (iequals(r.field_, "Expect")) {
      if (iequals(value, "100-continue"))
        r.head_.expect_continue = true;
      else if (!value.empty())
        r.head_.expect_other = true;
    }
    r.field_.clear();
    r.value_.clear();
    return 0;
  }

  static int headers_complete(llhttp_t *p) {
    HttpRequestReader &r = reader(p);
    r.head_.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    r.head_.http_major = p->http_major;
    r.head_.http_minor = p->http_minor;
    auto query = r.head_.path.find_first_of("?#");
    if (query != std::string::npos) r.head_.path.resize(query);
    r.in_body_ = true;
    if (r.sink_.on_request_head(r.head_) == HeadVerdict::reject) {
      r.state_ = HttpRequestReader::State::stopped;
      return HPE_PAUSED;
    }
    return 0;
  }

  static int body(llhttp_t *p, const char *at, size_t len) {
    HttpRequestReader &r = reader(p);
    r.sink_.on_request_body(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(at), len));
    return 0;
  }

  static int message_complete(llhttp_t *p) {
    HttpRequestReader &r = reader(p);
    r.in_body_ = false;
    bool keep_alive = llhttp_should_keep_alive(p) != 0;
    bool go_on = r.sink_.on_request_end(keep_alive);
    if (!keep_alive) {
      // Anything after a request that closes the connection is not read (RFC 9112 9.6).
      r.state_ = HttpRequestReader::State::stopped;
      return HPE_PAUSED;
    }
    if (!go_on) {
      r.want_pause_ = true;
      return HPE_PAUSED;
    }
    return 0;
  }
};

HttpRequestReader::HttpRequestReader(HttpRequestSink &sink)
    : sink_(sink), parser_(std::make_unique<Parser>()) {
  llhttp_settings_t &s = parser_->settings;
  llhttp_settings_init(&s);
  s.on_message_begin = HttpReaderCallbacks::message_begin;
  s.on_url = HttpReaderCallbacks::url;
  s.on_header_field = HttpReaderCallbacks::header_field;
  s.on_header_value = HttpReaderCallbacks::header_value;
  s.on_header_value_complete = HttpReaderCallbacks::header_value_complete;
  s.on_headers_complete = HttpReaderCallbacks::headers_complete;
  s.on_body = HttpReaderCallbacks::body;
  s.on_message_complete = HttpReaderCallbacks::message_complete;
  llhttp_init(&parser_->http, HTTP_REQUEST, &s);
  parser_->http.data = this;
}

HttpRequestReader::~HttpRequestReader() = default;

void HttpRequestReader::fail(int status, std::string why) {
  if (error_status_ == 0) {
    error_status_ = status;
    error_ = std::move(why);
  }
  state_ = State::stopped;
}

HttpRequestReader::State HttpRequestReader::run(std::span<const uint8_t> data) {
  const char *begin = reinterpret_cast<const char *>(data.data());
  llhttp_errno_t rc = llhttp_execute(&parser_->http, begin, data.size());
  if (rc == HPE_OK) return state_;
  if (rc == HPE_PAUSED) {
    if (state_ == State::stopped) return state_;
    if (want_pause_) {
      want_pause_ = false;
      state_ = State::paused;
      const char *at = llhttp_get_error_pos(&parser_->http);
      size_t used = at != nullptr ? static_cast<size_t>(at - begin) : data.size();
      kept_.assign(begin + std::min(used, data.size()), begin + data.size());
      return state_;
    }
  }
  if (rc == HPE_INVALID_VERSION)
    fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  else
    fail(400, std::string("malformed HTTP request: ") + llhttp_errno_name(rc) + " (" +
                  llhttp_get_error_reason(&parser_->http) + ")");
  return state_;
}

HttpRequestReader::State HttpRequestReader::feed(std::span<const uint8_t> data) {
  if (state_ == State::paused) {
    kept_.append(reinterpret_cast<const char *>(data.data()), data.size());
    return state_;
  }
  if (state_ != State::reading || data.empty()) return state_;
  return run(data);
}

HttpRequestReader::State HttpRequestReader::resume() {
  if (state_ != State::paused) return state_;
  state_ = State::reading;
  llhttp_resume(&parser_->http);
  std::string pending = std::move(kept_);
  kept_.clear();
  if (pending.empty()) return state_;
  return run(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(pending.data()), pending.size()));
}

HttpRequestReader::State HttpRequestReader::finish() {
  if (state_ != State::reading) return state_;
  llhttp_errno_t rc = llhttp_finish(&parser_->http);
  if (in_body_)
    fail(400, "the connection ended inside a request body");
  else if (rc != HPE_OK && rc != HPE_PAUSED)
    fail(400, std::string("the connection ended inside a request head: ") +
                  llhttp_get_error_reason(&parser_->http));
  return state_;
}

const char *http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

std::string http_response_head(int status, std::string_view content_type, size_t content_length,
                               bool keep_alive, std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + http_reason(status) + "\r\n";
  out += "Server: lpm-agent\r\n";
  if (!content_type.empty()) {
    out += "Content-Type: ";
    out += content_type;
    out += "\r\n";
  }
  out += "Content-Length: " + std::to_string(content_length) + "\r\n";
  if (!keep_alive) out += "Connection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  return out;
}

} // namespace lpm::agent
