// An admin console's data folder: only its TLS identity (identity.key 0600, identity.crt). The
// directory remembers the enrollment; the console has nothing else to keep.
#pragma once

#include <memory>
#include <string>

#include "lpm/error.h"
#include "lpm/protocol/keys.h"

namespace lpm::cli {

// Creates the folder (0700) and the identity when missing; loads it otherwise.
Result<std::shared_ptr<proto::Identity>> console_create(const std::string &data_dir);
// The console's identity; not_found with a hint when `lpm console init` has not run.
Result<std::shared_ptr<proto::Identity>> console_identity(const std::string &data_dir);

} // namespace lpm::cli
