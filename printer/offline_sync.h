// The station's side of release without the directory (issue 8): while the directory is
// reachable, its printer certificate and offline table (offline_table.h) are fetched over the
// station's directory connection at start and then every sync interval (sooner when half the
// certificate's life has gone), kept on disk encrypted, and used by the station when a badge-in
// finds the directory unreachable (release_station.cpp).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "directory_link.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/loop_timer.h"
#include "offline_table.h"

namespace lpm::printer {

inline constexpr uint64_t kOfflineSyncIntervalMs = 15 * 60 * 1000;

class OfflineSync : public std::enable_shared_from_this<OfflineSync> {
public:
  // Loads offline.key (made on first use) and offline.table from `data_dir`. A table that cannot
  // be read is reported and replaced at the next sync.
  static Result<std::shared_ptr<OfflineSync>> open(uv_loop_t *loop, std::shared_ptr<DirectoryLink> directory,
                                                   std::string data_dir,
                                                   std::shared_ptr<const proto::Identity> identity);

  // Syncs now and then every interval_ms (or at half the certificate's life, if sooner).
  void start(uint64_t interval_ms = kOfflineSyncIntervalMs);
  void stop();
  // One sync; `done` gets ok, or why it failed (the table in use stays).
  void sync(std::function<void(Status)> done);

  // The table, or null when there is none. Usable only while its certificate is valid.
  const OfflineTable *table() const { return table_ ? &*table_ : nullptr; }
  // ok when a release without the directory can be tried at now_ms; else why not.
  Status usable(int64_t now_ms) const;
  const proto::Bytes &secret() const { return keys_.secret; }
  const proto::Identity &identity() const { return *identity_; }

  OfflineSync(uv_loop_t *loop, std::shared_ptr<DirectoryLink> directory, std::string data_dir,
              std::shared_ptr<const proto::Identity> identity, OfflineKeys keys);

private:
  struct Round; // one sync in progress
  void fetch_badges(const std::shared_ptr<Round> &round);
  void fetch_workstations(const std::shared_ptr<Round> &round);
  void finish(const std::shared_ptr<Round> &round, Status status);
  void schedule();

  uv_loop_t *loop_;
  std::shared_ptr<DirectoryLink> directory_;
  std::string data_dir_;
  std::shared_ptr<const proto::Identity> identity_;
  OfflineKeys keys_;
  std::optional<OfflineTable> table_;
  std::unique_ptr<proto::LoopTimer> timer_;
  uint64_t interval_ms_ = kOfflineSyncIntervalMs;
  bool syncing_ = false;
  bool stopped_ = false;
  std::string last_error_; // said once until it changes
};

} // namespace lpm::printer
