#include "served_listener.h"

#include <unistd.h>

namespace lpm::agent {

struct ServedListener::Peers {
  std::vector<std::weak_ptr<proto::Peer>> list;
};

proto::Listener::AcceptFn ServedListener::acceptor(const std::shared_ptr<Peers> &peers,
                                                   proto::PeerOptions options) {
  return [peers, options](proto::StreamPtr stream) {
    // Closed connections drop out here rather than in a callback of their own.
    std::erase_if(peers->list, [](const std::weak_ptr<proto::Peer> &p) { return p.expired(); });
    peers->list.push_back(proto::Peer::attach(std::move(stream), options));
  };
}

Result<std::unique_ptr<ServedListener>>
ServedListener::tls(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> ctx, const proto::Endpoint &at,
                    const proto::StreamLimits &limits, proto::PeerOptions peer_options) {
  std::unique_ptr<ServedListener> self(new ServedListener());
  self->peers_ = std::make_shared<Peers>();
  auto listener = proto::Listener::listen_tls(loop, std::move(ctx), at, limits,
                                              acceptor(self->peers_, std::move(peer_options)));
  if (!listener.ok()) return listener.error();
  self->listener_ = std::move(*listener);
  self->port_ = self->listener_->port();
  return self;
}

Result<std::unique_ptr<ServedListener>> ServedListener::pipe(uv_loop_t *loop, const std::string &path,
                                                             int mode, const proto::StreamLimits &limits,
                                                             proto::PeerOptions peer_options) {
  std::unique_ptr<ServedListener> self(new ServedListener());
  self->peers_ = std::make_shared<Peers>();
  auto listener =
      proto::Listener::listen_pipe(loop, path, mode, limits, acceptor(self->peers_, std::move(peer_options)));
  if (!listener.ok()) return listener.error();
  self->listener_ = std::move(*listener);
  self->path_ = path;
  return self;
}

ServedListener::~ServedListener() {
  stop();
}

void ServedListener::stop() {
  if (listener_) {
    listener_->close();
    listener_.reset();
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  if (!peers_) return;
  auto peers = std::move(peers_->list);
  peers_->list.clear();
  for (auto &weak : peers)
    if (auto p = weak.lock()) p->close();
}

} // namespace lpm::agent
