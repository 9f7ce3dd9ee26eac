// Opening the agent's data folder: state.db with every table, the spool folder, the identity.
#pragma once

#include <memory>
#include <string>

#include "job_store.h"
#include "lpm/packaging/configuration.h"
#include "lpm/protocol/keys.h"
#include "lpm/sqlite.h"
#include "nonce_store_sqlite.h"
#include "outbox.h"

namespace lpm::agent {

inline constexpr const char *kIdentityName = "identity";

struct AgentState {
  std::shared_ptr<Db> db;
  std::shared_ptr<JobStore> jobs;
  std::shared_ptr<SqliteNonceStore> nonces;
  std::shared_ptr<Outbox> outbox;
};

// Creates DataFolder (0700) if needed, opens DATA/state.db, DATA/storage.key (created on first
// use) and DATA/spool (recovering what a crash left half-done).
Result<AgentState> agent_state_open(const packaging::AgentConfig &config);

// The identity in DataFolder; a not_found error tells to run `lpm-agent init`.
Result<std::shared_ptr<proto::Identity>> agent_identity_load(const packaging::AgentConfig &config);

// This machine's host name ("workstation" when it has none).
std::string host_name();

} // namespace lpm::agent
