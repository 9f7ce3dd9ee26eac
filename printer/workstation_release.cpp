#include "workstation_release.h"

#include <vector>

#include "lpm/fault.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/outcome.h"
#include "lpm/protocol/rpc.h"
#include "quota_gate.h"
#include "report_pacer.h"
#include "station_connect.h"
#include "station_journal.h"

namespace lpm::printer {
namespace {

// What one document's transfer did, shared between the sink (owned by the RPC layer while the
// download runs) and the conversation.
struct Transfer {
  uint64_t bytes = 0;
  bool device_failed = false; // the error came from the device, not from the network
  bool verified = false;      // the stream's SHA-256 and size matched
  DeviceJobPtr job;           // the device's job until it is finished or aborted
};

// Hands the chunks of fetch-document to the device job as they arrive, and the device's
// backpressure to the connection: while the job is backlogged the peer stops reading. The
// digest is checked by the RPC layer before finish() runs; the conversation then finishes the
// device job. Destroyed unverified (network error, checksum mismatch), the device job is aborted.
class DeviceChunkSink final : public proto::ChunkSink {
public:
  explicit DeviceChunkSink(std::shared_ptr<Transfer> transfer) : transfer_(std::move(transfer)) {}
  ~DeviceChunkSink() override {
    if (!transfer_->verified && transfer_->job) {
      transfer_->job->abort();
      transfer_->job.reset();
    }
  }

  Status write(std::span<const uint8_t> data) override {
    Status s = transfer_->job->write(data);
    if (!s.ok()) {
      transfer_->device_failed = true;
      return s;
    }
    transfer_->bytes += data.size();
    if (transfer_->job->backlogged() && resume_) transfer_->job->on_drained(resume_);
    return {};
  }

  Status finish(std::span<const uint8_t>, uint64_t) override {
    transfer_->verified = true;
    return {};
  }

  bool backlogged() const override { return transfer_->job && transfer_->job->backlogged(); }
  void set_resume(std::function<void()> resume) override { resume_ = std::move(resume); }

private:
  std::shared_ptr<Transfer> transfer_;
  std::function<void()> resume_;
};

// "copies 2, two-sided-long-edge": the settings a device that applies none would have ignored.
std::string ignored_settings(const PrintSettings &settings) {
  std::string out;
  if (settings.copies > 1) out = "copies " + std::to_string(settings.copies);
  if (settings.sides != "one-sided") out += (out.empty() ? "" : ", ") + settings.sides;
  if (settings.color == "monochrome") out += (out.empty() ? "" : ", ") + std::string("monochrome");
  return out;
}

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
  // connecting -> opening -> listing [-> choosing] -> releasing -> closing -> finished (choosing:
  // interactive, waiting for the user's answer); any state may go to
  // closing when the conversation must stop, and connecting goes to finished when no address
  // answers.
  enum class State { connecting, opening, listing, choosing, releasing, closing, finished };

  std::string name() const { return printable(workstation_.name); }

  // With LPM_DEBUG: where the time of a release goes, step by step, from start().
  void step(const char *what) const {
    LPM_DEBUG("workstation %s: %s at +%lld ms", name().c_str(), what,
              static_cast<long long>(mono_ms() - started_ms_));
  }

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
    step(outcome_.resumed ? "connected (resumed)" : "connected (full handshake)");
    state_ = State::opening;
    proto::OpenReleaseRequest req;
    req.ticket = ticket_;
    req.certificate = settings_.certificate;
    proto::MapWriter w;
    req.write(w);
    auto self = shared_from_this();
    peer_->call(proto::op::open_release, w, [self](Result<proto::Response> r) {
      if (!r.ok()) return self->stop(r.error(), "open-release");
      proto::OpenReleaseResult result;
      auto reader = r->reader();
      result.read(reader);
      if (!reader.ok()) return self->stop(reader.error(), "open-release");
      self->step("release opened");
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
      self->step("jobs listed");
      if (!self->settings_.choose) {
        for (const auto &job : self->jobs_)
          self->wanted_.push_back(settings_of(job));
        self->state_ = State::releasing;
        self->release_job(0);
        return;
      }
      // Interactive: the station asks the user, then answers with the jobs to print or delete.
      self->state_ = State::choosing;
      self->settings_.choose(self->workstation_, self->jobs_, [self](ReleaseSettings::Choices choices) {
        self->apply_choices(std::move(choices));
      });
    });
  }

  // Keeps the jobs the user chose to print (with their settings), deletes those they chose to
  // delete first, then releases.
  void apply_choices(ReleaseSettings::Choices choices) {
    if (state_ != State::choosing) return; // the connection ended meanwhile
    std::vector<proto::JobInfo> print;
    for (auto &job : jobs_) {
      auto it = choices.find(job.id);
      if (it == choices.end()) continue;
      if (it->second.action == JobChoice::Action::remove) {
        doomed_.push_back(job);
        continue;
      }
      wanted_.push_back(it->second.settings);
      print.push_back(std::move(job));
    }
    jobs_ = std::move(print);
    outcome_.jobs_listed = jobs_.size();
    delete_job(0);
  }

  void delete_job(size_t index) {
    if (index >= doomed_.size()) {
      state_ = State::releasing;
      release_job(0);
      return;
    }
    proto::DeleteJobRequest req;
    req.job = doomed_[index].id;
    proto::MapWriter w;
    req.write(w);
    auto self = shared_from_this();
    peer_->call(proto::op::delete_job, w, [self, index](Result<proto::Response> r) {
      std::string title = printable(self->doomed_[index].title);
      if (r.ok()) {
        self->outcome_.jobs_deleted++;
        self->out_("deleted \"" + title + "\" from " + self->name());
      } else {
        if (!self->peer_ || self->peer_->closed()) return self->stop(r.error(), "delete-job");
        self->out_("not deleted \"" + title + "\" from " + self->name() + ": " + r.error().to_string());
      }
      self->delete_job(index + 1);
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
    // AMB-17: a job its owner may not print (colour, quota) is not claimed: it stays held.
    admit_note_.clear();
    estimate_ = 0;
    if (settings_.quota) {
      auto admission = settings_.quota->admit(job, wanted_[index]);
      if (!admission.admitted) {
        outcome_.jobs_refused++;
        out_("refused \"" + printable(job.title) + "\" from " + name() + ": " + admission.reason);
        release_job(index + 1);
        return;
      }
      admit_note_ = admission.note;
      estimate_ = admission.estimate;
    }
    // From the claim until the device has finished, this job's document is on its way.
    if (settings_.pacer) transfer_mark_ = settings_.pacer->transfer();
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
      self->step("job claimed");
      self->fetch(result.claim);
    });
  }

  // Another station won the claim, or the job went away: not our job any more.
  void job_not_claimed(const Error &error) {
    if (settings_.quota) settings_.quota->failed(jobs_[job_index_].user, estimate_);
    if (!peer_ || peer_->closed()) return stop(error, "acknowledge-job");
    out_("skipped \"" + printable(jobs_[job_index_].title) + "\" from " + name() + ": " + error.to_string());
    release_job(job_index_ + 1);
  }

  void fetch(const std::string &claim) {
    const proto::JobInfo &job = jobs_[job_index_];
    PrintSettings settings = wanted_[job_index_];
    auto self = shared_from_this();
    device_.open_job(job, settings, [self, claim, settings](Result<DeviceJobPtr> opened) {
      if (!opened.ok()) return self->report_status(claim, opened.error(), 0, {}, settings);
      self->step("device job opened");
      if (!self->peer_ || self->peer_->closed()) {
        (*opened)->abort();
        return self->stop(make_error(Errc::unavailable, "the workstation went away"), "fetch-document");
      }
      self->note_.clear();
      if (!self->device_.applies_settings()) {
        std::string ignored = ignored_settings(settings);
        if (!ignored.empty()) self->note_ = "the device applies no job settings: " + ignored + " not applied";
      }
      self->download(claim, std::move(*opened), settings);
    });
  }

  void download(const std::string &claim, DeviceJobPtr device_job, const PrintSettings &settings) {
    const proto::JobInfo &job = jobs_[job_index_];
    auto transfer = std::make_shared<Transfer>();
    transfer->job = std::move(device_job);
    proto::FetchDocumentRequest req;
    req.job = job.id;
    req.claim = claim;
    proto::MapWriter w;
    req.write(w);
    auto self = shared_from_this();
    peer_->call_download(
        proto::op::fetch_document, w, std::make_unique<DeviceChunkSink>(transfer),
        [self, claim, transfer, settings](Result<proto::Response> r) {
          if (r.ok()) {
            proto::FetchDocumentHeader header;
            auto reader = r->reader();
            header.read(reader);
            // The document is already with the device; a malformed header does not take that
            // back, so it is only logged.
            if (!reader.ok()) LPM_WARN("fetch-document header: %s", reader.error().to_string().c_str());
            self->step("document sent");
            // The whole document is with the device: let it finish and say what it printed.
            // (The transfer, and with it the device job, lives until this callback is gone.)
            transfer->job->finish([self, claim, transfer, settings](Result<DeviceCounts> counts) {
              self->step("device finished");
              if (!counts.ok()) return self->report_status(claim, counts.error(), transfer->bytes, {}, settings);
              self->report_status(claim, Error{Errc::ok, ""}, transfer->bytes, *counts, settings);
            });
            return;
          }
          if (transfer->job) {
            transfer->job->abort();
            transfer->job.reset();
          }
          // The connection is gone: the claim lapses on the workstation and the job is held
          // again there.
          if (!transfer->device_failed && (!self->peer_ || self->peer_->closed()))
            return self->stop(r.error(), "fetch-document");
          self->report_status(claim, r.error(), transfer->bytes, {}, settings);
        });
  }

  // Tells the workstation how the job ended: completed with what the device counted, or aborted
  // with the reason.
  void report_status(const std::string &claim, const Error &failure, uint64_t bytes, const DeviceCounts &counts,
                     const PrintSettings &applied) {
    transfer_mark_.reset();
    const proto::JobInfo &job = jobs_[job_index_];
    bool printed = failure.code == Errc::ok;
    std::string note = admit_note_;
    if (!note_.empty()) note += (note.empty() ? "" : "; ") + note_;
    if (!counts.note.empty()) note += (note.empty() ? "" : "; ") + counts.note;
    note_.clear();
    admit_note_.clear();
    proto::UpdateJobStatusRequest req;
    req.job = job.id;
    req.claim = claim;
    req.outcome = printed ? proto::JobOutcome::completed : proto::JobOutcome::aborted;
    if (!printed) req.message = failure.to_string().substr(0, 1000);
    if (counts.reported()) {
      req.pages = counts.pages;
      req.impressions = counts.impressions;
      req.sheets = counts.sheets;
      req.color_impressions = counts.color_impressions;
      req.counts_source = "device";
    } else if (printed) {
      // pages x copies x sides of what the device was asked to print (protocol/outcome.h).
      // The agent's record estimates the same way (a monochrome job: no colour impression), so
      // the accounting server finds the signed counts are the record's.
      auto estimate = proto::estimate_counts(job.pages, applied.copies, applied.sides, applied.color);
      req.pages = job.pages;
      req.impressions = estimate.impressions;
      req.sheets = estimate.sheets;
      req.color_impressions = estimate.color_impressions;
      req.counts_source = "estimated";
    }
    // What late binding changed ("" and 0: as submitted).
    PrintSettings submitted = settings_of(job);
    if (applied.copies != submitted.copies) req.copies = applied.copies;
    if (applied.sides != submitted.sides) req.sides = applied.sides;
    if (applied.color != submitted.color) req.color = applied.color;
    req.printer_name = settings_.printer_name;
    req.finished_ms = wall_ms();
    if (settings_.identity) {
      Status signed_ok = proto::sign_outcome(settings_.identity->key(), workstation_.id, req,
                                                   settings_.presignatures.get());
      if (!signed_ok.ok()) LPM_ERROR("signing the outcome of job %s: %s", job.id.c_str(),
                                     signed_ok.error().to_string().c_str());
    }
    // Durably noted before the workstation hears it: a station killed from here on reports it
    // at its next start (late_reports.h), so the job is never counted twice nor lost.
    // A counted user's quota charge goes into the same commit (AMB-17).
    bool charge = printed && settings_.quota && settings_.settle && settings_.quota->counted(job.user);
    if (settings_.journal && printed) {
      SettleEntry settle{settings_.quota ? settings_.quota->reservation() : "", job.user, workstation_.id,
                         req, 0};
      Status noted =
          settings_.journal->record(journal_entry(workstation_, job, req), charge ? &settle : nullptr);
      if (!noted.ok()) LPM_ERROR("journal: %s", noted.error().to_string().c_str());
    }
    // Counted now: a connection that closes while the report waits below still ends with it.
    if (printed) outcome_.jobs_printed++;
    // AMB-17: what it cost comes off its owner's quota, charged at the directory from the
    // signed outcome.
    if (settings_.quota) {
      if (printed) {
        settings_.quota->printed(job.user, estimate_, req.impressions);
        if (charge) settings_.settle(job.user, workstation_.id, req);
      } else {
        settings_.quota->failed(job.user, estimate_);
      }
    }
    // The last job's report may wait for the other workstations' documents (report_pacer.h);
    // a job with more after it reports at once, since the next one waits on the answer.
    bool last = job_index_ + 1 >= jobs_.size();
    if (settings_.pacer && last) {
      auto self = shared_from_this();
      settings_.pacer->after_transfers([self, req = std::move(req), printed, failure, bytes, note, counts, claim] {
        self->send_report(req, printed, failure, bytes, note, counts, claim);
      });
      return;
    }
    send_report(req, printed, failure, bytes, note, counts, claim);
  }

  void send_report(const proto::UpdateJobStatusRequest &req, bool printed, const Error &failure, uint64_t bytes,
                   const std::string &note, const DeviceCounts &counts, const std::string &claim) {
    const proto::JobInfo &job = jobs_[job_index_];
    fault_point("station.before_report");
    if (!peer_ || peer_->closed()) {
      // The conversation ended while the device worked (the workstation went away): the
      // journal keeps a printed job's outcome for the late report at the next start.
      out_(std::string(printed ? "printed" : "failed") + " \"" + printable(job.title) + "\" from " + name() +
           ": the workstation was gone before it heard the outcome" +
           (printed && settings_.journal ? " (reported at the next start)" : ""));
      return;
    }
    proto::MapWriter w;
    req.write(w);
    auto self = shared_from_this();
    std::string counted = counts.reported() ? ", " + std::to_string(counts.impressions) + " impression(s)" : "";
    std::string job_id = req.job;
    peer_->call(proto::op::update_job_status, w,
                [self, printed, failure, bytes, note, counted, job_id, claim](Result<proto::Response> r) {
      // Answered (recorded, or refused for good): the journal lets go. A broken connection, a
      // claim that lapsed while the device worked, or an agent busy with the job keeps the entry
      // for the late report.
      bool answered = r.ok() || (self->peer_ && !self->peer_->closed() && r.error().code != Errc::expired &&
                                 r.error().code != Errc::unavailable);
      if (self->settings_.journal && answered) {
        Status forgotten = self->settings_.journal->done(job_id, claim);
        if (!forgotten.ok()) LPM_ERROR("journal: %s", forgotten.error().to_string().c_str());
      }
      const proto::JobInfo &done_job = self->jobs_[self->job_index_];
      std::string title = printable(done_job.title);
      int64_t took_ms = mono_ms() - self->job_started_ms_;
      std::string tail = note.empty() ? "" : " (" + note + ")";
      if (!r.ok()) tail += " (the workstation did not record it: " + r.error().to_string() + ")";
      if (printed)
        self->out_("printed \"" + title + "\" (" + std::to_string(bytes) + " bytes" + counted + ", " +
                   std::to_string(took_ms) + " ms) from " + self->name() + tail);
      else
        self->out_("failed \"" + title + "\" from " + self->name() + ": " + failure.to_string() + tail);
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
    transfer_mark_.reset();
    if (peer_) peer_->close(); // on_closed follows once the handles are freed
  }

  void report_end() {
    std::string handshake = outcome_.resumed ? "resumed" : "full";
    std::string took = std::to_string(mono_ms() - started_ms_) + " ms";
    if (outcome_.error.code == Errc::ok)
      out_("workstation " + name() + ": " + std::to_string(outcome_.jobs_printed) + " of " +
           std::to_string(outcome_.jobs_listed) + " job(s) released" +
           (outcome_.jobs_refused ? " (" + std::to_string(outcome_.jobs_refused) + " refused)" : "") +
           " via " + outcome_.address + " (" + handshake + " handshake, " + took + ")");
    else
      out_("workstation " + name() + ": stopped after " + std::to_string(outcome_.jobs_printed) +
           " job(s): " + outcome_.error.to_string() + " (" + handshake + " handshake, " + took + ")");
  }

  void finish() {
    state_ = State::finished;
    transfer_mark_.reset();
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
  std::vector<proto::JobInfo> jobs_;      // the jobs to print, in order
  std::vector<PrintSettings> wanted_;     // what the device is asked for, per job of jobs_
  std::vector<proto::JobInfo> doomed_;    // interactive: the jobs to delete
  size_t job_index_ = 0;
  int64_t started_ms_ = 0;
  int64_t job_started_ms_ = 0;
  WorkstationOutcome outcome_;
  std::string note_; // what the device will not do for the current job
  std::string admit_note_;              // what the quota gate changed for the current job (monochrome)
  int64_t estimate_ = 0;                // the current job's impressions taken off its owner's quota
  std::shared_ptr<void> transfer_mark_; // held from a job's claim until its device finished
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
