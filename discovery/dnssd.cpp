#include "lpm/discovery/dnssd.h"

#include <arpa/inet.h>
#include <dns_sd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "lpm/log.h"

namespace lpm::discovery {

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string dnssd_error(DNSServiceErrorType e) {
  switch (e) {
  case kDNSServiceErr_NameConflict: return "the name is already taken on the LAN";
  case kDNSServiceErr_NoMemory: return "out of memory";
  case kDNSServiceErr_BadParam: return "bad parameter";
  case kDNSServiceErr_Unsupported: return "not supported by this DNS-SD implementation";
  default: return "DNS-SD error " + std::to_string(e) + " (is avahi-daemon running?)";
  }
}

// One DNS-SD operation's socket, watched on the loop. Closing is deferred to the loop's close
// callback, so a watch can be dropped from inside its own callback.
struct Watch {
  DNSServiceRef ref = nullptr;
  uv_poll_t poll{};
  bool closing = false;
};

Watch *watch(uv_loop_t *loop, DNSServiceRef ref) {
  auto *w = new Watch;
  w->ref = ref;
  w->poll.data = w;
  if (uv_poll_init(loop, &w->poll, DNSServiceRefSockFD(ref)) != 0) {
    DNSServiceRefDeallocate(ref);
    delete w;
    return nullptr;
  }
  uv_poll_start(&w->poll, UV_READABLE, [](uv_poll_t *handle, int status, int) {
    auto *self = static_cast<Watch *>(handle->data);
    if (self->closing || status < 0) return;
    DNSServiceErrorType e = DNSServiceProcessResult(self->ref);
    if (e != kDNSServiceErr_NoError) LPM_DEBUG("DNS-SD: %s", dnssd_error(e).c_str());
  });
  return w;
}

void unwatch(Watch *&w) {
  if (!w) return;
  Watch *self = w;
  w = nullptr;
  if (self->closing) return;
  self->closing = true;
  uv_poll_stop(&self->poll);
  uv_close(reinterpret_cast<uv_handle_t *>(&self->poll), [](uv_handle_t *handle) {
    auto *done = static_cast<Watch *>(handle->data);
    DNSServiceRefDeallocate(done->ref);
    delete done;
  });
}

void quiet_compat_warning() {
  // Avahi's compatibility layer prints a paragraph to stderr on first use unless told not to.
  ::setenv("AVAHI_COMPAT_NOWARN", "1", 0);
}

} // namespace

// ---- Advertiser ---------------------------------------------------------------------------------

struct Advertiser::Impl {
  uv_loop_t *loop = nullptr;
  Options options;
  std::function<void(const Status &)> on_state;
  Watch *registration = nullptr;
  uv_timer_t *retry = nullptr;
  bool stopped = false;

  void attempt() {
    if (stopped) return;
    std::vector<uint8_t> txt = encode_txt(options.advert);
    DNSServiceRef ref = nullptr;
    std::string name = instance_name(options.advert.workstation_id);
    DNSServiceErrorType e =
        DNSServiceRegister(&ref, 0, 0, name.c_str(), kServiceType, nullptr, nullptr, htons(options.port),
                           static_cast<uint16_t>(txt.size()), txt.data(), &Impl::on_registered, this);
    if (e != kDNSServiceErr_NoError) {
      failed(e);
      return;
    }
    registration = watch(loop, ref);
    if (!registration) failed(kDNSServiceErr_Unknown);
  }

  void failed(DNSServiceErrorType e) {
    unwatch(registration);
    if (on_state) on_state(make_error(Errc::unavailable, "cannot advertise on the LAN: " + dnssd_error(e)));
    if (stopped || options.retry_ms <= 0) return;
    uv_timer_start(
        retry, [](uv_timer_t *t) { static_cast<Impl *>(t->data)->attempt(); },
        static_cast<uint64_t>(options.retry_ms), 0);
  }

  static void on_registered(DNSServiceRef, DNSServiceFlags, DNSServiceErrorType e, const char *name,
                            const char *, const char *, void *context) {
    auto *self = static_cast<Impl *>(context);
    if (self->stopped) return;
    if (e != kDNSServiceErr_NoError) {
      self->failed(e);
      return;
    }
    LPM_INFO("advertised on the LAN as %s (%s)", name ? name : "?", kServiceType);
    if (self->on_state) self->on_state(Status{});
  }
};

std::unique_ptr<Advertiser> Advertiser::start(uv_loop_t *loop, Options options,
                                              std::function<void(const Status &)> on_state) {
  quiet_compat_warning();
  auto impl = std::make_shared<Impl>();
  impl->loop = loop;
  impl->options = std::move(options);
  impl->on_state = std::move(on_state);
  impl->retry = new uv_timer_t;
  uv_timer_init(loop, impl->retry);
  impl->retry->data = impl.get();
  impl->attempt();
  return std::unique_ptr<Advertiser>(new Advertiser(impl));
}

void Advertiser::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  unwatch(impl_->registration); // deallocating the registration withdraws the name
  uv_timer_stop(impl_->retry);
  uv_close(reinterpret_cast<uv_handle_t *>(impl_->retry),
           [](uv_handle_t *handle) { delete reinterpret_cast<uv_timer_t *>(handle); });
  impl_->retry = nullptr;
}

Advertiser::~Advertiser() {
  stop();
}

// ---- Browser ------------------------------------------------------------------------------------

struct Browser::Impl {
  // One advertised instance, from its browse event to its addresses.
  struct Entry {
    Impl *owner = nullptr;
    std::string regtype, domain;
    uint32_t interface_index = 0;
    Watch *resolve = nullptr;
    Watch *query = nullptr;
    LanAgent agent;
    bool announced = false;
    bool refused = false;
  };

  uv_loop_t *loop = nullptr;
  OnChange on_change;
  Watch *browse = nullptr;
  std::map<std::string, std::unique_ptr<Entry>> entries; // by instance name
  bool stopped = false;

  void emit(Event event, const LanAgent &agent) {
    if (on_change) on_change(event, agent);
  }

  static void on_browse(DNSServiceRef, DNSServiceFlags flags, uint32_t interface_index, DNSServiceErrorType e,
                        const char *name, const char *regtype, const char *domain, void *context) {
    auto *self = static_cast<Impl *>(context);
    if (self->stopped) return;
    if (e != kDNSServiceErr_NoError) {
      LPM_WARN("DNS-SD browse: %s", dnssd_error(e).c_str());
      return;
    }
    std::string instance = name ? name : "";
    if (!(flags & kDNSServiceFlagsAdd)) {
      auto it = self->entries.find(instance);
      if (it == self->entries.end()) return;
      Entry &entry = *it->second;
      unwatch(entry.resolve);
      unwatch(entry.query);
      bool was_announced = entry.announced;
      LanAgent gone = entry.agent;
      self->entries.erase(it);
      if (was_announced) self->emit(Event::lost, gone);
      return;
    }
    if (self->entries.count(instance)) return;
    auto entry = std::make_unique<Entry>();
    entry->owner = self;
    entry->regtype = regtype ? regtype : kServiceType;
    entry->domain = domain ? domain : "local.";
    entry->interface_index = interface_index;
    entry->agent.instance = instance;
    entry->agent.interface_index = interface_index;
    DNSServiceRef ref = nullptr;
    DNSServiceErrorType r =
        DNSServiceResolve(&ref, 0, interface_index, instance.c_str(), entry->regtype.c_str(),
                          entry->domain.c_str(), &Impl::on_resolved, entry.get());
    if (r != kDNSServiceErr_NoError) {
      LPM_WARN("DNS-SD: cannot resolve %s: %s", instance.c_str(), dnssd_error(r).c_str());
      return;
    }
    entry->resolve = watch(self->loop, ref);
    self->entries[instance] = std::move(entry);
  }

  static void on_resolved(DNSServiceRef, DNSServiceFlags, uint32_t, DNSServiceErrorType e, const char *,
                          const char *host, uint16_t port, uint16_t txt_length, const unsigned char *txt,
                          void *context) {
    auto *entry = static_cast<Entry *>(context);
    Impl *self = entry->owner;
    if (self->stopped) return;
    unwatch(entry->resolve); // one answer is enough; the address query follows changes
    if (e != kDNSServiceErr_NoError) {
      LPM_WARN("DNS-SD: resolving %s: %s", entry->agent.instance.c_str(), dnssd_error(e).c_str());
      return;
    }
    auto advert = decode_txt(txt, txt_length);
    if (!advert.ok()) {
      entry->refused = true;
      LanAgent refused = entry->agent;
      refused.host = advert.error().message;
      self->emit(Event::refused, refused);
      return;
    }
    bool changed = entry->announced && (entry->agent.port != ntohs(port) ||
                                        !(entry->agent.advert.fingerprint == advert->fingerprint));
    entry->agent.advert = *advert;
    entry->agent.host = host ? host : "";
    entry->agent.port = ntohs(port);
    entry->agent.seen_ms = wall_ms();
    if (changed) self->emit(Event::updated, entry->agent);
    unwatch(entry->query);
    DNSServiceRef ref = nullptr;
    DNSServiceErrorType r =
        DNSServiceQueryRecord(&ref, 0, entry->interface_index, entry->agent.host.c_str(), kDNSServiceType_A,
                              kDNSServiceClass_IN, &Impl::on_address, entry);
    if (r != kDNSServiceErr_NoError) {
      LPM_WARN("DNS-SD: cannot look up %s: %s", entry->agent.host.c_str(), dnssd_error(r).c_str());
      return;
    }
    entry->query = watch(self->loop, ref);
  }

  static void on_address(DNSServiceRef, DNSServiceFlags flags, uint32_t, DNSServiceErrorType e, const char *,
                         uint16_t rrtype, uint16_t, uint16_t rdlen, const void *rdata, uint32_t,
                         void *context) {
    auto *entry = static_cast<Entry *>(context);
    Impl *self = entry->owner;
    if (self->stopped || e != kDNSServiceErr_NoError || rrtype != kDNSServiceType_A || rdlen != 4) return;
    char text[INET_ADDRSTRLEN] = {};
    if (!::inet_ntop(AF_INET, rdata, text, sizeof text)) return;
    auto &addresses = entry->agent.addresses;
    auto it = std::find(addresses.begin(), addresses.end(), std::string(text));
    if (flags & kDNSServiceFlagsAdd) {
      if (it != addresses.end()) return;
      addresses.emplace_back(text);
    } else {
      if (it == addresses.end()) return;
      addresses.erase(it);
    }
    entry->agent.seen_ms = wall_ms();
    if (!entry->announced) {
      if (addresses.empty()) return;
      entry->announced = true;
      self->emit(Event::found, entry->agent);
    } else {
      self->emit(Event::updated, entry->agent);
    }
  }
};

Result<std::unique_ptr<Browser>> Browser::start(uv_loop_t *loop, OnChange on_change) {
  quiet_compat_warning();
  auto impl = std::make_shared<Impl>();
  impl->loop = loop;
  impl->on_change = std::move(on_change);
  DNSServiceRef ref = nullptr;
  DNSServiceErrorType e = DNSServiceBrowse(&ref, 0, 0, kServiceType, nullptr, &Impl::on_browse, impl.get());
  if (e != kDNSServiceErr_NoError)
    return make_error(Errc::unavailable, "cannot browse the LAN for agents: " + dnssd_error(e));
  impl->browse = watch(loop, ref);
  if (!impl->browse) return make_error(Errc::unavailable, "cannot watch the DNS-SD socket");
  return std::unique_ptr<Browser>(new Browser(impl));
}

std::vector<LanAgent> Browser::agents() const {
  std::vector<LanAgent> out;
  for (const auto &[instance, entry] : impl_->entries)
    if (entry->announced) out.push_back(entry->agent);
  return out;
}

void Browser::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  unwatch(impl_->browse);
  for (auto &[instance, entry] : impl_->entries) {
    unwatch(entry->resolve);
    unwatch(entry->query);
  }
  impl_->entries.clear();
}

Browser::~Browser() {
  stop();
}

} // namespace lpm::discovery
