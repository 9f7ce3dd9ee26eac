#include "agent_state.h"

#include <unistd.h>

#include "enrollment.h"
#include "lpm/files.h"

namespace lpm::agent {

Result<AgentState> agent_state_open(const packaging::AgentConfig &config) {
  Status s = make_dirs(config.data_folder, 0700);
  if (!s.ok()) return s.error();
  auto db = Db::open(config.data_folder + "/state.db");
  if (!db.ok()) return db.error();
  AgentState state;
  state.db = std::shared_ptr<Db>(std::move(*db));
  s = enrollment_prepare(*state.db);
  if (!s.ok()) return s.error();
  StoreOptions store_options;
  store_options.data_folder = config.data_folder;
  auto jobs = JobStore::open(state.db, store_options);
  if (!jobs.ok()) return jobs.error();
  state.jobs = std::move(*jobs);
  auto nonces = SqliteNonceStore::open(state.db);
  if (!nonces.ok()) return nonces.error();
  state.nonces = std::move(*nonces);
  auto outbox = Outbox::open(state.db);
  if (!outbox.ok()) return outbox.error();
  state.outbox = std::move(*outbox);
  return state;
}

Result<std::shared_ptr<proto::Identity>> agent_identity_load(const packaging::AgentConfig &config) {
  auto identity = proto::Identity::load(config.data_folder, kIdentityName);
  if (!identity.ok() && identity.error().code == Errc::not_found)
    return make_error(Errc::not_found,
                      "no identity in " + config.data_folder + ": run `lpm-agent init --config FILE` first");
  return identity;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "workstation";
  return name;
}

} // namespace lpm::agent
