// The agent as a client of the directory: the registrar, which keeps the directory told which
// users have held jobs here (DESIGN §4, "Register"): on connect, whenever a user's held count
// changes, and every 60 s (heartbeat; the directory's lease is 120 s). A user whose count fell to
// 0 is sent once with 0 (withdrawal). While the directory is down the link retries with backoff.
// Enrollment (`lpm-agent enroll`) is proto::enroll_with_directory.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "enrollment.h"
#include "job_store.h"
#include "lpm/protocol/loop_timer.h"
#include "lpm/packaging/configuration.h"
#include "lpm/protocol/rpc.h"
#include "revoked_keys.h"
#include "service_link.h"

namespace lpm::agent {

inline constexpr uint64_t kHeartbeatMs = 60 * 1000;

// The addresses the agent reports: the IP of ReleaseListen unless it is a wildcard.
std::vector<std::string> reported_addresses(const proto::Endpoint &release_listen);

struct RegistrarOptions {
  packaging::ServiceConfig directory;
  uint16_t release_port = 0;
  std::vector<std::string> addresses;
  // Carries out a command the directory sent with a register reply (delete a job, purge a
  // user's jobs). ok: done, named in the next register; an error: tried again when the directory
  // sends it again (a job being printed, a full disk). Empty: commands are left pending.
  std::function<Status(const proto::AgentCommand &)> on_command;
  // Where the revocation list from register replies goes (and what to ask from); null: ignored.
  std::shared_ptr<RevokedKeys> revoked;
  // The enterprise's retention policy from each register reply (released, unreleased hours;
  // 0: no limit); empty: ignored.
  std::function<void(uint32_t, uint32_t)> on_retention;
  // The directory keys each register reply announces (DESIGN §3: rotation); empty: ignored.
  std::function<void(const std::vector<proto::Fingerprint> &)> on_directory_keys;
  // Each register reply, with the wall clock when it arrived (issue 8: the window for
  // printer-signed tickets runs from the last one); empty: ignored.
  std::function<void(int64_t)> on_heard;
};

class Registrar : public std::enable_shared_from_this<Registrar> {
public:
  static std::shared_ptr<Registrar> create(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx,
                                           std::shared_ptr<JobStore> store, RegistrarOptions options);
  // Connects and keeps the link up until stop().
  void start();
  // Held counts may have changed: register again. More held jobs: at once when nothing was sent
  // in the last kDebounceMs (the user's first job is known to the directory right away), else
  // at the end of that window, so a burst of stored jobs (a spooler flushing its queue) costs
  // one registration, not one each (after the exchange in flight, if any; on connect when
  // down). Fewer only (claimed, deleted): within kFewerDelayMs, with whatever else changed by
  // then; a directory that still counts a claimed job for a moment only costs a badge-in a
  // needless contact, while a registration sent at once would take CPU from the release that
  // claimed it (issue 5, the 10-workstation release).
  void holdings_changed(HeldChange change);
  static constexpr uint64_t kDebounceMs = 50;
  static constexpr uint64_t kFewerDelayMs = 250;
  void stop();
  // What `lpm doctor` reads (agent-status): the link, the last answer and failure, the clock.
  struct LinkStatus {
    bool up = false;
    int64_t ok_ms = 0; // wall clock of the last register answered
    std::string error;
    int64_t error_ms = 0;
    bool skew_known = false;
    int64_t skew_ms = 0; // the directory's clock minus ours, at that answer
  };
  LinkStatus status() const;
  // The directory keys accepted from the next connection on.
  void set_pins(std::vector<proto::Fingerprint> pins) { link_->set_pins(std::move(pins)); }

  Registrar(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> client_ctx, std::shared_ptr<JobStore> store,
            RegistrarOptions options);

private:
  void send_register();
  void send_register_in(uint64_t delay_ms);
  void on_reply(Result<proto::Response> reply, std::map<std::string, uint64_t> sent, bool for_change);

  std::shared_ptr<JobStore> store_;
  RegistrarOptions options_;
  std::shared_ptr<ServiceLink> link_;
  std::map<std::string, std::string> refused_; // user -> why the directory did not take their holdings
  proto::LoopTimer heartbeat_;
  proto::LoopTimer debounce_;
  int64_t last_sent_ms_ = -1; // monotonic
  int64_t sent_wall_ms_ = 0;  // wall clock when the register in flight left
  LinkStatus status_;
  int64_t debounce_due_ms_ = 0; // monotonic, while debounce_ runs
  bool in_flight_ = false;
  bool dirty_ = false;
  bool change_pending_ = false; // holdings_changed since the last register was sent
  bool stopped_ = false;
  std::map<std::string, uint64_t> registered_; // what the directory was last told (counts > 0)
  std::vector<std::string> done_commands_;     // carried out, not yet acknowledged to the directory
};

} // namespace lpm::agent
