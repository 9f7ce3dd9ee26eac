// The people accounting stamps and names records with (issue 6; RP-10, RP-11, RP-12), kept from
// the directory's list-people: each user's print group and department, stamped on the records
// they print as they arrive, and the name and e-mail reports show and search by.
//
// Refreshes: once at start(), every periodic_refresh_ms, and soon after a record of a user not
// known here arrives (at most once per min_refresh_interval_ms). Each complete list is written to
// the store (RecordStore::replace_people): a user the directory no longer lists is anonymised
// there. Stamps are served from memory, loaded from the store at start, so records keep being
// stamped while the directory is unreachable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include <uv.h>

#include "key_source.h"
#include "lpm/protocol/loop_timer.h"
#include "record_store.h"

namespace lpm::accounting {

struct PeopleFeedOptions {
  uint64_t periodic_refresh_ms = 5 * 60 * 1000; // a moved or deleted user is seen within this
  int64_t min_refresh_interval_ms = 30 * 1000;  // unknown users ask for a refresh at most this often
};

class PeopleFeed {
public:
  // `source` is shared with EnrolledKeys (one connection to the directory); `store` must outlive
  // the feed. Loads what the store knows now.
  PeopleFeed(uv_loop_t *loop, std::shared_ptr<KeySource> source, RecordStore &store,
             PeopleFeedOptions options = {});
  ~PeopleFeed();
  PeopleFeed(const PeopleFeed &) = delete;
  PeopleFeed &operator=(const PeopleFeed &) = delete;

  // Reads the people the store knows (their stamps serve ingest until the first refresh).
  Status load();
  // First refresh now, then periodic ones.
  void start();
  // Stops refreshing (a fetch still running is ignored when it ends). The source is not closed.
  void close();

  // The print group and department to stamp on a record of `user` now. A user not known here gets
  // an empty stamp (counted for the enterprise only) and a refresh is asked for.
  Stamp stamp_of(const std::string &user);

  uint64_t refreshes_done() const { return refreshes_done_; } // lists written to the store
  size_t known() const { return stamps_.size(); }

private:
  void refresh();
  void refresh_soon();
  void on_listed(Result<std::vector<proto::PersonFacts>> listed);

  std::shared_ptr<KeySource> source_;
  RecordStore &store_;
  PeopleFeedOptions options_;
  proto::LoopTimer periodic_;
  proto::LoopTimer deferred_;
  std::unordered_map<std::string, Stamp> stamps_;
  bool refreshing_ = false;
  bool closed_ = false;
  int64_t last_refresh_start_ms_ = 0; // monotonic; 0: never
  uint64_t refreshes_done_ = 0;
  // Guards callbacks that outlive this object (the source's fetch).
  std::shared_ptr<PeopleFeed *> alive_ = std::make_shared<PeopleFeed *>(this);
};

} // namespace lpm::accounting
