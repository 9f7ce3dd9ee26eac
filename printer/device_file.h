// The file device: each released document becomes DIR/<job-id>.<ext>, written as
// DIR/<job-id>.part, fsynced, then renamed, so a file with the final name is always complete.
// The flushes at finish run on libuv's thread pool (`loop`'s), never on the loop itself.
#pragma once

#include <memory>
#include <string>

#include "device.h"

namespace lpm::printer {

// `folder` is created (0700) when missing and must be a writable folder.
Result<std::unique_ptr<Device>> open_file_device(uv_loop_t *loop, const std::string &folder,
                                                 const std::string &uri);

} // namespace lpm::printer
