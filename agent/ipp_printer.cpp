// The capture printer's connections: HTTP requests (ipp_http.h) carrying IPP messages whose
// attribute section is buffered under its cap and whose document streams on to the exchange
// (ipp_operations.cpp); plus starting and stopping the printer.
#include "ipp_printer.h"

#include <algorithm>
#include <cctype>

#include "ipp_http.h"
#include "ipp_printer_attributes.h"
#include "ipp_printer_private.h"
#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::agent {

namespace {

constexpr uint64_t kSweepEveryMs = 5000; // at most; a shorter time-out is swept twice as often

bool is_ipp_content_type(std::string_view value) {
  auto semicolon = value.find(';');
  if (semicolon != std::string_view::npos) value = value.substr(0, semicolon);
  while (!value.empty() && value.back() == ' ')
    value.remove_suffix(1);
  std::string lowered(value);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lowered == "application/ipp";
}

class IppConnection final : public CaptureConnection, private HttpRequestSink {
public:
  IppConnection(uv_loop_t *loop, std::shared_ptr<IppPrinter::State> state)
      : CaptureConnection(loop, state->options.limits), state_(std::move(state)), reader_(*this) {}

private:
  // One HTTP request on the connection.
  struct Request {
    explicit Request(size_t max_section) : scanner(max_section) {}
    bool ipp = false;      // POST /ipp/print with Content-Type application/ipp
    int http_status = 200; // for anything else: the answer, decided from the head
    std::string http_body;
    std::string extra_headers;
    bool head_only = false; // HEAD
    uint64_t body_bytes = 0;
    std::vector<uint8_t> section; // the attribute section, until it is complete
    IppSectionScanner scanner;
    std::unique_ptr<IppExchange> exchange;
    IppPtr early_response; // refused before the section decoded
  };

  void on_open() override { caller_.emplace(*state_, ends()); }

  void on_data(std::span<const uint8_t> data) override { after(reader_.feed(data)); }

  void on_eof() override {
    after(reader_.finish());
    req_.reset(); // a request cut short is dropped, with its document
    close_gracefully();
  }

  void on_drained() override {
    if (reader_.state() != HttpRequestReader::State::paused) return;
    resume_reading();
    after(reader_.resume());
  }

  void on_closed(const std::string &reason) override {
    if (!reason.empty() && req_)
      LPM_INFO("IPP connection from %s closed mid-request: %s", peer_text().c_str(), reason.c_str());
    req_.reset();
  }

  // What to do once the reader returns.
  void after(HttpRequestReader::State st) {
    if (closing()) return;
    if (st == HttpRequestReader::State::paused) {
      pause_reading();
    } else if (st == HttpRequestReader::State::stopped) {
      if (reader_.error_status() != 0) {
        req_.reset();
        send_http(reader_.error_status(), reader_.error() + "\n", false, {}, false);
      }
      close_gracefully();
    }
  }

  void send_http(int status, const std::string &body, bool keep_alive, const std::string &extra,
                 bool head_only) {
    write(http_response_head(status, "text/plain; charset=utf-8", body.size(), keep_alive, extra));
    if (!head_only) write(body);
  }

  // Decides the answer to a request that is not IPP (it is sent once its body, if any, is read).
  void plan(int status, std::string body, std::string extra = {}) {
    req_->http_status = status;
    req_->http_body = std::move(body);
    req_->extra_headers = std::move(extra);
  }

  HeadVerdict on_request_head(const HttpRequestHead &head) override {
    req_ = std::make_unique<Request>(state_->options.max_attribute_bytes);
    if (head.expect_other) {
      send_http(417, "only \"Expect: 100-continue\" is supported\n", false, {}, false);
      return HeadVerdict::reject;
    }
    if (head.method == "POST") {
      if (head.path != kIppPrinterPath)
        plan(404, "there is no printer at " + head.path + ": the printer is " +
                      ipp_printer_uri(state_->port) + "\n");
      else if (!is_ipp_content_type(head.content_type))
        plan(415, "Content-Type must be application/ipp, not \"" + head.content_type + "\"\n");
      else
        req_->ipp = true;
      if (!req_->ipp && head.expect_continue) {
        // The client waits before sending its body: answer now instead of reading it.
        send_http(req_->http_status, req_->http_body, false, req_->extra_headers, false);
        return HeadVerdict::reject;
      }
      if (head.expect_continue) write(std::string_view("HTTP/1.1 100 Continue\r\n\r\n"));
      return HeadVerdict::read_body;
    }
    if (head.method == "GET" || head.method == "HEAD") {
      req_->head_only = head.method == "HEAD";
      if (head.path == "/" || head.path == kIppPrinterPath)
        plan(200, "LPM capture printer \"" + state_->options.printer_name + "\": print to " +
                      ipp_printer_uri(state_->port) +
                      "; jobs are held by the LPM agent until you release them at a printer.\n");
      else
        plan(404, "there is nothing at " + head.path + "\n");
      return HeadVerdict::read_body;
    }
    plan(405,
         head.method + " is not supported: IPP requests are POSTed to " + std::string(kIppPrinterPath) + "\n",
         "Allow: GET, HEAD, POST\r\n");
    return HeadVerdict::read_body;
  }

  IppPtr error_response(const IppOutcome &outcome) {
    auto header = ipp_peek_header(req_->section);
    return ipp_new_response(header->major, header->minor, header->request_id, outcome);
  }

  void on_request_body(std::span<const uint8_t> data) override {
    if (closing() || !req_ || !req_->ipp) return; // bodies of other requests are read and dropped
    req_->body_bytes += data.size();
    if (req_->exchange) {
      req_->exchange->document_data(data);
      return;
    }
    if (req_->early_response) return;
    req_->section.insert(req_->section.end(), data.begin(), data.end());
    switch (req_->scanner.scan(req_->section)) {
    case IppSectionScanner::Verdict::need_more: return;
    case IppSectionScanner::Verdict::too_large:
      req_->early_response = error_response(IppOutcome::fail(
          IPP_STATUS_ERROR_REQUEST_ENTITY, "the IPP attribute section is larger than " +
                                               std::to_string(req_->scanner.max_bytes()) + " bytes"));
      break;
    case IppSectionScanner::Verdict::malformed:
      req_->early_response =
          error_response(IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, req_->scanner.error()));
      break;
    case IppSectionScanner::Verdict::complete: {
      size_t n = req_->scanner.section_bytes();
      auto decoded = ipp_decode(std::span<const uint8_t>(req_->section).first(n));
      if (!decoded.ok()) {
        req_->early_response =
            error_response(IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, decoded.error().message));
        break;
      }
      std::vector<uint8_t> rest(req_->section.begin() + static_cast<std::ptrdiff_t>(n), req_->section.end());
      req_->exchange = std::make_unique<IppExchange>(state_, *caller_);
      req_->exchange->begin(*ipp_peek_header(req_->section), std::move(*decoded));
      req_->exchange->document_data(rest);
      break;
    }
    }
    req_->section.clear();
    req_->section.shrink_to_fit();
  }

  bool on_request_end(bool keep_alive) override {
    if (closing() || !req_) return true;
    std::unique_ptr<Request> req = std::move(req_);
    if (!req->ipp) {
      send_http(req->http_status, req->http_body, keep_alive, req->extra_headers, req->head_only);
    } else {
      IppPtr response;
      if (req->early_response)
        response = std::move(req->early_response);
      else if (req->exchange)
        response = req->exchange->finish();
      else if (req->section.size() >= 8)
        response =
            ipp_new_response(ipp_peek_header(req->section)->major, ipp_peek_header(req->section)->minor,
                             ipp_peek_header(req->section)->request_id,
                             IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST,
                                              "the request ends inside its IPP attribute section"));
      if (!response) {
        send_http(400, "the request body is not an IPP message (shorter than the 8-byte IPP header)\n",
                  keep_alive, {}, false);
      } else {
        auto bytes = ipp_encode(response.get());
        if (!bytes.ok()) {
          LPM_ERROR("IPP response to %s: %s", peer_text().c_str(), bytes.error().to_string().c_str());
          send_http(500, bytes.error().message + "\n", false, {}, false);
          keep_alive = false;
        } else {
          write(http_response_head(200, "application/ipp", bytes->size(), keep_alive));
          write(*bytes);
        }
      }
    }
    req.reset(); // the exchange goes here (a Send-Document lets go of its job)
    if (!keep_alive) {
      close_gracefully();
      return true;
    }
    return queued_bytes() <= state_->options.limits.high_water_bytes;
  }

  std::shared_ptr<IppPrinter::State> state_;
  HttpRequestReader reader_;
  std::optional<IppCaller> caller_;
  std::unique_ptr<Request> req_;
};

} // namespace

Result<std::unique_ptr<IppPrinter>> IppPrinter::start(uv_loop_t *loop, std::shared_ptr<JobStore> store,
                                                      IppPrinterOptions options) {
  auto state = std::make_shared<State>();
  state->loop = loop;
  state->store = std::move(store);
  state->options = std::move(options);
  state->spooler_uid = state->options.spooler_uid.value_or(lp_account_uid());
  auto ids = IppJobIds::open(state->store->db());
  if (!ids.ok()) return ids.error();
  state->job_ids = std::move(*ids);

  std::unique_ptr<IppPrinter> self(new IppPrinter());
  auto listener = CaptureListener::start(loop, state->options.listen, "CaptureListen", state->options.limits,
                                         [state](uv_loop_t *l) -> std::shared_ptr<CaptureConnection> {
                                           return std::make_shared<IppConnection>(l, state);
                                         });
  if (!listener.ok()) return listener.error();
  self->listener_ = std::move(*listener);
  state->port = self->listener_->port();

  IppPrinterDescription description;
  description.name = state->options.printer_name;
  description.uuid = state->options.printer_uuid;
  description.location = state->options.location;
  description.port = state->port;
  description.capabilities = state->options.capabilities;
  description.multiple_operation_timeout_s = state->options.multiple_operation_timeout_s;
  auto attributes = ipp_printer_attributes(description);
  if (!attributes.ok()) {
    self->listener_->stop();
    return attributes.error();
  }
  state->printer_attributes = std::move(*attributes);

  state->sweep = std::make_unique<proto::LoopTimer>(loop);
  std::weak_ptr<State> weak = state;
  uint64_t every_ms = std::min<uint64_t>(
      kSweepEveryMs, static_cast<uint64_t>(std::max(1, state->options.multiple_operation_timeout_s)) * 500);
  state->sweep->start(every_ms, every_ms, [weak]() {
    if (auto s = weak.lock()) s->sweep_pending(wall_ms());
  });
  self->state_ = std::move(state);
  LPM_INFO("IPP capture printer \"%s\" on %s", self->state_->options.printer_name.c_str(),
           ipp_printer_uri(self->state_->port).c_str());
  return self;
}

IppPrinter::~IppPrinter() {
  stop();
}

uint16_t IppPrinter::port() const {
  return state_ ? state_->port : 0;
}

void IppPrinter::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  if (listener_) listener_->stop();
  if (state_->sweep) state_->sweep->close();
  for (auto &[id, p] : state_->pending)
    (void)state_->job_ids->forget(id);
  state_->pending.clear();
}

} // namespace lpm::agent
