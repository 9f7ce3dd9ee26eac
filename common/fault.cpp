// Fault points: see lpm/fault.h.
#include "lpm/fault.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace lpm {

namespace {

struct FaultPlan {
  bool armed = false;
  std::string point;
  long remaining = 0;
};

FaultPlan &plan() {
  static FaultPlan p = [] {
    FaultPlan made;
    const char *env = std::getenv("LPM_FAULT");
    if (env == nullptr || *env == '\0') return made;
    const char *colon = std::strrchr(env, ':');
    made.point = colon ? std::string(env, colon) : std::string(env);
    made.remaining = colon ? std::strtol(colon + 1, nullptr, 10) : 1;
    if (made.remaining < 1) made.remaining = 1;
    made.armed = true;
    return made;
  }();
  return p;
}

std::mutex fault_mutex;

} // namespace

void fault_point(const char *name) {
  FaultPlan &p = plan();
  if (!p.armed) return;
  std::lock_guard<std::mutex> lock(fault_mutex);
  if (p.point != name) return;
  if (--p.remaining > 0) return;
  static const char msg[] = "fault point reached: dying now (LPM_FAULT)\n";
  ssize_t ignored = ::write(2, msg, sizeof msg - 1);
  (void)ignored;
  ::_exit(kFaultExitStatus);
}

} // namespace lpm
