// In-memory rate limits of the directory service: a token bucket per printer for badge ops
// (DESIGN §4 step 1), and failure windows for secrets (wrong passwords per account, wrong PINs per
// user). Both are bounded in the number of keys they remember and take the time as an argument,
// so tests move the clock. Not thread-safe: the service uses them on its loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace lpm::directory {

// A printer may start `per_second` badge ops per second on average and `burst` at once.
struct BadgeRateLimit {
  double per_second = 5;
  double burst = 20;
  bool off() const { return per_second <= 0; }
};
// "5/s, burst 20" or "off".
std::string badge_rate_text(const BadgeRateLimit &limit);

class TokenBuckets {
public:
  explicit TokenBuckets(BadgeRateLimit limit = {}, size_t max_keys = 100000);
  // Applies to every bucket from now on (full buckets stay full, fuller ones are capped).
  void configure(BadgeRateLimit limit);
  const BadgeRateLimit &limit() const { return limit_; }
  // Takes a token of key's bucket: 0 when there was one (or the limit is off), else how many
  // milliseconds until one will be there (nothing is taken).
  int64_t take(const std::string &key, int64_t now_ms);
  // True at most once per key and interval: whether a refusal should be reported (audited) now.
  bool report_due(const std::string &key, int64_t now_ms, int64_t interval_ms);
  size_t size() const { return buckets_.size(); }

private:
  struct Bucket {
    double tokens = 0;
    int64_t refilled_ms = 0;
    int64_t reported_ms = 0;
    bool reported = false;
  };
  void make_room(int64_t now_ms);
  BadgeRateLimit limit_;
  size_t max_keys_;
  std::map<std::string, Bucket> buckets_;
};

// Counts failures per key in a window that starts with the first failure: at max_failures the
// key is blocked until the window ends.
class FailureThrottle {
public:
  FailureThrottle(int max_failures = 5, int64_t window_ms = 15 * 60 * 1000, size_t max_keys = 100000);
  // 0 when the key may try now, else the milliseconds until its window ends. Forgets an ended
  // window.
  int64_t blocked_for_ms(const std::string &key, int64_t now_ms);
  void failed(const std::string &key, int64_t now_ms);
  // A success ends the key's window.
  void clear(const std::string &key) { windows_.erase(key); }

private:
  struct Window {
    int count = 0;
    int64_t start_ms = 0;
  };
  int max_failures_;
  int64_t window_ms_;
  size_t max_keys_;
  std::map<std::string, Window> windows_;
};

// "3 minutes", "1 minute": a wait in whole minutes, rounded up.
std::string minutes_text(int64_t ms);

} // namespace lpm::directory
