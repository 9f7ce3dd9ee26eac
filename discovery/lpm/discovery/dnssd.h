// DNS-SD on the event loop (issue 8): agents publish `_lpm-release._tcp` with their TXT record
// (advert.h); release stations browse, resolve and keep a live table of the agents on the LAN.
// Built on the Bonjour API (`dns_sd.h`), which Avahi's compatibility library provides on Linux
// (the same code builds against Apple's Bonjour SDK). Each DNS-SD operation's socket is watched
// with a uv_poll handle; callbacks run on the loop thread.
//
// Discovery is a hint (docs/security.md): an advertisement only says where a workstation might
// be. Trust still comes from the TLS key the directory vouched for, checked on connection.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lpm/discovery/advert.h"
#include "lpm/error.h"

namespace lpm::discovery {

// Publishes one agent's release service. Never fatal for the agent: without a running mDNS
// daemon (no Avahi, no system bus) `on_state` reports the error and the publisher tries again
// every `retry_ms` until stopped.
class Advertiser {
public:
  struct Options {
    ReleaseAdvert advert;
    uint16_t port = 0;        // the release service's port
    int64_t retry_ms = 30000; // after a failure (daemon not running, name conflict)
  };
  // `on_state`: ok once the name is registered on the LAN; the error otherwise (each attempt).
  static std::unique_ptr<Advertiser> start(uv_loop_t *loop, Options options,
                                           std::function<void(const Status &)> on_state);
  ~Advertiser();
  // Withdraws the advertisement and closes every handle (the loop can then end).
  void stop();

  struct Impl;

private:
  explicit Advertiser(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// An agent found on the LAN.
struct LanAgent {
  std::string instance;               // DNS-SD instance name
  ReleaseAdvert advert;               // from its TXT record (checked by decode_txt)
  std::string host;                   // its mDNS host name (e.g. "ws-12.local.")
  uint16_t port = 0;                  // its release port
  std::vector<std::string> addresses; // IPv4 literals of `host`, as resolved
  uint32_t interface_index = 0;
  int64_t seen_ms = 0; // wall clock of the last change
};

class Browser {
public:
  enum class Event { found, updated, lost, refused };
  // `on_change` hears each change of the table: an agent found (resolved, with an address),
  // updated (new address or port), lost (withdrawn), and, with `refused`, an advertisement of our
  // service type whose TXT record is not ours (its `instance` and the reason in `host`).
  using OnChange = std::function<void(Event, const LanAgent &)>;
  // unavailable when the mDNS daemon cannot be reached.
  static Result<std::unique_ptr<Browser>> start(uv_loop_t *loop, OnChange on_change);
  ~Browser();
  // The agents resolved so far (with at least one address). Several may claim one workstation
  // id: anyone on the LAN can advertise anything, so callers match id and key together.
  std::vector<LanAgent> agents() const;
  void stop();

  struct Impl;

private:
  explicit Browser(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

} // namespace lpm::discovery
