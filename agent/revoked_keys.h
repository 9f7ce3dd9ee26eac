// The revocation list (DESIGN §3): printer and accounting keys the directory revoked, as its
// register replies deliver them. Kept in state.db so a restarted agent refuses a revoked release
// station before its first heartbeat; looked up in memory on every release op.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/ops.h"
#include "lpm/sqlite.h"

namespace lpm::agent {

class RevokedKeys {
public:
  // Creates the table if needed and loads it.
  static Result<std::shared_ptr<RevokedKeys>> open(std::shared_ptr<Db> db);

  bool contains(const proto::Fingerprint &fingerprint) const { return keys_.count(fingerprint) != 0; }
  // The newest revocation held (revoked_ms), to ask the directory for what came after; 0: none.
  int64_t newest_ms() const { return newest_ms_; }
  size_t size() const { return keys_.size(); }
  // Stores the keys in one transaction (repeats are harmless); returns how many were new.
  Result<size_t> add(const std::vector<proto::RevokedKey> &keys);

private:
  explicit RevokedKeys(std::shared_ptr<Db> db) : db_(std::move(db)) {}
  std::shared_ptr<Db> db_;
  std::unordered_set<std::string> keys_;
  int64_t newest_ms_ = 0;
};

} // namespace lpm::agent
