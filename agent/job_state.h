// The job lifecycle as an explicit state machine (STYLE habit 4):
//
//   receiving -> held                 the spool file is complete, fsynced, and the row committed
//   held      -> claimed              a release station acknowledged the job (claim + lease)
//   claimed   -> printing             the station fetched the document
//   printing  -> printed              the station reported the job completed
//   claimed   -> held                 the station aborted or canceled, or the lease expired
//   printing  -> held                 (same)
//   printed   -> claimed              reprint of a job kept by PrintAndKeepLifespan
//   claimed   -> printed              a reprint aborted, canceled or whose lease expired: it goes
//   printing  -> printed              back where it was claimed from (and printing -> printed is
//                                     also how a release completes)
//   held      -> printed              a late report (report-outcome, issue 5): a station that died
//                                     after its device took the job reports it printed after its
//                                     restart; the claim had lapsed and nobody printed it since
//   held      -> deleted              retention (UnprintedJobsLifespan), the user or an admin
//   printed   -> deleted              retention (PrintAndKeepLifespan)
//
// A receiving row that never completes is not a transition: it is discarded with its file.
// Every update of a job's state goes through job_state_can_move().
#pragma once

#include <optional>
#include <string_view>

namespace lpm::agent {

enum class JobState { receiving, held, claimed, printing, printed, deleted };

// Stable lower-case name, as stored in state.db and sent on the wire ("held").
const char *job_state_name(JobState state);
std::optional<JobState> job_state_parse(std::string_view text);

// True when the lifecycle allows `from` -> `to` (the table above).
bool job_state_can_move(JobState from, JobState to);

} // namespace lpm::agent
