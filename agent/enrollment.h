// What enrollment with the directory gave this workstation, kept in state.db (table settings):
// its workstation id and the public key that signs release tickets.
#pragma once

#include <optional>
#include <string>

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

} // namespace lpm::agent
