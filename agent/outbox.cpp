#include "outbox.h"

#include "lpm/ids.h"
#include "lpm/log.h"
#include "sqlite_rows.h"

namespace lpm::agent {

proto::JobRecord job_record_for(const Job &job, const RecordContext &context, const std::string &event,
                                const std::string &reason, int64_t event_ms) {
  proto::JobRecord r;
  r.id = uuid_v7();
  r.event = event;
  r.reason = reason;
  r.job = job.id;
  r.user = job.user;
  r.workstation = context.workstation;
  r.site = context.site;
  r.submitted_ms = job.submitted_ms;
  r.event_ms = event_ms;
  r.format = job.format;
  r.size = job.size_bytes;
  r.pages = job.pages;
  r.copies = job.copies;
  r.duplex = job.sides != "one-sided";
  return r;
}

Result<std::shared_ptr<Outbox>> Outbox::open(std::shared_ptr<Db> db) {
  Status s = db->exec("CREATE TABLE IF NOT EXISTS outbox(id TEXT PRIMARY KEY, body BLOB NOT NULL, "
                      "created_ms INTEGER NOT NULL);");
  if (!s.ok()) return s.error();
  return std::shared_ptr<Outbox>(new Outbox(std::move(db)));
}

Status Outbox::insert(const proto::JobRecord &record) {
  proto::MapWriter w;
  record.write(w);
  auto st = db_->prepare("INSERT INTO outbox(id, body, created_ms) VALUES(?1, ?2, ?3)");
  if (!st.ok()) return st.error();
  return st->bind(1, record.id).bind_blob(2, w.finish()).bind(3, wall_ms()).run();
}

Status Outbox::queue(const proto::JobRecord &record) {
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun();
  Status s = insert(record);
  if (s.ok()) s = tx.commit();
  if (s.ok()) notify_queued();
  return s;
}

void Outbox::notify_queued() {
  if (on_queued) on_queued();
}

Result<std::vector<OutboxEntry>> Outbox::next_batch(size_t max) {
  auto st = db_->prepare("SELECT id, body FROM outbox ORDER BY id LIMIT ?1");
  if (!st.ok()) return st.error();
  st->bind(1, static_cast<int64_t>(max));
  std::vector<OutboxEntry> out;
  Status s = for_each_row(*st, [&]() -> Status {
    OutboxEntry e;
    e.id = st->col_text(0);
    proto::Bytes body = st->col_blob(1);
    auto handle = proto::unpack_map(body);
    if (!handle.ok())
      return make_error(Errc::internal,
                        "outbox record " + e.id + " is unreadable: " + handle.error().message);
    proto::MapReader r(handle->get(), "record");
    e.record.read(r);
    if (!r.ok())
      return make_error(Errc::internal, "outbox record " + e.id + " is invalid: " + r.error().message);
    out.push_back(std::move(e));
    return {};
  });
  if (!s.ok()) return s.error();
  return out;
}

Status Outbox::remove(const std::vector<std::string> &ids) {
  Transaction tx(*db_);
  if (!tx.begun().ok()) return tx.begun();
  auto st = db_->prepare("DELETE FROM outbox WHERE id = ?1");
  if (!st.ok()) return st.error();
  for (const auto &id : ids) {
    Status s = st->bind(1, id).run();
    if (!s.ok()) return s;
  }
  return tx.commit();
}

Result<int64_t> Outbox::oldest_ms() {
  auto st = db_->prepare("SELECT coalesce(min(created_ms), 0) FROM outbox");
  if (!st.ok()) return st.error();
  auto row = st->step();
  if (!row.ok()) return row.error();
  return st->col_int(0);
}

Result<size_t> Outbox::size() {
  auto st = db_->prepare("SELECT COUNT(*) FROM outbox");
  if (!st.ok()) return st.error();
  auto row = st->step();
  if (!row.ok()) return row.error();
  return static_cast<size_t>(st->col_int(0));
}

} // namespace lpm::agent
