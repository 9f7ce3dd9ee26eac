#include "control_socket.h"

#include "call_io.h"
#include "identity_binding.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/ops_admin.h"
#include "page_count.h"

namespace lpm::agent {

namespace {

struct ControlContext {
  std::shared_ptr<JobStore> store;
  ControlSocketOptions options;
};

// Streams an upload into the job's spool file; the commit happens when the stream verified.
class SpoolSink final : public proto::ChunkSink {
public:
  SpoolSink(std::unique_ptr<SpoolWriter> writer, uint64_t max_bytes, std::string format)
      : writer_(std::move(writer)), max_(max_bytes), format_(std::move(format)) {}
  Status write(std::span<const uint8_t> data) override {
    received_ += data.size();
    if (received_ > max_)
      return make_error(Errc::too_large, "the document is over the " + std::to_string(max_) + " byte limit");
    return writer_->write(data);
  }
  Status finish(std::span<const uint8_t> sha256, uint64_t bytes) override {
    CommitOptions options;
    options.expected_sha256 = proto::Bytes(sha256.begin(), sha256.end());
    options.expected_size = bytes;
    std::string format = format_;
    options.count_pages = [format](DocumentReader &reader) { return count_pages(format, reader); };
    auto job = writer_->commit(options);
    if (!job.ok()) return job.error();
    return {};
  }

private:
  std::unique_ptr<SpoolWriter> writer_; // discards the job if destroyed before commit
  uint64_t max_;
  std::string format_; // as the submitter named it: what the pages are counted as
  uint64_t received_ = 0;
};

void handle_submit(const std::shared_ptr<ControlContext> &ctx, const proto::CallPtr &call) {
  auto request = read_args<proto::SubmitJobRequest>(call);
  if (!request) return;
  const proto::SubmitJobRequest &req = *request;
  if (req.size > ctx->options.max_document_bytes)
    return call->fail(Errc::too_large, "the document is over the " +
                                           std::to_string(ctx->options.max_document_bytes) + " byte limit");
  auto owner = job_owner_for_uid(call->peer_info().uid, ctx->options.bindings, ctx->options.logins.get());
  if (!owner.ok()) return call->fail(owner.error());

  NewJob job;
  job.user = owner->user;
  job.os_account = owner->account;
  job.title = req.title;
  job.format = req.format;
  job.copies = req.copies;
  job.sides = req.sides;
  job.color = req.color;
  auto writer = ctx->store->begin_job(job);
  if (!writer.ok()) return call->fail(writer.error());
  std::string job_id = (*writer)->job_id();
  std::string user = owner->user;
  std::string account = owner->account;
  call->receive_stream(std::make_unique<SpoolSink>(std::move(*writer), ctx->options.max_document_bytes, req.format),
                       [job_id, user, account](proto::CallPtr c, Status s) {
                         if (!s.ok()) {
                           // The RPC layer answers the call with this error; the sink discarded the job.
                           LPM_WARN("job %s from %s not stored: %s", job_id.c_str(), account.c_str(),
                                    s.error().to_string().c_str());
                           return;
                         }
                         LPM_INFO("job %s held for %s (account %s)", job_id.c_str(), user.c_str(),
                                  account.c_str());
                         proto::SubmitJobResult result;
                         result.job = job_id;
                         result.state = job_state_name(JobState::held);
                         result.user = user;
                         reply_with(c, result);
                       });
}

void handle_local_jobs(const std::shared_ptr<ControlContext> &ctx, const proto::CallPtr &call) {
  auto page = read_args<proto::PageRequest>(call);
  if (!page) return;
  auto owner = job_owner_for_uid(call->peer_info().uid, ctx->options.bindings, ctx->options.logins.get());
  if (!owner.ok()) return call->fail(owner.error());
  JobFilter filter;
  filter.users = {owner->user};
  filter.states = {JobState::held, JobState::claimed, JobState::printing, JobState::printed};
  filter.after = page->after;
  filter.limit = page->limit;
  auto jobs = ctx->store->list(filter);
  if (!jobs.ok()) return call->fail(jobs.error());
  proto::ListJobsResult result;
  for (const auto &j : jobs->jobs)
    result.jobs.push_back(j.info());
  result.next = jobs->next;
  reply_with(call, result);
}

void handle_delete(const std::shared_ptr<ControlContext> &ctx, const proto::CallPtr &call) {
  auto request = read_args<proto::DeleteJobRequest>(call);
  if (!request) return;
  auto owner = job_owner_for_uid(call->peer_info().uid, ctx->options.bindings, ctx->options.logins.get());
  if (!owner.ok()) return call->fail(owner.error());
  // Another user's job answers exactly like a missing one: its existence is not revealed.
  auto job = ctx->store->get(request->job);
  if (!job.ok() || job->user != owner->user) return call->fail(Errc::not_found, "no job " + request->job);
  auto removed = ctx->store->remove(job->id, wall_ms(), ctx->options.on_delete);
  if (!removed.ok()) return call->fail(removed.error());
  if (ctx->options.after_delete) ctx->options.after_delete();
  LPM_INFO("job %s deleted by its owner (account %s)", removed->id.c_str(), owner->account.c_str());
  reply_with(call, removed->info());
}

void handle_watch_events(const std::shared_ptr<ControlContext> &ctx, const proto::CallPtr &call) {
  auto request = read_args<proto::WatchEventsRequest>(call);
  if (!request) return;
  if (!ctx->options.events)
    return call->fail(Errc::forbidden,
                      "desktop notifications are turned off on this workstation (DisplayNotifications)");
  auto owner = job_owner_for_uid(call->peer_info().uid, ctx->options.bindings, ctx->options.logins.get());
  if (!owner.ok()) return call->fail(owner.error());
  ctx->options.events->watch(call, owner->user, request->wait_ms);
}

// The person ops: the caller's OS account, and the proxy that relays them to the directory.
void handle_person(const std::shared_ptr<ControlContext> &ctx, const proto::CallPtr &call,
                   void (DirectoryProxy::*op)(const proto::CallPtr &, const std::string &)) {
  if (!ctx->options.directory)
    return call->fail(Errc::unavailable, "this agent has no directory configured (<Directory> in configuration.xml)");
  auto account = os_account_name(call->peer_info().uid);
  if (!account.ok()) return call->fail(Errc::forbidden, account.error().message);
  ((*ctx->options.directory).*op)(call, *account);
}

// A usage report for the caller's OS account, through its directory login.
void handle_usage_report(const std::shared_ptr<ControlContext> &ctx, const proto::CallPtr &call) {
  if (!ctx->options.reports)
    return call->fail(Errc::unavailable, "this agent relays no reports (no accounting server configured)");
  auto account = os_account_name(call->peer_info().uid);
  if (!account.ok()) return call->fail(Errc::forbidden, account.error().message);
  ctx->options.reports->usage_report(call, *account);
}

} // namespace

Result<std::unique_ptr<ControlSocket>> ControlSocket::start(uv_loop_t *loop, std::shared_ptr<JobStore> store,
                                                            ControlSocketOptions options) {
  auto ctx = std::make_shared<ControlContext>(ControlContext{std::move(store), std::move(options)});
  auto dispatcher = std::make_shared<proto::Dispatcher>();
  dispatcher->on_upload(proto::op::submit_job, [ctx](proto::CallPtr call) { handle_submit(ctx, call); });
  dispatcher->on(proto::op::local_jobs, [ctx](proto::CallPtr call) { handle_local_jobs(ctx, call); });
  dispatcher->on(proto::op::delete_job, [ctx](proto::CallPtr call) { handle_delete(ctx, call); });
  dispatcher->on(proto::op::watch_events, [ctx](proto::CallPtr call) { handle_watch_events(ctx, call); });
  dispatcher->on(proto::op::agent_login, [ctx](proto::CallPtr call) { handle_person(ctx, call, &DirectoryProxy::login); });
  dispatcher->on(proto::op::agent_logout,
                 [ctx](proto::CallPtr call) { handle_person(ctx, call, &DirectoryProxy::logout); });
  dispatcher->on(proto::op::agent_forward,
                 [ctx](proto::CallPtr call) { handle_person(ctx, call, &DirectoryProxy::forward); });
  dispatcher->on_upload(proto::op::agent_forward_upload,
                        [ctx](proto::CallPtr call) { handle_person(ctx, call, &DirectoryProxy::forward_upload); });
  dispatcher->on(proto::op::usage_report, [ctx](proto::CallPtr call) { handle_usage_report(ctx, call); });
  // Any local user may ask how the agent is doing: nothing in it names a user or a job.
  dispatcher->on(proto::op::agent_status, [ctx](proto::CallPtr call) {
    if (!ctx->options.status) return call->fail(Errc::unavailable, "this agent gives no status");
    auto status = ctx->options.status();
    if (!status.ok()) return call->fail(status.error());
    reply_with(call, *status);
  });

  proto::PeerOptions po;
  po.role = proto::role::agent;
  po.accept_roles = {proto::role::cli};
  po.dispatcher = std::move(dispatcher);
  auto listener = ServedListener::pipe(loop, ctx->options.path, 0666, proto::StreamLimits{}, std::move(po));
  if (!listener.ok()) return listener.error();
  std::unique_ptr<ControlSocket> self(new ControlSocket());
  self->listener_ = std::move(*listener);
  return self;
}

ControlSocket::~ControlSocket() {
  stop();
}

void ControlSocket::stop() {
  if (listener_) listener_->stop();
}

} // namespace lpm::agent
