// Fuzz target: one frame body (a msgpack map) as unpack_map and the typed readers meet it.
// The allocation-free validation walk and msgpack-cxx must agree: a body the walk accepts must
// unpack (unpack_map's exception path is meant to be unreachable).
#include <cstdint>
#include <cstdlib>

#include "lpm/protocol/ops.h"
#include "lpm/protocol/ops_offline.h"
#include "lpm/protocol/ops_print.h"
#include "lpm/protocol/ops_release.h"

using namespace lpm;
using namespace lpm::proto;

namespace {

template <class T> void read_as(const msgpack::object &root) {
  MapReader r(root, "result");
  T value;
  value.read(r);
  (void)r.ok();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::span<const uint8_t> input(data, size);
  UnpackLimits limits;
  Status valid = validate_msgpack(input, limits);
  auto handle = unpack_map(input, limits);
  if (valid.ok() != handle.ok()) std::abort();
  if (!handle.ok()) return 0;
  const msgpack::object &root = handle->get();
  if (root.type != msgpack::type::MAP) std::abort();
  read_as<BadgeInResult>(root);
  read_as<ListJobsResult>(root);
  read_as<PostRecordsRequest>(root);
  read_as<RegisterRequest>(root);
  read_as<UpdateJobStatusRequest>(root);
  read_as<UsageReportRequest>(root);
  read_as<UsageReportResult>(root);
  read_as<ListEnrolledResult>(root); // what the accounting server reads from the directory
  read_as<ListPeopleResult>(root);
  read_as<SettleQuotaRequest>(root); // what the directory reads from a release station (AMB-17)
  read_as<PrintPolicySetRequest>(root);
  read_as<ReportTotalsRequest>(root); // the accounting server's console op, paged
  read_as<ReportTotalsResult>(root);
  read_as<AgentStatusResult>(root); // what `lpm doctor` reads from the agent
  // Release without the directory (issue 8): what an agent reads from a station, what a station
  // reads from the directory, what the directory reads from a station.
  read_as<OpenReleaseRequest>(root);
  read_as<PrinterCertificateResult>(root);
  read_as<OfflineBadgesResult>(root);
  read_as<OfflineWorkstationsResult>(root);
  read_as<OfflineBadgesRequest>(root);
  read_as<PrinterCertificateRequest>(root);
  read_as<BadgesPolicySetRequest>(root);
  return 0;
}
