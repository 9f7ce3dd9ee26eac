#include "quota_gate.h"

#include "lpm/protocol/outcome.h"
#include "output.h"

namespace lpm::printer {
namespace {

std::string impressions_text(int64_t n) {
  return std::to_string(n) + (n == 1 ? " impression" : " impressions");
}

} // namespace

QuotaGate::QuotaGate(const proto::BadgeInResult &who, bool device_applies_settings)
    : reservation_(who.reservation), color_refused_(who.color_denied == proto::kColorDeniedRefuse),
      applies_settings_(device_applies_settings) {
  for (const auto &u : who.users)
    if (u.counted)
      users_[u.id] = Limits{u.display_name.empty() ? u.id : u.display_name, u.quota_left, u.color_allowed};
}

QuotaGate::Admission QuotaGate::admit(const proto::JobInfo &job, PrintSettings &settings) {
  Admission out;
  auto it = users_.find(job.user);
  if (it == users_.end()) return out; // not counted: no limits
  Limits &user = it->second;
  std::string name = printable(user.name);
  if (!user.color_allowed && settings.color != "monochrome") {
    if (color_refused_) {
      out.admitted = false;
      out.reason = "colour printing is not allowed for " + name +
                   " (print group) and this enterprise refuses "
                   "colour jobs then: print it in monochrome";
      return out;
    }
    if (!applies_settings_) {
      out.admitted = false;
      out.reason = "colour printing is not allowed for " + name +
                   " (print group) and this device cannot "
                   "print it in monochrome";
      return out;
    }
    settings.color = "monochrome";
    out.note = "colour is not allowed for " + name + ": printed in monochrome";
  }
  if (user.left < 0) return out;
  // Unknown pages count as one impression: the device's count settles it after.
  int64_t need = proto::estimate_counts(job.pages, settings.copies, settings.sides).impressions;
  if (need < 1) need = 1;
  if (need > user.left) {
    out.admitted = false;
    out.note.clear();
    out.reason = "over quota: " + name + " may print " + impressions_text(user.left) +
                 " more this month and this job needs " + impressions_text(need);
    return out;
  }
  user.left -= need;
  out.estimate = need;
  return out;
}

void QuotaGate::printed(const std::string &user, int64_t estimate, int64_t impressions) {
  auto it = users_.find(user);
  if (it == users_.end() || it->second.left < 0 || impressions < 0) return;
  it->second.left = std::max<int64_t>(0, it->second.left + estimate - impressions);
}

void QuotaGate::failed(const std::string &user, int64_t estimate) {
  auto it = users_.find(user);
  if (it == users_.end() || it->second.left < 0) return;
  it->second.left += estimate;
}

bool QuotaGate::counted(const std::string &user) const {
  return users_.count(user) != 0;
}

int64_t QuotaGate::quota_left(const std::string &user) const {
  auto it = users_.find(user);
  return it == users_.end() ? -1 : it->second.left;
}

std::string QuotaGate::limits_line(const std::string &user) const {
  auto it = users_.find(user);
  if (it == users_.end()) return "";
  const Limits &l = it->second;
  std::string line;
  if (l.left >= 0) line = impressions_text(l.left) + " left this month";
  if (!l.color_allowed) {
    std::string rule =
        color_refused_ || !applies_settings_ ? "colour jobs are refused" : "colour prints in monochrome";
    line += (line.empty() ? "" : "; ") + rule;
  }
  if (line.empty()) return "";
  return "quota for " + printable(l.name) + ": " + line;
}

} // namespace lpm::printer
