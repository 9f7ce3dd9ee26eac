#include "release_station.h"

#include <algorithm>
#include <cstdio>

#include "interactive.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops_release.h"
#include "quota_gate.h"
#include "report_pacer.h"
#include "station_journal.h"

namespace lpm::printer {

// The longest a workstation's last report waits for the other documents of its badge
// (report_pacer.h).
constexpr uint64_t kReportDelayMaxMs = 1000;
// Once the directory was unreachable, badges go straight to the offline table this long (a
// directory lost by timeout would cost every badge the connect timeout); the offline sync keeps
// probing it meanwhile.
constexpr int64_t kDirectoryRetryMs = 30 * 1000;

std::shared_ptr<ReleaseStation> ReleaseStation::create(uv_loop_t *loop,
                                                       std::shared_ptr<proto::TlsContext> tls, Device &device,
                                                       StationOptions options, LineFn out) {
  return std::make_shared<ReleaseStation>(loop, std::move(tls), device, std::move(options), std::move(out));
}

ReleaseStation::ReleaseStation(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> tls, Device &device,
                               StationOptions options, LineFn out)
    : loop_(loop), tls_(std::move(tls)), device_(device), options_(std::move(options)), out_(std::move(out)) {
  directory_ = DirectoryLink::create(loop_, tls_, options_.directory, options_.directory_pins,
                                     options_.release.connect_timeout_ms);
}

void ReleaseStation::connect(std::function<void(Status)> done) {
  directory_->connect(std::move(done));
}

// One badge's conversation: badge-in, then, when the directory's answer calls for it and the
// station may ask, a PIN (at most kMaxPinTries) or a sign-in that registers the badge (at most
// kMaxSignInTries), then the release. Every path ends in exactly one finish().
struct ReleaseStation::Visit {
  std::string badge;
  std::string shown;      // the badge as printed: control characters replaced
  int64_t started_ns = 0; // when the request that brought the ticket left (typing is not counted)
  int pin_tries = 0;
  int sign_in_tries = 0;
  bool pin_sent = false;
  BadgeOutcome outcome;
  std::function<void(BadgeOutcome)> done;

  void finish() {
    auto d = std::move(done);
    done = nullptr;
    if (d) d(outcome);
  }
};

void ReleaseStation::release_badge(const std::string &badge, std::function<void(BadgeOutcome)> done) {
  if (options_.no_resume) tls_->clear_sessions();
  auto visit = std::make_shared<Visit>();
  visit->badge = badge;
  visit->shown = printable(badge);
  visit->done = std::move(done);
  if (options_.offline && mono_ms() < directory_down_until_ms_) {
    visit->started_ns = mono_ns();
    release_offline(visit, directory_down_);
    return;
  }
  send_badge_in(visit, "");
}

void ReleaseStation::send_badge_in(const std::shared_ptr<Visit> &visit, const std::string &pin) {
  proto::BadgeInRequest req;
  req.badge = visit->badge;
  req.pin = pin;
  proto::MapWriter w;
  req.write(w);
  wipe(req.pin);
  visit->pin_sent = !pin.empty();
  visit->started_ns = mono_ns();
  auto self = shared_from_this();
  directory_->call(proto::op::badge_in, std::move(w),
                   [self, visit](Result<proto::Response> r) { self->on_answer(visit, std::move(r), false); });
}

void ReleaseStation::on_answer(const std::shared_ptr<Visit> &visit, Result<proto::Response> r,
                               bool registering) {
  if (!r.ok()) {
    on_refusal(visit, r.error(), registering);
    return;
  }
  auto who = std::make_shared<proto::BadgeInResult>();
  auto reader = r->reader();
  who->read(reader);
  if (!reader.ok()) {
    visit->outcome.error = reader.error();
    out_("badge " + visit->shown + ": the directory's answer is invalid: " + reader.error().to_string());
    visit->finish();
    return;
  }
  visit->outcome.known = true;
  visit->outcome.error = Error{Errc::ok, ""};
  // The enterprise asks for a PIN: such an answer carries no ticket (and no name).
  if (who->pin_required) {
    visit->outcome.error = make_error(Errc::unauthenticated, "the directory asks for a PIN after this badge");
    if (visit->pin_sent || registering) {
      out_("badge " + visit->shown + ": the directory asked for a PIN again: badge in again");
      visit->finish();
      return;
    }
    if (!can_prompt()) {
      out_("badge " + visit->shown + ": " + visit->outcome.error.message +
           " (this station does not ask: prompts are off)");
      visit->finish();
      return;
    }
    ask_pin(visit);
    return;
  }
  if (registering)
    out_("badge " + visit->shown + " registered to " +
         printable(who->display_name.empty() ? who->user : who->display_name));
  release_visit(visit, std::move(who));
}

void ReleaseStation::on_refusal(const std::shared_ptr<Visit> &visit, const Error &error, bool registering) {
  visit->outcome.error = error;
  std::string said = "badge " + visit->shown + ": " + printable(error.to_string());
  if (registering) {
    // A wrong e-mail or password may be typed again; forbidden (self-registration off, a
    // federated user, no release role), conflict (another user's badge) and the rest stop here.
    out_(said);
    if (error.code == Errc::unauthenticated && visit->sign_in_tries < kMaxSignInTries) {
      ask_sign_in(visit);
      return;
    }
    if (error.code == Errc::unauthenticated)
      out_("badge " + visit->shown + ": " + std::to_string(kMaxSignInTries) +
           " failed sign-ins: badge in again");
    visit->finish();
    return;
  }
  if (error.code == Errc::not_found) {
    // The one answer on which a station offers self-registration (BD-1; docs/protocol.md
    // §5.1.2): forbidden (self-registration off, BD-5) or expired never prompt.
    if (!can_prompt()) {
      out_("badge " + visit->shown + ": unknown badge");
      visit->finish();
      return;
    }
    out_("badge " + visit->shown + ": unknown badge: sign in to register it (empty line to cancel)");
    ask_sign_in(visit);
    return;
  }
  if (options_.offline &&
      (error.code == Errc::unavailable || error.code == Errc::timeout || error.code == Errc::io_error)) {
    directory_down_ = error;
    directory_down_until_ms_ = mono_ms() + kDirectoryRetryMs;
    release_offline(visit, error);
    return;
  }
  out_(said);
  if (error.code == Errc::unauthenticated && visit->pin_sent) {
    if (visit->pin_tries < kMaxPinTries) {
      ask_pin(visit);
      return;
    }
    out_("badge " + visit->shown + ": " + std::to_string(kMaxPinTries) + " wrong PINs: badge in again");
  }
  // rate_limited (the printer's limit, or a user's wrong PINs) and every other error end here.
  visit->finish();
}

void ReleaseStation::ask(const std::shared_ptr<Visit> &visit, const std::string &prompt, bool secret,
                         std::function<void(std::string &answer)> then) {
  out_(prompt);
  auto self = shared_from_this();
  uint32_t timeout_ms = options_.prompt_timeout_ms;
  prompt_feed_->next_line(timeout_ms, secret,
                          [self, visit, timeout_ms, secret, then = std::move(then)](InputLine &in) {
                            std::string why;
                            switch (in.kind) {
                            case InputLine::Kind::line: {
                              // A secret keeps its spaces; only the CR of a CRLF line goes.
                              std::string answer = secret ? in.text : trim_badge_line(in.text);
                              if (secret && !answer.empty() && answer.back() == '\r') answer.pop_back();
                              if (!answer.empty()) {
                                then(answer);
                                wipe(answer);
                                return;
                              }
                              why = "cancelled";
                              break;
                            }
                            case InputLine::Kind::timeout:
                              why = "no answer within " +
                                    (timeout_ms % 1000 == 0 ? std::to_string(timeout_ms / 1000) + " s"
                                                            : std::to_string(timeout_ms) + " ms") +
                                    ": cancelled";
                              visit->outcome.error = make_error(Errc::timeout, "the prompt timed out");
                              break;
                            case InputLine::Kind::ended: why = "cancelled (end of input)"; break;
                            case InputLine::Kind::error: why = in.error.message + ": cancelled"; break;
                            }
                            self->out_("badge " + visit->shown + ": " + why);
                            visit->finish();
                          });
}

void ReleaseStation::ask_pin(const std::shared_ptr<Visit> &visit) {
  visit->pin_tries++;
  auto self = shared_from_this();
  ask(visit, "PIN for badge " + visit->shown + " (empty line to cancel):", true,
      [self, visit](std::string &pin) { self->send_badge_in(visit, pin); });
}

void ReleaseStation::ask_sign_in(const std::shared_ptr<Visit> &visit) {
  visit->sign_in_tries++;
  auto self = shared_from_this();
  ask(visit, "e-mail:", false, [self, visit](std::string &email) {
    self->ask(visit, "password:", true,
              [self, visit, email](std::string &password) { self->send_register(visit, email, password); });
  });
}

void ReleaseStation::send_register(const std::shared_ptr<Visit> &visit, const std::string &email,
                                   std::string &password) {
  proto::BadgeRegisterRequest req;
  req.badge = visit->badge;
  req.email = email;
  req.password = password;
  proto::MapWriter w;
  req.write(w);
  wipe(req.password);
  wipe(password);
  visit->started_ns = mono_ns();
  auto self = shared_from_this();
  directory_->call(proto::op::badge_register, std::move(w),
                   [self, visit](Result<proto::Response> r) { self->on_answer(visit, std::move(r), true); });
}

void ReleaseStation::release_offline(const std::shared_ptr<Visit> &visit, const Error &unreachable) {
  const OfflineSync &offline = *options_.offline;
  std::string head = "badge " + visit->shown + ": the directory is unreachable (" +
                     printable(unreachable.message) + ")";
  int64_t now = wall_ms();
  if (Status can = offline.usable(now); !can.ok()) {
    out_(head + "; " + can.error().message);
    visit->finish();
    return;
  }
  const OfflineTable &table = *offline.table();
  auto entry = table.find(offline.secret(), visit->badge, now);
  if (!entry.ok()) {
    visit->outcome.error = entry.error();
    out_(head + "; " + entry.error().message + " in the offline table synced at " + utc_minute_text(table.synced_ms));
    visit->finish();
    return;
  }
  const proto::OfflineBadge &badge = **entry;
  auto who = std::make_shared<proto::BadgeInResult>();
  who->user = badge.users.front().id;
  who->display_name = badge.users.front().display_name;
  who->users = badge.users;
  who->color_denied = table.color_denied;
  // The workstations that held the users' jobs at the last sync, then those on the LAN now
  // whose advertised key is the one the key table gives (jobs stored since), each once.
  std::vector<std::string> ids = badge.workstations;
  if (options_.lan_agents)
    for (const auto &[id, fingerprint] : options_.lan_agents()) {
      auto known = table.workstations.find(id);
      if (known == table.workstations.end() || known->second.fingerprint != fingerprint) continue;
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
  proto::Ticket ticket;
  for (const auto &id : ids) {
    auto known = table.workstations.find(id);
    if (known == table.workstations.end() || who->workstations.size() >= proto::kMaxTicketWorkstations)
      continue;
    who->workstations.push_back(known->second);
    ticket.workstations.push_back(id);
  }
  for (const auto &u : badge.users)
    ticket.users.push_back(u.id);
  ticket.printer = offline.identity().fingerprint();
  ticket.issued_ms = now;
  ticket.expires_ms = now + proto::kTicketLifetimeMs;
  auto signed_ticket = proto::ticket_sign(std::move(ticket), offline.identity().key());
  if (!signed_ticket.ok()) {
    visit->outcome.error = signed_ticket.error();
    out_(head + "; cannot sign a ticket: " + signed_ticket.error().to_string());
    visit->finish();
    return;
  }
  who->ticket = std::move(*signed_ticket);
  visit->outcome.known = true;
  visit->outcome.error = Error{Errc::ok, ""};
  out_(head + ": releasing with the offline table synced at " + utc_minute_text(table.synced_ms) + " (" +
       std::to_string(who->workstations.size()) + " workstation(s))");
  release_visit(visit, std::move(who), table.certificate);
}

void ReleaseStation::release_visit(const std::shared_ptr<Visit> &visit,
                                   std::shared_ptr<proto::BadgeInResult> who,
                                   const proto::SignedPrinterCertificate &certificate) {
  auto self = shared_from_this();
  release_for(
      *who,
      [self, who, visit](uint64_t printed) {
    std::string name = printable(who->display_name.empty() ? who->user : who->display_name);
    char took[32];
    std::snprintf(took, sizeof took, "%.3f", static_cast<double>(mono_ns() - visit->started_ns) / 1e6);
    self->out_("released " + std::to_string(printed) + " job(s) for " + name + " in " + took + " ms");
    visit->outcome.jobs_printed = printed;
    visit->finish();
      },
      certificate);
}

void ReleaseStation::release_for(const proto::BadgeInResult &who, std::function<void(uint64_t)> done,
                                 const proto::SignedPrinterCertificate &certificate) {
  struct Fanout {
    size_t remaining = 0;
    uint64_t printed = 0;
    std::function<void(uint64_t)> done;
  };
  auto fanout = std::make_shared<Fanout>();
  fanout->remaining = who.workstations.size();
  fanout->done = std::move(done);
  if (fanout->remaining == 0) {
    if (!who.reservation.empty()) settle_quota(who.reservation, "", "", nullptr);
    fanout->done(0);
    return;
  }
  ReleaseSettings settings = options_.release;
  settings.pacer = std::make_shared<ReportPacer>(loop_, kReportDelayMaxMs);
  settings.certificate = certificate;
  bool offline_counted = !certificate.empty() && std::any_of(who.users.begin(), who.users.end(),
                                                             [](const proto::BadgeUser &u) { return u.counted; });
  if (offline_counted) {
    // Without the directory: the limits the offline table had at its sync, nothing settled (the
    // agents' records reach accounting as usual).
    settings.quota = std::make_shared<QuotaGate>(who, device_.applies_settings());
    for (const auto &u : who.users)
      if (std::string line = settings.quota->limits_line(u.id); !line.empty()) out_(line + " (at the last sync)");
  }
  if (!who.reservation.empty()) {
    // AMB-17: the users' limits, said before anything prints; each printed job of theirs is
    // charged at the directory from its signed outcome; the rest goes back at the end.
    settings.quota = std::make_shared<QuotaGate>(who, device_.applies_settings());
    for (const auto &u : who.users)
      if (std::string line = settings.quota->limits_line(u.id); !line.empty()) out_(line);
    auto self = shared_from_this();
    settings.settle = [self, reservation = who.reservation](const std::string &user,
                                                            const std::string &workstation,
                                                            const proto::UpdateJobStatusRequest &outcome) {
      self->settle_quota(reservation, user, workstation, &outcome);
    };
    fanout->done = [self, reservation = who.reservation, done = std::move(fanout->done)](uint64_t printed) {
      self->settle_quota(reservation, "", "", nullptr);
      done(printed);
    };
  }
  std::shared_ptr<ChoiceRound> round;
  if (options_.interactive && can_prompt()) {
    // One question for all of the badge's workstations, once each has listed its jobs.
    auto self = shared_from_this();
    uint32_t deadline_ms = std::min(options_.prompt_timeout_ms, kChoiceTimeoutMs);
    round = std::make_shared<ChoiceRound>(
        who.workstations.size(), device_.applies_settings(), out_,
        [self, deadline_ms](std::function<void(std::optional<std::string>)> got) {
          if (!self->prompt_feed_) return got(std::nullopt);
          self->prompt_feed_->next_line(deadline_ms, false, [got](InputLine &in) {
            if (in.kind == InputLine::Kind::line)
              got(in.text);
            else
              got(std::nullopt);
          });
        });
    settings.choose = [round](const proto::WorkstationRef &workstation, const std::vector<proto::JobInfo> &jobs,
                              std::function<void(ReleaseSettings::Choices)> answer) {
      round->listed(workstation, jobs, std::move(answer));
    };
  }
  // Started one after another but running together: each release only waits on its own
  // connection, all on this loop.
  for (proto::WorkstationRef workstation : who.workstations) {
    if (options_.lan_addresses) {
      for (const auto &address : options_.lan_addresses(workstation)) {
        if (workstation.addresses.size() >= proto::kMaxAddresses) break;
        if (std::find(workstation.addresses.begin(), workstation.addresses.end(), address) !=
            workstation.addresses.end())
          continue;
        workstation.addresses.push_back(address);
        out_("workstation " + printable(workstation.name) + ": also trying " + address +
             " (found on the LAN)");
      }
    }
    release_workstation(loop_, tls_, device_, settings, workstation, who.ticket, out_,
                        [fanout, round, id = workstation.id](const WorkstationOutcome &outcome) {
                          if (round) round->ended(id);
                          fanout->printed += outcome.jobs_printed;
                          if (--fanout->remaining == 0) fanout->done(fanout->printed);
                        });
  }
}

void ReleaseStation::settle_quota(const std::string &reservation, const std::string &user,
                                  const std::string &workstation,
                                  const proto::UpdateJobStatusRequest *outcome) {
  proto::SettleQuotaRequest req;
  req.reservation = reservation;
  req.user = user;
  req.done = outcome == nullptr;
  if (outcome) {
    req.outcome = *outcome;
    req.workstation = workstation;
  }
  proto::MapWriter w;
  req.write(w);
  std::string job = outcome ? outcome->job : "";
  std::string claim = outcome ? outcome->claim : "";
  auto journal = options_.release.journal;
  settles_in_flight_++;
  auto self = shared_from_this();
  directory_->call(
      proto::op::settle_quota, std::move(w), [self, job, claim, journal](Result<proto::Response> r) {
        self->settles_in_flight_--;
        // The device has printed: a charge the directory could not take is logged, never undone.
        if (!r.ok())
          LPM_WARN("settle-quota%s: %s", job.empty() ? " (end of release)" : (" for job " + job).c_str(),
                   r.error().to_string().c_str());
        // Kept for the next start only when the directory could not be asked (journaled charges).
        bool answered = r.ok() || (r.error().code != Errc::unavailable && r.error().code != Errc::timeout);
        if (!job.empty() && journal && answered) {
          Status forgotten = journal->settle_done(job, claim);
          if (!forgotten.ok()) LPM_ERROR("journal: %s", forgotten.error().to_string().c_str());
        }
        if (self->settles_in_flight_ == 0 && self->close_waiting_) {
          auto closing = std::move(self->close_waiting_);
          self->close_waiting_ = nullptr;
          closing();
        }
      });
}

void ReleaseStation::settle_pending(std::function<void(size_t)> done) {
  auto journal = options_.release.journal;
  if (!journal) return done(0);
  auto pending = journal->pending_settles();
  if (!pending.ok()) {
    LPM_ERROR("journal: %s", pending.error().to_string().c_str());
    return done(0);
  }
  // Sent in order on the one directory connection; the badges wait for none of the answers.
  for (const auto &entry : *pending) {
    LPM_INFO("settle-quota for job %s printed before the last stop", entry.report.job.c_str());
    settle_quota(entry.reservation, entry.user, entry.workstation, &entry.report);
  }
  done(pending->size());
}

void ReleaseStation::run_badges(LineSource &badges, std::function<void()> done) {
  run_badges(badges, badges, std::move(done));
}

void ReleaseStation::run_badges(LineSource &badges, LineSource &prompts, std::function<void()> done) {
  run_done_ = std::move(done);
  badge_feed_ = LineFeed::create(loop_, badges);
  prompt_feed_ = &prompts == &badges ? badge_feed_ : LineFeed::create(loop_, prompts);
  next_badge();
}

void ReleaseStation::stop_run() {
  if (!badge_feed_) return;
  stop_requested_ = true;
  // Waiting for input (a badge, or a prompt's answer on the same feed): nothing is on its way.
  if (badge_feed_->waiting() || (prompt_feed_ && prompt_feed_->waiting())) end_run();
}

void ReleaseStation::next_badge() {
  if (stop_requested_) {
    end_run();
    return;
  }
  auto self = shared_from_this();
  badge_feed_->next_line(0, false, [self](InputLine &in) {
    switch (in.kind) {
    case InputLine::Kind::line: {
      std::string badge = trim_badge_line(in.text);
      if (badge.empty()) {
        self->next_badge();
        return;
      }
      self->release_badge(badge, [self](const BadgeOutcome &) { self->next_badge(); });
      return;
    }
    case InputLine::Kind::error:
      // An over-long line (skipped whole) or a read error: the next line may be fine.
      self->out_("input: " + in.error.message);
      self->next_badge();
      return;
    case InputLine::Kind::timeout:
    case InputLine::Kind::ended: self->end_run(); return;
    }
  });
}

void ReleaseStation::end_run() {
  if (!badge_feed_) return; // ended already
  auto badge_feed = std::move(badge_feed_);
  auto prompt_feed = std::move(prompt_feed_);
  badge_feed_ = nullptr;
  prompt_feed_ = nullptr;
  auto done = std::make_shared<std::function<void()>>(std::move(run_done_));
  run_done_ = nullptr;
  auto closed = std::make_shared<int>(prompt_feed == badge_feed ? 1 : 2);
  auto one_closed = [done, closed] {
    if (--*closed == 0 && *done) (*done)();
  };
  badge_feed->close(one_closed);
  if (prompt_feed != badge_feed) prompt_feed->close(one_closed);
}

void ReleaseStation::close(std::function<void()> done) {
  // Quota charges still on their way get their answers first (a charge not answered stays in
  // the journal for the next start), for at most kCloseWaitMs.
  auto self = shared_from_this();
  auto shut = std::make_shared<std::function<void()>>([self, done = std::move(done)]() mutable {
    self->close_timer_.reset();
    self->directory_->close(std::move(done));
  });
  if (settles_in_flight_ == 0) return (*shut)();
  close_waiting_ = [shut] { (*shut)(); };
  close_timer_ = std::make_unique<proto::LoopTimer>(loop_);
  close_timer_->start(kCloseWaitMs, 0, [self] {
    LPM_WARN("%zu settle-quota answer(s) not in after %llu ms: kept for the next start",
             self->settles_in_flight_, static_cast<unsigned long long>(kCloseWaitMs));
    if (!self->close_waiting_) return;
    auto closing = std::move(self->close_waiting_);
    self->close_waiting_ = nullptr;
    closing();
  });
}

} // namespace lpm::printer
