#include "rate_limits.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

namespace lpm::directory {

std::string badge_rate_text(const BadgeRateLimit &limit) {
  if (limit.off()) return "off";
  char text[64];
  std::snprintf(text, sizeof text, "%g/s, burst %g", limit.per_second, limit.burst);
  return text;
}

std::string minutes_text(int64_t ms) {
  int64_t minutes = (ms + 59999) / 60000;
  return std::to_string(minutes) + " minute" + (minutes == 1 ? "" : "s");
}

// ---------------------------------------------------------------------------------------------
// Token buckets

TokenBuckets::TokenBuckets(BadgeRateLimit limit, size_t max_keys) : max_keys_(std::max<size_t>(max_keys, 1)) {
  configure(limit);
}

void TokenBuckets::configure(BadgeRateLimit limit) {
  // A bucket that cannot hold one token would refuse everything.
  limit.burst = std::max(limit.burst, 1.0);
  limit_ = limit;
  for (auto &[key, bucket] : buckets_)
    bucket.tokens = std::min(bucket.tokens, limit_.burst);
}

void TokenBuckets::make_room(int64_t now_ms) {
  if (buckets_.size() < max_keys_) return;
  // Buckets that have filled up again hold nothing worth keeping: a new one starts full too.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double refill = static_cast<double>(now_ms - it->second.refilled_ms) * limit_.per_second / 1000.0;
    it = it->second.tokens + refill >= limit_.burst ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() >= max_keys_) buckets_.erase(buckets_.begin());
}

int64_t TokenBuckets::take(const std::string &key, int64_t now_ms) {
  if (limit_.off()) return 0;
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    make_room(now_ms);
    it = buckets_.emplace(key, Bucket{limit_.burst, now_ms, 0, false}).first;
  }
  Bucket &b = it->second;
  if (now_ms > b.refilled_ms) {
    b.tokens = std::min(limit_.burst,
                        b.tokens + static_cast<double>(now_ms - b.refilled_ms) * limit_.per_second / 1000.0);
    b.refilled_ms = now_ms;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  auto wait_ms = static_cast<int64_t>(std::ceil((1.0 - b.tokens) * 1000.0 / limit_.per_second));
  return std::max<int64_t>(wait_ms, 1);
}

bool TokenBuckets::report_due(const std::string &key, int64_t now_ms, int64_t interval_ms) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return true;
  Bucket &b = it->second;
  if (b.reported && now_ms - b.reported_ms < interval_ms) return false;
  b.reported = true;
  b.reported_ms = now_ms;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Failure windows

FailureThrottle::FailureThrottle(int max_failures, int64_t window_ms, size_t max_keys)
    : max_failures_(max_failures), window_ms_(window_ms), max_keys_(std::max<size_t>(max_keys, 1)) {}

int64_t FailureThrottle::blocked_for_ms(const std::string &key, int64_t now_ms) {
  auto it = windows_.find(key);
  if (it == windows_.end()) return 0;
  int64_t ends = it->second.start_ms + window_ms_;
  if (ends <= now_ms) {
    windows_.erase(it);
    return 0;
  }
  return it->second.count < max_failures_ ? 0 : ends - now_ms;
}

void FailureThrottle::failed(const std::string &key, int64_t now_ms) {
  if (windows_.size() >= max_keys_ && windows_.find(key) == windows_.end()) {
    // Bounded: windows that ended go first; if every window is live, the first goes.
    for (auto it = windows_.begin(); it != windows_.end();)
      it = it->second.start_ms + window_ms_ <= now_ms ? windows_.erase(it) : std::next(it);
    if (windows_.size() >= max_keys_) windows_.erase(windows_.begin());
  }
  Window &w = windows_[key];
  if (w.count == 0 || w.start_ms + window_ms_ <= now_ms) w = Window{0, now_ms}; // a new window
  w.count++;
}

} // namespace lpm::directory
