#include "report_relay.h"

#include "call_io.h"
#include "lpm/protocol/ops.h"

namespace lpm::agent {

ReportRelay::ReportRelay(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                         const packaging::ServiceConfig &accounting, std::shared_ptr<DirectoryProxy> directory)
    : accounting_(OnDemandLink::create(loop, std::move(client_ctx),
                                       service_link_options("accounting server", accounting, proto::role::accounting),
                                       kAccountingWaitMs)),
      directory_(std::move(directory)) {}

void ReportRelay::stop() {
  accounting_->stop();
}

void ReportRelay::usage_report(const proto::CallPtr &call, const std::string &account) {
  auto request = read_args<proto::UsageReportRequest>(call);
  if (!request) return;
  // Whatever session the caller sent is dropped: only the login of its own OS account goes.
  request->session.clear();
  std::shared_ptr<OnDemandLink> accounting = accounting_;
  directory_->session_for(account, [call, accounting, req = *request](Result<std::string> session) mutable {
    if (!session.ok()) return call->fail(session.error());
    req.session = *session;
    accounting->with_peer([call, req](Result<proto::PeerPtr> peer) {
      if (!peer.ok()) return call->fail(peer.error());
      proto::MapWriter w;
      req.write(w);
      (*peer)->call(proto::op::usage_report, w,
                    [call](Result<proto::Response> answer) { reply_relayed(call, std::move(answer)); });
    });
  });
}

} // namespace lpm::agent
