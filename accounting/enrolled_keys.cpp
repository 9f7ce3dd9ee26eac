#include "enrolled_keys.h"

#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::accounting {

EnrolledKeys::EnrolledKeys(uv_loop_t *loop, std::shared_ptr<KeySource> source, const TrustOptions &options)
    : source_(std::move(source)), options_(options), periodic_(loop), deferred_(loop) {}

EnrolledKeys::~EnrolledKeys() {
  close();
}

void EnrolledKeys::start() {
  if (state_ == State::closed) return;
  if (state_ == State::idle) refresh();
  periodic_.start(options_.periodic_refresh_ms, options_.periodic_refresh_ms, [this] {
    if (state_ == State::idle) refresh();
  });
}

Status EnrolledKeys::decide(const proto::Fingerprint &fingerprint, proto::EnrollKind required) const {
  auto it = kinds_.find(fingerprint);
  if (it == kinds_.end()) return make_error(Errc::unauthenticated, "key not enrolled at the directory");
  if (it->second != required)
    return make_error(Errc::forbidden, std::string("this op is for keys enrolled as ") +
                                           proto::enroll_kind_name(required) + "; this key is enrolled as " +
                                           proto::enroll_kind_name(it->second));
  return {};
}

void EnrolledKeys::authorize(const proto::Fingerprint &fingerprint, proto::EnrollKind required,
                             AuthorizeFn done) {
  if (state_ == State::closed) return done(make_error(Errc::unavailable, "shutting down"));
  if (fingerprint.empty())
    return done(make_error(Errc::unauthenticated,
                           "no client certificate: only keys enrolled at the directory may call"));
  if (kinds_.count(fingerprint)) return done(decide(fingerprint, required));
  if (waiters_.size() >= options_.max_waiting_calls)
    return done(
        make_error(Errc::rate_limited, "too many calls from unknown keys are waiting; try again later"));
  // A refresh already running may have asked the directory before this key was enrolled: the
  // caller waits for the next one to start.
  waiters_.push_back(Waiter{fingerprint, required, refreshes_started_ + 1, std::move(done)});
  if (state_ == State::idle) refresh_soon();
}

void EnrolledKeys::refresh_soon() {
  int64_t wait_ms =
      refreshed_once_ ? last_refresh_start_ms_ + options_.min_refresh_interval_ms - mono_ms() : 0;
  if (wait_ms <= 0) return refresh();
  state_ = State::scheduled;
  deferred_.start(static_cast<uint64_t>(wait_ms), 0, [this] {
    if (state_ == State::scheduled) refresh();
  });
}

void EnrolledKeys::refresh() {
  deferred_.stop();
  state_ = State::refreshing;
  refreshed_once_ = true;
  last_refresh_start_ms_ = mono_ms();
  refreshes_started_++;
  source_->fetch([this](Result<std::vector<proto::EnrolledKey>> keys) { on_refreshed(std::move(keys)); });
}

void EnrolledKeys::on_refreshed(Result<std::vector<proto::EnrolledKey>> keys) {
  if (state_ != State::closed) state_ = State::idle;
  if (keys.ok()) {
    std::unordered_map<proto::Fingerprint, proto::EnrollKind> fresh;
    for (const auto &k : *keys)
      fresh[k.fingerprint] = k.kind;
    if (!have_keys_ || fresh.size() != kinds_.size())
      LPM_INFO("%zu keys enrolled at the directory", fresh.size());
    kinds_ = std::move(fresh);
    have_keys_ = true;
    last_refresh_failed_ = false;
  } else {
    if (!last_refresh_failed_ && state_ != State::closed)
      LPM_WARN("cannot refresh the enrolled keys: %s", keys.error().to_string().c_str());
    last_refresh_failed_ = true;
  }
  // Moved out first: an answer may lead to another authorize() while we iterate.
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto &w : waiters) {
    if (state_ == State::closed)
      w.done(make_error(Errc::unavailable, "shutting down"));
    else if (kinds_.count(w.fingerprint))
      w.done(decide(w.fingerprint, w.required));
    else if (w.needs_refresh > refreshes_started_)
      waiters_.push_back(std::move(w)); // came while this refresh ran: wait for the next
    else if (!keys.ok())
      w.done(make_error(Errc::unavailable,
                        "cannot check this key with the directory now: " + keys.error().message));
    else
      w.done(decide(w.fingerprint, w.required));
  }
  if (!waiters_.empty() && state_ == State::idle) refresh_soon();
}

void EnrolledKeys::close() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  periodic_.close();
  deferred_.close();
  // Closing the source ends a running fetch, which answers the waiters through on_refreshed.
  source_->close();
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto &w : waiters)
    w.done(make_error(Errc::unavailable, "shutting down"));
}

} // namespace lpm::accounting
