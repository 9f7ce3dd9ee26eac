// What enrollment with the directory gave this workstation, kept in state.db (table settings):
// its workstation id and the public key that signs release tickets.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lpm/protocol/keys.h"
#include "lpm/sqlite.h"

namespace lpm::agent {

struct Enrollment {
  std::string workstation_id;
  proto::Bytes ticket_key_der;
};

// Creates the settings table if needed.
Status enrollment_prepare(Db &db);
// Replaces the stored enrollment (one transaction).
Status enrollment_save(Db &db, const Enrollment &enrollment);
// nullopt when the agent never enrolled.
Result<std::optional<Enrollment>> enrollment_load(Db &db);

// The directory keys its last register reply announced (its key, and the next one of a
// rotation: DESIGN §3). Kept so an agent restarted after the directory switched still reaches
// it; the pins are the configured ones plus these. Empty when none was announced yet.
Result<std::vector<proto::Fingerprint>> announced_directory_keys_load(Db &db);
Status announced_directory_keys_save(Db &db, const std::vector<proto::Fingerprint> &keys);
// When the agent last heard from the directory (a register reply; wall clock ms, 0: never).
// Kept across restarts: it bounds how long printer-signed tickets are accepted (issue 8).
Result<int64_t> directory_heard_load(Db &db);
Status directory_heard_save(Db &db, int64_t at_ms);
// The configured pins followed by the announced keys not among them.
std::vector<proto::Fingerprint> directory_pins(const std::vector<proto::Fingerprint> &configured,
                                               const std::vector<proto::Fingerprint> &announced);

} // namespace lpm::agent
