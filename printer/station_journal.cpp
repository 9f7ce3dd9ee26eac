#include "station_journal.h"

#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::printer {
namespace {

proto::Bytes encode_workstation(const proto::WorkstationRef &w) {
  proto::MapWriter m;
  m.str("id", w.id).str("name", w.name).str_array("addresses", w.addresses).u64("port", w.port);
  m.str("fingerprint", w.fingerprint);
  return m.finish();
}

Status decode_workstation(std::span<const uint8_t> bytes, proto::WorkstationRef &out) {
  auto handle = proto::unpack_map(bytes);
  if (!handle.ok()) return handle.error();
  proto::MapReader r(handle->get(), "workstation");
  out.id = r.str("id", 128);
  out.name = r.str("name", 256);
  out.addresses = r.str_array("addresses", proto::kMaxAddresses, 64);
  uint64_t port = r.u64("port");
  out.fingerprint = r.str("fingerprint", 64);
  if (r.ok() && (port == 0 || port > 65535)) r.fail("workstation.port must be 1..65535");
  if (r.ok() && !proto::fingerprint_valid(out.fingerprint))
    r.fail("workstation.fingerprint is not a fingerprint");
  if (!r.ok()) return r.error();
  out.port = static_cast<uint16_t>(port);
  return {};
}

Status decode_report(std::span<const uint8_t> bytes, proto::UpdateJobStatusRequest &out) {
  auto handle = proto::unpack_map(bytes);
  if (!handle.ok()) return handle.error();
  proto::MapReader r(handle->get(), "request");
  out.read(r);
  if (!r.ok()) return r.error();
  return {};
}

} // namespace

JournalEntry journal_entry(const proto::WorkstationRef &workstation, const proto::JobInfo &job,
                           const proto::UpdateJobStatusRequest &report) {
  JournalEntry e;
  e.workstation = workstation;
  e.job = report.job.empty() ? job.id : report.job;
  e.title = job.title;
  e.claim = report.claim;
  e.report = report;
  return e;
}

std::shared_ptr<StationJournal> StationJournal::open(std::shared_ptr<StationStore> store) {
  return std::shared_ptr<StationJournal>(new StationJournal(std::move(store)));
}

Status StationJournal::record(const JournalEntry &entry, const SettleEntry *settle) {
  if (entry.job.empty() || entry.claim.empty())
    return make_error(Errc::bad_request, "a journal entry needs its job and claim");
  if (entry.report.job != entry.job || entry.report.claim != entry.claim)
    return make_error(Errc::bad_request, "a journal entry's report is for another job or claim");
  if (entry.workstation.addresses.empty() || entry.workstation.port == 0 ||
      !proto::fingerprint_valid(entry.workstation.fingerprint))
    return make_error(Errc::bad_request, "a journal entry needs the workstation's addresses, port and key");
  proto::MapWriter w;
  entry.report.write(w);
  Db &db = store_->db();
  Transaction tx(db); // a durable commit: synchronous=FULL
  if (!tx.begun().ok()) return tx.begun();
  auto st = db.prepare("INSERT INTO journal (job, claim, workstation, title, request, recorded_ms) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (job, claim) DO UPDATE SET "
                       "workstation = excluded.workstation, title = excluded.title, "
                       "request = excluded.request, recorded_ms = excluded.recorded_ms");
  if (!st.ok()) return st.error();
  Status s = st->bind(1, entry.job)
                 .bind(2, entry.claim)
                 .bind_blob(3, encode_workstation(entry.workstation))
                 .bind(4, entry.title)
                 .bind_blob(5, w.finish())
                 .bind(6, wall_ms())
                 .run();
  if (s.ok() && settle) {
    auto charge =
        db.prepare("INSERT INTO settles (job, claim, reservation, user_id, workstation_id, request, "
                   "recorded_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (job, claim) DO NOTHING");
    if (!charge.ok()) return charge.error();
    s = charge->bind(1, entry.job)
            .bind(2, entry.claim)
            .bind(3, settle->reservation)
            .bind(4, settle->user)
            .bind(5, settle->workstation)
            .bind_blob(6, w.finish())
            .bind(7, wall_ms())
            .run();
  }
  if (s.ok()) s = tx.commit();
  return s;
}

Status StationJournal::settle_done(const std::string &job, const std::string &claim) {
  auto st = store_->db().prepare("DELETE FROM settles WHERE job = ?1 AND claim = ?2");
  if (!st.ok()) return st.error();
  return st->bind(1, job).bind(2, claim).run();
}

Result<std::vector<SettleEntry>> StationJournal::pending_settles(size_t max) {
  auto st = store_->db().prepare("SELECT job, reservation, user_id, workstation_id, request, recorded_ms "
                                 "FROM settles ORDER BY recorded_ms, job LIMIT ?1");
  if (!st.ok()) return st.error();
  st->bind(1, static_cast<int64_t>(max));
  std::vector<SettleEntry> out;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    SettleEntry e;
    e.reservation = st->col_text(1);
    e.user = st->col_text(2);
    e.workstation = st->col_text(3);
    e.recorded_ms = st->col_int(5);
    Status s = decode_report(st->col_blob(4), e.report);
    if (!s.ok()) {
      LPM_ERROR("quota charge for job %s is unreadable: %s", st->col_text(0).c_str(),
                s.error().to_string().c_str());
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

Status StationJournal::done(const std::string &job, const std::string &claim) {
  auto st = store_->db().prepare("DELETE FROM journal WHERE job = ?1 AND claim = ?2");
  if (!st.ok()) return st.error();
  return st->bind(1, job).bind(2, claim).run();
}

Result<std::vector<JournalEntry>> StationJournal::pending(size_t max) {
  auto st = store_->db().prepare("SELECT job, claim, workstation, title, request, recorded_ms FROM journal "
                                 "ORDER BY recorded_ms, job LIMIT ?1");
  if (!st.ok()) return st.error();
  st->bind(1, static_cast<int64_t>(max));
  std::vector<JournalEntry> out;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    JournalEntry e;
    e.job = st->col_text(0);
    e.claim = st->col_text(1);
    e.title = st->col_text(3);
    e.recorded_ms = st->col_int(5);
    Status s = decode_workstation(st->col_blob(2), e.workstation);
    if (s.ok()) s = decode_report(st->col_blob(4), e.report);
    if (!s.ok()) {
      // A row this version cannot read is skipped (and kept), never guessed at.
      LPM_ERROR("journal entry for job %s is unreadable: %s", e.job.c_str(), s.error().to_string().c_str());
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

} // namespace lpm::printer
