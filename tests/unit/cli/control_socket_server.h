// A stand-in for the agent's control socket in the cli tests: a Unix socket served with the
// test's dispatcher (hello role agent, accepting cli) on a loop of its own thread, so `lpm` runs
// in the test's thread as it would in a shell.
#pragma once

#include <catch2/catch.hpp>

#include <uv.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"

namespace lpm::test {

class ControlSocketServer {
public:
  ControlSocketServer(const std::string &path, std::shared_ptr<proto::Dispatcher> dispatcher) {
    REQUIRE(uv_loop_init(&loop_) == 0);
    REQUIRE(uv_async_init(&loop_, &stop_, on_stop) == 0);
    stop_.data = this;
    auto listener = proto::Listener::listen_pipe(&loop_, path, 0600, proto::StreamLimits{},
                                                 [this, dispatcher](proto::StreamPtr stream) {
                                                   proto::PeerOptions options;
                                                   options.role = proto::role::agent;
                                                   options.accept_roles = {proto::role::cli};
                                                   options.dispatcher = dispatcher;
                                                   peers_.push_back(proto::Peer::attach(stream, options));
                                                 });
    REQUIRE(listener.ok());
    listener_ = *listener;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  // Stops the loop from its own thread (closing the listener and every connection), then joins.
  ~ControlSocketServer() {
    uv_async_send(&stop_);
    thread_.join();
    peers_.clear();
    uv_loop_close(&loop_);
  }
  ControlSocketServer(const ControlSocketServer &) = delete;
  ControlSocketServer &operator=(const ControlSocketServer &) = delete;

private:
  static void on_stop(uv_async_t *async) {
    auto *self = static_cast<ControlSocketServer *>(async->data);
    self->listener_->close();
    for (auto &peer : self->peers_)
      peer->close();
    uv_close(reinterpret_cast<uv_handle_t *>(async), nullptr);
  }

  uv_loop_t loop_{};
  uv_async_t stop_{};
  std::shared_ptr<proto::Listener> listener_;
  std::vector<proto::PeerPtr> peers_;
  std::thread thread_;
};

} // namespace lpm::test
