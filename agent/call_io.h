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

// Answers the call with another service's answer (its result map unchanged, or its error): what
// the agent relays for `lpm` (directory_proxy.h, report_relay.h).
inline void reply_relayed(const proto::CallPtr &call, Result<proto::Response> answer) {
  if (!answer.ok()) return call->fail(answer.error());
  proto::MapWriter w;
  w.pairs_of(answer->object());
  call->reply(w);
}

template <class T> void reply_with(const proto::CallPtr &call, const T &result) {
  proto::MapWriter w;
  result.write(w);
  call->reply(w);
}

} // namespace lpm::agent
