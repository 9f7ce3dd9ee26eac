#include "audit_writer.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "directory_store.h"
#include "lpm/protocol/loop_inbox.h"
#include "lpm/log.h"

namespace lpm::directory {

struct AuditWriter::State {
  struct Pending {
    std::vector<AuditRow> rows;
    std::vector<QuotaHoldRow> holds;
    std::function<void(Status)> done;
  };

  std::unique_ptr<proto::LoopInbox> inbox;
  std::string db_path;
  std::thread thread;

  std::mutex mu; // guards what follows
  std::condition_variable wake;
  std::vector<Pending> queue;
  bool stopping = false;
  bool opened = false;
  Status open_status;

  void run() {
    auto store = DirectoryStore::open(db_path);
    {
      std::lock_guard lock(mu);
      opened = true;
      if (!store.ok()) open_status = store.error();
    }
    wake.notify_all();
    for (;;) {
      std::vector<Pending> batch;
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [this] { return stopping || !queue.empty(); });
        if (queue.empty()) return; // stopping, nothing left
        batch.swap(queue);
      }
      Status s = store.ok() ? commit(**store, batch) : Status(store.error());
      for (auto &p : batch)
        inbox->post([done = std::move(p.done), s] { done(s); });
    }
  }

  static Status commit(DirectoryStore &store, const std::vector<Pending> &batch) {
    auto tx = store.begin();
    Status s = tx.begun();
    for (const auto &p : batch) {
      for (const auto &row : p.rows)
        if (s.ok()) s = store.audit(row.at_ms, row.actor, row.action, row.detail);
      for (const auto &h : p.holds)
        if (s.ok()) s = store.quota_hold(h.reservation, h.user_id, h.printer_id, h.impressions, h.expires_ms);
    }
    if (s.ok()) s = tx.commit();
    return s;
  }
};

Result<std::unique_ptr<AuditWriter>> AuditWriter::start(uv_loop_t *loop, std::string db_path) {
  auto state = std::make_shared<State>();
  state->db_path = std::move(db_path);
  auto inbox = proto::LoopInbox::open(loop);
  if (!inbox.ok()) return inbox.error();
  state->inbox = std::move(*inbox);
  state->thread = std::thread([raw = state.get()] { raw->run(); });
  // Its connection opened (or not) before the first row is queued: a bad path fails here.
  Status opened;
  {
    std::unique_lock lock(state->mu);
    state->wake.wait(lock, [&] { return state->opened; });
    opened = state->open_status;
  }
  std::unique_ptr<AuditWriter> writer(new AuditWriter());
  writer->state_ = state;
  if (!opened.ok()) return opened.error(); // the destructor joins the thread
  return writer;
}

AuditWriter::~AuditWriter() {
  State &s = *state_;
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
  }
  s.wake.notify_all();
  if (s.thread.joinable()) s.thread.join();
  s.inbox.reset(); // runs the completions not delivered yet
}

void AuditWriter::write(std::vector<AuditRow> rows, std::vector<QuotaHoldRow> holds,
                        std::function<void(Status)> done) {
  {
    std::lock_guard lock(state_->mu);
    state_->queue.push_back(State::Pending{std::move(rows), std::move(holds), std::move(done)});
  }
  state_->wake.notify_one();
}

} // namespace lpm::directory
