// What `lpm-accounting enroll` learned from the directory, kept in state.db so `serve` knows this
// server was enrolled (the directory answers list-enrolled only to enrolled accounting keys).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"

namespace lpm::accounting {

struct Enrollment {
  std::string service_id;                   // the id the directory gave this server
  std::string directory_address;            // where we enrolled ("127.0.0.1:9710")
  proto::Fingerprint directory_fingerprint; // the key we pinned then
  proto::Bytes ticket_key;                  // the directory's ticket-signing public key (DER)
  proto::Bytes session_key;                 // its session-token key (DER; empty: enrolled before
                                            // the directory sent it, usage-report then refused)
  int64_t enrolled_ms = 0;
};

// Replaces the stored enrollment (re-enrolling is allowed: the directory returns the same id
// for the same key).
Status enrollment_save(const std::string &db_path, const Enrollment &enrollment);
// The stored enrollment, or nullopt when this server never enrolled.
Result<std::optional<Enrollment>> enrollment_load(const std::string &db_path);

} // namespace lpm::accounting
