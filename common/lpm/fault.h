// Named fault points for crash tests (issue 3). A test starts a daemon with
//   LPM_FAULT=<point>:<n>
// and the process dies with SIGKILL-like abruptness (_exit(86), no destructors, no flush of
// anything not already on disk) the n-th time (1-based) it passes the point named <point>.
// Without LPM_FAULT, or for any other point, fault_point() costs one static-initialised flag test.
//
// Points are named "<component>.<where>", e.g. "store.after_write", "store.after_fsync",
// "store.after_commit", "ipp.before_response". Every point a daemon has is listed in
// docs/testing.md.
#pragma once

namespace lpm {

// Dies here when LPM_FAULT names this point and this is the chosen pass.
void fault_point(const char *name);

// The exit status of a process killed by a fault point.
inline constexpr int kFaultExitStatus = 86;

} // namespace lpm
