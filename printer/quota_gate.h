// Quotas and colour at the release station (AMB-17, DESIGN §4): what the directory said at
// badge-in of each user whose jobs the ticket covers, kept for that badge's release. Before a job
// is claimed the gate says whether it may print and how: a colour job of a user who may not print
// in colour prints in monochrome or is refused (the enterprise's rule; a device that applies no
// settings cannot make it monochrome, so there it is refused), and a job whose estimated
// impressions pass what its owner may still print this month is refused. Refused jobs are not
// claimed: they stay held on their workstation. Shared by the badge's workstation conversations,
// on the loop.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "device.h"
#include "lpm/protocol/ops.h"

namespace lpm::printer {

class QuotaGate {
public:
  QuotaGate(const proto::BadgeInResult &who, bool device_applies_settings);

  // What admit() decided for one job.
  struct Admission {
    bool admitted = true;
    std::string reason;   // why it is refused
    std::string note;     // what was changed (colour to monochrome)
    int64_t estimate = 0; // impressions taken off its owner's remaining quota until settled
  };
  // May the job print? May set settings.color to monochrome. An admitted job's estimate is
  // taken off its owner's remaining quota until printed() or failed() says what it cost.
  Admission admit(const proto::JobInfo &job, PrintSettings &settings);
  // The job printed `impressions` (-1: unknown, the estimate stands).
  void printed(const std::string &user, int64_t estimate, int64_t impressions);
  // The job did not print: its estimate goes back.
  void failed(const std::string &user, int64_t estimate);

  // Whether the station charges this user's printed jobs with settle-quota.
  bool counted(const std::string &user) const;
  const std::string &reservation() const { return reservation_; }
  // -1: no quota (or not counted).
  int64_t quota_left(const std::string &user) const;
  // What the user is told at badge-in, one line each ("" when nothing limits them): their
  // remaining quota and the colour rule.
  std::string limits_line(const std::string &user) const;

private:
  struct Limits {
    std::string name;
    int64_t left = -1; // -1: no quota
    bool color_allowed = true;
  };
  std::map<std::string, Limits> users_; // counted users only
  std::string reservation_;
  bool color_refused_ = false; // the enterprise's rule: refuse, not monochrome
  bool applies_settings_ = false;
};

} // namespace lpm::printer
