// The release station: badges in, one at a time, and releases each user's jobs from all their
// workstations at once, into one device. One client TLS context serves the whole process, so a
// workstation contacted again resumes its TLS session; one connection to the directory is kept.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "badge_reader.h"
#include "device.h"
#include "directory_link.h"
#include "output.h"
#include "workstation_release.h"

namespace lpm::printer {

struct StationOptions {
  proto::Endpoint directory;
  std::vector<proto::Fingerprint> directory_pins; // its key is one of these (a rotation: both)
  ReleaseSettings release;
  bool no_resume = false; // forget TLS sessions before each badge
};

struct BadgeOutcome {
  bool known = false; // the directory knew the badge
  uint64_t jobs_printed = 0;
  Error error{Errc::ok, ""}; // the directory could not answer (unknown badge included)
};

class ReleaseStation : public std::enable_shared_from_this<ReleaseStation> {
public:
  // `device` must outlive the station. `out` receives the station's output lines.
  static std::shared_ptr<ReleaseStation> create(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls,
                                                Device &device, StationOptions options, LineFn out);

  // Opens the directory connection; `done` gets ok or why it failed.
  void connect(std::function<void(Status)> done);
  // One badge: badge-in, then every workstation of the answer in parallel; prints
  // "released <n> job(s) for <name> in <ms> ms" (or "badge <b>: unknown badge") and then calls
  // `done`.
  void release_badge(const std::string &badge, std::function<void(BadgeOutcome)> done);
  // The second half of release_badge: releases on every workstation a badge-in answer names;
  // `done` gets the number of jobs printed once every connection is closed.
  void release_for(const proto::BadgeInResult &who, std::function<void(uint64_t jobs_printed)> done);
  // Releases the badges of each input line (trimmed, empty lines skipped) until the end of
  // input; `done` runs after the last release.
  void run_badges(LineReader &reader, std::function<void()> done);
  // Closes the directory connection; `done` runs once its handles are freed.
  void close(std::function<void()> done);

  ReleaseStation(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls, Device &device,
                 StationOptions options, LineFn out);

private:
  void next_badge(LineReader &reader, std::function<void()> done);

  uv_loop_t *loop_;
  std::shared_ptr<proto::TlsContext> tls_;
  Device &device_;
  StationOptions options_;
  LineFn out_;
  std::shared_ptr<DirectoryLink> directory_;
};

} // namespace lpm::printer
