#include "outbox_poster.h"

#include "lpm/fault.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops.h"

namespace lpm::agent {

std::shared_ptr<OutboxPoster> OutboxPoster::create(uv_loop_t *loop,
                                                   std::shared_ptr<proto::TlsContext> client_ctx,
                                                   std::shared_ptr<Outbox> outbox,
                                                   OutboxPosterOptions options) {
  return std::make_shared<OutboxPoster>(loop, std::move(client_ctx), std::move(outbox), std::move(options));
}

OutboxPoster::OutboxPoster(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                           std::shared_ptr<Outbox> outbox, OutboxPosterOptions options)
    : outbox_(std::move(outbox)), options_(std::move(options)), interval_(loop) {
  link_ = ServiceLink::create(
      loop, std::move(client_ctx),
      service_link_options("accounting server", options_.accounting, proto::role::accounting));
}

void OutboxPoster::start() {
  std::weak_ptr<OutboxPoster> weak = shared_from_this();
  link_->on_up = [weak]() {
    if (auto self = weak.lock(); self && self->state_ == State::waiting) self->send_batch();
  };
  link_->on_down = [weak](const Error &why) {
    auto self = weak.lock();
    if (!self || self->state_ == State::stopped) return;
    self->call_in_flight_ = false;
    if (self->state_ == State::sending || self->state_ == State::waiting) self->error_ = why.to_string();
    // The link reconnects by itself while wanted; the batch is sent again once it is up.
    if (self->state_ == State::sending) self->state_ = State::waiting;
  };
  if (options_.interval_minutes > 0) {
    uint64_t every_ms = uint64_t{options_.interval_minutes} * 60 * 1000;
    interval_.start(every_ms, every_ms, [weak]() {
      if (auto self = weak.lock()) self->kick();
    });
  }
  kick();
}

void OutboxPoster::record_queued() {
  if (options_.interval_minutes == 0) kick();
}

void OutboxPoster::kick() {
  if (state_ != State::idle) return; // a round is running; it drains the outbox
  state_ = State::waiting;
  send_batch();
}

void OutboxPoster::send_batch() {
  if (state_ == State::stopped || call_in_flight_) return;
  auto batch = outbox_->next_batch(proto::kMaxRecordsPerBatch);
  if (!batch.ok()) {
    LPM_ERROR("cannot read the outbox: %s", batch.error().to_string().c_str());
    state_ = State::idle;
    return;
  }
  if (batch->empty()) {
    state_ = State::idle;
    link_->release();
    return;
  }
  proto::PeerPtr peer = link_->peer();
  if (!peer) {
    state_ = State::waiting;
    link_->open(); // on_up sends
    return;
  }
  state_ = State::sending;
  proto::PostRecordsRequest req;
  std::vector<std::string> ids;
  for (auto &e : *batch) {
    ids.push_back(e.id);
    req.records.push_back(std::move(e.record));
  }
  proto::MapWriter w;
  req.write(w);
  call_in_flight_ = true;
  std::weak_ptr<OutboxPoster> weak = shared_from_this();
  peer->call(proto::op::post_records, w, [weak, ids](Result<proto::Response> reply) {
    if (auto self = weak.lock()) self->on_reply(std::move(reply), ids);
  });
  // The request is written (libuv writes at once when nothing is queued before it): the server
  // may store the batch while its sender is gone; the rows stay and go again at the next start.
  fault_point("outbox.after_post");
}

void OutboxPoster::on_reply(Result<proto::Response> reply, const std::vector<std::string> &ids) {
  call_in_flight_ = false;
  if (state_ == State::stopped) return;
  if (!reply.ok()) {
    LPM_WARN("posting %zu record(s) failed: %s", ids.size(), reply.error().to_string().c_str());
    error_ = reply.error().to_string();
    state_ = State::waiting;
    link_->open();
    link_->retry_later(reply.error());
    return;
  }
  proto::PostRecordsResult result;
  proto::MapReader r = reply->reader();
  result.read(r);
  // The server committed them: now, and only now, they may leave the outbox.
  fault_point("outbox.before_delete");
  Status s = outbox_->remove(ids);
  if (!s.ok()) {
    LPM_ERROR("cannot remove posted records from the outbox: %s", s.error().to_string().c_str());
    state_ = State::idle;
    return;
  }
  link_->succeeded();
  ok_ms_ = wall_ms();
  error_.clear();
  LPM_INFO("posted %zu record(s) to the accounting server (%llu stored, %llu already known)", ids.size(),
           static_cast<unsigned long long>(result.stored),
           static_cast<unsigned long long>(result.duplicates));
  send_batch();
}

void OutboxPoster::stop() {
  state_ = State::stopped;
  interval_.close();
  link_->close();
}

} // namespace lpm::agent
