#include "device_ipp.h"

#include <cups/cups.h>
#include <cups/http.h>
#include <cups/ipp.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/loop_inbox.h"

namespace lpm::printer {
namespace {

constexpr int64_t kCapabilitiesMaxAgeMs = 60000;
constexpr int kIoTimeoutSeconds = 30; // one read or write on the device's connection

// What the device says it can do (Get-Printer-Attributes).
struct Capabilities {
  std::set<std::string> formats;
  int copies_max = 1;
  bool copies_known = false;
  std::set<std::string> sides;
  std::set<std::string> color_modes;
  bool create_job = false; // Create-Job and Send-Document are supported
  int64_t fetched_ms = 0;
};

std::string joined(const std::set<std::string> &values) {
  std::string out;
  for (const auto &v : values)
    out += (out.empty() ? "" : ", ") + v;
  return out.empty() ? "none" : out;
}

std::string last_error(const std::string &what) {
  return what + ": " + ippErrorString(cupsLastError()) + " (" + cupsLastErrorString() + ")";
}

// A request to the device's printer-uri: for one of our jobs it names the job's user (its
// directory id, never a person's name) and, once the device made it, the device's job id.
ipp_t *device_request(ipp_op_t op, const std::string &uri, const proto::JobInfo *job, int job_id = 0) {
  ipp_t *request = ippNewRequest(op);
  ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", nullptr, uri.c_str());
  if (job_id > 0) ippAddInteger(request, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", job_id);
  if (job) {
    std::string user = job->user.empty() ? "lpm-release" : job->user;
    ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", nullptr, user.c_str());
  }
  return request;
}

// The device's fixed facts and the state its job threads share. Threads use only the constant
// fields, `mu`-guarded capabilities and the inbox (thread-safe).
struct Core {
  std::string uri;
  std::string host;
  int port = 631;
  std::string resource;
  http_encryption_t encryption = HTTP_ENCRYPTION_IF_REQUESTED;
  DeviceOptions options;

  std::mutex mu;
  std::optional<Capabilities> capabilities; // guarded by mu

  // Loop side only.
  std::unique_ptr<proto::LoopInbox> inbox;
  std::map<uint64_t, std::thread> threads;
  uint64_t next_thread = 1;
  bool closing = false;
  std::function<void()> close_done;
  std::vector<std::weak_ptr<struct Channel>> channels; // for aborting them on close

  http_t *connect() const {
    http_t *http = httpConnect2(host.c_str(), port, nullptr, AF_UNSPEC, encryption, 1,
                                static_cast<int>(options.connect_timeout_ms), nullptr);
    if (http) httpSetTimeout(http, kIoTimeoutSeconds, nullptr, nullptr);
    return http;
  }

  Result<Capabilities> fetch_capabilities(http_t *http) const {
    static const char *const wanted[] = {"document-format-supported", "copies-supported", "sides-supported",
                                         "print-color-mode-supported", "operations-supported"};
    ipp_t *request = device_request(IPP_OP_GET_PRINTER_ATTRIBUTES, uri, nullptr);
    ippAddStrings(request, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes",
                  static_cast<int>(sizeof wanted / sizeof wanted[0]), nullptr, wanted);
    ipp_t *response = cupsDoRequest(http, request, resource.c_str()); // frees the request
    if (!response || cupsLastError() > IPP_STATUS_OK_CONFLICTING) {
      ippDelete(response);
      return make_error(Errc::unavailable, last_error("Get-Printer-Attributes of " + uri));
    }
    Capabilities caps;
    auto strings = [&](const char *name, std::set<std::string> &into) {
      ipp_attribute_t *a = ippFindAttribute(response, name, IPP_TAG_ZERO);
      for (int i = 0; a && i < ippGetCount(a); i++)
        if (const char *v = ippGetString(a, i, nullptr)) into.insert(v);
    };
    strings("document-format-supported", caps.formats);
    strings("sides-supported", caps.sides);
    strings("print-color-mode-supported", caps.color_modes);
    if (ipp_attribute_t *a = ippFindAttribute(response, "operations-supported", IPP_TAG_ENUM)) {
      bool create = false, send = false;
      for (int i = 0; i < ippGetCount(a); i++) {
        create = create || ippGetInteger(a, i) == IPP_OP_CREATE_JOB;
        send = send || ippGetInteger(a, i) == IPP_OP_SEND_DOCUMENT;
      }
      caps.create_job = create && send;
    }
    if (ipp_attribute_t *a = ippFindAttribute(response, "copies-supported", IPP_TAG_RANGE)) {
      int upper = 1;
      ippGetRange(a, 0, &upper);
      caps.copies_max = upper;
      caps.copies_known = true;
    }
    ippDelete(response);
    caps.fetched_ms = mono_ms();
    return caps;
  }

  // Cancel-Job on a connection of its own (the job's may be mid-request); best effort.
  void cancel(int job_id, const proto::JobInfo &job) const {
    http_t *http = connect();
    if (!http) return;
    ipp_t *request = device_request(IPP_OP_CANCEL_JOB, uri, &job, job_id);
    ippDelete(cupsDoRequest(http, request, resource.c_str()));
    if (cupsLastError() > IPP_STATUS_OK_CONFLICTING)
      LPM_WARN("Cancel-Job %d at %s: %s", job_id, uri.c_str(), cupsLastErrorString());
    httpClose(http);
  }

  Result<Capabilities> capabilities_for_job(http_t *http) {
    {
      std::lock_guard lock(mu);
      if (capabilities && mono_ms() - capabilities->fetched_ms < kCapabilitiesMaxAgeMs) return *capabilities;
    }
    auto fresh = fetch_capabilities(http);
    if (!fresh.ok()) return fresh;
    std::lock_guard lock(mu);
    capabilities = *fresh;
    return fresh;
  }
};

// A job's queue between the loop (writes) and its thread (sends), and what the thread found.
struct Channel {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<uint8_t>> chunks;
  size_t queued = 0;
  bool end = false;      // finish(): no more chunks
  bool aborted = false;  // abort() or the device closing
  bool want_drain = false;
  Error failure{Errc::ok, ""}; // the device failed the job (set by the thread)
};

// The loop's side of a job: callbacks, only touched on the loop thread. Posted closures hold it.
struct LoopSide {
  std::function<void(Result<DeviceJobPtr>)> ready;
  std::function<void()> drained;
  CountsFn finished;
};

// What the device is asked for, and what it does differently.
struct Plan {
  std::string format;
  PrintSettings settings;
  bool send_sides = false;
  bool send_color_mode = false;
  std::string note;
};

Result<Plan> plan_job(const Capabilities &caps, const proto::JobInfo &job, const PrintSettings &settings,
                      const std::string &uri) {
  Plan plan;
  plan.settings = settings;
  plan.format = base_format(job.format.empty() ? "application/octet-stream" : job.format);
  if (!caps.formats.empty() && !caps.formats.count(plan.format))
    return make_error(Errc::conflict, "the device " + uri + " does not take " + plan.format +
                                          " documents (it takes: " + joined(caps.formats) + ")");
  if (settings.copies > 1 && caps.copies_known && settings.copies > static_cast<uint64_t>(caps.copies_max))
    return make_error(Errc::conflict, "the device prints at most " + std::to_string(caps.copies_max) +
                                          " copies; the job asks for " + std::to_string(settings.copies));
  if (settings.sides != "one-sided" && !caps.sides.count(settings.sides))
    return make_error(Errc::conflict, "the device cannot print " + settings.sides +
                                          " (sides-supported: " + joined(caps.sides) + ")");
  plan.send_sides = caps.sides.count(settings.sides) > 0;
  if (caps.color_modes.count(settings.color)) {
    plan.send_color_mode = true;
  } else if (settings.color == "color" && caps.color_modes.count("monochrome")) {
    plan.settings.color = "monochrome";
    plan.send_color_mode = true;
    plan.note = "printed in monochrome: the device has no color";
  }
  return plan;
}

// Print-Job, or Create-Job (the same attributes, no document).
ipp_t *job_request(const Core &core, const proto::JobInfo &job, const Plan &plan, ipp_op_t op) {
  ipp_t *request = device_request(op, core.uri, &job);
  std::string name = job.title.empty() ? job.id : job.title;
  ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", nullptr, name.c_str());
  if (op == IPP_OP_PRINT_JOB)
    ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", nullptr, plan.format.c_str());
  if (plan.settings.copies > 1)
    ippAddInteger(request, IPP_TAG_JOB, IPP_TAG_INTEGER, "copies", static_cast<int>(plan.settings.copies));
  if (plan.send_sides)
    ippAddString(request, IPP_TAG_JOB, IPP_TAG_KEYWORD, "sides", nullptr, plan.settings.sides.c_str());
  if (plan.send_color_mode)
    ippAddString(request, IPP_TAG_JOB, IPP_TAG_KEYWORD, "print-color-mode", nullptr, plan.settings.color.c_str());
  return request;
}

// Send-Document with the whole (and last) document of a created job.
ipp_t *send_document_request(const Core &core, const proto::JobInfo &job, const Plan &plan, int job_id) {
  ipp_t *request = device_request(IPP_OP_SEND_DOCUMENT, core.uri, &job, job_id);
  ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", nullptr, plan.format.c_str());
  ippAddBoolean(request, IPP_TAG_OPERATION, "last-document", 1);
  return request;
}

// An integer or enum attribute (job-state is an enum), -1 when absent.
int64_t integer_attribute(ipp_t *response, const char *name) {
  ipp_attribute_t *a = ippFindAttribute(response, name, IPP_TAG_ZERO);
  if (!a || (ippGetValueTag(a) != IPP_TAG_INTEGER && ippGetValueTag(a) != IPP_TAG_ENUM)) return -1;
  return ippGetInteger(a, 0);
}

// Get-Job-Attributes until the job reaches a final state, the deadline passes or the job is
// aborted (the station closing).
Result<DeviceCounts> wait_for_completion(const Core &core, http_t *http, int job_id, Channel &channel,
                                         std::string note) {
  static const char *const wanted[] = {"job-state", "job-state-message", "job-state-reasons",
                                       "job-impressions-completed", "job-media-sheets-completed",
                                       "job-pages-completed"};
  int64_t deadline = mono_ms() + core.options.complete_timeout_ms;
  int pause_ms = 5;
  for (;;) {
    ipp_t *request = device_request(IPP_OP_GET_JOB_ATTRIBUTES, core.uri, nullptr, job_id);
    ippAddStrings(request, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes",
                  static_cast<int>(sizeof wanted / sizeof wanted[0]), nullptr, wanted);
    ipp_t *response = cupsDoRequest(http, request, core.resource.c_str());
    if (!response || cupsLastError() > IPP_STATUS_OK_CONFLICTING) {
      ippDelete(response);
      return make_error(Errc::unavailable, last_error("Get-Job-Attributes of job " + std::to_string(job_id)));
    }
    ipp_jstate_t state = static_cast<ipp_jstate_t>(integer_attribute(response, "job-state"));
    if (state >= IPP_JSTATE_CANCELED) {
      DeviceCounts counts;
      counts.impressions = integer_attribute(response, "job-impressions-completed");
      counts.sheets = integer_attribute(response, "job-media-sheets-completed");
      counts.pages = integer_attribute(response, "job-pages-completed");
      counts.note = std::move(note);
      std::string why;
      if (ipp_attribute_t *m = ippFindAttribute(response, "job-state-message", IPP_TAG_TEXT))
        why = ippGetString(m, 0, nullptr) ? ippGetString(m, 0, nullptr) : "";
      if (why.empty())
        if (ipp_attribute_t *r = ippFindAttribute(response, "job-state-reasons", IPP_TAG_KEYWORD))
          why = ippGetString(r, 0, nullptr) ? ippGetString(r, 0, nullptr) : "";
      ippDelete(response);
      if (state == IPP_JSTATE_COMPLETED) return counts;
      return make_error(Errc::unavailable, std::string("the device ") +
                                               (state == IPP_JSTATE_CANCELED ? "canceled" : "aborted") +
                                               " the job" + (why.empty() ? "" : ": " + why));
    }
    ippDelete(response);
    {
      std::unique_lock lock(channel.mu);
      if (channel.aborted) return make_error(Errc::unavailable, "the station stopped before the device finished");
    }
    if (mono_ms() >= deadline) {
      // The device took the whole job; it is still busy (out of paper, a long job). It prints:
      // the counts are estimated.
      DeviceCounts counts;
      counts.note = "the device had not finished the job after " +
                    std::to_string(core.options.complete_timeout_ms / 1000) + " s";
      return counts;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    pause_ms = std::min(pause_ms * 2, 250);
  }
}

class IppJob final : public DeviceJob {
public:
  IppJob(std::shared_ptr<Core> core, std::shared_ptr<Channel> channel, std::shared_ptr<LoopSide> side)
      : core_(std::move(core)), channel_(std::move(channel)), side_(std::move(side)) {}
  ~IppJob() override {
    if (!finishing_) abort();
  }

  Status write(std::span<const uint8_t> data) override {
    {
      std::lock_guard lock(channel_->mu);
      if (channel_->failure.code != Errc::ok) return channel_->failure;
      if (channel_->end || channel_->aborted) return make_error(Errc::internal, "write to an ended device job");
      channel_->chunks.emplace_back(data.begin(), data.end());
      channel_->queued += data.size();
    }
    channel_->cv.notify_one();
    return {};
  }

  bool backlogged() const override {
    std::lock_guard lock(channel_->mu);
    return channel_->queued > core_->options.buffer_bytes && channel_->failure.code == Errc::ok;
  }

  void on_drained(std::function<void()> fn) override {
    bool now;
    {
      std::lock_guard lock(channel_->mu);
      now = channel_->queued <= core_->options.buffer_bytes / 2 || channel_->failure.code != Errc::ok;
      channel_->want_drain = !now;
    }
    if (now)
      fn();
    else
      side_->drained = std::move(fn);
  }

  void finish(CountsFn done) override {
    finishing_ = true;
    side_->finished = std::move(done);
    {
      std::lock_guard lock(channel_->mu);
      channel_->end = true;
    }
    channel_->cv.notify_one();
  }

  void abort() override {
    if (finishing_) return;
    {
      std::lock_guard lock(channel_->mu);
      channel_->aborted = true;
    }
    channel_->cv.notify_one();
  }

private:
  std::shared_ptr<Core> core_;
  std::shared_ptr<Channel> channel_;
  std::shared_ptr<LoopSide> side_;
  bool finishing_ = false;
};

// The job's thread: everything that blocks. It reports to the loop only through the inbox.
void run_job(std::shared_ptr<Core> core, std::shared_ptr<Channel> channel, std::shared_ptr<LoopSide> side,
             proto::JobInfo job, PrintSettings settings, uint64_t thread_id) {
  proto::LoopInbox &inbox = *core->inbox;
  auto leave = [&] {
    inbox.post([core, thread_id] {
      auto it = core->threads.find(thread_id);
      if (it != core->threads.end()) {
        it->second.join();
        core->threads.erase(it);
      }
      if (core->closing && core->threads.empty() && core->close_done) {
        auto done = std::move(core->close_done);
        core->close_done = nullptr;
        core->inbox.reset(); // its handle closes on the loop; no thread posts any more
        done();
      }
    });
  };
  auto refuse = [&](Error error) {
    inbox.post([side, error] {
      if (side->ready) side->ready(error);
    });
  };
  // Tells the loop the job failed: the next write or finish gets the error, a paused stream is
  // woken to find it.
  auto fail = [&](Error error) {
    {
      std::lock_guard lock(channel->mu);
      if (channel->failure.code == Errc::ok) channel->failure = error;
      channel->want_drain = false;
    }
    inbox.post([side, error] {
      if (side->drained) {
        auto fn = std::move(side->drained);
        side->drained = nullptr;
        fn();
      }
      if (side->finished) {
        auto fn = std::move(side->finished);
        side->finished = nullptr;
        fn(error);
      }
    });
  };

  http_t *http = core->connect();
  if (!http) {
    refuse(make_error(Errc::unavailable, "cannot connect to the device " + core->uri + ": " +
                                             cupsLastErrorString()));
    leave();
    return;
  }
  auto caps = core->capabilities_for_job(http);
  Result<Plan> plan = caps.ok() ? plan_job(*caps, job, settings, core->uri) : Result<Plan>(caps.error());
  if (!plan.ok()) {
    httpClose(http);
    refuse(plan.error());
    leave();
    return;
  }
  // With Create-Job the device says "busy" before any byte of the document moves (a printer
  // taking one job at a time, as ippeveprinter does): the job waits and asks again, up to the
  // device timeout. Print-Job (a device without Create-Job) has no such second chance.
  int created_id = 0;
  if (caps->create_job) {
    int64_t deadline = mono_ms() + core->options.complete_timeout_ms;
    int pause_ms = 5;
    for (;;) {
      ipp_t *response = cupsDoRequest(http, job_request(*core, job, *plan, IPP_OP_CREATE_JOB),
                                      core->resource.c_str());
      ipp_status_t st = cupsLastError();
      if (response && st <= IPP_STATUS_OK_CONFLICTING) created_id = static_cast<int>(integer_attribute(response, "job-id"));
      ippDelete(response);
      if (created_id > 0) break;
      bool busy = st == IPP_STATUS_ERROR_BUSY || st == IPP_STATUS_ERROR_SERVICE_UNAVAILABLE;
      bool stop;
      {
        std::lock_guard lock(channel->mu);
        stop = channel->aborted;
      }
      if (!busy || stop || mono_ms() >= deadline) {
        httpClose(http);
        refuse(make_error(Errc::unavailable, busy && !stop ? "the device " + core->uri + " stayed busy for " +
                                                                 std::to_string(core->options.complete_timeout_ms / 1000) + " s"
                                                           : last_error("Create-Job at " + core->uri)));
        leave();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      pause_ms = std::min(pause_ms * 2, 200);
    }
  }
  ipp_t *request = created_id > 0 ? send_document_request(*core, job, *plan, created_id)
                                  : job_request(*core, job, *plan, IPP_OP_PRINT_JOB);
  http_status_t status = cupsSendRequest(http, request, core->resource.c_str(), CUPS_LENGTH_VARIABLE);
  ippDelete(request);
  if (status != HTTP_STATUS_CONTINUE) {
    httpClose(http);
    if (created_id > 0) core->cancel(created_id, job);
    refuse(make_error(Errc::unavailable, last_error((created_id > 0 ? "Send-Document to " : "Print-Job to ") + core->uri)));
    leave();
    return;
  }
  inbox.post([core, channel, side] {
    if (side->ready) side->ready(DeviceJobPtr(std::make_unique<IppJob>(core, channel, side)));
  });

  // The document, as the loop hands it over.
  uint64_t sent = 0;
  for (;;) {
    std::vector<uint8_t> chunk;
    {
      std::unique_lock lock(channel->mu);
      channel->cv.wait(lock, [&] { return channel->aborted || channel->end || !channel->chunks.empty(); });
      if (channel->aborted) break;
      if (channel->chunks.empty()) break; // end, everything sent
      chunk = std::move(channel->chunks.front());
      channel->chunks.pop_front();
    }
    http_status_t st = cupsWriteRequestData(http, reinterpret_cast<const char *>(chunk.data()), chunk.size());
    bool drained = false;
    {
      std::lock_guard lock(channel->mu);
      channel->queued -= chunk.size();
      if (channel->want_drain && channel->queued <= core->options.buffer_bytes / 2) {
        channel->want_drain = false;
        drained = true;
      }
    }
    if (st != HTTP_STATUS_CONTINUE) {
      fail(make_error(Errc::unavailable, "sending the document to " + core->uri + " failed after " +
                                             std::to_string(sent) + " bytes: " + httpStatus(st)));
      break;
    }
    sent += chunk.size();
    if (drained)
      inbox.post([side] {
        if (side->drained) {
          auto fn = std::move(side->drained);
          side->drained = nullptr;
          fn();
        }
      });
  }
  bool complete;
  {
    std::lock_guard lock(channel->mu);
    complete = !channel->aborted && channel->failure.code == Errc::ok && channel->end;
  }
  if (!complete) {
    // Closing before the chunked body's last chunk: the device never sees a whole document (a
    // created job is canceled, or the device would wait for its document).
    httpClose(http);
    if (created_id > 0) core->cancel(created_id, job);
    Error why = make_error(Errc::unavailable, "the device job was aborted");
    {
      std::lock_guard lock(channel->mu);
      if (channel->failure.code != Errc::ok) why = channel->failure;
    }
    fail(why); // a finish() already waiting hears of it
    leave();
    return;
  }
  ipp_t *response = cupsGetResponse(http, core->resource.c_str());
  if (!response || cupsLastError() > IPP_STATUS_OK_CONFLICTING) {
    ippDelete(response);
    fail(make_error(Errc::unavailable, last_error("the device refused the job")));
    httpClose(http);
    leave();
    return;
  }
  int job_id = created_id > 0 ? created_id : static_cast<int>(integer_attribute(response, "job-id"));
  ippDelete(response);
  Result<DeviceCounts> counts = job_id > 0 ? wait_for_completion(*core, http, job_id, *channel, plan->note)
                                           : Result<DeviceCounts>(DeviceCounts{});
  httpClose(http);
  if (!counts.ok()) {
    fail(counts.error());
  } else {
    inbox.post([side, counts = *counts] {
      if (side->finished) {
        auto fn = std::move(side->finished);
        side->finished = nullptr;
        fn(counts);
      }
    });
  }
  leave();
}

class IppDevice final : public Device {
public:
  explicit IppDevice(std::shared_ptr<Core> core) : core_(std::move(core)) {}

  ~IppDevice() override {
    // close() is the way out; this only keeps a forgotten one from leaving threads behind.
    core_->close_done = nullptr;
    for (auto &weak : core_->channels)
      if (auto ch = weak.lock()) {
        std::lock_guard lock(ch->mu);
        ch->aborted = true;
        ch->cv.notify_one();
      }
    for (auto &[id, thread] : core_->threads)
      thread.join();
    core_->threads.clear();
    core_->inbox.reset();
  }

  void open_job(const proto::JobInfo &job, const PrintSettings &settings,
                std::function<void(Result<DeviceJobPtr>)> ready) override {
    if (core_->closing || !core_->inbox) return ready(make_error(Errc::unavailable, "the device is closing"));
    auto channel = std::make_shared<Channel>();
    auto side = std::make_shared<LoopSide>();
    side->ready = std::move(ready);
    std::erase_if(core_->channels, [](const std::weak_ptr<Channel> &w) { return w.expired(); });
    core_->channels.push_back(channel);
    uint64_t id = core_->next_thread++;
    core_->threads.emplace(id, std::thread(run_job, core_, channel, side, job, settings, id));
  }

  bool applies_settings() const override { return true; }
  const std::string &uri() const override { return core_->uri; }

  void close(std::function<void()> done) override {
    core_->closing = true;
    for (auto &weak : core_->channels)
      if (auto ch = weak.lock()) {
        {
          std::lock_guard lock(ch->mu);
          ch->aborted = true;
        }
        ch->cv.notify_one();
      }
    if (core_->threads.empty()) {
      core_->inbox.reset();
      done();
      return;
    }
    core_->close_done = std::move(done);
  }

private:
  std::shared_ptr<Core> core_;
};

} // namespace

Result<std::unique_ptr<Device>> open_ipp_device(uv_loop_t *loop, const std::string &uri,
                                                const DeviceOptions &options) {
  char scheme[32], userpass[256], host[256], resource[1024];
  int port = 0;
  if (httpSeparateURI(HTTP_URI_CODING_ALL, uri.c_str(), scheme, sizeof scheme, userpass, sizeof userpass, host,
                      sizeof host, &port, resource, sizeof resource) < HTTP_URI_STATUS_OK)
    return make_error(Errc::bad_request, "device \"" + uri + "\" is not a valid ipp:// or ipps:// URI");
  if (host[0] == '\0') return make_error(Errc::bad_request, "device \"" + uri + "\" names no host");
  auto core = std::make_shared<Core>();
  core->uri = uri;
  core->host = host;
  core->port = port > 0 ? port : 631;
  core->resource = resource[0] ? resource : "/ipp/print";
  core->encryption = std::strcmp(scheme, "ipps") == 0 ? HTTP_ENCRYPTION_ALWAYS : HTTP_ENCRYPTION_IF_REQUESTED;
  core->options = options;
  auto inbox = proto::LoopInbox::open(loop);
  if (!inbox.ok()) return inbox.error();
  core->inbox = std::move(*inbox);

  // Read the device's attributes once now: a wrong URI shows at start-up. A device that is off
  // does not stop the station; each job reads them again.
  if (http_t *http = core->connect()) {
    auto caps = core->fetch_capabilities(http);
    httpClose(http);
    if (caps.ok()) {
      LPM_INFO("device %s takes %s", uri.c_str(), joined(caps->formats).c_str());
      std::lock_guard lock(core->mu);
      core->capabilities = *caps;
    } else {
      LPM_WARN("device %s: %s", uri.c_str(), caps.error().to_string().c_str());
    }
  } else {
    LPM_WARN("device %s does not answer yet: %s", uri.c_str(), cupsLastErrorString());
  }
  return std::unique_ptr<Device>(std::make_unique<IppDevice>(std::move(core)));
}

} // namespace lpm::printer
