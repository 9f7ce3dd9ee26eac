#include "offline_sync.h"

#include <algorithm>

#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::printer {

namespace {

// A page of the directory's answer as the station asks for it.
constexpr uint64_t kPage = proto::kMaxOfflinePage;
// Retried this soon after a failed sync (the directory may be back).
constexpr uint64_t kRetryMs = 60 * 1000;

} // namespace

struct OfflineSync::Round {
  OfflineTable table;
  std::string after;
  std::function<void(Status)> done;
};

Result<std::shared_ptr<OfflineSync>> OfflineSync::open(uv_loop_t *loop,
                                                       std::shared_ptr<DirectoryLink> directory,
                                                       std::string data_dir,
                                                       std::shared_ptr<const proto::Identity> identity) {
  auto keys = offline_keys_load_or_create(data_dir);
  if (!keys.ok()) return keys.error();
  auto sync = std::make_shared<OfflineSync>(loop, std::move(directory), data_dir, std::move(identity),
                                            std::move(*keys));
  auto table = offline_table_load(data_dir, sync->keys_);
  if (!table.ok())
    LPM_WARN("%s", table.error().message.c_str());
  else if (*table)
    sync->table_ = std::move(**table);
  if (sync->table_)
    LPM_INFO("offline table of %s: %zu badge(s), %zu workstation(s), certificate valid until %s",
             utc_minute_text(sync->table_->synced_ms).c_str(), sync->table_->badges.size(),
             sync->table_->workstations.size(),
             utc_minute_text(sync->table_->certificate_expires_ms).c_str());
  return sync;
}

OfflineSync::OfflineSync(uv_loop_t *loop, std::shared_ptr<DirectoryLink> directory, std::string data_dir,
                         std::shared_ptr<const proto::Identity> identity, OfflineKeys keys)
    : loop_(loop), directory_(std::move(directory)), data_dir_(std::move(data_dir)),
      identity_(std::move(identity)), keys_(std::move(keys)) {}

void OfflineSync::start(uint64_t interval_ms) {
  interval_ms_ = interval_ms;
  timer_ = std::make_unique<proto::LoopTimer>(loop_);
  auto self = shared_from_this();
  sync([self](const Status &) { self->schedule(); });
}

void OfflineSync::stop() {
  stopped_ = true;
  timer_.reset();
}

void OfflineSync::schedule() {
  if (stopped_ || !timer_) return;
  uint64_t wait = last_error_.empty() ? interval_ms_ : std::min<uint64_t>(interval_ms_, kRetryMs);
  if (table_) {
    // Renewed when half the certificate's life has gone, whatever the interval.
    int64_t half = table_->synced_ms + (table_->certificate_expires_ms - table_->synced_ms) / 2 - wall_ms();
    if (half > 0) wait = std::min<uint64_t>(wait, static_cast<uint64_t>(half));
  }
  std::weak_ptr<OfflineSync> weak = shared_from_this();
  timer_->start(wait, 0, [weak] {
    auto self = weak.lock();
    if (!self) return;
    self->sync([weak](const Status &) {
      if (auto s = weak.lock()) s->schedule();
    });
  });
}

Status OfflineSync::usable(int64_t now_ms) const {
  if (!table_)
    return make_error(Errc::unavailable,
                      "no offline table yet (it is fetched while the directory is reachable, "
                      "when the enterprise allows release without it)");
  if (table_->certificate_expires_ms <= now_ms)
    return make_error(Errc::expired, "the printer certificate expired at " +
                                         utc_minute_text(table_->certificate_expires_ms) +
                                         ": no release without the directory until it is reachable again");
  return {};
}

void OfflineSync::sync(std::function<void(Status)> done) {
  if (syncing_ || stopped_) return done(make_error(Errc::conflict, "a sync is running"));
  syncing_ = true;
  auto round = std::make_shared<Round>();
  round->done = std::move(done);
  proto::PrinterCertificateRequest req;
  req.key = identity_->key().public_der();
  proto::MapWriter w;
  req.write(w);
  auto self = shared_from_this();
  directory_->call(proto::op::printer_certificate, std::move(w), [self, round](Result<proto::Response> r) {
    if (!r.ok()) return self->finish(round, r.error());
    proto::PrinterCertificateResult result;
    auto reader = r->reader();
    result.read(reader);
    if (!reader.ok()) return self->finish(round, reader.error());
    auto cert = proto::printer_certificate_decode(result.certificate.body);
    if (!cert.ok()) return self->finish(round, cert.error());
    if (cert->printer != self->identity_->fingerprint())
      return self->finish(round, make_error(Errc::bad_request, "the directory certified another key"));
    round->table.synced_ms = wall_ms();
    round->table.certificate = std::move(result.certificate);
    round->table.certificate_expires_ms = cert->expires_ms;
    round->table.strip = std::move(result.strip);
    round->table.color_denied = std::move(result.color_denied);
    self->fetch_badges(round);
  });
}

void OfflineSync::fetch_badges(const std::shared_ptr<Round> &round) {
  proto::OfflineBadgesRequest req;
  req.secret = keys_.secret;
  req.page.after = round->after;
  req.page.limit = kPage;
  proto::MapWriter w;
  req.write(w);
  auto self = shared_from_this();
  directory_->call(proto::op::offline_badges, std::move(w), [self, round](Result<proto::Response> r) {
    if (!r.ok()) return self->finish(round, r.error());
    proto::OfflineBadgesResult page;
    auto reader = r->reader();
    page.read(reader);
    if (!reader.ok()) return self->finish(round, reader.error());
    for (auto &b : page.items) {
      proto::Bytes key = b.key;
      round->table.badges[std::move(key)] = std::move(b);
    }
    if (!page.next.empty() && page.next != round->after) {
      round->after = page.next;
      return self->fetch_badges(round);
    }
    round->after.clear();
    self->fetch_workstations(round);
  });
}

void OfflineSync::fetch_workstations(const std::shared_ptr<Round> &round) {
  proto::OfflineWorkstationsRequest req;
  req.page.after = round->after;
  req.page.limit = kPage;
  proto::MapWriter w;
  req.write(w);
  auto self = shared_from_this();
  directory_->call(proto::op::offline_workstations, std::move(w), [self, round](Result<proto::Response> r) {
    if (!r.ok()) return self->finish(round, r.error());
    proto::OfflineWorkstationsResult page;
    auto reader = r->reader();
    page.read(reader);
    if (!reader.ok()) return self->finish(round, reader.error());
    for (auto &x : page.items) {
      std::string id = x.id;
      round->table.workstations[std::move(id)] = std::move(x);
    }
    if (!page.next.empty() && page.next != round->after) {
      round->after = page.next;
      return self->fetch_workstations(round);
    }
    Status saved = offline_table_save(self->data_dir_, self->keys_, round->table);
    self->finish(round, saved);
  });
}

void OfflineSync::finish(const std::shared_ptr<Round> &round, Status status) {
  syncing_ = false;
  if (status.ok()) {
    last_error_.clear();
    LPM_INFO("offline table synced: %zu badge(s), %zu workstation(s), certificate valid until %s",
             round->table.badges.size(), round->table.workstations.size(),
             utc_minute_text(round->table.certificate_expires_ms).c_str());
    table_ = std::move(round->table);
  } else if (!stopped_) { // a sync cut short by the station stopping says nothing
    std::string why = status.error().to_string();
    if (why != last_error_)
      LPM_WARN("offline table not synced: %s%s", why.c_str(),
               table_ ? " (the previous one stays in use)" : "");
    last_error_ = why;
  }
  auto done = std::move(round->done);
  if (done) done(status);
}

} // namespace lpm::printer
