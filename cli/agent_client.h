// The local agent's Unix control socket as the `lpm` commands reach it (hello role "cli"; the
// agent knows the caller from the socket's peer credentials).
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "lpm/error.h"
#include "lpm/protocol/rpc.h"

namespace lpm::cli {

// Connects to `socket_arg`, or default_socket_path() when it is empty. Errors keep the
// connection's code, with a message naming the socket ("cannot reach the agent at PATH: ...").
Result<std::unique_ptr<proto::SyncClient>> connect_agent(uv_loop_t *loop, const std::string &socket_arg);

} // namespace lpm::cli
