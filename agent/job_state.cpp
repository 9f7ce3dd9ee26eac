#include "job_state.h"

namespace lpm::agent {

namespace {
constexpr JobState kAllStates[] = {JobState::receiving, JobState::held,    JobState::claimed,
                                   JobState::printing,  JobState::printed, JobState::deleted};

struct Move {
  JobState from;
  JobState to;
};
// The lifecycle, written down once; job_state.h explains each line. claimed -> printed (the
// last entry): a reprint that is abandoned (aborted, canceled, lease expired) returns to printed,
// the state it was claimed from, not to held: it was printed once, and held would register it
// with the directory and release it again at the next badge-in. (printing -> printed, listed
// already for completion, serves the same return from printing.)
constexpr Move kAllowedMoves[] = {
    {JobState::receiving, JobState::held},   {JobState::held, JobState::claimed},
    {JobState::claimed, JobState::printing}, {JobState::printing, JobState::printed},
    {JobState::claimed, JobState::held},     {JobState::printing, JobState::held},
    {JobState::printed, JobState::claimed},  {JobState::held, JobState::deleted},
    {JobState::printed, JobState::deleted},  {JobState::claimed, JobState::printed},
    {JobState::held, JobState::printed}, // a late report (report-outcome), see job_state.h
};
} // namespace

const char *job_state_name(JobState state) {
  switch (state) {
  case JobState::receiving: return "receiving";
  case JobState::held: return "held";
  case JobState::claimed: return "claimed";
  case JobState::printing: return "printing";
  case JobState::printed: return "printed";
  case JobState::deleted: return "deleted";
  }
  return "deleted";
}

std::optional<JobState> job_state_parse(std::string_view text) {
  for (JobState s : kAllStates)
    if (text == job_state_name(s)) return s;
  return std::nullopt;
}

bool job_state_can_move(JobState from, JobState to) {
  for (const Move &m : kAllowedMoves)
    if (m.from == from && m.to == to) return true;
  return false;
}

} // namespace lpm::agent
