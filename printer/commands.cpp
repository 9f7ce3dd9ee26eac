#include "commands.h"

#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>

#include "badge_device.h"
#include "badge_reader.h"
#include "device.h"
#include "late_reports.h"
#include "lpm/discovery/dnssd.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/enroll.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/presign_reserve.h"
#include "lpm/protocol/rpc.h"
#include "lpm/service_ready.h"
#include "release_station.h"
#include "station_journal.h"
#include "station_store.h"

namespace lpm::printer {
namespace {

// Outcome presignatures kept by a running station (each ~0.4 ms of one idle core to make): the
// target starts here and grows by two for each outcome signed, up to the maximum.
constexpr size_t kPresignaturesAtStart = 16;
constexpr size_t kPresignaturesMax = 64;

int fail(const Error &error) {
  std::fprintf(stderr, "lpm-release: %s\n", error.to_string().c_str());
  return 1;
}

Result<std::shared_ptr<proto::Identity>> load_identity(const std::string &data) {
  auto identity = proto::Identity::load(data, "identity");
  if (!identity.ok() && identity.error().code == Errc::not_found)
    return make_error(Errc::not_found,
                      "no identity in " + data + ": run `lpm-release init --data " + data + "` first");
  return identity;
}

struct Directory {
  proto::Endpoint endpoint;
  std::vector<proto::Fingerprint> fingerprints;
};

// FINGERPRINTS is one key or several, comma-separated: during a rotation of the directory's
// identity (DESIGN §3) the station accepts the old key and the new one.
Result<Directory> parse_directory(const std::string &address, const std::string &fingerprints) {
  auto endpoint = proto::parse_endpoint(address);
  if (!endpoint.ok()) return endpoint.error();
  Directory out{*endpoint, {}};
  size_t at = 0;
  for (;;) {
    size_t comma = fingerprints.find(',', at);
    std::string one = fingerprints.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (!proto::fingerprint_valid(one))
      return make_error(Errc::bad_request, "the directory fingerprint \"" + one +
                                               "\" is not 64 lower-case hex digits (several: comma-separated)");
    if (out.fingerprints.size() == proto::kMaxDirectoryKeys)
      return make_error(Errc::bad_request, "at most 8 directory fingerprints");
    out.fingerprints.push_back(std::move(one));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

std::string fingerprint_list(const std::vector<proto::Fingerprint> &fingerprints) {
  std::string out;
  for (const auto &f : fingerprints)
    out += (out.empty() ? "" : ",") + f;
  return out;
}

} // namespace

int command_init(const InitArgs &args) {
  Status made = make_dirs(args.data, 0700);
  if (!made.ok()) return fail(made.error());
  auto identity = proto::Identity::load_or_create(args.data, "identity", "lpm-release");
  if (!identity.ok()) return fail(identity.error());
  auto store = StationStore::open(args.data);
  if (!store.ok()) return fail(store.error());
  std::printf("fingerprint %s\n", (*identity)->fingerprint().c_str());
  return 0;
}

int command_enroll(const EnrollArgs &args) {
  auto directory = parse_directory(args.directory, args.directory_fingerprint);
  if (!directory.ok()) return fail(directory.error());
  auto identity = load_identity(args.data);
  if (!identity.ok()) return fail(identity.error());
  auto store = StationStore::open(args.data);
  if (!store.ok()) return fail(store.error());
  auto enrolled =
      proto::enroll_with_directory(*identity, {directory->endpoint}, directory->fingerprints,
                                   proto::EnrollKind::printer, args.name, args.token, proto::role::printer);
  if (!enrolled.ok()) return fail(enrolled.error());

  Enrollment e;
  e.printer_id = enrolled->id;
  e.name = args.name;
  e.directory = args.directory;
  e.directory_fingerprint = fingerprint_list(directory->fingerprints);
  e.enrolled_ms = wall_ms();
  Status saved = (*store)->save_enrollment(e);
  if (!saved.ok()) return fail(saved.error());
  std::printf("enrolled %s\n", e.printer_id.c_str());
  return 0;
}

int command_run(const RunArgs &args) {
  auto directory = parse_directory(args.directory, args.directory_fingerprint);
  if (!directory.ok()) return fail(directory.error());
  auto identity = load_identity(args.data);
  if (!identity.ok()) return fail(identity.error());
  auto tls = proto::TlsContext::create(proto::TlsContext::Side::client, *identity);
  if (!tls.ok()) return fail(tls.error());

  StationOptions options;
  options.directory = directory->endpoint;
  options.directory_pins = directory->fingerprints;
  options.release.connect_timeout_ms = args.timeout_ms;
  options.release.printer_name = args.name;
  options.no_resume = args.no_resume;
  options.prompts = !args.no_prompts;
  options.prompt_timeout_ms = args.prompt_timeout_ms;
  options.interactive = args.interactive;
  options.release.identity = *identity;
  // Outcome signatures ready ahead (workstation_release.h): enough for a burst of badges, made
  // at once on a thread that only takes idle CPU, then topped up as they are spent.
  proto::PresignReserve::Options presign;
  presign.threads = 1;
  presign.initial = kPresignaturesAtStart;
  presign.max = kPresignaturesMax;
  auto presignatures = proto::PresignReserve::start((*identity)->key(), presign);
  if (!presignatures.ok()) return fail(presignatures.error());
  options.release.presignatures = std::move(*presignatures);
  auto opened_store = StationStore::open(args.data);
  if (!opened_store.ok()) return fail(opened_store.error());
  std::shared_ptr<StationStore> store = std::move(*opened_store);
  if (options.release.printer_name.empty()) {
    auto enrollment = store->enrollment();
    if (!enrollment.ok()) return fail(enrollment.error());
    options.release.printer_name =
        *enrollment && !(*enrollment)->name.empty() ? (*enrollment)->name : "release-station";
  }
  options.release.journal = StationJournal::open(store);

  uv_loop_t loop;
  uv_loop_init(&loop);
  int exit_code = 0;
  {
    DeviceOptions device_options;
    device_options.complete_timeout_ms = args.device_timeout_ms;
    auto device = open_device(&loop, args.device, device_options);
    if (!device.ok()) {
      uv_loop_close(&loop);
      return fail(device.error());
    }
    std::unique_ptr<BadgeDevice> badge_device;
    if (!args.badge_device.empty()) {
      auto opened = BadgeDevice::open(&loop, args.badge_device);
      if (!opened.ok()) {
        (*device)->close([] {});
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return fail(opened.error());
      }
      badge_device = std::move(*opened);
    }
    // LAN discovery (issue 8): the agents DNS-SD finds, as extra addresses for a workstation
    // whose advertised key is the one the directory gives (never another key: spoofs are ignored).
    std::unique_ptr<discovery::Browser> lan;
    if (args.lan_discovery) {
      auto browser =
          discovery::Browser::start(&loop, [](discovery::Browser::Event e, const discovery::LanAgent &a) {
            using Event = discovery::Browser::Event;
            if (e == Event::refused) {
              LPM_WARN("LAN: ignored an advertisement that is not an agent's (%s: %s)", a.instance.c_str(),
                       a.host.c_str());
              return;
            }
            std::string addresses;
            for (const auto &x : a.addresses)
              addresses += (addresses.empty() ? "" : ",") + x;
            if (e == Event::lost)
              LPM_INFO("LAN: workstation %s is gone", a.advert.workstation_id.c_str());
            else
              LPM_INFO("LAN: workstation %s at %s port %u", a.advert.workstation_id.c_str(),
                       addresses.c_str(), static_cast<unsigned>(a.port));
          });
      if (!browser.ok())
        LPM_WARN("%s: releasing with the directory's addresses only", browser.error().message.c_str());
      else
        lan = std::move(*browser);
    }
    if (lan) {
      options.lan_agents = [browser = lan.get()] {
        std::vector<std::pair<std::string, proto::Fingerprint>> out;
        for (const auto &agent : browser->agents())
          out.emplace_back(agent.advert.workstation_id, agent.advert.fingerprint);
        return out;
      };
      options.lan_addresses = [browser = lan.get()](const proto::WorkstationRef &w) {
        std::vector<std::string> out;
        for (const auto &agent : browser->agents()) {
          if (agent.advert.workstation_id != w.id) continue;
          if (agent.advert.fingerprint != w.fingerprint) {
            LPM_WARN("LAN: %s advertises workstation %s with another key than the directory's: ignored",
                     agent.instance.c_str(), w.id.c_str());
            continue;
          }
          if (agent.port != w.port) continue; // one port per workstation in a release
          out.insert(out.end(), agent.addresses.begin(), agent.addresses.end());
        }
        return out;
      };
    }
    auto station = ReleaseStation::create(&loop, *tls, **device, options, stdout_lines());
    std::shared_ptr<OfflineSync> offline;
    if (args.offline) {
      auto opened = OfflineSync::open(&loop, station->directory_link(), args.data, *identity);
      if (!opened.ok()) {
        station->close([&] { (*device)->close([] {}); });
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return fail(opened.error());
      }
      offline = std::move(*opened);
      station->set_offline(offline);
    }
    LineReader reader(&loop, STDIN_FILENO);
    // SIGTERM (systemd stopping the unit) or SIGINT: no badge after the current one, then the
    // directory connection and the device are closed as at the end of input.
    struct Stopping {
      uv_signal_t sigterm{};
      uv_signal_t sigint{};
      bool asked = false;   // a signal came
      bool running = false; // run_badges has started
      std::function<void()> on_signal;
    } stopping;
    bool finished = false;
    auto finish = [&] {
      if (finished) return;
      finished = true;
      if (offline) offline->stop();
      if (lan) lan->stop();
      badge_device.reset(); // its poll handle would keep the loop running
      uv_close(reinterpret_cast<uv_handle_t *>(&stopping.sigterm), nullptr);
      uv_close(reinterpret_cast<uv_handle_t *>(&stopping.sigint), nullptr);
      station->close([&] {
        (*device)->close([&] {
          // A read of standard input may still be waiting in libuv's thread pool (it cannot be
          // cancelled): after a signal the loop is left with it.
          if (stopping.asked) uv_stop(&loop);
        });
      });
    };
    stopping.on_signal = [&] {
      if (stopping.asked) return;
      stopping.asked = true;
      announce_stopping("stopping");
      if (stopping.running)
        station->stop_run();
      else
        finish(); // still starting: run_badges will not begin
    };
    auto on_signal = [](uv_signal_t *handle, int signum) {
      LPM_INFO("received %s: stopping after the current badge", signum == SIGINT ? "SIGINT" : "SIGTERM");
      static_cast<Stopping *>(handle->data)->on_signal();
    };
    for (auto [handle, signum] :
         {std::pair{&stopping.sigterm, SIGTERM}, std::pair{&stopping.sigint, SIGINT}}) {
      uv_signal_init(&loop, handle);
      handle->data = &stopping;
      uv_signal_start(handle, on_signal, signum);
    }
    station->connect([&](const Status &connected) {
      if (!connected.ok()) {
        Status usable = offline ? offline->usable(wall_ms()) : Status(connected.error());
        if (!usable.ok()) {
          exit_code = fail(connected.error());
          if (offline) std::fprintf(stderr, "lpm-release: no release without it: %s\n", usable.error().message.c_str());
          finish();
          return;
        }
        // Issue 8: badges are resolved in the offline table until the directory answers again.
        LPM_WARN("the directory at %s is unreachable (%s): releasing with the offline table synced at %s",
                 directory->endpoint.to_string().c_str(), connected.error().message.c_str(),
                 utc_minute_text(offline->table()->synced_ms).c_str());
      } else {
        LPM_INFO("connected to the directory at %s", directory->endpoint.to_string().c_str());
      }
      if (offline) offline->start();
      LPM_INFO("reading badges from %s", badge_device ? args.badge_device.c_str() : "standard input");
      // No "ready" line: standard output carries the station's own lines (tests read them).
      announce_ready(std::nullopt, std::string("reading badges from ") +
                                       (badge_device ? args.badge_device : std::string("standard input")));
      // Outcomes a previous run sent to the device but could not report go first, and so do
      // the quota charges it could not settle.
      station->settle_pending([](size_t) {});
      report_pending(&loop, *tls, options.release.journal, options.release, stdout_lines(),
                     [&](const LateReportSummary &) {
                       if (finished) return; // stopped by a signal meanwhile
                       stopping.running = true;
                       if (!badge_device)
                         station->run_badges(reader, finish);
                       else if (reader.terminal_fd() >= 0)
                         // On a terminal the person answers the prompts there; else on the reader's keypad.
                         station->run_badges(*badge_device, reader, finish);
                       else
                         station->run_badges(*badge_device, finish);
                     });
    });
    uv_run(&loop, UV_RUN_DEFAULT);
    if (stopping.asked) {
      // The loop may still hold a read of standard input, blocked in libuv's thread pool: libuv's
      // shutdown at exit would wait for that thread forever. Everything is closed or durable
      // (the journal and the offline table are committed as they are written), so the process
      // ends here.
      LPM_INFO("stopped");
      std::fflush(nullptr);
      std::_Exit(exit_code);
    }
  }
  if (uv_loop_close(&loop) != 0)
    return fail(make_error(Errc::internal, "handles were left open on the loop"));
  return exit_code;
}

} // namespace lpm::printer
