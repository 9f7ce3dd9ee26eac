// `lpm-release run --interactive` (issue 5): the job table and the choice line, with late
// binding allowed only where the job's workstation allows it and the device can apply it.
#include <catch2/catch.hpp>

#include "interactive.h"

using namespace lpm;
using namespace lpm::printer;

namespace {

std::vector<ListedJob> three_jobs(bool late_binding = true) {
  std::vector<ListedJob> jobs;
  const char *titles[] = {"report.pdf", "slides.pdf", "a\x1b[31mtitle with an escape and more than forty characters"};
  for (int i = 0; i < 3; i++) {
    ListedJob j;
    j.job.id = "job-" + std::to_string(i + 1);
    j.job.title = titles[i];
    j.job.pages = i == 1 ? -1 : 3;
    j.job.copies = 1;
    j.job.sides = "one-sided";
    j.job.color = "color";
    j.job.submitted_ms = 1'000'000;
    j.job.late_binding = late_binding;
    j.workstation = i == 2 ? "laptop-jd" : "ws-lab-1";
    jobs.push_back(j);
  }
  return jobs;
}

} // namespace

TEST_CASE("interactive: the job table shows number, title, pages, workstation and age", "[printer][interactive]") {
  auto lines = job_table(three_jobs(), 1'000'000 + 5 * 60 * 1000);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].find("TITLE") != std::string::npos);
  CHECK(lines[1].find("  1  report.pdf") != std::string::npos);
  CHECK(lines[1].find("ws-lab-1") != std::string::npos);
  CHECK(lines[1].find("5 min") != std::string::npos);
  CHECK(lines[2].find("    ?  ") != std::string::npos); // unknown pages
  CHECK(lines[3].find('\x1b') == std::string::npos);      // control characters never reach the terminal
  CHECK(lines[3].find("...") != std::string::npos);       // long titles are shortened
  CHECK(age_text(0, 5000) == "0 s");
  CHECK(age_text(1000, 1000 + 2 * 3600 * 1000) == "2 h");
  CHECK(age_text(1000, 1000 + 3 * 86400 * 1000LL) == "3 d");
}

TEST_CASE("interactive: Enter or all prints everything as submitted, none prints nothing", "[printer][interactive]") {
  auto jobs = three_jobs();
  for (const char *line : {"", "  ", "all", "ALL\r\n"}) {
    auto c = parse_choice(line, jobs, true);
    REQUIRE(c.ok());
    REQUIRE(c->size() == 3);
    for (const auto &[i, choice] : *c) {
      CHECK(choice.action == JobChoice::Action::print);
      CHECK(choice.settings.copies == 1);
    }
  }
  for (const char *line : {"none", "q", "Q"}) {
    auto c = parse_choice(line, jobs, true);
    REQUIRE(c.ok());
    CHECK(c->empty());
  }
}

TEST_CASE("interactive: numbers, ranges, deletes and late-binding options", "[printer][interactive]") {
  auto jobs = three_jobs();
  auto c = parse_choice("1 copies=2 sides=two mono; delete 3", jobs, true);
  REQUIRE(c.ok());
  REQUIRE(c->size() == 2);
  CHECK(c->at(0).action == JobChoice::Action::print);
  CHECK(c->at(0).settings.copies == 2);
  CHECK(c->at(0).settings.sides == "two-sided-long-edge");
  CHECK(c->at(0).settings.color == "monochrome");
  CHECK(c->at(2).action == JobChoice::Action::remove);
  CHECK_FALSE(c->count(1)); // not named: stays held

  auto range = parse_choice("print 1-2, 3 sides=two-short", jobs, true);
  REQUIRE(range.ok());
  REQUIRE(range->size() == 3);
  CHECK(range->at(1).settings.sides == "two-sided-short-edge");
}

TEST_CASE("interactive: a line that cannot be carried out whole is refused with the reason", "[printer][interactive]") {
  auto jobs = three_jobs();
  auto refused = [&](const char *line, const char *why, bool device_applies = true,
                     const std::vector<ListedJob> *list = nullptr) {
    auto c = parse_choice(line, list ? *list : jobs, device_applies);
    INFO(line);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Errc::bad_request);
    CHECK(c.error().message.find(why) != std::string::npos);
  };
  refused("4", "no job 4 in the list (1 to 3)");
  refused("0", "no job 0");
  refused("3-2", "no job 3-2");
  refused("1 1", "named twice");
  refused("1; delete 1", "named twice");
  refused("1 copies=0", "copies must be 1 to 99");
  refused("1 copies=100", "copies must be 1 to 99");
  refused("1 sides=three", "sides must be one, two or two-short");
  refused("1 staple", "not understood");
  refused("copies=2", "no job numbers");
  refused("delete 2 mono", "delete takes job numbers only");
  refused("1 mono", "cannot apply copies, sides or monochrome", false);
  auto fixed = three_jobs(false);
  refused("2 copies=3", "does not allow late binding", true, &fixed);
  // Without options a job that allows no late binding still prints as submitted.
  auto plain = parse_choice("2", fixed, false);
  REQUIRE(plain.ok());
  CHECK(plain->at(1).settings.copies == 1);
}

TEST_CASE("interactive: one question for all of a badge's workstations, each gets its part", "[printer][interactive]") {
  std::vector<std::string> shown;
  std::vector<std::string> answers = {"7", "1 copies=2; delete 2"};
  size_t asked = 0;
  auto round = std::make_shared<ChoiceRound>(
      3, true, [&](const std::string &line) { shown.push_back(line); },
      [&](std::function<void(std::optional<std::string>)> got) {
        REQUIRE(asked < answers.size());
        got(answers[asked++]);
      });
  auto jobs = three_jobs();
  proto::WorkstationRef a, b;
  a.id = "ws-a";
  a.name = "ws-lab-1";
  b.id = "ws-b";
  b.name = "laptop-jd";
  std::map<std::string, JobChoice> got_a, got_b;
  bool answered_a = false, answered_b = false;
  round->listed(a, {jobs[0].job, jobs[1].job}, [&](std::map<std::string, JobChoice> c) {
    got_a = std::move(c);
    answered_a = true;
  });
  CHECK(asked == 0); // the others are still listing
  round->listed(b, {jobs[2].job}, [&](std::map<std::string, JobChoice> c) {
    got_b = std::move(c);
    answered_b = true;
  });
  CHECK(asked == 0);
  round->ended("ws-unreachable"); // never listed: not waited for
  CHECK(asked == 2);           // "7" refused, then the right line
  REQUIRE(answered_a);
  REQUIRE(answered_b);
  REQUIRE(got_a.size() == 2);
  CHECK(got_a.at("job-1").settings.copies == 2);
  CHECK(got_a.at("job-2").action == JobChoice::Action::remove);
  CHECK(got_b.empty()); // job 3 not named: stays held
  bool refused_shown = false;
  for (const auto &line : shown)
    refused_shown = refused_shown || line.find("no job 7") != std::string::npos;
  CHECK(refused_shown);
}

TEST_CASE("interactive: no answer prints nothing", "[printer][interactive]") {
  std::vector<std::string> shown;
  auto round = std::make_shared<ChoiceRound>(
      1, true, [&](const std::string &line) { shown.push_back(line); },
      [&](std::function<void(std::optional<std::string>)> got) { got(std::nullopt); });
  proto::WorkstationRef a;
  a.id = "ws-a";
  bool answered = false;
  round->listed(a, {three_jobs()[0].job}, [&](std::map<std::string, JobChoice> c) {
    answered = true;
    CHECK(c.empty());
  });
  CHECK(answered);
  CHECK(shown.back() == "no answer: nothing printed, the jobs stay held");
}
