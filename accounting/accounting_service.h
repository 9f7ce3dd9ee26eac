// The accounting server's network face: a TLS listener speaking role "accounting" that serves
// post-records (from keys enrolled as workstation), report-totals (from keys enrolled as
// console) and usage-report (a person's report, relayed by their agent or a console, with the
// person's directory session token). Who is who comes from EnrolledKeys; records go to a RecordStore.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include <uv.h>

#include "enrolled_keys.h"
#include "lpm/error.h"
#include "lpm/protocol/loop_timer.h"
#include "lpm/protocol/outcome.h"
#include "lpm/protocol/rpc.h"
#include "lpm/protocol/stream.h"
#include "lpm/timezone.h"
#include "people_feed.h"
#include "record_store.h"
#include "serial_work.h"

namespace lpm::accounting {

struct ServiceOptions {
  size_t max_connections = 512; // further connections are dropped at accept
  // A report-totals answer is one frame (1 MiB cap); past this many users the request is refused
  // with too_large and the caller narrows the time range.
  size_t max_report_rows = 5000;
  // The directory's session-token key (DER), from the enrollment: usage-report checks the
  // person's session against it. Empty: usage-report is refused (unavailable, re-enroll).
  proto::Bytes session_key;
  std::string zoneinfo_dir = kZoneinfoDir; // where report time zones are read from
};

class AccountingService {
public:
  // `store` and `keys` must outlive the service; so must the loop's last run (handlers of
  // connections still closing refer to the service).
  AccountingService(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> server_ctx, RecordStore &store,
                    EnrolledKeys &keys, ServiceOptions options = {});
  ~AccountingService();
  AccountingService(const AccountingService &) = delete;
  AccountingService &operator=(const AccountingService &) = delete;

  // Binds `at` (port 0 picks a free one) and starts accepting. Returns the bound port.
  Result<uint16_t> listen(const proto::Endpoint &at);
  // Where records get their print group and department stamped from (none: not stamped). Must
  // outlive the service.
  void set_people(PeopleFeed *people) { people_ = people; }
  // A second connection to the same store: usage reports and report-totals then run on the thread
  // pool with it, one at a time, instead of on the loop. Call before listen().
  void set_report_store(std::unique_ptr<RecordStore> store) { reports_->store = std::move(store); }
  // Stops accepting and closes every connection. The handles are freed as the loop runs on.
  void stop();
  size_t connections() const { return peers_->size(); }

private:
  using PeerMap = std::map<const proto::Peer *, std::weak_ptr<proto::Peer>>;

  void on_accept(proto::StreamPtr stream);
  void handle_post_records(const proto::CallPtr &call);
  // Asks the directory about keys[index..] as release stations, one after another (each answers
  // at once when known); done(unavailable) when it could not be asked.
  void learn_stations(std::vector<proto::Fingerprint> keys, size_t index, std::function<void(Status)> done);
  // Stores a batch and answers at once (issue 6): records whose counts carry a signature are
  // stored with the check pending and checked behind ingest (check_behind); the others are
  // checked here (nothing costly without a signature).
  struct Verification;
  void store_batch(const proto::CallPtr &call, std::shared_ptr<proto::PostRecordsRequest> req);
  // Batches decoded in the same turn of the loop are stored together by flush_group, in one
  // transaction (one flush to disk: a group commit), once the loop has read what was ready; each
  // is answered as if alone. A group whose store fails is stored again batch by batch, so one
  // agent's bad batch is refused alone.
  struct QueuedBatch;
  void flush_group();
  void answer_batch(QueuedBatch &batch, const Result<IngestResult> &ingested);
  // Checks the records' signed counts (proto::check_record_counts), split
  // between the check lanes, then records what it found and drops the store's pending `rows` that
  // held their signature parts (settle_checked) once every lane is done; `then` (may be empty)
  // gets whether it did.
  void check_behind(std::vector<proto::JobRecord> records, std::vector<int64_t> rows,
                    std::function<void(bool)> then);
  bool settle_checked(const Verification &v);
  // The records still pending in the store (a stop or a failed settle left them), a page at a time;
  // when the directory cannot say which keys are stations, again a minute later.
  void check_pending();
  void handle_report_totals(const proto::CallPtr &call);
  void handle_usage_report(const proto::CallPtr &call);
  // What a usage report reads, shared with a report running on the pool (which may end after the
  // service is gone): the directory's session keys, the zone folder, the report store.
  struct ReportContext {
    std::vector<proto::PublicKey> session_signers; // options_.session_key, parsed
    std::string zoneinfo_dir;
    std::unique_ptr<RecordStore> store; // set_report_store; null: reports run on the loop
  };
  // The report a person asked for, once the calling key is known to be allowed, from `store`
  // (on the loop: store_; on the pool: the context's own).
  static Result<proto::UsageReportResult> usage_report(const ReportContext &ctx, RecordStore &store,
                                                       const proto::UsageReportRequest &req);
  // A report's work: reads `store` (the report store on the pool, store_ on the loop when there is
  // none) and the context, and gives the answer to send.
  using ReportFn = std::function<Result<proto::MapWriter>(const ReportContext &, RecordStore &)>;
  void run_report_job(const proto::CallPtr &call, ReportFn compute);
  void answer_report(const proto::CallPtr &call, const Result<proto::MapWriter> &answer);

  uv_loop_t *loop_;
  std::shared_ptr<proto::TlsContext> server_ctx_;
  RecordStore &store_;
  EnrolledKeys &keys_;
  PeopleFeed *people_ = nullptr;
  ServiceOptions options_;
  std::shared_ptr<proto::Dispatcher> dispatcher_;
  std::shared_ptr<proto::Listener> listener_;
  // Shared with the connections' close callbacks, which may run after stop().
  std::shared_ptr<PeerMap> peers_ = std::make_shared<PeerMap>();
  bool stopped_ = false;
  // The counts checks' lanes: each a thread at nice 19, one job at a time, with its own
  // station key cache (parsed once: each key's table then serves its records).
  struct CheckLane;
  std::vector<std::unique_ptr<CheckLane>> check_lanes_;
  std::vector<QueuedBatch> group_; // batches waiting for flush_group
  // flush_group runs in the loop's check phase, right after the I/O that decoded the batches; an
  // idle handle beside it keeps the poll before it from waiting. Closed by stop().
  uv_check_t *group_check_ = nullptr;
  uv_idle_t *group_idle_ = nullptr;
  std::unique_ptr<proto::LoopTimer> pending_retry_; // check_pending again after a failure
  std::shared_ptr<ReportContext> reports_ = std::make_shared<ReportContext>();
  SerialWork report_work_; // usage-report and report-totals, one at a time
};

} // namespace lpm::accounting
