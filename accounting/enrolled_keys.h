// The accounting server's view of who may call it: the keys enrolled at the directory and the
// kind each was enrolled as, refreshed from a KeySource.
//
// Refreshes: once at start(), every periodic_refresh_ms, and when a key we do not know calls.
// Refreshes start at most once per min_refresh_interval_ms, so unknown callers cannot make us
// hammer the directory: a call from an unknown key waits for the next refresh allowed (at once,
// or when the interval since the last one has passed) and is answered from its result. So a
// workstation enrolled a moment ago is accepted on its first try.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "key_source.h"
#include "lpm/protocol/loop_timer.h"
#include "lpm/error.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops.h"

namespace lpm::accounting {

struct TrustOptions {
  int64_t min_refresh_interval_ms = 1000;       // refreshes start at most this often
  uint64_t periodic_refresh_ms = 5 * 60 * 1000; // revoked keys stop working within this
  size_t max_waiting_calls = 1024;              // past this, unknown callers are refused at once
};

class EnrolledKeys {
public:
  using AuthorizeFn = std::function<void(Status)>;

  EnrolledKeys(uv_loop_t *loop, std::shared_ptr<KeySource> source, const TrustOptions &options = {});
  ~EnrolledKeys();
  EnrolledKeys(const EnrolledKeys &) = delete;
  EnrolledKeys &operator=(const EnrolledKeys &) = delete;

  // First refresh now, then periodic ones.
  void start();
  // Answers once, on the loop thread, possibly before returning: ok when `fingerprint` is
  // enrolled as `required`; unauthenticated "key not enrolled at the directory" (or no client
  // certificate at all); forbidden when enrolled as another kind; unavailable when the key is
  // unknown and the directory could not be asked; rate_limited when too many unknown callers wait.
  void authorize(const proto::Fingerprint &fingerprint, proto::EnrollKind required, AuthorizeFn done);
  // Stops refreshing and closes the source; callers still waiting get unavailable now.
  // Call before the object (or anything its callers' callbacks use) goes away.
  void close();

  size_t size() const { return kinds_.size(); }
  // Whether `fingerprint` is enrolled as `kind` as far as the last refresh knows (no waiting).
  bool known_as(const proto::Fingerprint &fingerprint, proto::EnrollKind kind) const {
    auto it = kinds_.find(fingerprint);
    return it != kinds_.end() && it->second == kind;
  }
  uint64_t refreshes_started() const { return refreshes_started_; }

private:
  // idle -> (scheduled ->) refreshing -> idle; closed is final. `scheduled` waits out the
  // minimum interval before a refresh that unknown callers asked for.
  enum class State { idle, scheduled, refreshing, closed };
  struct Waiter {
    proto::Fingerprint fingerprint;
    proto::EnrollKind required;
    uint64_t needs_refresh; // answered from refresh number >= this (refreshes_started_ counts them)
    AuthorizeFn done;
  };

  Status decide(const proto::Fingerprint &fingerprint, proto::EnrollKind required) const;
  void refresh();
  // A refresh as soon as the minimum interval allows.
  void refresh_soon();
  void on_refreshed(Result<std::vector<proto::EnrolledKey>> keys);

  std::shared_ptr<KeySource> source_;
  TrustOptions options_;
  proto::LoopTimer periodic_;
  proto::LoopTimer deferred_; // the scheduled refresh
  State state_ = State::idle;
  std::unordered_map<proto::Fingerprint, proto::EnrollKind> kinds_;
  std::vector<Waiter> waiters_;
  bool refreshed_once_ = false;       // a refresh was started
  bool have_keys_ = false;            // a refresh succeeded
  int64_t last_refresh_start_ms_ = 0; // monotonic
  bool last_refresh_failed_ = false;
  uint64_t refreshes_started_ = 0;
};

} // namespace lpm::accounting
