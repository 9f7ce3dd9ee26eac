// Fuzz target: the agent's configuration.xml, as parse_agent_config meets it (a file written by
// an administrator, a package or a management tool). Any bytes must end in a configuration or a
// bad_request. A configuration it accepts must keep the documented caps, and must read back
// the same after agent_config_to_xml writes it out (what `save_agent_config` then a restart does).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/packaging/configuration.h"

using namespace lpm;
using namespace lpm::packaging;

namespace {

constexpr size_t kMaxNameBytes = 256;    // configuration.cpp's cap on names
constexpr size_t kMaxSocketPathBytes = 107;
constexpr size_t kMaxServiceEntries = 16;

void require(bool holds) {
  if (!holds) std::abort();
}

bool absolute(const std::string &path) { return !path.empty() && path.front() == '/'; }

bool loopback(const proto::Endpoint &ep) {
  return ep.host == "127.0.0.1" || ep.host == "::1" || ep.host == "localhost";
}

void check_service(const ServiceConfig &service) {
  // Either absent, or complete.
  require(service.addresses.empty() == service.fingerprints.empty());
  require(service.addresses.size() <= kMaxServiceEntries && service.fingerprints.size() <= kMaxServiceEntries);
  for (const auto &a : service.addresses) require(!a.host.empty() && a.port != 0);
  std::set<std::string> distinct(service.fingerprints.begin(), service.fingerprints.end());
  require(distinct.size() == service.fingerprints.size());
  for (const auto &f : service.fingerprints) require(proto::fingerprint_valid(f));
}

void check(const AgentConfig &cfg) {
  require(absolute(cfg.data_folder) && cfg.data_folder.size() <= 4096);
  require(absolute(cfg.control_socket) && cfg.control_socket.size() <= kMaxSocketPathBytes);
  require(loopback(cfg.capture_listen) && loopback(cfg.raw_listen));
  check_service(cfg.directory);
  check_service(cfg.accounting);
  require(cfg.reporting_interval_minutes <= kMaxReportingIntervalMinutes);
  require(cfg.print_and_keep_lifespan_hours <= kMaxLifespanHours);
  require(cfg.unprinted_jobs_lifespan_hours <= kMaxLifespanHours);
  require(cfg.delete_empty_user_folders_lifespan_days <= kMaxLifespanHours / 24);
  for (const std::string *name : {&cfg.site_name, &cfg.default_queue, &cfg.hybrid_print_queue_name})
    require(name->size() <= kMaxNameBytes);
  require(!cfg.capture.media_sizes.empty() && cfg.capture.media_sizes.size() <= 64);
  for (const auto &m : cfg.capture.media_sizes) require(!m.empty() && m.size() <= kMaxNameBytes);
  std::set<std::string> accounts;
  for (const auto &b : cfg.identity_binding) {
    require(!b.account.empty() && b.account.size() <= kMaxNameBytes);
    require(uuid_valid(b.user));
    require(accounts.insert(b.account).second);
    require(cfg.user_for_account(b.account) == b.user);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Unknown elements are warnings; thousands of lines a second would only slow the fuzzer.
  static const bool quiet = [] {
    log_set_level(LogLevel::error);
    return true;
  }();
  (void)quiet;
  // load_agent_config refuses larger files before parsing them.
  if (size > kMaxConfigBytes) return 0;

  std::string text(reinterpret_cast<const char *>(data), size);
  auto cfg = parse_agent_config(text, "configuration.xml");
  if (!cfg.ok()) {
    require(cfg.error().code == Errc::bad_request);
    require(cfg.error().message.rfind("configuration.xml: ", 0) == 0);
    return 0;
  }
  check(*cfg);

  // Written out and read back, it is the same configuration.
  std::string xml = agent_config_to_xml(*cfg);
  auto again = parse_agent_config(xml, "written");
  if (!again.ok()) std::abort();
  check(*again);
  require(agent_config_to_xml(*again) == xml);
  return 0;
}
