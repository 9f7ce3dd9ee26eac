#include "console_store.h"

#include "lpm/files.h"

namespace lpm::cli {

Result<std::shared_ptr<proto::Identity>> console_create(const std::string &data_dir) {
  Status made = make_dirs(data_dir, 0700);
  if (!made.ok()) return made.error();
  return proto::Identity::load_or_create(data_dir, "identity", "lpm-console");
}

Result<std::shared_ptr<proto::Identity>> console_identity(const std::string &data_dir) {
  auto identity = proto::Identity::load(data_dir, "identity");
  if (!identity.ok() && identity.error().code == Errc::not_found)
    return make_error(Errc::not_found, "no console identity in " + data_dir +
                                           ": run `lpm console init --data " + data_dir + "` first");
  return identity;
}

} // namespace lpm::cli
