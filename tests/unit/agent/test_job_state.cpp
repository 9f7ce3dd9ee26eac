// The job lifecycle table: every allowed move, and every other pair refused.
#include <catch2/catch.hpp>

#include <set>
#include <utility>

#include "job_state.h"

using namespace lpm::agent;

TEST_CASE("job state machine: the allowed moves and only those", "[agent][job_state]") {
  const std::set<std::pair<JobState, JobState>> allowed = {
      {JobState::receiving, JobState::held},   {JobState::held, JobState::claimed},
      {JobState::claimed, JobState::printing}, {JobState::printing, JobState::printed},
      {JobState::claimed, JobState::held},     {JobState::printing, JobState::held},
      {JobState::held, JobState::deleted},     {JobState::printed, JobState::deleted},
      {JobState::printed, JobState::claimed},  {JobState::claimed, JobState::printed},
      {JobState::held, JobState::printed}, // issue 5: a late report of the claim that last held it
  };
  const JobState all[] = {JobState::receiving, JobState::held,    JobState::claimed,
                          JobState::printing,  JobState::printed, JobState::deleted};
  for (JobState from : all) {
    for (JobState to : all) {
      INFO(job_state_name(from) << " -> " << job_state_name(to));
      CHECK(job_state_can_move(from, to) == (allowed.count({from, to}) == 1));
    }
  }
  // A few refusals spelled out, as the lifecycle reads in words.
  // held -> printed only for a late report (report-outcome) of a claim that fetched the job:
  // JobStore::report_late checks that (test_late_report.cpp), not the table.
  CHECK(job_state_can_move(JobState::held, JobState::printed));
  // claimed -> printed is an abandoned reprint going back; completing a job that was never
  // fetched is refused by JobStore::finish (test_job_store.cpp), not by the table.
  CHECK(job_state_can_move(JobState::claimed, JobState::printed));
  CHECK_FALSE(job_state_can_move(JobState::deleted, JobState::held));      // deleted is final
  CHECK_FALSE(job_state_can_move(JobState::receiving, JobState::claimed)); // invisible until held
}

TEST_CASE("job state names round trip", "[agent][job_state]") {
  for (JobState s : {JobState::receiving, JobState::held, JobState::claimed, JobState::printing,
                     JobState::printed, JobState::deleted})
    CHECK(job_state_parse(job_state_name(s)) == s);
  CHECK_FALSE(job_state_parse("HELD").has_value());
}
