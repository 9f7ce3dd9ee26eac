#include "release_service.h"

#include <algorithm>
#include <map>

#include "call_io.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/outcome.h"

namespace lpm::agent {

struct ReleaseService::StreamingJobs {
  std::map<std::string, int> streams; // job id -> streams sending it

  void add(const std::string &job_id) { streams[job_id]++; }
  void remove(const std::string &job_id) {
    auto it = streams.find(job_id);
    if (it != streams.end() && --it->second == 0) streams.erase(it);
  }
  bool contains(const std::string &job_id) const { return streams.count(job_id) != 0; }
  std::set<std::string> ids() const {
    std::set<std::string> out;
    for (const auto &entry : streams)
      out.insert(entry.first);
    return out;
  }
};

namespace {

using StreamingJobs = ReleaseService::StreamingJobs;

// While a document streams, the claim is renewed this often so a slow device keeps its lease.
constexpr int64_t kLeaseRenewEveryMs = 10 * 1000;

struct ReleaseContext {
  std::shared_ptr<JobStore> store;
  std::shared_ptr<proto::NonceStore> nonces;
  std::shared_ptr<Outbox> outbox;
  ReleaseServiceOptions options;
  std::shared_ptr<StreamingJobs> streaming;
};

// What open-release established on one connection.
struct Conversation {
  std::vector<std::string> users;
  proto::Fingerprint printer; // the station's TLS key, which the ticket names
  int64_t opened_ms = 0;
  // The ticket's end. Listing stops then, and only jobs submitted before it may be claimed: a
  // connection kept open must not release what the user prints later without badging in again.
  int64_t expires_ms = 0;
};

bool revoked_station(const ReleaseContext &ctx, const proto::Fingerprint &printer) {
  return ctx.options.revoked && ctx.options.revoked->contains(printer);
}
constexpr const char *kRevokedStation = "this release station's key was revoked by the directory";

// The connection's conversation, or null after failing the call with forbidden: none was
// opened, or the station's key was revoked since (the revocation list arrives with heartbeats).
std::shared_ptr<Conversation> conversation_of(const ReleaseContext &ctx, const proto::CallPtr &call) {
  auto peer = call->peer();
  std::shared_ptr<Conversation> conv =
      peer ? std::static_pointer_cast<Conversation>(peer->app_state) : nullptr;
  if (!conv) {
    call->fail(Errc::forbidden, "open a release conversation with open-release first");
    return nullptr;
  }
  if (revoked_station(ctx, conv->printer)) {
    call->fail(Errc::forbidden, kRevokedStation);
    return nullptr;
  }
  return conv;
}

// The job when it belongs to one of the conversation's users; otherwise the call fails with
// not_found (jobs of other users are not even confirmed to exist).
std::optional<Job> visible_job(ReleaseContext &ctx, const Conversation &conv, const proto::CallPtr &call,
                               const std::string &job_id) {
  auto job = ctx.store->get(job_id);
  if (job.ok() && std::find(conv.users.begin(), conv.users.end(), job->user) != conv.users.end()) return *job;
  if (!job.ok() && job.error().code != Errc::not_found) {
    call->fail(job.error());
    return std::nullopt;
  }
  call->fail(Errc::not_found, "no job " + job_id + " for the ticket's users");
  return std::nullopt;
}

// Streams a stored document, decrypted and authenticated chunk by chunk by the store's reader
// (a chunk that fails authentication ends the stream with checksum_mismatch: no byte of it is
// sent); renews the claim while it runs and once more at the end, so the station has a full
// lease left for update-job-status. Renewal happens only when the RPC pump reads, and the pump
// stops reading while the station does not take the data (a slow device): so while this source
// lives its job is in `streaming`, which the claim sweep skips. The source dies with the stream
// or the connection, and then the sweep may expire the claim as usual.
class SpoolSource final : public proto::ChunkSource {
public:
  SpoolSource(std::unique_ptr<DocumentReader> reader, std::weak_ptr<JobStore> store,
              std::shared_ptr<StreamingJobs> streaming, std::string job_id, std::string claim)
      : reader_(std::move(reader)), store_(std::move(store)), streaming_(std::move(streaming)),
        job_id_(std::move(job_id)), claim_(std::move(claim)), last_renew_ms_(wall_ms()) {
    streaming_->add(job_id_);
  }
  ~SpoolSource() override { streaming_->remove(job_id_); }

  Result<size_t> read(uint8_t *out, size_t max) override {
    auto n = reader_->read_at(offset_, std::span<uint8_t>(out, max));
    if (!n.ok()) {
      LPM_ERROR("job %s: stream stopped: %s", job_id_.c_str(), n.error().to_string().c_str());
      return n.error();
    }
    offset_ += *n;
    int64_t now = wall_ms();
    bool renew = now - last_renew_ms_ >= kLeaseRenewEveryMs;
    if (*n == 0 || renew) {
      auto store = store_.lock();
      if (!store) return *n;
      // The claim ended meanwhile (finished, or taken over): this document is no longer the
      // station's to print, so the stream ends with the error instead of completing. At the end
      // the lease is renewed only when less than kClaimLeaseMs - kLeaseRenewEveryMs of it is
      // left for the station to report (a stream that stalled, a clock that moved): the usual
      // document, fetched a moment ago, adds no write and disk flush while the badge's other
      // documents are on their way.
      Status s;
      if (!renew) {
        auto lease_end = store->claim_lease_end(job_id_, claim_);
        if (!lease_end.ok())
          s = lease_end.error();
        else
          renew = *lease_end - now < kClaimLeaseMs - kLeaseRenewEveryMs;
      }
      if (s.ok() && renew) {
        last_renew_ms_ = now;
        s = store->renew_claim(job_id_, claim_, now);
      }
      if (!s.ok()) {
        LPM_WARN("job %s: stream stopped: %s", job_id_.c_str(), s.error().to_string().c_str());
        return s.error();
      }
    }
    return *n;
  }

private:
  std::unique_ptr<DocumentReader> reader_;
  std::weak_ptr<JobStore> store_;
  std::shared_ptr<StreamingJobs> streaming_;
  std::string job_id_;
  std::string claim_;
  uint64_t offset_ = 0;
  int64_t last_renew_ms_;
};

void handle_open_release(ReleaseContext &ctx, const proto::CallPtr &call) {
  auto request = read_args<proto::OpenReleaseRequest>(call);
  if (!request) return;
  const proto::OpenReleaseRequest &req = *request;
  const proto::Fingerprint &printer = call->peer_info().fingerprint;
  if (printer.empty())
    return call->fail(Errc::unauthenticated, "a release station must present its TLS certificate");
  // Before the ticket is checked, so a revoked station does not even spend its nonce.
  if (revoked_station(ctx, printer)) {
    LPM_WARN("open-release from %s refused: station key %.16s... is revoked", call->peer_info().address.c_str(),
             printer.c_str());
    return call->fail(Errc::forbidden, kRevokedStation);
  }
  proto::TicketCheck check;
  check.presenting_printer = printer;
  check.workstation_id = ctx.options.workstation_id;
  check.now_ms = wall_ms();
  bool printer_signed = !req.certificate.empty();
  Result<proto::Ticket> ticket = make_error(Errc::internal, "unchecked");
  if (!printer_signed) {
    ticket = proto::ticket_verify(req.ticket, ctx.options.ticket_keys, check, *ctx.nonces);
  } else {
    // Issue 8: the station could not reach the directory and signed the ticket itself.
    proto::OfflineTicketCheck offline;
    offline.ticket = check;
    offline.window_ms = ctx.options.offline_window_ms;
    offline.last_heard_ms = ctx.options.directory_heard_ms ? ctx.options.directory_heard_ms() : 0;
    ticket = proto::ticket_verify_printer_signed(req.ticket, req.certificate, ctx.options.ticket_keys, offline,
                                                 *ctx.nonces);
  }
  if (!ticket.ok()) {
    LPM_WARN("open-release from %s refused: %s%s", call->peer_info().address.c_str(),
             printer_signed ? "printer-signed ticket: " : "", ticket.error().to_string().c_str());
    return call->fail(ticket.error());
  }
  auto peer = call->peer();
  if (!peer) return;
  auto conv = std::make_shared<Conversation>();
  conv->users = ticket->users;
  conv->printer = printer;
  conv->opened_ms = check.now_ms;
  conv->expires_ms = ticket->expires_ms;
  peer->app_state = conv;
  LPM_INFO("release opened by station %.16s... from %s for %zu user(s)%s", printer.c_str(),
           call->peer_info().address.c_str(), conv->users.size(),
           printer_signed ? " with a ticket it signed (directory unreachable)" : "");
  proto::OpenReleaseResult result;
  result.workstation = ctx.options.workstation_id;
  result.users = conv->users;
  reply_with(call, result);
}

void handle_list_jobs(ReleaseContext &ctx, const proto::CallPtr &call) {
  auto request = read_args<proto::ListJobsRequest>(call);
  if (!request) return;
  const proto::ListJobsRequest &req = *request;
  auto conv = conversation_of(ctx, call);
  if (!conv) return;
  if (wall_ms() >= conv->expires_ms)
    return call->fail(Errc::expired, "the release ticket has expired; badge in again");
  // Claims whose lease ended are released first, so their jobs are listed as held again.
  auto expired = ctx.store->expire_claims(wall_ms(), ctx.streaming->ids());
  if (!expired.ok()) return call->fail(expired.error());
  JobFilter filter;
  filter.users = conv->users;
  filter.states = {JobState::held};
  if (req.include_printed) filter.states.push_back(JobState::printed);
  filter.after = req.page.after;
  filter.limit = req.page.limit;
  auto page = ctx.store->list(filter);
  if (!page.ok()) return call->fail(page.error());
  proto::ListJobsResult result;
  for (const auto &j : page->jobs) {
    result.jobs.push_back(j.info());
    result.jobs.back().late_binding = ctx.options.late_binding;
  }
  result.next = page->next;
  reply_with(call, result);
}

void handle_acknowledge(ReleaseContext &ctx, const proto::CallPtr &call) {
  auto request = read_args<proto::AcknowledgeJobRequest>(call);
  if (!request) return;
  const proto::AcknowledgeJobRequest &req = *request;
  auto conv = conversation_of(ctx, call);
  if (!conv) return;
  auto job = visible_job(ctx, *conv, call, req.job);
  if (!job) return;
  if (job->submitted_ms > conv->expires_ms)
    return call->fail(Errc::expired,
                      "job " + req.job + " arrived after the release ticket expired; badge in again");
  // Its lease may have lapsed in state.db while a stalled stream holds it: that claim stays.
  if (ctx.streaming->contains(req.job))
    return call->fail(Errc::conflict, "job " + req.job + " is being sent to a release station");
  auto grant = ctx.store->claim(req.job, conv->printer, wall_ms(),
                                req.reprint ? JobStore::ClaimFor::reprint : JobStore::ClaimFor::release);
  if (!grant.ok()) return call->fail(grant.error());
  LPM_INFO("job %s claimed by station %.16s...", req.job.c_str(), conv->printer.c_str());
  proto::AcknowledgeJobResult result;
  result.claim = grant->claim;
  result.lease_ms = kClaimLeaseMs;
  reply_with(call, result);
}

void handle_fetch(ReleaseContext &ctx, const proto::CallPtr &call) {
  auto request = read_args<proto::FetchDocumentRequest>(call);
  if (!request) return;
  const proto::FetchDocumentRequest &req = *request;
  auto conv = conversation_of(ctx, call);
  if (!conv) return;
  auto visible = visible_job(ctx, *conv, call, req.job);
  if (!visible) return;
  // Opened (header, size and last chunk authenticated) before the job moves to printing: a
  // damaged or tampered spool file is refused here and the job stays where it was.
  auto reader = ctx.store->open_document(*visible);
  if (!reader.ok()) {
    LPM_ERROR("job %s not served: %s", req.job.c_str(), reader.error().to_string().c_str());
    return call->fail(reader.error());
  }
  auto job = ctx.store->start_printing(req.job, req.claim, conv->printer, wall_ms());
  if (!job.ok()) return call->fail(job.error());
  proto::FetchDocumentHeader header;
  header.size = job->size_bytes;
  header.format = job->format;
  header.sha256 = job->sha256;
  proto::MapWriter w;
  header.write(w);
  // The stored digest goes along: the station checks the plaintext it received against it.
  call->reply_stream(
      w, std::make_unique<SpoolSource>(std::move(*reader), ctx.store, ctx.streaming, job->id, req.claim),
      job->sha256);
}

// The "printed" record of a job a station reported completed (issue 5): what was applied
// (late binding: copies, sides, color), the device's counts or, without them, the estimate
// (outcome.h estimate_counts), and the station's signature over the outcome, so the accounting
// server can check the counts came from that station.
proto::JobRecord printed_record(const ReleaseContext &ctx, const Job &job,
                                const proto::UpdateJobStatusRequest &req, const proto::Fingerprint &printer,
                                int64_t now) {
  proto::JobRecord record = job_record_for(job, ctx.options.records, "printed", "released", now);
  record.printer = req.printer_name;
  record.copies = req.copies != 0 ? req.copies : job.copies;
  std::string sides = req.sides.empty() ? job.sides : req.sides;
  record.duplex = sides != "one-sided";
  record.color = req.color.empty() ? job.color : req.color;
  if (req.pages >= 0) record.pages = req.pages;
  if (req.counts_source == "device") {
    record.impressions = req.impressions;
    record.sheets = req.sheets;
    record.color_impressions = req.color_impressions;
    record.counts_source = "device";
  } else {
    proto::EstimatedCounts estimate =
        proto::estimate_counts(record.pages, record.copies, sides, record.color);
    record.impressions = estimate.impressions;
    record.sheets = estimate.sheets;
    record.color_impressions = estimate.color_impressions;
    record.counts_source = "estimated";
  }
  if (!req.signature.empty()) {
    record.signed_outcome = proto::outcome_signed_bytes(req, ctx.options.workstation_id);
    record.signature = req.signature;
    record.signer_key = req.signer_key;
    record.signed_by = printer;
  }
  return record;
}

void handle_update_status(ReleaseContext &ctx, const proto::CallPtr &call) {
  auto request = read_args<proto::UpdateJobStatusRequest>(call);
  if (!request) return;
  const proto::UpdateJobStatusRequest &req = *request;
  auto conv = conversation_of(ctx, call);
  if (!conv) return;
  if (!visible_job(ctx, *conv, call, req.job)) return;
  // Before anything changes: a forged or unsigned completed outcome leaves the job as it was.
  Status signature = proto::check_reported_outcome(conv->printer, ctx.options.workstation_id, req);
  if (!signature.ok()) {
    LPM_WARN("job %s: outcome from station %.16s... refused: %s", req.job.c_str(), conv->printer.c_str(),
             signature.error().to_string().c_str());
    return call->fail(signature.error());
  }

  FinishReport report;
  report.job = req.job;
  report.claim = req.claim;
  report.printer = conv->printer;
  report.outcome = req.outcome;
  int64_t now = wall_ms();
  bool queued = false;
  auto finished = ctx.store->finish(report, now, [&](const Job &job) -> Status {
    if (req.outcome != proto::JobOutcome::completed) return {};
    // Queued in the transaction that marks the job printed: never one without the other.
    queued = true;
    return ctx.outbox->insert(printed_record(ctx, job, req, conv->printer, now));
  });
  if (!finished.ok()) return call->fail(finished.error());
  if (finished->changed)
    LPM_INFO("job %s %s by station %.16s...%s%s", req.job.c_str(), proto::job_outcome_name(req.outcome),
             conv->printer.c_str(), req.message.empty() ? "" : ": ", req.message.c_str());
  if (queued) ctx.outbox->notify_queued();
  proto::UpdateJobStatusResult result;
  result.state = job_state_name(finished->job.state);
  reply_with(call, result);
}

// report-outcome (issue 5): a station that died after its device took a job reports the outcome
// it journaled, after its restart, on a connection without open-release. Only the station whose
// key acknowledged the claim may (the claim history in state.db remembers it); the outcome is
// checked as update-job-status checks it, and a job is never counted twice.
// delete-job {job}: the person at an interactive station deletes one of the ticket's users' held
// jobs (or a printed one kept for reprint). A job a station holds a claim on: conflict.
void handle_delete(ReleaseContext &ctx, const proto::CallPtr &call) {
  auto request = read_args<proto::DeleteJobRequest>(call);
  if (!request) return;
  auto conv = conversation_of(ctx, call);
  if (!conv) return;
  auto job = visible_job(ctx, *conv, call, request->job);
  if (!job) return;
  auto no_record = [](const Job &) -> Status { return {}; };
  auto removed = ctx.store->remove(job->id, wall_ms(), ctx.options.on_delete ? ctx.options.on_delete : no_record);
  if (!removed.ok()) return call->fail(removed.error());
  if (ctx.options.after_delete) ctx.options.after_delete();
  LPM_INFO("job %s deleted at station %.16s... by its user", removed->id.c_str(), conv->printer.c_str());
  reply_with(call, removed->info());
}

void handle_report_outcome(ReleaseContext &ctx, const proto::CallPtr &call) {
  auto request = read_args<proto::ReportOutcomeRequest>(call);
  if (!request) return;
  const proto::ReportOutcomeRequest &req = *request;
  const proto::Fingerprint &printer = call->peer_info().fingerprint;
  if (printer.empty())
    return call->fail(Errc::unauthenticated, "a release station must present its TLS certificate");
  if (revoked_station(ctx, printer)) return call->fail(Errc::forbidden, kRevokedStation);
  Status signature = proto::check_reported_outcome(printer, ctx.options.workstation_id, req);
  if (!signature.ok()) {
    LPM_WARN("job %s: late outcome from station %.16s... refused: %s", req.job.c_str(), printer.c_str(),
             signature.error().to_string().c_str());
    return call->fail(signature.error());
  }
  FinishReport report;
  report.job = req.job;
  report.claim = req.claim;
  report.printer = printer;
  report.outcome = req.outcome;
  int64_t now = wall_ms();
  auto late = ctx.store->report_late(report, now, [&](const Job &job) -> Status {
    return ctx.outbox->insert(printed_record(ctx, job, req, printer, now));
  });
  if (!late.ok()) return call->fail(late.error());
  LPM_INFO("job %s: late %s report by station %.16s...: %s", req.job.c_str(),
           proto::job_outcome_name(req.outcome), printer.c_str(),
           late->counted ? "counted" : "already counted or nothing to count");
  if (late->counted) ctx.outbox->notify_queued();
  proto::ReportOutcomeResult result;
  result.state = job_state_name(late->job.state);
  result.counted = late->counted;
  reply_with(call, result);
}

} // namespace

Result<std::unique_ptr<ReleaseService>>
ReleaseService::start(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> server_ctx,
                      std::shared_ptr<JobStore> store, std::shared_ptr<proto::NonceStore> nonces,
                      std::shared_ptr<Outbox> outbox, ReleaseServiceOptions options) {
  if (options.ticket_keys.empty())
    return make_error(Errc::internal, "the release service needs a ticket key");
  auto streaming = std::make_shared<StreamingJobs>();
  auto ctx = std::make_shared<ReleaseContext>(
      ReleaseContext{std::move(store), std::move(nonces), std::move(outbox), std::move(options), streaming});
  auto dispatcher = std::make_shared<proto::Dispatcher>();
  auto bind = [ctx](void (*handler)(ReleaseContext &, const proto::CallPtr &)) {
    return [ctx, handler](proto::CallPtr call) { handler(*ctx, call); };
  };
  dispatcher->on(proto::op::open_release, bind(handle_open_release));
  dispatcher->on(proto::op::list_jobs, bind(handle_list_jobs));
  dispatcher->on(proto::op::acknowledge_job, bind(handle_acknowledge));
  dispatcher->on(proto::op::fetch_document, bind(handle_fetch));
  dispatcher->on(proto::op::update_job_status, bind(handle_update_status));
  dispatcher->on(proto::op::report_outcome, bind(handle_report_outcome));
  dispatcher->on(proto::op::delete_job, bind(handle_delete));

  proto::PeerOptions po;
  po.role = proto::role::agent;
  po.accept_roles = {proto::role::printer};
  po.dispatcher = std::move(dispatcher);
  auto listener = ServedListener::tls(loop, std::move(server_ctx), ctx->options.listen, ctx->options.limits,
                                      std::move(po));
  if (!listener.ok()) return listener.error();
  std::unique_ptr<ReleaseService> self(new ReleaseService());
  self->listener_ = std::move(*listener);
  self->streaming_ = std::move(streaming);
  return self;
}

std::set<std::string> ReleaseService::streaming_jobs() const {
  return streaming_ ? streaming_->ids() : std::set<std::string>{};
}

ReleaseService::~ReleaseService() {
  stop();
}

void ReleaseService::stop() {
  if (listener_) listener_->stop();
}

} // namespace lpm::agent
