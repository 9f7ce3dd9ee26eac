// Posts the outbox to the accounting server (pinned TLS, op post-records) in batches of at most
// kMaxRecordsPerBatch, deleting rows only after the server's reply (it replies after its
// commit). ReportingInterval 0 posts as soon as a record is queued; N > 0 posts every N
// minutes. When the server is down or refuses, the poster retries with backoff (1 s doubling
// to 60 s) until the outbox is empty.
//
//   idle --kick (records waiting)--> sending --reply ok, more--> sending
//                                     sending --reply ok, empty--> idle
//                                     sending --failure--> waiting (the link retries) --up--> sending
#pragma once

#include <uv.h>

#include <memory>

#include "lpm/protocol/loop_timer.h"
#include "lpm/packaging/configuration.h"
#include "outbox.h"
#include "service_link.h"

namespace lpm::agent {

struct OutboxPosterOptions {
  packaging::ServiceConfig accounting;
  uint32_t interval_minutes = 0;
};

class OutboxPoster : public std::enable_shared_from_this<OutboxPoster> {
public:
  enum class State { idle, sending, waiting, stopped };

  static std::shared_ptr<OutboxPoster> create(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                                              std::shared_ptr<Outbox> outbox, OutboxPosterOptions options);
  // Posts what is waiting now, then follows the interval (or every queued record when 0).
  void start();
  // A record was queued (ignored with an interval: it waits for the next round).
  void record_queued();
  // Posts what is waiting now.
  void kick();
  void stop();
  State state() const { return state_; }
  // For `lpm doctor`: when a batch was last acknowledged, and the last failure (wall clock ms).
  int64_t ok_ms() const { return ok_ms_; }
  const std::string &error() const { return error_; }

  OutboxPoster(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx, std::shared_ptr<Outbox> outbox,
               OutboxPosterOptions options);

private:
  void send_batch();
  void on_reply(Result<proto::Response> reply, const std::vector<std::string> &ids);

  std::shared_ptr<Outbox> outbox_;
  OutboxPosterOptions options_;
  std::shared_ptr<ServiceLink> link_;
  proto::LoopTimer interval_;
  State state_ = State::idle;
  bool call_in_flight_ = false;
  int64_t ok_ms_ = 0;
  std::string error_;
};

} // namespace lpm::agent
