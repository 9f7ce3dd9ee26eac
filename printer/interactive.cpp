#include "interactive.h"

#include <charconv>
#include <cstdio>
#include <optional>

#include "lpm/ids.h"
#include "output.h"

namespace lpm::printer {
namespace {

std::string lower_trimmed(std::string_view text) {
  size_t b = 0, e = text.size();
  while (b < e && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r' || text[b] == '\n'))
    b++;
  while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r' || text[e - 1] == '\n'))
    e--;
  std::string out;
  for (char c : text.substr(b, e - b))
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  return out;
}

std::vector<std::string> split_any(std::string_view text, std::string_view separators) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (separators.find(c) != std::string_view::npos) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool parse_number(std::string_view text, uint64_t &out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string fitted(const std::string &text, size_t width) {
  std::string clean = printable(text);
  if (clean.size() > width) clean = clean.substr(0, width - 3) + "...";
  return clean;
}

Error refused(const std::string &why) { return make_error(Errc::bad_request, why); }

} // namespace

std::string age_text(int64_t submitted_ms, int64_t now_ms) {
  int64_t s = submitted_ms > 0 && now_ms > submitted_ms ? (now_ms - submitted_ms) / 1000 : 0;
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + " min";
  if (s < 86400) return std::to_string(s / 3600) + " h";
  return std::to_string(s / 86400) + " d";
}

std::vector<std::string> job_table(const std::vector<ListedJob> &jobs, int64_t now_ms) {
  std::vector<std::string> lines;
  char line[256];
  std::snprintf(line, sizeof line, "  %3s  %-40s  %5s  %-20s  %s", "#", "TITLE", "PAGES", "WORKSTATION", "AGE");
  lines.emplace_back(line);
  for (size_t i = 0; i < jobs.size(); i++) {
    const auto &j = jobs[i];
    std::string pages = j.job.pages >= 0 ? std::to_string(j.job.pages) : "?";
    std::snprintf(line, sizeof line, "  %3zu  %-40s  %5s  %-20s  %s", i + 1, fitted(j.job.title, 40).c_str(),
                  pages.c_str(), fitted(j.workstation, 20).c_str(), age_text(j.job.submitted_ms, now_ms).c_str());
    lines.emplace_back(line);
  }
  return lines;
}

Result<std::map<size_t, JobChoice>> parse_choice(std::string_view line, const std::vector<ListedJob> &jobs,
                                                 bool device_applies_settings) {
  std::map<size_t, JobChoice> out;
  std::string text = lower_trimmed(line);
  if (text.empty() || text == "all") {
    for (size_t i = 0; i < jobs.size(); i++)
      out[i].settings = settings_of(jobs[i].job);
    return out;
  }
  if (text == "none" || text == "q") return out;

  for (const std::string &command : split_any(text, ";")) {
    std::vector<std::string> tokens = split_any(command, " ,\t");
    if (tokens.empty()) continue;
    JobChoice::Action action = JobChoice::Action::print;
    size_t at = 0;
    if (tokens[0] == "delete" || tokens[0] == "del") {
      action = JobChoice::Action::remove;
      at = 1;
    } else if (tokens[0] == "print") {
      at = 1;
    }
    std::vector<size_t> picked;
    std::optional<uint64_t> copies;
    std::optional<std::string> sides;
    bool mono = false;
    for (; at < tokens.size(); at++) {
      const std::string &t = tokens[at];
      uint64_t a = 0, b = 0;
      auto dash = t.find('-');
      if (parse_number(t, a) || (dash != std::string::npos && dash > 0 && parse_number(t.substr(0, dash), a) &&
                                 parse_number(t.substr(dash + 1), b))) {
        if (b == 0) b = a;
        if (a == 0 || b < a || b > jobs.size())
          return refused("no job " + t + " in the list (1 to " + std::to_string(jobs.size()) + ")");
        for (uint64_t n = a; n <= b; n++)
          picked.push_back(static_cast<size_t>(n - 1));
        continue;
      }
      if (t.rfind("copies=", 0) == 0) {
        uint64_t n = 0;
        if (!parse_number(t.substr(7), n) || n < 1 || n > 99) return refused("copies must be 1 to 99: " + t);
        copies = n;
        continue;
      }
      if (t.rfind("sides=", 0) == 0) {
        std::string v = t.substr(6);
        if (v == "one" || v == "one-sided")
          sides = "one-sided";
        else if (v == "two" || v == "two-sided-long-edge")
          sides = "two-sided-long-edge";
        else if (v == "two-short" || v == "two-sided-short-edge")
          sides = "two-sided-short-edge";
        else
          return refused("sides must be one, two or two-short: " + t);
        continue;
      }
      if (t == "mono" || t == "monochrome") {
        mono = true;
        continue;
      }
      return refused("not understood: \"" + t + "\" (" + kChoicePrompt + ")");
    }
    if (picked.empty()) return refused("no job numbers in \"" + command + "\"");
    bool late = copies || sides || mono;
    if (late && action == JobChoice::Action::remove) return refused("delete takes job numbers only");
    if (late && !device_applies_settings)
      return refused("this printer's device cannot apply copies, sides or monochrome");
    for (size_t i : picked) {
      if (out.count(i)) return refused("job " + std::to_string(i + 1) + " is named twice");
      const proto::JobInfo &job = jobs[i].job;
      if (late && !job.late_binding)
        return refused("job " + std::to_string(i + 1) + " (" + fitted(job.title, 40) +
                       ") cannot be changed here: its workstation does not allow late binding");
      JobChoice choice;
      choice.action = action;
      choice.settings = settings_of(job);
      if (copies) choice.settings.copies = *copies;
      if (sides) choice.settings.sides = *sides;
      if (mono) choice.settings.color = "monochrome";
      out[i] = choice;
    }
  }
  return out;
}

ChoiceRound::ChoiceRound(size_t workstations, bool device_applies_settings, LinesFn out, AskFn ask)
    : expected_(workstations), device_applies_(device_applies_settings), out_(std::move(out)),
      ask_(std::move(ask)) {}

void ChoiceRound::listed(const proto::WorkstationRef &workstation, const std::vector<proto::JobInfo> &jobs,
                         std::function<void(Choices)> answer) {
  listed_ids_.insert(workstation.id);
  for (const auto &job : jobs) {
    ListedJob j;
    j.job = job;
    j.workstation = workstation.name;
    jobs_.push_back(std::move(j));
    owner_.push_back(workstation.id);
  }
  answers_[workstation.id] = std::move(answer);
  maybe_ask();
}

void ChoiceRound::ended(const std::string &workstation_id) {
  ended_ids_.insert(workstation_id);
  maybe_ask();
}

void ChoiceRound::maybe_ask() {
  if (asked_) return;
  size_t settled = listed_ids_.size();
  for (const auto &id : ended_ids_)
    if (!listed_ids_.count(id)) settled++;
  if (settled < expected_) return;
  asked_ = true;
  if (jobs_.empty()) {
    out_("no jobs to release");
    answer_all({});
    return;
  }
  for (const auto &line : job_table(jobs_, wall_ms()))
    out_(line);
  ask(kMaxChoiceTries);
}

void ChoiceRound::ask(int tries_left) {
  out_(kChoicePrompt);
  auto self = shared_from_this();
  ask_([self, tries_left](std::optional<std::string> line) {
    if (!line) {
      self->out_("no answer: nothing printed, the jobs stay held");
      return self->answer_all({});
    }
    auto choices = parse_choice(*line, self->jobs_, self->device_applies_);
    if (choices.ok()) return self->answer_all(*choices);
    self->out_(choices.error().message);
    if (tries_left > 1) return self->ask(tries_left - 1);
    self->out_("nothing printed, the jobs stay held");
    self->answer_all({});
  });
}

void ChoiceRound::answer_all(const std::map<size_t, JobChoice> &choices) {
  std::map<std::string, Choices> per_workstation;
  for (const auto &[index, choice] : choices)
    per_workstation[owner_[index]][jobs_[index].job.id] = choice;
  auto answers = std::move(answers_);
  answers_.clear();
  for (auto &[id, answer] : answers)
    answer(per_workstation[id]);
}

} // namespace lpm::printer
