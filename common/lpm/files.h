// Small file helpers with durability in mind.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

#include "lpm/error.h"

namespace lpm {

// Writes data to path through a temporary file in the same folder: write, fsync, rename, fsync
// the folder. The file gets mode `mode` (0600 for keys) whatever the umask.
Status write_file_atomic(const std::string &path, const void *data, size_t len, mode_t mode);
inline Status write_file_atomic(const std::string &path, const std::string &data, mode_t mode) {
  return write_file_atomic(path, data.data(), data.size(), mode);
}
// Reads a whole file of at most max_bytes (too_large past that).
Result<std::string> read_file(const std::string &path, size_t max_bytes);
// mkdir -p with the given mode for folders it creates.
Status make_dirs(const std::string &path, mode_t mode);
// fsync of a folder, so a rename or unlink in it survives power loss.
Status fsync_dir(const std::string &path);
bool file_exists(const std::string &path);
// "strerror(errno)" of the last call, for messages.
std::string errno_text();

} // namespace lpm
