#include "people_feed.h"

#include <algorithm>

#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::accounting {

PeopleFeed::PeopleFeed(uv_loop_t *loop, std::shared_ptr<KeySource> source, RecordStore &store,
                       PeopleFeedOptions options)
    : source_(std::move(source)), store_(store), options_(options), periodic_(loop), deferred_(loop) {}

PeopleFeed::~PeopleFeed() {
  close();
}

Status PeopleFeed::load() {
  auto people = store_.people();
  if (!people.ok()) return people.error();
  stamps_.clear();
  for (auto &p : *people)
    stamps_.emplace(std::move(p.id), std::move(p.stamp));
  return {};
}

void PeopleFeed::start() {
  if (closed_) return;
  refresh();
  periodic_.start(options_.periodic_refresh_ms, options_.periodic_refresh_ms, [this] { refresh(); });
}

void PeopleFeed::close() {
  if (closed_) return;
  closed_ = true;
  periodic_.close();
  deferred_.close();
  *alive_ = nullptr;
}

Stamp PeopleFeed::stamp_of(const std::string &user) {
  auto it = stamps_.find(user);
  if (it != stamps_.end()) return it->second;
  refresh_soon();
  return {};
}

void PeopleFeed::refresh_soon() {
  if (closed_ || refreshing_ || deferred_.active()) return;
  int64_t wait =
      last_refresh_start_ms_ == 0 ? 0 : last_refresh_start_ms_ + options_.min_refresh_interval_ms - mono_ms();
  deferred_.start(static_cast<uint64_t>(std::max<int64_t>(wait, 0)), 0, [this] { refresh(); });
}

void PeopleFeed::refresh() {
  if (closed_ || refreshing_) return;
  refreshing_ = true;
  last_refresh_start_ms_ = mono_ms();
  std::weak_ptr<PeopleFeed *> alive = alive_;
  source_->fetch_people([alive](Result<std::vector<proto::PersonFacts>> listed) {
    auto self = alive.lock();
    if (self && *self) (*self)->on_listed(std::move(listed));
  });
}

void PeopleFeed::on_listed(Result<std::vector<proto::PersonFacts>> listed) {
  refreshing_ = false;
  if (!listed.ok()) {
    LPM_WARN("people from the directory: %s (records are stamped from what was listed before)",
             listed.error().to_string().c_str());
    return;
  }
  auto update = store_.replace_people(*listed, wall_ms());
  if (!update.ok()) {
    LPM_ERROR("people from the directory not kept: %s", update.error().to_string().c_str());
    return;
  }
  refreshes_done_++;
  if (update->added + update->changed + update->deleted > 0)
    LPM_INFO("people from the directory: %llu listed, %llu new, %llu changed, %llu deleted and anonymised",
             static_cast<unsigned long long>(update->listed), static_cast<unsigned long long>(update->added),
             static_cast<unsigned long long>(update->changed),
             static_cast<unsigned long long>(update->deleted));
  // Deleted people keep their stamp here too: their records still on the way count where they did.
  for (auto &p : *listed)
    stamps_[p.id] = Stamp{p.print_group, p.department};
}

} // namespace lpm::accounting
