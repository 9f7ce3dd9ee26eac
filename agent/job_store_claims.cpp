// Claims: exactly one release station wins a job (acknowledge-job), its claim authorises the
// fetch and the final status until its lease ends; an ended claim (aborted, canceled, expired)
// returns the job to the state it was claimed from: held, or printed for a reprint.
#include "job_store.h"
#include "lpm/ids.h"
#include "sqlite_rows.h"

namespace lpm::agent {

namespace {

constexpr const char *kExpiredOutcome = "expired";

// Assignments that end the current claim and remember it, for idempotent repeats.
constexpr const char *kEndClaimSql =
    ", claim = '', claim_printer = '', claim_expires_ms = 0, last_claim = ?5, last_outcome = ?6";

std::function<void(Stmt &)> bind_end_claim(const std::string &claim, const std::string &outcome) {
  return [claim, outcome](Stmt &st) {
    st.bind(5, claim);
    st.bind(6, outcome);
  };
}

// Why a presented claim does not authorise anything on this job.
Error claim_refusal(const Job &job, const std::string &claim) {
  if (!claim.empty() && job.last_claim == claim && job.last_outcome == kExpiredOutcome)
    return make_error(Errc::expired,
                      "the claim's lease on job " + job.id + " has ended; acknowledge the job again");
  if (!claim.empty() && job.last_claim == claim)
    return make_error(Errc::conflict,
                      "the claim on job " + job.id + " already finished (" + job.last_outcome + ")");
  return make_error(Errc::conflict, "claim is not current for job " + job.id);
}

bool has_claim(JobState state) {
  return state == JobState::claimed || state == JobState::printing;
}

// Table claims (issue 5): the history a late report is checked against.
Status insert_claim_record(Db &db, const std::string &claim, const std::string &job_id,
                           const std::string &printer, int64_t now_ms) {
  auto st = db.prepare("INSERT INTO claims(claim, job, printer, claimed_ms) VALUES(?1, ?2, ?3, ?4)");
  if (!st.ok()) return st.error();
  return st->bind(1, claim).bind(2, job_id).bind(3, printer).bind(4, now_ms).run();
}

Status mark_claim_fetched(Db &db, const std::string &claim) {
  auto st = db.prepare("UPDATE claims SET fetched = 1 WHERE claim = ?1");
  if (!st.ok()) return st.error();
  return st->bind(1, claim).run();
}

// Records a claim's outcome; counted once its accounting record is queued (never undone).
Status mark_claim_outcome(Db &db, const std::string &claim, const std::string &outcome, bool counted) {
  auto st = db.prepare("UPDATE claims SET outcome = ?2, counted = MAX(counted, ?3) WHERE claim = ?1");
  if (!st.ok()) return st.error();
  return st->bind(1, claim).bind(2, outcome).bind(3, int64_t{counted ? 1 : 0}).run();
}

// Ends the job's current claim (not completed) and returns the job to where the claim was taken
// from, inside the caller's transaction. A reprint goes back to printed with its printed time
// (state_ms), so PrintAndKeepLifespan still counts from the print. Returns the state it went to.
Result<JobState> end_claim(JobStore &store, const Job &job, const std::string &outcome, int64_t now_ms) {
  JobState to = job.claim_from;
  int64_t state_ms = to == JobState::printed ? job.claim_from_ms : now_ms;
  Status s =
      store.move_state(job.id, job.state, to, state_ms, kEndClaimSql, bind_end_claim(job.claim, outcome));
  if (s.ok()) s = mark_claim_outcome(store.db(), job.claim, outcome, false);
  if (!s.ok()) return s.error();
  return to;
}


// The end of a transaction that reported a claim's outcome: the job as it now is, the caller's
// work in the same transaction (the accounting record), the commit, then the held-count
// notification when the job went back to, or left, held.
Result<Job> commit_reported(JobStore &store, Transaction &tx, const std::string &job_id,
                            const std::function<Status(const Job &)> &in_transaction, bool held_changed) {
  auto after = store.get(job_id);
  if (!after.ok()) return after.error();
  if (in_transaction) {
    Status s = in_transaction(*after);
    if (!s.ok()) return s.error();
  }
  Status s = tx.commit();
  if (!s.ok()) return s.error();
  if (held_changed) store.notify_held_changed(HeldChange::more);
  return after;
}

} // namespace

// Checks that `claim` from `printer` is the job's live claim. A claim whose lease ended is
// ended here (the job returns to where it was claimed from), inside the caller's transaction,
// which the caller then commits; held_now tells whether the job went back to held.
// Returns the refusal, or ok.
static Status check_claim(JobStore &store, const Job &job, const std::string &claim,
                          const std::string &printer, int64_t now_ms, bool &expired_now, bool &held_now) {
  expired_now = false;
  held_now = false;
  if (!has_claim(job.state) || job.claim != claim) return claim_refusal(job, claim);
  if (job.claim_printer != printer)
    return make_error(Errc::forbidden, "the claim on job " + job.id + " belongs to another release station");
  if (job.claim_expires_ms <= now_ms) {
    auto to = end_claim(store, job, kExpiredOutcome, now_ms);
    if (!to.ok()) return to.error();
    expired_now = true;
    held_now = *to == JobState::held;
    return make_error(Errc::expired,
                      "the claim's lease on job " + job.id + " has ended; acknowledge the job again");
  }
  return {};
}

Result<ClaimGrant> JobStore::claim(const std::string &job_id, const std::string &printer, int64_t now_ms,
                                   ClaimFor purpose) {
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  auto job = get(job_id);
  if (!job.ok()) return job.error();
  JobState from = job->state;
  // When the job entered `from`: a reprint remembers its printed time to return to it.
  int64_t from_ms = job->state_ms;
  if (has_claim(from)) {
    if (job->claim_expires_ms > now_ms)
      return make_error(Errc::conflict, "job " + job_id + " is already claimed by a release station");
    // The previous claim's lease ended before expire_claims() saw it.
    auto back = end_claim(*this, *job, kExpiredOutcome, now_ms);
    if (!back.ok()) return back.error();
    from = *back;
    from_ms = from == JobState::printed ? job->claim_from_ms : now_ms;
  }
  if (from == JobState::printed && purpose == ClaimFor::release)
    return make_error(Errc::conflict, "job " + job_id + " is already printed");
  if (!job_state_can_move(from, JobState::claimed))
    return make_error(Errc::conflict,
                      "job " + job_id + " is " + job_state_name(from) + " and cannot be claimed");
  ClaimGrant grant{uuid_v7(), now_ms + kClaimLeaseMs};
  Status s = move_state(job_id, from, JobState::claimed, now_ms,
                        ", claim = ?5, claim_printer = ?6, claim_expires_ms = ?7, claim_from = ?8, "
                        "claim_from_ms = ?9",
                        [&](Stmt &st) {
                          st.bind(5, grant.claim);
                          st.bind(6, printer);
                          st.bind(7, grant.expires_ms);
                          st.bind(8, job_state_name(from));
                          st.bind(9, from_ms);
                        });
  if (s.ok()) s = insert_claim_record(*db_, grant.claim, job_id, printer, now_ms);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return s.error();
  if (from == JobState::held) notify_held_changed(HeldChange::fewer);
  return grant;
}

Result<Job> JobStore::start_printing(const std::string &job_id, const std::string &claim,
                                     const std::string &printer, int64_t now_ms) {
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  auto job = get(job_id);
  if (!job.ok()) return job.error();
  bool expired_now = false;
  bool held_now = false;
  Status s = check_claim(*this, *job, claim, printer, now_ms, expired_now, held_now);
  if (!s.ok()) {
    if (expired_now && tx.commit().ok() && held_now) notify_held_changed(HeldChange::more);
    return s.error();
  }
  int64_t lease_end_ms = now_ms + kClaimLeaseMs;
  if (job->state == JobState::claimed) {
    s = move_state(job_id, JobState::claimed, JobState::printing, now_ms, ", claim_expires_ms = ?5",
                   [&](Stmt &st) { st.bind(5, lease_end_ms); });
  } else {
    // A station fetching again (its first stream broke) keeps printing; only the lease moves.
    s = renew_claim(job_id, claim, now_ms);
  }
  if (s.ok()) s = mark_claim_fetched(*db_, claim);
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return s.error();
  job->state = JobState::printing;
  job->claim_expires_ms = lease_end_ms;
  return job;
}

Status JobStore::renew_claim(const std::string &job_id, const std::string &claim, int64_t now_ms) {
  // No test of claim_expires_ms: a claim still current was ended by nobody (see job_store.h).
  auto st = db_->prepare("UPDATE jobs SET claim_expires_ms = ?1 WHERE id = ?2 AND claim = ?3 "
                         "AND state IN ('claimed', 'printing')");
  if (!st.ok()) return st.error();
  Status s = st->bind(1, now_ms + kClaimLeaseMs).bind(2, job_id).bind(3, claim).run();
  if (!s.ok()) return s;
  if (db_->changes() != 1)
    return make_error(Errc::expired, "the claim on job " + job_id + " is no longer live");
  return {};
}

Result<int64_t> JobStore::claim_lease_end(const std::string &job_id, const std::string &claim) {
  auto st = db_->prepare("SELECT claim_expires_ms FROM jobs WHERE id = ?1 AND claim = ?2 "
                         "AND state IN ('claimed', 'printing')");
  if (!st.ok()) return st.error();
  st->bind(1, job_id).bind(2, claim);
  auto row = st->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::expired, "the claim on job " + job_id + " is no longer live");
  int64_t end = st->col_int(0);
  st->reset();
  return end;
}

Result<FinishResult> JobStore::finish(const FinishReport &report, int64_t now_ms,
                                      const std::function<Status(const Job &)> &in_transaction) {
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  auto job = get(report.job);
  if (!job.ok()) return job.error();
  std::string outcome = proto::job_outcome_name(report.outcome);

  // The same station repeating its last report (its reply was lost) gets the same answer.
  if (!report.claim.empty() && job->last_claim == report.claim && job->last_outcome == outcome &&
      job->claim != report.claim)
    return FinishResult{std::move(*job), false};

  bool expired_now = false;
  bool held_now = false;
  Status s = check_claim(*this, *job, report.claim, report.printer, now_ms, expired_now, held_now);
  if (!s.ok()) {
    if (expired_now && tx.commit().ok() && held_now) notify_held_changed(HeldChange::more);
    return s.error();
  }
  JobState to = JobState::printed;
  if (report.outcome == proto::JobOutcome::completed) {
    if (job->state != JobState::printing)
      return make_error(Errc::conflict,
                        "job " + report.job + " cannot be completed before its document was fetched");
    s = move_state(report.job, job->state, to, now_ms, kEndClaimSql, bind_end_claim(report.claim, outcome));
    if (s.ok()) s = mark_claim_outcome(*db_, report.claim, outcome, true);
    if (!s.ok()) return s.error();
  } else {
    // Aborted or canceled: back to where the claim was taken from (held; printed for a reprint).
    auto back = end_claim(*this, *job, outcome, now_ms);
    if (!back.ok()) return back.error();
    to = *back;
  }
  auto after = commit_reported(*this, tx, report.job, in_transaction, to == JobState::held);
  if (!after.ok()) return after.error();
  return FinishResult{std::move(*after), true};
}

Result<ClaimRecord> JobStore::claim_record(const std::string &claim) {
  auto st = db_->prepare("SELECT claim, job, printer, claimed_ms, fetched, outcome, counted FROM claims "
                         "WHERE claim = ?1");
  if (!st.ok()) return st.error();
  st->bind(1, claim);
  auto row = st->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "no claim " + claim + " on this workstation");
  ClaimRecord c;
  c.claim = st->col_text(0);
  c.job = st->col_text(1);
  c.printer = st->col_text(2);
  c.claimed_ms = st->col_int(3);
  c.fetched = st->col_int(4) != 0;
  c.outcome = st->col_text(5);
  c.counted = st->col_int(6) != 0;
  return c;
}

Result<LateResult> JobStore::report_late(const FinishReport &report, int64_t now_ms,
                                         const std::function<Status(const Job &)> &in_transaction) {
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun().error();
  auto record = claim_record(report.claim);
  if (!record.ok()) return record.error();
  if (record->job != report.job)
    return make_error(Errc::not_found, "no claim " + report.claim + " on job " + report.job);
  if (record->printer != report.printer)
    return make_error(Errc::forbidden,
                      "the claim on job " + report.job + " belongs to another release station");
  auto job = get(report.job);
  if (!job.ok()) return job.error();
  std::string outcome = proto::job_outcome_name(report.outcome);
  bool current = has_claim(job->state) && job->claim == report.claim;

  if (record->counted) return LateResult{std::move(*job), false}; // already recorded once
  if (!record->outcome.empty() && record->outcome != kExpiredOutcome) {
    // The station's earlier report of this claim arrived: a repeat changes nothing.
    if (record->outcome == outcome) return LateResult{std::move(*job), false};
    return make_error(Errc::conflict,
                      "the claim on job " + report.job + " already finished (" + record->outcome + ")");
  }
  if (report.outcome != proto::JobOutcome::completed) {
    // Nothing printed: the claim ends if it still runs; nothing is counted.
    if (!current) return LateResult{std::move(*job), false};
    auto back = end_claim(*this, *job, outcome, now_ms);
    if (!back.ok()) return back.error();
    Status s = tx.commit();
    if (!s.ok()) return s.error();
    if (*back == JobState::held) notify_held_changed(HeldChange::more);
    auto after = get(report.job);
    if (!after.ok()) return after.error();
    return LateResult{std::move(*after), false};
  }
  if (!record->fetched)
    return make_error(Errc::conflict,
                      "job " + report.job + " cannot be completed: the claim never fetched its document");

  bool was_held = job->state == JobState::held;
  Status s;
  if (current || was_held) {
    // Still under this claim (its lease may have lapsed unseen), or held again after it lapsed:
    // held means nobody printed it since (no move leads from printed back to held).
    s = move_state(report.job, job->state, JobState::printed, now_ms, kEndClaimSql,
                   bind_end_claim(report.claim, outcome));
  } else if (has_claim(job->state)) {
    return make_error(Errc::unavailable,
                      "job " + report.job + " is being released by another station; report again later");
  } else if (job->state == JobState::printed && job->last_claim == report.claim) {
    // A reprint whose claim lapsed back to printed: it printed again, so it counts; the job
    // keeps its state (and its printed time for PrintAndKeepLifespan).
    auto st = db_->prepare("UPDATE jobs SET last_outcome = ?2 WHERE id = ?1 AND state = 'printed'");
    if (!st.ok()) return st.error();
    s = st->bind(1, report.job).bind(2, outcome).run();
  } else {
    // Printed since under another claim: acknowledged, not counted again.
    return LateResult{std::move(*job), false};
  }
  if (s.ok()) s = mark_claim_outcome(*db_, report.claim, outcome, true);
  if (!s.ok()) return s.error();
  auto after = commit_reported(*this, tx, report.job, in_transaction, was_held);
  if (!after.ok()) return after.error();
  return LateResult{std::move(*after), true};
}

Result<size_t> JobStore::expire_claims(int64_t now_ms, const std::set<std::string> &streaming) {
  auto st = db_->prepare("SELECT id FROM jobs WHERE state IN ('claimed', 'printing') AND "
                         "claim_expires_ms <= ?1 ORDER BY id LIMIT 1000");
  if (!st.ok()) return st.error();
  st->bind(1, now_ms);
  std::vector<std::string> expired;
  Status listed = for_each_row(*st, [&]() -> Status {
    std::string id = st->col_text(0);
    if (!streaming.count(id)) expired.push_back(std::move(id));
    return {};
  });
  if (!listed.ok()) return listed.error();
  size_t moved = 0;
  bool held_changed = false;
  for (const auto &id : expired) {
    Transaction tx(*db_);
    if (!tx.begun().ok()) return tx.begun().error();
    // Read again inside the transaction: the claim may have finished or been renewed meanwhile.
    auto job = get(id);
    if (!job.ok()) {
      if (job.error().code == Errc::not_found) continue;
      return job.error();
    }
    if (!has_claim(job->state) || job->claim_expires_ms > now_ms) continue;
    auto to = end_claim(*this, *job, kExpiredOutcome, now_ms);
    Status s = to.ok() ? tx.commit() : Status(to.error());
    if (s.ok()) {
      moved++;
      held_changed = held_changed || *to == JobState::held;
    } else if (s.error().code != Errc::conflict) { // conflict: it finished meanwhile
      return s.error();
    }
  }
  if (held_changed) notify_held_changed(HeldChange::more);
  return moved;
}

} // namespace lpm::agent
