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
#include "lpm/protocol/loop_timer.h"
#include "offline_sync.h"
#include "output.h"
#include "prompts.h"
#include "workstation_release.h"

namespace lpm::printer {

struct StationOptions {
  proto::Endpoint directory;
  std::vector<proto::Fingerprint> directory_pins; // its key is one of these (a rotation: both)
  ReleaseSettings release;
  bool no_resume = false; // forget TLS sessions before each badge
  // Ask the person at the printer when the directory says so: a PIN (pin_required), or e-mail
  // and password to register an unknown badge (not_found only: BD-1, TS-2). Off: the station
  // never asks and only reports (an unattended station, `--no-prompts`).
  bool prompts = true;
  // A question unanswered this long is cancelled and the station waits for the next badge.
  uint32_t prompt_timeout_ms = 60000;
  // List each badge's jobs and ask which to print or delete, and how (interactive.h). Needs
  // prompts; the question waits at most kChoiceTimeoutMs (the ticket lives 60 s).
  bool interactive = false;
  // Addresses found on the LAN (DNS-SD, discovery/) for a workstation whose advertised key is the
  // one the directory gives: tried after the directory's, so a workstation that moved is still
  // reached. Trust is unchanged: the connection is pinned to the directory's key. Null: none.
  std::function<std::vector<std::string>(const proto::WorkstationRef &)> lan_addresses;
  // Release without the directory (issue 8, offline_sync.h): when a badge-in finds the directory
  // unreachable, the badge is resolved in the offline table and the station signs the ticket
  // itself. Null: such a badge-in only reports the directory unreachable.
  std::shared_ptr<OfflineSync> offline;
  // The workstations DNS-SD finds on the LAN right now (id, advertised key): contacted too in a
  // release without the directory, when the key table gives them the same key. Null: none.
  std::function<std::vector<std::pair<std::string, proto::Fingerprint>>()> lan_agents;
};

inline constexpr uint32_t kChoiceTimeoutMs = 40000;

// Wrong PINs, and failed sign-ins of a self-registration, the station takes per badge.
inline constexpr int kMaxPinTries = 3;
inline constexpr int kMaxSignInTries = 3;

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
  // `done`. While run_badges runs (and prompts are on), the station asks for a PIN or offers
  // self-registration when the directory's answer calls for it, reading the prompts' source.
  void release_badge(const std::string &badge, std::function<void(BadgeOutcome)> done);
  // The second half of release_badge: releases on every workstation a badge-in answer names;
  // `done` gets the number of jobs printed once every connection is closed.
  // With a certificate: the ticket is the station's own (release without the directory), sent
  // with it; counted users' limits are the offline table's and nothing is settled.
  void release_for(const proto::BadgeInResult &who, std::function<void(uint64_t jobs_printed)> done,
                   const proto::SignedPrinterCertificate &certificate = {});
  // Releases the badges of each input line (trimmed, empty lines skipped) until the end of
  // input; `done` runs after the last release. Prompts read the same source.
  void run_badges(LineSource &badges, std::function<void()> done);
  // The same, with the answers to prompts read from `prompts` (a terminal, when badges come
  // from a device). Both sources must outlive the run.
  void run_badges(LineSource &badges, LineSource &prompts, std::function<void()> done);
  // Ends run_badges (SIGTERM): at once while it waits for a badge or for an answer to a prompt,
  // else once the badge being released is done; run_badges' `done` then runs.
  void stop_run();
  // Sends settle-quota for the quota charges a previous run journaled but had no answer for
  // (station_journal.h); `done` gets how many, at once (the answers come later).
  void settle_pending(std::function<void(size_t)> done);
  // The directory connection (the offline table is synced over it).
  std::shared_ptr<DirectoryLink> directory_link() const { return directory_; }
  // Release without the directory from now on (StationOptions::offline).
  void set_offline(std::shared_ptr<OfflineSync> offline) { options_.offline = std::move(offline); }
  // Closes the directory connection; `done` runs once its handles are freed.
  void close(std::function<void()> done);

  ReleaseStation(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls, Device &device,
                 StationOptions options, LineFn out);

private:
  struct Visit; // one badge's conversation with the directory and the person

  void next_badge();
  void end_run();
  bool can_prompt() const { return options_.prompts && prompt_feed_ != nullptr; }
  void send_badge_in(const std::shared_ptr<Visit> &visit, const std::string &pin);
  void on_answer(const std::shared_ptr<Visit> &visit, Result<proto::Response> r, bool registering);
  void on_refusal(const std::shared_ptr<Visit> &visit, const Error &error, bool registering);
  void ask(const std::shared_ptr<Visit> &visit, const std::string &prompt, bool secret,
           std::function<void(std::string &answer)> then);
  void ask_pin(const std::shared_ptr<Visit> &visit);
  void ask_sign_in(const std::shared_ptr<Visit> &visit);
  void send_register(const std::shared_ptr<Visit> &visit, const std::string &email, std::string &password);
  void release_visit(const std::shared_ptr<Visit> &visit, std::shared_ptr<proto::BadgeInResult> who,
                     const proto::SignedPrinterCertificate &certificate = {});
  // The directory is unreachable: the badge from the offline table, the ticket signed here.
  void release_offline(const std::shared_ptr<Visit> &visit, const Error &unreachable);
  // settle-quota (AMB-17): charges a counted user's printed job from its signed outcome, or with
  // no outcome, gives the rest of the badge's reservation back. A failure is logged.
  void settle_quota(const std::string &reservation, const std::string &user, const std::string &workstation,
                    const proto::UpdateJobStatusRequest *outcome);

  uv_loop_t *loop_;
  std::shared_ptr<proto::TlsContext> tls_;
  Device &device_;
  StationOptions options_;
  LineFn out_;
  std::shared_ptr<DirectoryLink> directory_;
  // While run_badges runs: where badges and the answers to prompts come from (the same feed
  // when one source serves both).
  std::shared_ptr<LineFeed> badge_feed_;
  std::shared_ptr<LineFeed> prompt_feed_;
  std::function<void()> run_done_;
  bool stop_requested_ = false; // stop_run: no badge after the current one
  // settle-quota calls not yet answered; close() waits for them (at most kCloseWaitMs).
  static constexpr uint64_t kCloseWaitMs = 2000;
  size_t settles_in_flight_ = 0;
  std::function<void()> close_waiting_;
  std::unique_ptr<proto::LoopTimer> close_timer_;
  // Release without the directory: why and until when (monotonic ms) badges skip the directory.
  Error directory_down_{Errc::ok, ""};
  int64_t directory_down_until_ms_ = 0;
};

} // namespace lpm::printer
