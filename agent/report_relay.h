// `lpm report` through the agent (issue 6; RP-3, AMB-20): a person's usage report from the
// accounting server. The agent asks usage-report over its own enrolled TLS identity (a
// workstation key, which the server accepts for this op only with a person's session) and puts in
// a fresh directory session of the caller's OS account (DirectoryProxy::session_for: `lpm login`
// first). The server decides from that session what the person may see (their own usage; a
// helpdesk any user's; administrators their enterprise) and the answer goes back as it came.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "directory_proxy.h"
#include "lpm/packaging/configuration.h"
#include "lpm/protocol/rpc.h"
#include "on_demand_link.h"

namespace lpm::agent {

// How long a report request waits for the accounting server's connection.
inline constexpr uint64_t kAccountingWaitMs = 10 * 1000;

class ReportRelay {
public:
  ReportRelay(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
              const packaging::ServiceConfig &accounting, std::shared_ptr<DirectoryProxy> directory);

  // The control socket's usage-report (UsageReportRequest without a session) for `account`.
  void usage_report(const proto::CallPtr &call, const std::string &account);
  // Fails what waits and closes the link.
  void stop();

private:
  std::shared_ptr<OnDemandLink> accounting_;
  std::shared_ptr<DirectoryProxy> directory_;
};

} // namespace lpm::agent
