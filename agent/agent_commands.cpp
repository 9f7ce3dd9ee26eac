// init, enroll and fingerprint: short-lived commands on the data folder.
#include <unistd.h>

#include <cstdio>

#include "agent_commands.h"
#include "agent_state.h"
#include "enrollment.h"
#include "lpm/log.h"
#include "lpm/protocol/enroll.h"

namespace lpm::agent {

Status agent_init(const packaging::AgentConfig &config) {
  auto state = agent_state_open(config);
  if (!state.ok()) return state.error();
  auto identity =
      proto::Identity::load_or_create(config.data_folder, kIdentityName, "lpm-agent " + host_name());
  if (!identity.ok()) return identity.error();
  std::printf("fingerprint %s\n", (*identity)->fingerprint().c_str());
  std::fflush(stdout);
  return {};
}

Status agent_check_config(const packaging::AgentConfig &config) {
  bool initialised = proto::Identity::load(config.data_folder, kIdentityName).ok();
  bool enrolled = false;
  // state.db is opened only when it is there: checking must not create a data folder.
  if (initialised && ::access((config.data_folder + "/state.db").c_str(), F_OK) == 0) {
    auto state = agent_state_open(config);
    if (!state.ok()) return state.error();
    auto enrollment = enrollment_load(*state->db);
    if (!enrollment.ok()) return enrollment.error();
    enrolled = enrollment->has_value();
  }
  // The capture address as a URI host: an IPv6 literal goes in brackets.
  std::string capture_host = config.capture_listen.host.find(':') == std::string::npos
                                 ? config.capture_listen.host
                                 : "[" + config.capture_listen.host + "]";
  std::printf(
      "queue=%s\ndefault_printer=%s\ncapture_host=%s\ncapture_port=%u\nrelease_port=%u\ndata_folder=%s\n"
      "control_socket=%s\ninitialised=%s\nenrolled=%s\n",
      config.default_queue.c_str(), config.default_printer.c_str(), capture_host.c_str(),
      static_cast<unsigned>(config.capture_listen.port), static_cast<unsigned>(config.release_listen.port),
      config.data_folder.c_str(), config.control_socket.c_str(), initialised ? "yes" : "no",
      enrolled ? "yes" : "no");
  std::fflush(stdout);
  return {};
}

Status agent_fingerprint(const packaging::AgentConfig &config) {
  auto identity = agent_identity_load(config);
  if (!identity.ok()) return identity.error();
  std::printf("%s\n", (*identity)->fingerprint().c_str());
  std::fflush(stdout);
  return {};
}

Status agent_enroll(const packaging::AgentConfig &config, const std::string &token, const std::string &name) {
  auto identity = agent_identity_load(config);
  if (!identity.ok()) return identity.error();
  auto state = agent_state_open(config);
  if (!state.ok()) return state.error();
  if (!config.directory.configured())
    return make_error(Errc::bad_request,
                      "configuration.xml has no <Directory> with an <Address> and a <Fingerprint>");
  auto enrolled = proto::enroll_with_directory(*identity, config.directory.addresses,
                                               config.directory.fingerprints, proto::EnrollKind::workstation,
                                               name.empty() ? host_name() : name, token, proto::role::agent);
  if (!enrolled.ok()) return enrolled.error();
  // Release tickets are verified with this key: one that does not parse would refuse every release.
  auto ticket_key = proto::PublicKey::from_der(enrolled->ticket_key);
  if (!ticket_key.ok())
    return make_error(Errc::bad_request,
                      "the directory's ticket key does not parse: " + ticket_key.error().message);
  Enrollment enrollment{enrolled->id, enrolled->ticket_key};
  Status s = enrollment_save(*state->db, enrollment);
  if (!s.ok()) return s;
  LPM_INFO("enrolled as workstation %s", enrollment.workstation_id.c_str());
  std::printf("workstation %s\n", enrollment.workstation_id.c_str());
  std::fflush(stdout);
  return {};
}

} // namespace lpm::agent
