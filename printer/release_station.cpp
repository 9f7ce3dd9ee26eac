#include "release_station.h"

#include <cstdio>

#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::printer {

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

void ReleaseStation::release_badge(const std::string &badge, std::function<void(BadgeOutcome)> done) {
  int64_t started_ns = mono_ns();
  if (options_.no_resume) tls_->clear_sessions();
  proto::BadgeInRequest req;
  req.badge = badge;
  proto::MapWriter w;
  req.write(w);
  auto self = shared_from_this();
  std::string shown = printable(badge);
  directory_->call(
      proto::op::badge_in, std::move(w),
      [self, shown, started_ns, done = std::move(done)](Result<proto::Response> r) {
        BadgeOutcome outcome;
        if (!r.ok()) {
          outcome.error = r.error();
          if (r.error().code == Errc::not_found)
            self->out_("badge " + shown + ": unknown badge");
          else
            self->out_("badge " + shown + ": " + r.error().to_string());
          done(outcome);
          return;
        }
        auto who = std::make_shared<proto::BadgeInResult>();
        auto reader = r->reader();
        who->read(reader);
        if (!reader.ok()) {
          outcome.error = reader.error();
          self->out_("badge " + shown + ": the directory's answer is invalid: " + reader.error().to_string());
          done(outcome);
          return;
        }
        outcome.known = true;
        // The enterprise asks for a PIN: such an answer carries no ticket. Prompting is the
        // station's next step (issue 5); until then the badge releases nothing.
        if (who->pin_required) {
          outcome.error = make_error(Errc::unauthenticated, "the directory asks for a PIN after this badge");
          self->out_("badge " + shown + ": " + outcome.error.message +
                     " (this station cannot ask for one yet)");
          done(outcome);
          return;
        }
        self->release_for(*who, [self, who, started_ns, outcome, done](uint64_t printed) mutable {
          std::string name = printable(who->display_name.empty() ? who->user : who->display_name);
          char took[32];
          std::snprintf(took, sizeof took, "%.3f", static_cast<double>(mono_ns() - started_ns) / 1e6);
          self->out_("released " + std::to_string(printed) + " job(s) for " + name + " in " + took + " ms");
          outcome.jobs_printed = printed;
          done(outcome);
        });
      });
}

void ReleaseStation::release_for(const proto::BadgeInResult &who, std::function<void(uint64_t)> done) {
  struct Fanout {
    size_t remaining = 0;
    uint64_t printed = 0;
    std::function<void(uint64_t)> done;
  };
  auto fanout = std::make_shared<Fanout>();
  fanout->remaining = who.workstations.size();
  fanout->done = std::move(done);
  if (fanout->remaining == 0) {
    fanout->done(0);
    return;
  }
  // Started one after another but running together: each release only waits on its own
  // connection, all on this loop.
  for (const auto &workstation : who.workstations) {
    release_workstation(loop_, tls_, device_, options_.release, workstation, who.ticket, out_,
                        [fanout](const WorkstationOutcome &outcome) {
                          fanout->printed += outcome.jobs_printed;
                          if (--fanout->remaining == 0) fanout->done(fanout->printed);
                        });
  }
}

void ReleaseStation::run_badges(LineReader &reader, std::function<void()> done) {
  next_badge(reader, std::move(done));
}

void ReleaseStation::next_badge(LineReader &reader, std::function<void()> done) {
  // Takes lines until one names a badge; empty lines and over-long ones are passed over.
  for (;;) {
    auto line = reader.take_line();
    if (!line) break;
    if (!line->ok()) {
      out_("input: " + line->error().message);
      continue;
    }
    std::string badge = trim_badge_line(line->value());
    if (badge.empty()) continue;
    auto self = shared_from_this();
    release_badge(badge, [self, &reader, done = std::move(done)](const BadgeOutcome &) mutable {
      self->next_badge(reader, std::move(done));
    });
    return;
  }
  if (reader.at_end()) {
    done();
    return;
  }
  auto self = shared_from_this();
  reader.fill([self, &reader, done = std::move(done)](const Status &s) mutable {
    if (!s.ok()) LPM_ERROR("%s", s.error().to_string().c_str());
    self->next_badge(reader, std::move(done));
  });
}

void ReleaseStation::close(std::function<void()> done) {
  directory_->close(std::move(done));
}

} // namespace lpm::printer
