// Typed request and reply helpers for the agent's op handlers.
#pragma once

#include <optional>

#include "lpm/protocol/rpc.h"

namespace lpm::agent {

// The call's args as a T (ops.h struct); nullopt after failing the call with the reader's
// bad_request.
template <class T> std::optional<T> read_args(const proto::CallPtr &call) {
  T request;
  request.read(call->args());
  if (!call->args().ok()) {
    call->fail(call->args().error());
    return std::nullopt;
  }
  return request;
}

template <class T> void reply_with(const proto::CallPtr &call, const T &result) {
  proto::MapWriter w;
  result.write(w);
  call->reply(w);
}

} // namespace lpm::agent
