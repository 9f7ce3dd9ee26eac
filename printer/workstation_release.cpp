#include "workstation_release.h"

#include <vector>

#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/rpc.h"
#include "station_connect.h"

namespace lpm::printer {
namespace {

// What one document's transfer did, shared between the sink (owned by the RPC layer while the
// download runs) and the conversation.
struct Transfer {
  uint64_t bytes = 0;
  bool device_failed = false; // the error came from the device, not from the network
};

// Hands the chunks of fetch-document to the device as they arrive; the digest has been
// checked by the RPC layer before finish() runs. Destroyed unfinished (network error, checksum
// mismatch), it aborts the device job through the DeviceSink's destructor.
class DeviceChunkSink final : public proto::ChunkSink {
public:
  DeviceChunkSink(std::unique_ptr<DeviceSink> sink, std::shared_ptr<Transfer> transfer)
      : sink_(std::move(sink)), transfer_(std::move(transfer)) {}

  Status write(std::span<const uint8_t> data) override {
    Status s = sink_->write(data);
    if (!s.ok()) {
      transfer_->device_failed = true;
      return s;
    }
    transfer_->bytes += data.size();
    return {};
  }

  Status finish(std::span<const uint8_t>, uint64_t) override {
    Status s = sink_->finish();
    if (!s.ok()) transfer_->device_failed = true;
    return s;
  }

private:
  std::unique_ptr<DeviceSink> sink_;
  std::shared_ptr<Transfer> transfer_;
};

class WorkstationRelease : public std::enable_shared_from_this<WorkstationRelease> {
public:
  WorkstationRelease(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls, Device &device,
                     const ReleaseSettings &settings, const proto::WorkstationRef &workstation,
                     const proto::SignedTicket &ticket, LineFn out,
                     std::function<void(WorkstationOutcome)> done)
      : loop_(loop), tls_(std::move(tls)), device_(device), settings_(settings), workstation_(workstation),
        ticket_(ticket), out_(std::move(out)), done_(std::move(done)) {
    outcome_.name = workstation_.name;
  }

  void start() {
    started_ms_ = mono_ms();
    try_address(0);
  }

private:
  // connecting -> opening -> listing -> releasing -> closing -> finished; any state may go to
  // closing when the conversation must stop, and connecting goes to finished when no address
  // answers.
  enum class State { connecting, opening, listing, releasing, closing, finished };

  std::string name() const { return printable(workstation_.name); }

  void try_address(size_t index) {
    if (index >= workstation_.addresses.size()) {
      std::string reason = failures_.empty() ? "no address" : failures_;
      outcome_.error = make_error(Errc::unavailable, reason);
      out_("workstation " + name() + ": unreachable (" + reason + ")");
      finish();
      return;
    }
    address_index_ = index;
    proto::Endpoint to{workstation_.addresses[index], workstation_.port};
    proto::StreamLimits limits;
    limits.handshake_timeout_ms = settings_.connect_timeout_ms;
    limits.idle_timeout_ms = settings_.idle_timeout_ms;
    auto self = shared_from_this();
    state_ = State::connecting;
    // The peer keeps these until its stream closes; on_closed then lets go of the peer.
    peer_ = connect_pinned(
        loop_, tls_, to, {workstation_.fingerprint}, limits, proto::role::agent, [self] { self->on_ready(); },
        [self](const Error &reason) { self->on_closed(reason); });
  }

  void on_closed(const Error &reason) {
    peer_.reset();
    if (state_ == State::connecting) {
      // This address did not work: remember why and try the next one.
      std::string why = reason.message.empty() ? errc_name(reason.code) : reason.message;
      failures_ += (failures_.empty() ? "" : "; ") + why;
      try_address(address_index_ + 1);
      return;
    }
    if (state_ != State::closing && outcome_.error.code == Errc::ok)
      outcome_.error = reason.code == Errc::ok
                           ? make_error(Errc::unavailable, "connection closed: " + reason.message)
                           : reason;
    report_end();
    finish();
  }

  void on_ready() {
    if (state_ != State::connecting) return;
    outcome_.reached = true;
    outcome_.address = peer_->info().address;
    outcome_.resumed = peer_->stream().resumed();
    state_ = State::opening;
    proto::OpenReleaseRequest req;
    req.ticket = ticket_;
    proto::MapWriter w;
    req.write(w);
    auto self = shared_from_this();
    peer_->call(proto::op::open_release, w, [self](Result<proto::Response> r) {
      if (!r.ok()) return self->stop(r.error(), "open-release");
      proto::OpenReleaseResult result;
      auto reader = r->reader();
      result.read(reader);
      if (!reader.ok()) return self->stop(reader.error(), "open-release");
      self->state_ = State::listing;
      self->list_page("");
    });
  }

  void list_page(const std::string &after) {
    proto::ListJobsRequest req;
    req.page.after = after;
    req.page.limit = proto::kMaxPage;
    proto::MapWriter w;
    req.write(w);
    auto self = shared_from_this();
    peer_->call(proto::op::list_jobs, w, [self, after](Result<proto::Response> r) {
      if (!r.ok()) return self->stop(r.error(), "list-jobs");
      proto::ListJobsResult result;
      auto reader = r->reader();
      result.read(reader);
      if (!reader.ok()) return self->stop(reader.error(), "list-jobs");
      for (auto &job : result.jobs) {
        if (self->jobs_.size() >= kMaxJobsPerRelease) break;
        self->jobs_.push_back(std::move(job));
      }
      // A cursor that does not move would page forever.
      if (!result.next.empty() && result.next != after && self->jobs_.size() < kMaxJobsPerRelease) {
        self->list_page(result.next);
        return;
      }
      self->outcome_.jobs_listed = self->jobs_.size();
      self->state_ = State::releasing;
      self->release_job(0);
    });
  }

  void release_job(size_t index) {
    if (index >= jobs_.size()) {
      stop(Error{Errc::ok, ""}, "");
      return;
    }
    job_index_ = index;
    job_started_ms_ = mono_ms();
    const proto::JobInfo &job = jobs_[index];
    proto::AcknowledgeJobRequest req;
    req.job = job.id;
    proto::MapWriter w;
    req.write(w);
    auto self = shared_from_this();
    peer_->call(proto::op::acknowledge_job, w, [self](Result<proto::Response> r) {
      if (!r.ok()) return self->job_not_claimed(r.error());
      proto::AcknowledgeJobResult result;
      auto reader = r->reader();
      result.read(reader);
      if (!reader.ok()) return self->stop(reader.error(), "acknowledge-job");
      self->fetch(result.claim);
    });
  }

  // Another station won the claim, or the job went away: not our job any more.
  void job_not_claimed(const Error &error) {
    if (!peer_ || peer_->closed()) return stop(error, "acknowledge-job");
    out_("skipped \"" + printable(jobs_[job_index_].title) + "\" from " + name() + ": " + error.to_string());
    release_job(job_index_ + 1);
  }

  void fetch(const std::string &claim) {
    const proto::JobInfo &job = jobs_[job_index_];
    auto sink = device_.open_job(job);
    if (!sink.ok()) {
      report_status(claim, sink.error(), 0);
      return;
    }
    auto transfer = std::make_shared<Transfer>();
    proto::FetchDocumentRequest req;
    req.job = job.id;
    req.claim = claim;
    proto::MapWriter w;
    req.write(w);
    auto self = shared_from_this();
    peer_->call_download(proto::op::fetch_document, w,
                         std::make_unique<DeviceChunkSink>(std::move(*sink), transfer),
                         [self, claim, transfer](Result<proto::Response> r) {
                           if (r.ok()) {
                             proto::FetchDocumentHeader header;
                             auto reader = r->reader();
                             header.read(reader);
                             // The document is already with the device; a malformed header
                             // does not take that back, so it is only logged.
                             if (!reader.ok())
                               LPM_WARN("fetch-document header: %s", reader.error().to_string().c_str());
                             return self->report_status(claim, Error{Errc::ok, ""}, transfer->bytes);
                           }
                           // The connection is gone: the claim lapses on the workstation and
                           // the job is held again there.
                           if (!transfer->device_failed && (!self->peer_ || self->peer_->closed()))
                             return self->stop(r.error(), "fetch-document");
                           self->report_status(claim, r.error(), transfer->bytes);
                         });
  }

  // Tells the workstation how the job ended: completed, or aborted with the reason.
  void report_status(const std::string &claim, const Error &failure, uint64_t bytes) {
    const proto::JobInfo &job = jobs_[job_index_];
    bool printed = failure.code == Errc::ok;
    proto::UpdateJobStatusRequest req;
    req.job = job.id;
    req.claim = claim;
    req.outcome = printed ? proto::JobOutcome::completed : proto::JobOutcome::aborted;
    if (!printed) req.message = failure.to_string().substr(0, 1000);
    req.pages = -1; // the file device counts nothing; the agent keeps its estimate
    req.counts_source = "estimated";
    req.printer_name = settings_.printer_name;
    proto::MapWriter w;
    req.write(w);
    if (printed) outcome_.jobs_printed++;
    auto self = shared_from_this();
    peer_->call(proto::op::update_job_status, w, [self, printed, failure, bytes](Result<proto::Response> r) {
      const proto::JobInfo &done_job = self->jobs_[self->job_index_];
      std::string title = printable(done_job.title);
      int64_t took_ms = mono_ms() - self->job_started_ms_;
      std::string note = r.ok() ? "" : " (the workstation did not record it: " + r.error().to_string() + ")";
      if (printed)
        self->out_("printed \"" + title + "\" (" + std::to_string(bytes) + " bytes, " +
                   std::to_string(took_ms) + " ms) from " + self->name() + note);
      else
        self->out_("failed \"" + title + "\" from " + self->name() + ": " + failure.to_string() + note);
      if (!r.ok() && (!self->peer_ || self->peer_->closed()))
        return self->stop(r.error(), "update-job-status");
      self->release_job(self->job_index_ + 1);
    });
  }

  // Ends the conversation: with an error, it names the op that failed.
  void stop(const Error &error, const char *during) {
    if (state_ == State::closing || state_ == State::finished) return;
    if (error.code != Errc::ok && outcome_.error.code == Errc::ok) {
      outcome_.error = error;
      outcome_.error.message = std::string(during) + ": " + error.message;
    }
    state_ = State::closing;
    if (peer_) peer_->close(); // on_closed follows once the handles are freed
  }

  void report_end() {
    std::string handshake = outcome_.resumed ? "resumed" : "full";
    std::string took = std::to_string(mono_ms() - started_ms_) + " ms";
    if (outcome_.error.code == Errc::ok)
      out_("workstation " + name() + ": " + std::to_string(outcome_.jobs_printed) + " of " +
           std::to_string(outcome_.jobs_listed) + " job(s) released via " + outcome_.address + " (" +
           handshake + " handshake, " + took + ")");
    else
      out_("workstation " + name() + ": stopped after " + std::to_string(outcome_.jobs_printed) +
           " job(s): " + outcome_.error.to_string() + " (" + handshake + " handshake, " + took + ")");
  }

  void finish() {
    state_ = State::finished;
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(outcome_);
  }

  uv_loop_t *loop_;
  std::shared_ptr<proto::TlsContext> tls_;
  Device &device_;
  ReleaseSettings settings_;
  proto::WorkstationRef workstation_;
  proto::SignedTicket ticket_;
  LineFn out_;
  std::function<void(WorkstationOutcome)> done_;

  State state_ = State::connecting;
  proto::PeerPtr peer_;
  size_t address_index_ = 0;
  std::string failures_; // why each address failed, "; "-separated
  std::vector<proto::JobInfo> jobs_;
  size_t job_index_ = 0;
  int64_t started_ms_ = 0;
  int64_t job_started_ms_ = 0;
  WorkstationOutcome outcome_;
};

} // namespace

void release_workstation(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls, Device &device,
                         const ReleaseSettings &settings, const proto::WorkstationRef &workstation,
                         const proto::SignedTicket &ticket, LineFn out,
                         std::function<void(WorkstationOutcome)> done) {
  auto release = std::make_shared<WorkstationRelease>(loop, std::move(tls), device, settings, workstation,
                                                      ticket, std::move(out), std::move(done));
  // The peer's callbacks hold the release while a connection exists; it frees itself after
  // `done`.
  release->start();
}

} // namespace lpm::printer
