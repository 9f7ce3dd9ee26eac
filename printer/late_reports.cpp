#include "late_reports.h"

#include <map>
#include <string>
#include <vector>

#include "lpm/log.h"
#include "lpm/protocol/rpc.h"
#include "station_connect.h"

namespace lpm::printer {
namespace {

// Refusals no retry changes: the entry goes.
bool final_refusal(Errc code) {
  return code == Errc::not_found || code == Errc::forbidden || code == Errc::invalid_signature ||
         code == Errc::bad_request || code == Errc::conflict || code == Errc::unknown_op;
}

// Everything the reports of one run share; `done` runs when the last workstation finished.
struct Run {
  std::shared_ptr<StationJournal> journal;
  LineFn out;
  std::function<void(LateReportSummary)> done;
  LateReportSummary summary;
  size_t workstations_left = 0;

  void workstation_finished() {
    if (--workstations_left != 0) return;
    auto callback = std::move(done);
    done = nullptr;
    if (callback) callback(summary);
  }
};

// The entries of one workstation, reported in order on one connection.
class WorkstationReports : public std::enable_shared_from_this<WorkstationReports> {
public:
  WorkstationReports(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls, const ReleaseSettings &settings,
                     std::shared_ptr<Run> run, std::vector<JournalEntry> entries)
      : loop_(loop), tls_(std::move(tls)), settings_(settings), run_(std::move(run)),
        entries_(std::move(entries)) {}

  void start() { try_address(0); }

private:
  const proto::WorkstationRef &workstation() const { return entries_.front().workstation; }
  std::string name() const { return printable(workstation().name); }

  void try_address(size_t index) {
    if (index >= workstation().addresses.size()) {
      keep_rest(failures_.empty() ? "no address" : failures_);
      return;
    }
    address_index_ = index;
    proto::Endpoint to{workstation().addresses[index], workstation().port};
    proto::StreamLimits limits;
    limits.handshake_timeout_ms = settings_.connect_timeout_ms;
    limits.idle_timeout_ms = settings_.idle_timeout_ms;
    auto self = shared_from_this();
    connected_ = false;
    peer_ = connect_pinned(
        loop_, tls_, to, {workstation().fingerprint}, limits, proto::role::agent,
        [self] { self->on_ready(); }, [self](const Error &reason) { self->on_closed(reason); });
  }

  void on_ready() {
    connected_ = true;
    send(0);
  }

  void on_closed(const Error &reason) {
    peer_.reset();
    std::string why = reason.message.empty() ? errc_name(reason.code) : reason.message;
    if (!connected_) {
      failures_ += (failures_.empty() ? "" : "; ") + why;
      try_address(address_index_ + 1);
      return;
    }
    if (next_ < entries_.size()) {
      keep_rest("connection closed: " + why);
      return;
    }
    run_->workstation_finished();
  }

  // Every entry from next_ on stays for the next start; then this workstation is finished.
  void keep_rest(const std::string &why) {
    size_t kept = entries_.size() - next_;
    run_->summary.kept += kept;
    run_->out("workstation " + name() + ": " + std::to_string(kept) +
              " late report(s) kept for the next start (" + why + ")");
    next_ = entries_.size();
    run_->workstation_finished();
  }

  void send(size_t index) {
    next_ = index;
    if (!peer_ || peer_->closed()) return; // on_closed (run or to come) keeps the rest
    if (index >= entries_.size()) {
      peer_->close(); // on_closed finishes
      return;
    }
    proto::MapWriter w;
    entries_[index].report.write(w);
    auto self = shared_from_this();
    peer_->call(proto::op::report_outcome, w,
                [self, index](Result<proto::Response> r) { self->answered(index, r); });
  }

  void answered(size_t index, Result<proto::Response> &r) {
    const JournalEntry &e = entries_[index];
    std::string title = printable(e.title);
    if (!r.ok()) {
      if (!final_refusal(r.error().code)) {
        // unavailable (another station holds the job now), a broken connection: try next start.
        next_ = index;
        if (!peer_ || peer_->closed()) return; // on_closed keeps the rest
        run_->summary.kept++;
        run_->out("kept late report of \"" + title + "\" for " + name() + ": " + r.error().to_string());
        return send(index + 1);
      }
      run_->summary.dropped++;
      run_->out("dropped late report of \"" + title + "\" for " + name() + ": " + r.error().to_string());
    } else {
      proto::ReportOutcomeResult result;
      auto reader = r->reader();
      result.read(reader);
      run_->summary.reported++;
      if (result.counted) run_->summary.counted++;
      run_->out("reported \"" + title + "\" to " + name() + ": " +
                (result.counted ? std::string("counted") : "already counted") + ", state " +
                printable(result.state));
    }
    Status s = run_->journal->done(e.job, e.claim);
    if (!s.ok()) LPM_ERROR("journal: %s", s.error().to_string().c_str());
    send(index + 1);
  }

  uv_loop_t *loop_;
  std::shared_ptr<proto::TlsContext> tls_;
  ReleaseSettings settings_;
  std::shared_ptr<Run> run_;
  std::vector<JournalEntry> entries_;
  proto::PeerPtr peer_;
  size_t address_index_ = 0;
  size_t next_ = 0;
  bool connected_ = false;
  std::string failures_;
};

} // namespace

void report_pending(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls,
                    std::shared_ptr<StationJournal> journal, const ReleaseSettings &settings, LineFn out,
                    std::function<void(LateReportSummary)> done) {
  auto run = std::make_shared<Run>();
  run->journal = journal;
  run->out = std::move(out);
  run->done = std::move(done);
  auto entries = journal->pending();
  if (!entries.ok()) {
    run->out("journal unreadable, late reports not sent: " + entries.error().to_string());
    if (run->done) run->done(run->summary);
    return;
  }
  // One connection per workstation (by id and key), its entries in journal order.
  std::map<std::string, std::vector<JournalEntry>> by_workstation;
  for (auto &e : *entries)
    by_workstation[e.workstation.id + "/" + e.workstation.fingerprint].push_back(std::move(e));
  run->summary.pending = entries->size();
  run->workstations_left = by_workstation.size();
  if (by_workstation.empty()) {
    auto callback = std::move(run->done);
    if (callback) callback(run->summary);
    return;
  }
  for (auto &[key, list] : by_workstation) {
    auto reports = std::make_shared<WorkstationReports>(loop, tls, settings, run, std::move(list));
    // The peer's callbacks hold it while a connection exists.
    reports->start();
  }
}

} // namespace lpm::printer
