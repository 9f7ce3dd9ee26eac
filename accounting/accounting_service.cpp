#include "accounting_service.h"

#include <algorithm>
#include <optional>
#include <thread>
#include <unordered_map>

#include "lpm/fault.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/session.h"
#include "reports.h"

namespace lpm::accounting {

using proto::CallPtr;
using proto::EnrollKind;

namespace {

// Logs a refused call once, with who asked, and answers it.
void refuse(const CallPtr &call, const Error &error) {
  LPM_WARN("%s from %s (key %s) refused: %s", call->op().c_str(), call->peer_info().address.c_str(),
           call->peer_info().fingerprint.empty() ? "none"
                                                 : call->peer_info().fingerprint.substr(0, 16).c_str(),
           error.to_string().c_str());
  call->fail(error);
}

// Records of a batch with flagged counts logged with the reason (the summary counts them all).
constexpr uint64_t kFlaggedLoggedPerBatch = 3;

} // namespace

// Signed counts checked behind ingest (issue 6), off the loop: a signature (about 0.6 ms) must
// hold neither the loop nor the agent's acknowledgement. A set of records is split between the
// check lanes (one per core, at most 4), each a thread of its own at nice 19 (IdleWork: the
// checks take what the loop and the agents leave of the cores) with its own station key cache and one job
// at a time, so no cache is ever used by two threads.
struct AccountingService::Verification {
  std::vector<proto::JobRecord> records;
  std::vector<int64_t> rows; // the store's pending rows holding the records' signature parts
  std::unordered_map<proto::Fingerprint, bool>
      stations; // signed_by -> enrolled as a release station (read only)
  std::vector<std::pair<std::string, proto::CountsCheck>> checks; // per record; each lane fills its range
  struct Part {
    std::vector<std::pair<size_t, std::string>> flagged_why; // the first few flagged, with the reason
    uint64_t flagged = 0;
  };
  std::vector<Part> parts; // per lane
  size_t remaining = 0;    // lanes not done yet (on the loop)
  bool all_ran = true;
};

struct AccountingService::QueuedBatch {
  CallPtr call;
  std::shared_ptr<proto::PostRecordsRequest> req; // its signed records move to the checks once answered
  std::vector<IngestFacts> facts;
  uint64_t flagged = 0; // records with unsigned or invalid counts, found at once
  uint64_t pending = 0; // signed records, checked behind
};

struct AccountingService::CheckLane {
  explicit CheckLane(uv_loop_t *loop) : work(loop) {}
  IdleWork work; // nice 19: under load the checks lag, ingest does not
  std::shared_ptr<proto::StationKeys> keys = std::make_shared<proto::StationKeys>();
};

namespace {

// A record whose counts carry a signature to verify: its check runs behind ingest.
bool signature_to_check(const proto::JobRecord &r) {
  return !r.signature.empty();
}

// Pending checks read back at a time (at start, and after a check could not run).
constexpr size_t kPendingPage = 500;
// Pending checks whose stations could not be learned are tried again this much later.
constexpr uint64_t kPendingRetryMs = 60 * 1000;
// Batches stored in one transaction at most (a group commit of 8,000 records at most).
constexpr size_t kMaxGroupBatches = 16;
// Check lanes: one per core, at most this many; a set smaller than kRecordsPerLane per lane uses fewer.
constexpr unsigned kMaxCheckLanes = 4;
constexpr size_t kRecordsPerLane = 32;

} // namespace

AccountingService::AccountingService(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> server_ctx,
                                     RecordStore &store, EnrolledKeys &keys, ServiceOptions options)
    : loop_(loop), server_ctx_(std::move(server_ctx)), store_(store), keys_(keys), options_(options),
      dispatcher_(std::make_shared<proto::Dispatcher>()), report_work_(loop) {
  unsigned lanes = std::clamp(std::thread::hardware_concurrency(), 1u, kMaxCheckLanes);
  for (unsigned i = 0; i < lanes; i++)
    check_lanes_.push_back(std::make_unique<CheckLane>(loop));
  group_check_ = new uv_check_t;
  uv_check_init(loop, group_check_);
  group_check_->data = this;
  group_idle_ = new uv_idle_t;
  uv_idle_init(loop, group_idle_);
  group_idle_->data = this;
  dispatcher_->on(proto::op::post_records, [this](CallPtr call) { handle_post_records(call); });
  dispatcher_->on(proto::op::report_totals, [this](CallPtr call) { handle_report_totals(call); });
  dispatcher_->on(proto::op::usage_report, [this](CallPtr call) { handle_usage_report(call); });
  reports_->zoneinfo_dir = options_.zoneinfo_dir;
  if (!options_.session_key.empty()) {
    auto key = proto::PublicKey::from_der(options_.session_key);
    if (key.ok())
      reports_->session_signers.push_back(std::move(*key));
    else
      LPM_ERROR(
          "the directory's session key from the enrollment does not parse (%s): usage-report is refused",
          key.error().to_string().c_str());
  }
}

AccountingService::~AccountingService() {
  stop();
}

Result<uint16_t> AccountingService::listen(const proto::Endpoint &at) {
  if (stopped_ || listener_) return make_error(Errc::conflict, "the accounting service is already listening");
  auto listener =
      proto::Listener::listen_tls(loop_, server_ctx_, at, proto::StreamLimits{},
                                  [this](proto::StreamPtr stream) { on_accept(std::move(stream)); });
  if (!listener.ok()) return listener.error();
  listener_ = std::move(*listener);
  check_pending(); // records a previous run stored whose counts were not checked yet
  return listener_->port();
}

void AccountingService::on_accept(proto::StreamPtr stream) {
  if (stopped_ || peers_->size() >= options_.max_connections) {
    LPM_WARN("dropping a connection from %s: %zu connections open", stream->peer().address.c_str(),
             peers_->size());
    stream->close(make_error(Errc::rate_limited, "too many connections"));
    return;
  }
  proto::PeerOptions o;
  o.role = proto::role::accounting;
  o.accept_roles = {proto::role::agent, proto::role::console};
  o.dispatcher = dispatcher_;
  std::weak_ptr<PeerMap> peers = peers_;
  o.on_close = [peers](proto::Peer &p, const Error &) {
    if (auto map = peers.lock()) map->erase(&p);
  };
  proto::PeerPtr peer = proto::Peer::attach(std::move(stream), std::move(o));
  (*peers_)[peer.get()] = peer;
}

void AccountingService::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (listener_) listener_->close();
  // Counts checks not run yet leave their records pending in the store (checked at the next start).
  // Waiting reports are answered unavailable.
  // Batches decoded but not stored yet are stored now (their answers may not reach the agents,
  // which post them again: duplicates then).
  flush_group();
  uv_close(reinterpret_cast<uv_handle_t *>(group_check_),
           [](uv_handle_t *h) { delete reinterpret_cast<uv_check_t *>(h); });
  uv_close(reinterpret_cast<uv_handle_t *>(group_idle_),
           [](uv_handle_t *h) { delete reinterpret_cast<uv_idle_t *>(h); });
  group_check_ = nullptr;
  group_idle_ = nullptr;
  for (auto &lane : check_lanes_)
    lane->work.stop();
  report_work_.stop();
  pending_retry_.reset();
  // Copied: closing a peer may erase it from the map.
  std::vector<proto::PeerPtr> open;
  for (auto &[raw, weak] : *peers_)
    if (auto p = weak.lock()) open.push_back(p);
  for (auto &p : open)
    p->close();
}

void AccountingService::handle_post_records(const CallPtr &call) {
  // Authenticate before reading anything the caller sent.
  keys_.authorize(call->peer_info().fingerprint, EnrollKind::workstation,
                  [this, call](const Status &allowed) {
                    if (!allowed.ok()) return refuse(call, allowed.error());
                    auto req = std::make_shared<proto::PostRecordsRequest>();
                    req->read(call->args());
                    // JobRecord::read checks every record; one bad record refuses the whole batch, so the
                    // agent sees the error instead of losing that record silently.
                    if (!call->args().ok()) return refuse(call, call->args().error());
                    // Stations whose signatures the batch carries and the last refresh did not know (one
                    // enrolled a moment ago): learned first, so their counts are not marked invalid.
                    std::vector<proto::Fingerprint> unknown;
                    for (const auto &r : req->records)
                      if (!r.signed_by.empty() && !keys_.known_as(r.signed_by, EnrollKind::printer) &&
                          std::find(unknown.begin(), unknown.end(), r.signed_by) == unknown.end())
                        unknown.push_back(r.signed_by);
                    learn_stations(std::move(unknown), 0, [this, call, req](const Status &learned) {
                      if (!learned.ok()) return call->fail(learned.error());
                      store_batch(call, req);
                    });
                  });
}

void AccountingService::learn_stations(std::vector<proto::Fingerprint> keys, size_t index,
                                       std::function<void(Status)> done) {
  if (index >= keys.size()) return done(Status{});
  auto key = keys[index];
  keys_.authorize(
      key, EnrollKind::printer,
      [this, keys = std::move(keys), index, done = std::move(done)](const Status &s) mutable {
        // Not enrolled, or enrolled as something else: its signatures will not check (invalid).
        // The directory unreachable: the batch waits (the agent posts it again later).
        if (!s.ok() && (s.error().code == Errc::unavailable || s.error().code == Errc::rate_limited))
          return done(make_error(Errc::unavailable,
                                 "cannot check the release stations' keys now: " + s.error().message));
        learn_stations(std::move(keys), index + 1, std::move(done));
      });
}

void AccountingService::store_batch(const CallPtr &call, std::shared_ptr<proto::PostRecordsRequest> req) {
  const auto &records = req->records;
  QueuedBatch batch;
  batch.facts.resize(records.size());
  std::vector<std::pair<size_t, std::string>> flagged_why;
  for (size_t i = 0; i < records.size(); i++) {
    IngestFacts &facts = batch.facts[i];
    if (signature_to_check(records[i])) {
      facts.pending = true;
      batch.pending++;
    } else {
      // No signature: nothing costly (unsigned, or no counts to check).
      std::string why;
      facts.check = proto::check_record_counts(
          records[i], [](const proto::Fingerprint &) { return false; }, &why);
      if (facts.check == proto::CountsCheck::invalid || facts.check == proto::CountsCheck::unsigned_counts)
        if (++batch.flagged <= kFlaggedLoggedPerBatch) flagged_why.emplace_back(i, std::move(why));
    }
    // The user's print group and department now (RP-11): what their records count towards.
    if (people_) facts.stamp = people_->stamp_of(records[i].user);
  }
  for (const auto &[i, why] : flagged_why) {
    const proto::JobRecord &r = records[i];
    LPM_WARN("record %s (job %s) from %s: counts %s: %s", r.id.c_str(), r.job.c_str(),
             call->peer_info().address.c_str(), proto::counts_check_name(batch.facts[i].check), why.c_str());
  }
  batch.call = call;
  batch.req = std::move(req);
  group_.push_back(std::move(batch));
  if (stopped_ || group_.size() >= kMaxGroupBatches) return flush_group();
  if (group_.size() == 1) {
    uv_check_start(group_check_,
                   [](uv_check_t *h) { static_cast<AccountingService *>(h->data)->flush_group(); });
    uv_idle_start(group_idle_, [](uv_idle_t *) {});
  }
}

void AccountingService::flush_group() {
  if (group_check_) uv_check_stop(group_check_);
  if (group_idle_) uv_idle_stop(group_idle_);
  if (group_.empty()) return;
  std::vector<QueuedBatch> group = std::move(group_);
  group_.clear();
  int64_t now = wall_ms();
  std::vector<IngestBatch> batches;
  for (const auto &b : group)
    batches.push_back(IngestBatch{&b.req->records, &b.facts});
  auto together = store_.ingest_group(batches, now);
  if (group.size() > 1)
    LPM_DEBUG("%zu batches stored in one transaction: %s", group.size(),
              together.ok() ? "committed" : "failed");
  if (together.ok()) {
    for (size_t i = 0; i < group.size(); i++)
      answer_batch(group[i], (*together)[i]);
    return;
  }
  if (group.size() == 1) return answer_batch(group[0], together.error());
  // One batch may be the cause (a value SQLite cannot hold): each is stored, or refused, alone.
  for (auto &b : group)
    answer_batch(b, store_.ingest_with(b.req->records, b.facts, now));
}

void AccountingService::answer_batch(QueuedBatch &batch, const Result<IngestResult> &ingested) {
  const CallPtr &call = batch.call;
  const auto &records = batch.req->records;
  if (!ingested.ok() && ingested.error().code == Errc::bad_request) return refuse(call, ingested.error());
  if (!ingested.ok()) {
    LPM_ERROR("cannot store %zu records from %s: %s", records.size(), call->peer_info().address.c_str(),
              ingested.error().to_string().c_str());
    return call->fail(ingested.error());
  }
  fault_point("accounting.after_commit"); // stored, the agent not told: it posts the batch again
  if (ingested->skewed > 0)
    LPM_WARN("%llu records from %s carry event times more than %lld s from ours (clock skew?)",
             static_cast<unsigned long long>(ingested->skewed), call->peer_info().address.c_str(),
             static_cast<long long>(kClockSkewLimitMs / 1000));
  LPM_INFO("post-records from %s: %llu stored, %llu duplicates; %llu of the batch with unsigned counts, %llu "
           "signed ones checked behind",
           call->peer_info().address.c_str(), static_cast<unsigned long long>(ingested->stored),
           static_cast<unsigned long long>(ingested->duplicates),
           static_cast<unsigned long long>(batch.flagged), static_cast<unsigned long long>(batch.pending));
  proto::PostRecordsResult result;
  result.stored = ingested->stored;
  result.duplicates = ingested->duplicates;
  proto::MapWriter w;
  result.write(w);
  fault_point("accounting.before_ack");
  call->reply(w);
  // A batch posted again after a lost answer stores nothing: its checks ran (or are queued) then.
  if (batch.pending == 0 || ingested->stored == 0 || stopped_) return;
  // Answered: the batch's signed records are needed only by their checks now.
  std::vector<proto::JobRecord> to_check;
  to_check.reserve(batch.pending);
  for (auto &r : batch.req->records)
    if (signature_to_check(r)) to_check.push_back(std::move(r));
  std::vector<int64_t> rows;
  if (ingested->pending_row != 0) rows.push_back(ingested->pending_row);
  check_behind(std::move(to_check), std::move(rows), nullptr);
}

void AccountingService::check_behind(std::vector<proto::JobRecord> records, std::vector<int64_t> rows,
                                     std::function<void(bool)> then) {
  auto v = std::make_shared<Verification>();
  // Who is a release station is known on the loop thread only: asked here, for the workers.
  for (const auto &r : records)
    if (!r.signed_by.empty() && !v->stations.count(r.signed_by))
      v->stations.emplace(r.signed_by, keys_.known_as(r.signed_by, EnrollKind::printer));
  v->records = std::move(records);
  v->rows = std::move(rows);
  size_t n = v->records.size();
  v->checks.resize(n);
  size_t lanes = std::clamp<size_t>((n + kRecordsPerLane - 1) / kRecordsPerLane, 1, check_lanes_.size());
  v->parts.resize(lanes);
  v->remaining = lanes;
  auto done_shared = std::make_shared<std::function<void(bool)>>(std::move(then));
  for (size_t lane = 0; lane < lanes; lane++) {
    size_t from = n * lane / lanes, to = n * (lane + 1) / lanes;
    auto keys = check_lanes_[lane]->keys;
    auto check = [v, lane, from, to, keys] {
      auto is_station = [&v](const proto::Fingerprint &fp) {
        auto it = v->stations.find(fp);
        return it != v->stations.end() && it->second;
      };
      Verification::Part &part = v->parts[lane];
      for (size_t i = from; i < to; i++) {
        std::string why;
        proto::CountsCheck c = proto::check_record_counts(v->records[i], is_station, &why, keys.get());
        v->checks[i] = {v->records[i].id, c};
        if (c == proto::CountsCheck::invalid || c == proto::CountsCheck::unsigned_counts)
          if (++part.flagged <= kFlaggedLoggedPerBatch) part.flagged_why.emplace_back(i, std::move(why));
      }
    };
    // The queues are this service's: their done runs only while the service is there. A lane not
    // run (the service stopping) leaves the whole set pending, checked at the next start.
    check_lanes_[lane]->work.push(std::move(check), [this, v, done_shared](bool ran) {
      if (!ran) v->all_ran = false;
      if (--v->remaining > 0) return;
      bool settled = v->all_ran && settle_checked(*v);
      if (*done_shared) (*done_shared)(settled);
    });
  }
}

bool AccountingService::settle_checked(const Verification &v) {
  uint64_t flagged = 0;
  size_t logged = 0;
  for (const auto &part : v.parts) {
    flagged += part.flagged;
    for (const auto &[i, why] : part.flagged_why) {
      if (logged++ >= kFlaggedLoggedPerBatch) break;
      const proto::JobRecord &r = v.records[i];
      LPM_WARN("record %s (job %s) from workstation %s: counts %s: %s", r.id.c_str(), r.job.c_str(),
               r.workstation.c_str(), proto::counts_check_name(v.checks[i].second), why.c_str());
    }
  }
  Status settled = store_.settle_checks(v.rows, v.checks);
  if (!settled.ok()) {
    // Still pending in the store: checked again at the next start.
    LPM_ERROR("cannot record the counts checks of %zu records: %s", v.checks.size(),
              settled.error().to_string().c_str());
    return false;
  }
  if (flagged > 0)
    LPM_INFO("counts checked behind ingest: %zu records, %llu with invalid or unsigned counts",
             v.checks.size(), static_cast<unsigned long long>(flagged));
  return true;
}

void AccountingService::check_pending() {
  if (stopped_) return;
  auto page = store_.pending_checks(kPendingPage);
  if (!page.ok()) {
    LPM_ERROR("cannot read the records whose counts are to be checked: %s", page.error().to_string().c_str());
    return;
  }
  if (page->records.empty() && page->rows.empty()) return;
  LPM_INFO("checking the counts of %zu record(s) stored before the last stop", page->records.size());
  std::vector<proto::Fingerprint> unknown;
  for (const auto &r : page->records)
    if (!r.signed_by.empty() && !keys_.known_as(r.signed_by, EnrollKind::printer) &&
        std::find(unknown.begin(), unknown.end(), r.signed_by) == unknown.end())
      unknown.push_back(r.signed_by);
  auto pending = std::make_shared<PendingChecks>(std::move(*page));
  learn_stations(std::move(unknown), 0, [this, pending](const Status &learned) {
    if (stopped_) return;
    if (!learned.ok()) {
      // The directory cannot say which keys are stations: the records wait (pending).
      LPM_WARN("counts checks of stored records wait a minute: %s", learned.error().message.c_str());
      if (!pending_retry_) pending_retry_ = std::make_unique<proto::LoopTimer>(loop_);
      pending_retry_->start(kPendingRetryMs, 0, [this] { check_pending(); });
      return;
    }
    check_behind(std::move(pending->records), std::move(pending->rows), [this](bool settled) {
      if (settled) check_pending(); // the next page
    });
  });
}

void AccountingService::handle_report_totals(const CallPtr &call) {
  keys_.authorize(call->peer_info().fingerprint, EnrollKind::console, [this, call](const Status &allowed) {
    if (!allowed.ok()) return refuse(call, allowed.error());
    proto::ReportTotalsRequest req;
    req.read(call->args());
    if (!call->args().ok()) return refuse(call, call->args().error());
    int64_t to_ms = req.to_ms == 0 ? wall_ms() : req.to_ms;
    if (req.from_ms > to_ms) return refuse(call, make_error(Errc::bad_request, "args.from is after args.to"));
    // A page of at most max_report_rows users (fewer when the caller asks); `next` names where
    // the following page starts.
    size_t page = options_.max_report_rows;
    if (req.limit != 0 && req.limit < page) page = static_cast<size_t>(req.limit);
    auto totals = [from_ms = req.from_ms, to_ms, after = req.after,
                   page](const ReportContext &, RecordStore &store) -> Result<proto::MapWriter> {
      auto rows = store.totals(from_ms, to_ms, after, page + 1);
      if (!rows.ok()) {
        LPM_ERROR("cannot compute totals: %s", rows.error().to_string().c_str());
        return rows.error();
      }
      proto::ReportTotalsResult result;
      if (rows->size() > page) {
        rows->resize(page);
        result.next = rows->back().user;
      }
      result.rows = std::move(*rows);
      proto::MapWriter w;
      result.write(w);
      return w;
    };
    run_report_job(call, std::move(totals));
  });
}

} // namespace lpm::accounting

namespace lpm::accounting {

void AccountingService::handle_usage_report(const CallPtr &call) {
  // The person is who the session says; the calling key must still be one the directory enrolled
  // (an agent relaying for its user, or a console), so the port answers no stranger.
  const proto::Fingerprint fp = call->peer_info().fingerprint;
  keys_.authorize(fp, EnrollKind::workstation, [this, call, fp](const Status &allowed) {
    if (!allowed.ok() &&
        !(allowed.error().code == Errc::forbidden && keys_.known_as(fp, EnrollKind::console)))
      return refuse(call, allowed.error());
    proto::UsageReportRequest req;
    req.read(call->args());
    if (!call->args().ok()) return refuse(call, call->args().error());
    run_report_job(
        call,
        [req = std::move(req)](const ReportContext &ctx, RecordStore &store) -> Result<proto::MapWriter> {
          auto result = usage_report(ctx, store, req);
          if (!result.ok()) return result.error();
          proto::MapWriter w;
          result->write(w);
          return w;
        });
  });
}

void AccountingService::run_report_job(const CallPtr &call, ReportFn compute) {
  if (!reports_->store) return answer_report(call, compute(*reports_, store_));
  // The work reads only the context (session keys and zone folder fixed at construction, and the
  // report store, which nothing else uses), kept alive by the job.
  auto answer = std::make_shared<std::optional<Result<proto::MapWriter>>>();
  auto ctx = reports_;
  report_work_.push(
      [answer, ctx, compute = std::move(compute)] { answer->emplace(compute(*ctx, *ctx->store)); },
      [this, call, answer](bool ran) {
        if (!ran || !*answer) return call->fail(make_error(Errc::unavailable, "shutting down"));
        answer_report(call, **answer);
      });
}

void AccountingService::answer_report(const CallPtr &call, const Result<proto::MapWriter> &answer) {
  if (!answer.ok()) return refuse(call, answer.error());
  call->reply(*answer);
}

Result<proto::UsageReportResult> AccountingService::usage_report(const ReportContext &ctx, RecordStore &store,
                                                                 const proto::UsageReportRequest &req) {
  if (ctx.session_signers.empty())
    return make_error(Errc::unavailable, "this accounting server does not know the directory's session key: "
                                         "run `lpm-accounting enroll` again");
  auto signed_session = proto::session_from_text(req.session);
  if (!signed_session.ok()) return signed_session.error();
  auto session = proto::session_verify(*signed_session, ctx.session_signers, wall_ms());
  if (!session.ok()) return session.error();
  ReportRequest r;
  auto level = parse_report_level(req.level);
  if (!level.ok()) return level.error();
  auto type = parse_report_type(req.type);
  if (!type.ok()) return type.error();
  auto zone = TimeZone::load(req.zone, ctx.zoneinfo_dir);
  if (!zone.ok()) return zone.error();
  if (req.from.empty()) {
    // The last N local days, today included (AMB-21).
    int64_t now = wall_ms();
    r.to = today_in(*zone, now);
    r.from = first_of_last_days(*zone, now, static_cast<int64_t>(req.last));
  } else {
    auto from = parse_civil_date(req.from);
    if (!from.ok()) return from.error();
    auto to = req.to.empty() ? from : parse_civil_date(req.to);
    if (!to.ok()) return to.error();
    r.from = *from;
    r.to = *to;
  }
  r.level = *level;
  r.type = *type;
  // A person's own usage needs no id: the session says whose it is.
  r.entity = r.level == ReportLevel::user && req.entity.empty() ? session->user : req.entity;
  // A name becomes an id (RP-12) only for those who may see others at this level (report_access
  // with "" asks about someone not the caller): nobody else learns who exists by asking.
  if (!req.entity.empty() && report_access(*session, r.level, "").ok()) {
    auto entity = resolve_report_entity(store, r.level, req.entity);
    if (!entity.ok()) return entity.error();
    r.entity = *entity;
  }
  r.top = static_cast<size_t>(req.top);
  Status access = report_access(*session, r.level, r.entity);
  if (!access.ok()) return access.error();
  auto table = run_report(store, *zone, r);
  if (!table.ok()) return table.error();
  if (table->rows.size() > proto::kMaxReportRows)
    return make_error(Errc::too_large,
                      std::to_string(table->rows.size()) + " rows, more than " +
                          std::to_string(proto::kMaxReportRows) +
                          " fit in one answer: ask for a shorter range or a top-users report");
  LPM_INFO("usage-report %s for %s: %s, %zu rows", req.type.c_str(), session->email.c_str(),
           table->title.c_str(), table->rows.size());
  proto::UsageReportResult result;
  result.title = std::move(table->title);
  result.columns = std::move(table->columns);
  result.rows = std::move(table->rows);
  result.no_data = table->no_data;
  result.from_ms = table->from_ms;
  result.to_ms = table->to_ms;
  return result;
}

} // namespace lpm::accounting
