// `lpm-release run --interactive`: after a badge-in the station lists the user's jobs from all
// their workstations in the terminal and asks which to print, which to delete, and how
// (late binding: copies, sides, monochrome, only for jobs whose configuration allows it,
// LateBindingEnabled, and only on a device that applies job settings). Jobs not named stay held.
//
// The answer is one line of commands separated by ';':
//   (empty) or "all"            print every job as submitted
//   "none" or "q"               print nothing
//   [print] N [N-M ...] [OPTS]  print those jobs (numbers from the list); OPTS apply to them:
//                               copies=N (1-99), sides=one|two|two-short, mono
//   delete N [N-M ...]          delete those jobs on their workstation
// e.g. "1 3 copies=2 mono; delete 2". A job named twice, an unknown number, a late-binding
// option the job or the device cannot take: the whole line is refused with the reason and
// asked again; nothing is printed or deleted until a line is accepted.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "device.h"
#include "lpm/error.h"
#include "lpm/protocol/ops.h"

namespace lpm::printer {

struct ListedJob {
  proto::JobInfo job;
  std::string workstation; // its name, for the table
};

struct JobChoice {
  enum class Action { print, remove };
  Action action = Action::print;
  PrintSettings settings; // print: what the device is asked for (late binding applied)
};

// The table shown to the user, one line each: a header, then "  N  TITLE  PAGES  WORKSTATION
// AGE" per job (titles shortened to 40 characters, control characters replaced).
std::vector<std::string> job_table(const std::vector<ListedJob> &jobs, int64_t now_ms);

// The prompt line after the table.
inline constexpr const char *kChoicePrompt =
    "print which? [Enter: all | 1 3-4 copies=2 sides=two mono | delete 2 | none]";

// The choices a line makes, by index into `jobs` (0-based); jobs not in the map stay held.
Result<std::map<size_t, JobChoice>> parse_choice(std::string_view line, const std::vector<ListedJob> &jobs,
                                                 bool device_applies_settings);

// "5 min", "2 h", "3 d": how long ago `submitted_ms` was.
std::string age_text(int64_t submitted_ms, int64_t now_ms);

// One badge's question: the lists of all the badge's workstations are gathered (each
// conversation waits, listed, in its `choosing` state), shown as one table, one line is asked
// (again, up to kMaxChoiceTries, when it is refused), and each workstation gets its part of the
// answer. No answer (deadline, end of input): nothing is printed, every job stays held. Lives on
// the loop; the station makes one per interactive badge.
inline constexpr int kMaxChoiceTries = 3;

class ChoiceRound : public std::enable_shared_from_this<ChoiceRound> {
public:
  using Choices = std::map<std::string, JobChoice>; // by job id
  // Asks for one line; `got` receives it, or nothing when none came.
  using AskFn = std::function<void(std::function<void(std::optional<std::string>)> got)>;
  using LinesFn = std::function<void(const std::string &)>;

  ChoiceRound(size_t workstations, bool device_applies_settings, LinesFn out, AskFn ask);

  // ReleaseSettings::choose: a workstation listed its jobs and waits for `answer`.
  void listed(const proto::WorkstationRef &workstation, const std::vector<proto::JobInfo> &jobs,
              std::function<void(Choices)> answer);
  // A workstation's release ended; one that never listed (unreachable) is not waited for.
  void ended(const std::string &workstation_id);

private:
  void maybe_ask();
  void ask(int tries_left);
  void answer_all(const std::map<size_t, JobChoice> &choices);

  size_t expected_;
  bool device_applies_;
  LinesFn out_;
  AskFn ask_;
  std::set<std::string> listed_ids_, ended_ids_;
  std::vector<ListedJob> jobs_;
  std::vector<std::string> owner_; // workstation id of each job in jobs_
  std::map<std::string, std::function<void(Choices)>> answers_;
  bool asked_ = false;
};

} // namespace lpm::printer
