// `lpm-agent serve`: wires the stores, the control socket, the capture listeners (IPP printer
// and raw), the release service, the registrar and the outbox poster onto one libuv loop, and
// stops them all on SIGINT/SIGTERM.
#include <sys/statvfs.h>

#include <csignal>
#include <cstdio>

#include "agent_commands.h"
#include "agent_state.h"
#include "control_socket.h"
#include "directory_client.h"
#include "enrollment.h"
#include "ipp_printer.h"
#include "ipp_printer_attributes.h"
#include "job_events.h"
#include "lpm/discovery/dnssd.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/loop_timer.h"
#include "lpm/service_ready.h"
#include "outbox_poster.h"
#include "raw_capture.h"
#include "release_service.h"
#include "retention.h"

namespace lpm::agent {

namespace {

// Claims are swept, and retention asked whether a deadline is due (retention.h), this often.
constexpr uint64_t kClaimSweepMs = 5 * 1000;

struct Daemon {
  Daemon(const packaging::AgentConfig &cfg, AgentState opened, RecordContext context)
      : config(cfg), state(std::move(opened)), records(std::move(context)) {}

  const packaging::AgentConfig &config;
  // config.directory with the keys the directory announced added to its pins.
  packaging::ServiceConfig directory_service;
  AgentState state;
  RecordContext records;
  uv_loop_t loop{};
  uv_signal_t sigint{};
  uv_signal_t sigterm{};
  std::unique_ptr<ControlSocket> control;
  std::shared_ptr<JobEvents> events; // DisplayNotifications: jobs stored -> `lpm notify`
  std::unique_ptr<ReleaseService> release;
  std::unique_ptr<IppPrinter> ipp; // capture: <CaptureListen>
  std::unique_ptr<RawCapture> raw; // capture: <RawListen>
  std::shared_ptr<Registrar> registrar;
  std::shared_ptr<DirectoryProxy> directory; // lpm login and the person ops
  std::shared_ptr<ReportRelay> reports;      // lpm report
  std::shared_ptr<OutboxPoster> poster;
  std::unique_ptr<proto::LoopTimer> maintenance;
  std::unique_ptr<Retention> retention;
  std::unique_ptr<discovery::Advertiser> advertiser; // <LanDiscovery>: _lpm-release._tcp on the LAN
  int advertise_failures = 0;
  // When the directory last answered (issue 8: the window for printer-signed tickets), and when
  // that was last written to state.db (at most once a minute: register replies can be frequent).
  int64_t directory_heard_ms = 0;
  int64_t directory_heard_saved_ms = 0;
  bool stopping = false;

  void sweep() {
    int64_t now = wall_ms();
    // Jobs whose document is still streaming keep their claim (ReleaseService::streaming_jobs).
    auto expired =
        state.jobs->expire_claims(now, release ? release->streaming_jobs() : std::set<std::string>{});
    if (!expired.ok())
      LPM_ERROR("claim expiry failed: %s", expired.error().to_string().c_str());
    else if (*expired > 0)
      LPM_INFO("%zu claim(s) expired; their jobs are held again", *expired);
    if (retention) retention->tick();
  }

  // A command from the directory (an administrator's): delete one of a user's jobs, or all of
  // them. Deletions are recorded with reason "admin" when TrackDeletedJobs is on. A job a printer
  // holds right now stays; the command fails and comes again with the next register reply.
  Status run_command(const proto::AgentCommand &command) {
    std::vector<std::string> ids;
    if (command.kind == "delete-job") {
      ids.push_back(command.job);
    } else {
      JobFilter filter;
      filter.users = {command.user};
      filter.states = {JobState::held, JobState::claimed, JobState::printing, JobState::printed};
      for (;;) {
        auto page = state.jobs->list(filter);
        if (!page.ok()) return page.error();
        for (const auto &j : page->jobs)
          ids.push_back(j.id);
        if (page->next.empty()) break;
        filter.after = page->next;
      }
    }
    auto on_delete = [this](const Job &job) -> Status {
      if (!config.track_deleted_jobs) return {};
      return state.outbox->insert(job_record_for(job, records, "deleted", "admin", wall_ms()));
    };
    size_t deleted = 0;
    Status result;
    for (const auto &id : ids) {
      auto job = state.jobs->get(id);
      // Already gone (or never here, or another user's): nothing to do for this one.
      if (!job.ok() || job->user != command.user) continue;
      auto removed = state.jobs->remove(id, wall_ms(), on_delete);
      if (!removed.ok()) {
        result = removed.error();
        continue;
      }
      deleted++;
    }
    if (deleted > 0) {
      state.outbox->notify_queued();
      LPM_INFO("directory command %s (%s): %zu job(s) of user %s deleted", command.id.c_str(), command.kind.c_str(),
               deleted, command.user.c_str());
    }
    return result;
  }

  void stop() {
    if (stopping) return;
    stopping = true;
    LPM_INFO("stopping");
    state.jobs->on_held_changed = nullptr;
    state.jobs->on_job_stored = nullptr;
    if (events) events->close();
    state.outbox->on_queued = nullptr;
    if (control) control->stop();
    if (ipp) ipp->stop();
    if (raw) raw->stop();
    if (release) release->stop();
    if (registrar) registrar->stop();
    if (directory) directory->stop();
    if (reports) reports->stop();
    if (poster) poster->stop();
    if (maintenance) maintenance->close();
    if (advertiser) advertiser->stop();
    uv_close(reinterpret_cast<uv_handle_t *>(&sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&sigterm), nullptr);
  }
};

void on_signal(uv_signal_t *handle, int signum) {
  LPM_INFO("received %s", signum == SIGINT ? "SIGINT" : "SIGTERM");
  announce_stopping("stopping");
  static_cast<Daemon *>(handle->data)->stop();
}

Status check_services(const packaging::AgentConfig &config) {
  if (!config.directory.configured())
    return make_error(Errc::bad_request,
                      "configuration.xml: <Directory> with <Address> and <Fingerprint> is required");
  if (!config.accounting.configured())
    return make_error(Errc::bad_request,
                      "configuration.xml: <Accounting> with <Address> and <Fingerprint> is required");
  return {};
}

// Everything that needs the loop; on failure what was started is stopped again.
Status run(Daemon &d, std::shared_ptr<proto::Identity> identity, const Enrollment &enrollment) {
  auto ticket_key = proto::PublicKey::from_der(enrollment.ticket_key_der);
  if (!ticket_key.ok())
    return make_error(Errc::internal, "the stored ticket key does not parse: " + ticket_key.error().message);
  auto server_ctx = proto::TlsContext::create(proto::TlsContext::Side::server, identity);
  if (!server_ctx.ok()) return server_ctx.error();
  auto client_ctx = proto::TlsContext::create(proto::TlsContext::Side::client, identity);
  if (!client_ctx.ok()) return client_ctx.error();

  // Logins (`lpm login`) bind OS accounts too; the configured bindings come first.
  auto login_store = LoginStore::open(d.state.db);
  if (!login_store.ok()) return login_store.error();
  auto logins = std::make_shared<LoginBindings>();
  // The configured directory keys, plus those its last register reply announced (a rotation's
  // next key, which may be the one it answers with by now).
  const std::vector<proto::Fingerprint> configured_pins = d.config.directory.fingerprints;
  auto announced = announced_directory_keys_load(*d.state.db);
  if (!announced.ok()) return announced.error();
  d.directory_service = d.config.directory;
  d.directory_service.fingerprints = directory_pins(configured_pins, *announced);
  d.directory = DirectoryProxy::create(&d.loop, *client_ctx, d.directory_service, std::move(*login_store), logins);
  Status loaded = d.directory->load();
  if (!loaded.ok()) return loaded;

  ControlSocketOptions co;
  co.path = d.config.control_socket;
  co.bindings = d.config.identity_binding;
  co.logins = logins;
  co.directory = d.directory;
  d.reports = std::make_shared<ReportRelay>(&d.loop, *client_ctx, d.config.accounting, d.directory);
  co.reports = d.reports;
  co.on_delete = [&d](const Job &job) -> Status {
    if (!d.config.track_deleted_jobs) return {};
    return d.state.outbox->insert(job_record_for(job, d.records, "deleted", "user", wall_ms()));
  };
  co.after_delete = [&d]() { d.state.outbox->notify_queued(); };
  if (d.config.display_notifications) {
    // Capture never waits for a notifier: publish only queues (job_events.h).
    d.events = std::make_shared<JobEvents>(&d.loop);
    std::weak_ptr<JobEvents> events = d.events;
    d.state.jobs->on_job_stored = [events](const Job &job) {
      if (auto e = events.lock()) e->publish(job);
    };
    co.events = d.events;
  }
  // `lpm doctor` (issue 7): read when asked, from what the daemon's parts know.
  co.status = [&d, workstation = enrollment.workstation_id]() -> Result<proto::AgentStatusResult> {
    proto::AgentStatusResult s;
    s.workstation = workstation;
    s.now_ms = wall_ms();
    if (d.registrar) {
      Registrar::LinkStatus r = d.registrar->status();
      s.directory_up = r.up;
      s.directory_ok_ms = r.ok_ms;
      s.directory_error = r.error;
      s.directory_error_ms = r.error_ms;
      s.skew_known = r.skew_known;
      s.skew_ms = r.skew_ms;
    }
    s.accounting_configured = d.config.accounting.configured();
    s.reporting_interval_minutes = d.config.reporting_interval_minutes;
    if (d.poster) {
      s.accounting_ok_ms = d.poster->ok_ms();
      s.accounting_error = d.poster->error();
    }
    auto waiting = d.state.outbox->size();
    if (!waiting.ok()) return waiting.error();
    s.outbox_records = *waiting;
    auto oldest = d.state.outbox->oldest_ms();
    if (!oldest.ok()) return oldest.error();
    s.outbox_oldest_ms = *oldest;
    s.release_host = d.config.release_listen.host;
    s.release_port = d.release ? d.release->port() : 0;
    s.ipp_port = d.ipp ? d.ipp->port() : 0;
    s.queue_name = d.config.default_queue;
    s.data_folder = d.config.data_folder;
    struct statvfs fs {};
    if (::statvfs(d.config.data_folder.c_str(), &fs) == 0) {
      s.data_free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
      s.data_total_bytes = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
    }
    auto held = d.state.jobs->held_counts();
    if (!held.ok()) return held.error();
    for (const auto &h : *held)
      s.held_jobs += h.jobs;
    return s;
  };
  auto control = ControlSocket::start(&d.loop, d.state.jobs, co);
  if (!control.ok()) return make_error(control.error().code, "control socket: " + control.error().message);
  d.control = std::move(*control);

  ReleaseServiceOptions ro;
  ro.listen = d.config.release_listen;
  ro.workstation_id = enrollment.workstation_id;
  ro.ticket_keys.push_back(std::move(*ticket_key));
  ro.records = d.records;
  ro.late_binding = d.config.late_binding_enabled;
  ro.offline_window_ms = int64_t{d.config.offline_release_window_hours} * 3600 * 1000;
  ro.directory_heard_ms = [&d] { return d.directory_heard_ms; };
  auto heard = directory_heard_load(*d.state.db);
  if (!heard.ok()) return make_error(heard.error().code, "state.db: " + heard.error().message);
  d.directory_heard_ms = d.directory_heard_saved_ms = *heard;
  ro.on_delete = co.on_delete;
  ro.after_delete = co.after_delete;
  auto revoked = RevokedKeys::open(d.state.db);
  if (!revoked.ok()) return make_error(revoked.error().code, "revocation list: " + revoked.error().message);
  ro.revoked = *revoked;
  auto release =
      ReleaseService::start(&d.loop, *server_ctx, d.state.jobs, d.state.nonces, d.state.outbox, ro);
  if (!release.ok()) {
    return make_error(release.error().code, "release service on " + d.config.release_listen.to_string() +
                                                ": " + release.error().message);
  }
  d.release = std::move(*release);

  // Capture (issue 3): the IPP printer the OS spooler prints to, and the raw listener. Both
  // listen before "ready" is printed, so a started agent accepts jobs.
  IppPrinterOptions io;
  io.listen = d.config.capture_listen;
  io.printer_name = d.config.default_queue;
  io.printer_uuid = ipp_printer_uuid(enrollment.workstation_id);
  io.location = host_name();
  io.capabilities = d.config.capture;
  io.bindings = d.config.identity_binding;
  io.logins = logins;
  io.on_delete_in_transaction = co.on_delete; // Cancel-Job with purge-job deletes like `lpm jobs delete`
  io.after_delete = co.after_delete;
  auto ipp = IppPrinter::start(&d.loop, d.state.jobs, io);
  if (!ipp.ok()) return make_error(ipp.error().code, "IPP capture printer: " + ipp.error().message);
  d.ipp = std::move(*ipp);
  RawCaptureOptions rawo;
  rawo.listen = d.config.raw_listen;
  rawo.bindings = d.config.identity_binding;
  rawo.logins = logins;
  rawo.document_formats = d.config.capture.document_formats;
  auto raw = RawCapture::start(&d.loop, d.state.jobs, rawo);
  if (!raw.ok()) return make_error(raw.error().code, "raw capture listener: " + raw.error().message);
  d.raw = std::move(*raw);
  std::printf("ipp %u\nraw %u\n", static_cast<unsigned>(d.ipp->port()), static_cast<unsigned>(d.raw->port()));

  LPM_INFO("workstation %s: control socket %s, release service on port %u", enrollment.workstation_id.c_str(),
           d.config.control_socket.c_str(), static_cast<unsigned>(d.release->port()));
  announce_ready(d.release->port(),
                 "holding jobs; release service on port " + std::to_string(d.release->port()));

  // LAN discovery (issue 8): a hint for release stations that cannot reach the directory. The
  // record names the workstation only by its opaque id and its key (discovery/advert.h).
  if (d.config.lan_discovery) {
    discovery::Advertiser::Options ad;
    ad.advert =
        discovery::ReleaseAdvert{enrollment.workstation_id, identity->fingerprint(), discovery::kTxtVersion};
    ad.port = d.release->port();
    d.advertiser = discovery::Advertiser::start(&d.loop, ad, [&d](const Status &s) {
      if (s.ok()) {
        d.advertise_failures = 0;
        return;
      }
      // Said once; the publisher keeps trying (an mDNS daemon may start later).
      if (d.advertise_failures++ == 0)
        LPM_WARN("%s; retrying every 30 s (<LanDiscovery>false</LanDiscovery> turns this off)",
                 s.error().message.c_str());
    });
  }

  RegistrarOptions rego;
  rego.on_command = [&d](const proto::AgentCommand &command) { return d.run_command(command); };
  rego.directory = d.directory_service;
  rego.release_port = d.release->port();
  rego.addresses = reported_addresses(d.config.release_listen);
  rego.revoked = *revoked;
  rego.on_directory_keys = [&d, configured_pins](const std::vector<proto::Fingerprint> &keys) {
    std::vector<proto::Fingerprint> pins = directory_pins(configured_pins, keys);
    if (pins == d.directory_service.fingerprints) return;
    Status saved = announced_directory_keys_save(*d.state.db, keys);
    if (!saved.ok()) {
      LPM_ERROR("cannot keep the directory's announced keys: %s", saved.error().to_string().c_str());
      return;
    }
    d.directory_service.fingerprints = pins;
    if (d.registrar) d.registrar->set_pins(pins);
    if (d.directory) d.directory->set_pins(pins);
    LPM_INFO("directory keys now accepted: %zu (%zu configured, announced by the directory: %zu)", pins.size(),
             configured_pins.size(), keys.size());
  };
  rego.on_heard = [&d](int64_t at_ms) {
    d.directory_heard_ms = at_ms;
    if (at_ms - d.directory_heard_saved_ms < 60 * 1000) return;
    Status saved = directory_heard_save(*d.state.db, at_ms);
    if (!saved.ok()) LPM_WARN("cannot record when the directory answered: %s", saved.error().to_string().c_str());
    d.directory_heard_saved_ms = at_ms;
  };
  rego.on_retention = [&d](uint32_t released_hours, uint32_t unreleased_hours) {
    if (d.retention) d.retention->set_enterprise_limit(released_hours, unreleased_hours);
  };
  d.registrar = Registrar::create(&d.loop, *client_ctx, d.state.jobs, rego);
  std::weak_ptr<Registrar> registrar = d.registrar;
  d.state.jobs->on_held_changed = [registrar](HeldChange change) {
    if (auto r = registrar.lock()) r->holdings_changed(change);
  };
  d.registrar->start();

  OutboxPosterOptions po;
  po.accounting = d.config.accounting;
  po.interval_minutes = d.config.reporting_interval_minutes;
  d.poster = OutboxPoster::create(&d.loop, *client_ctx, d.state.outbox, po);
  std::weak_ptr<OutboxPoster> poster = d.poster;
  d.state.outbox->on_queued = [poster]() {
    if (auto p = poster.lock()) p->record_queued();
  };
  d.poster->start();

  RetentionPolicy policy;
  policy.unprinted_hours = d.config.unprinted_jobs_lifespan_hours;
  policy.printed_hours = d.config.print_and_keep_lifespan_hours;
  policy.delete_empty_folders = d.config.delete_empty_user_folders;
  policy.empty_folder_days = d.config.delete_empty_user_folders_lifespan_days;
  policy.track_deleted = d.config.track_deleted_jobs;
  d.retention = std::make_unique<Retention>(d.state.jobs, d.state.outbox, d.records, policy);

  d.maintenance = std::make_unique<proto::LoopTimer>(&d.loop);
  d.maintenance->start(kClaimSweepMs, kClaimSweepMs, [&d]() { d.sweep(); });
  d.sweep();
  return {};
}

} // namespace

Status agent_serve(const packaging::AgentConfig &config) {
  Status s = check_services(config);
  if (!s.ok()) return s;
  auto identity = agent_identity_load(config);
  if (!identity.ok()) return identity.error();
  auto state = agent_state_open(config);
  if (!state.ok()) return state.error();
  auto enrollment = enrollment_load(*state->db);
  if (!enrollment.ok()) return enrollment.error();
  if (!*enrollment)
    return make_error(
        Errc::forbidden,
        "this workstation is not enrolled: run `lpm-agent enroll --config FILE --token TOKEN` first");

  Daemon d(config, std::move(*state),
           RecordContext{config.effective_site_name(), (*enrollment)->workstation_id});
  uv_loop_init(&d.loop);
  uv_signal_init(&d.loop, &d.sigint);
  uv_signal_init(&d.loop, &d.sigterm);
  d.sigint.data = &d;
  d.sigterm.data = &d;
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);

  s = run(d, *identity, **enrollment);
  if (!s.ok()) d.stop();
  uv_run(&d.loop, UV_RUN_DEFAULT);
  // Everything is closed by now; drop the objects that own handles before closing the loop.
  d.control.reset();
  d.events.reset();
  d.release.reset();
  d.ipp.reset();
  d.raw.reset();
  d.registrar.reset();
  d.poster.reset();
  d.maintenance.reset();
  uv_run(&d.loop, UV_RUN_NOWAIT);
  if (uv_loop_close(&d.loop) != 0) LPM_WARN("some libuv handles were still open at exit");
  if (s.ok()) LPM_INFO("stopped");
  return s;
}

} // namespace lpm::agent
