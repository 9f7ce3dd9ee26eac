// `lpm notify`: the per-user desktop notifier (issue 3, DisplayNotifications). Started in the
// user's session, it subscribes to the local agent's events about the user's own jobs
// (watch-events on the control socket, a long poll) and shows each through
// org.freedesktop.Notifications (desktop_notifications.h). When the agent goes away it
// reconnects with a backoff (1 s doubling to 60 s); SIGINT or SIGTERM ends it cleanly.
#include <uv.h>

#include <csignal>
#include <cstdio>

#include "command_loop.h"
#include "commands.h"
#include "desktop_notifications.h"
#include "lpm/log.h"
#include "lpm/protocol/loop_timer.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"

namespace lpm::cli {
namespace {

// How long past its own wait the agent may take to answer a watch before the call is given up.
constexpr uint32_t kAnswerSlackMs = 15000;

struct NotifyState {
  bool stop = false;
  proto::SyncClient *client = nullptr; // the connection being watched, if any
};

void on_stop_signal(uv_signal_t *handle, int) {
  auto *state = static_cast<NotifyState *>(handle->data);
  state->stop = true;
  // A watch in progress ends now instead of at its timeout.
  if (state->client && state->client->peer()) state->client->peer()->close();
}

std::string pages_text(int64_t pages) {
  if (pages < 0) return {};
  return pages == 1 ? " (1 page)" : " (" + std::to_string(pages) + " pages)";
}

// Shows what one answer brought. An error only when the session bus itself is gone; a missing
// notification server is reported once per absence and the events are still printed.
Status show_events(DesktopNotifications &desktop, const proto::WatchEventsResult &result,
                   bool &server_missing) {
  auto show = [&](const std::string &summary, const std::string &body) -> Status {
    auto shown = desktop.show(summary, body);
    if (shown.ok()) {
      server_missing = false;
      return {};
    }
    if (shown.error().code == Errc::io_error) return shown.error();
    if (!server_missing) LPM_WARN("%s", shown.error().message.c_str());
    server_missing = true;
    return {};
  };
  for (const auto &e : result.events) {
    std::printf("job %s %s: %s\n", e.job.c_str(), e.message.c_str(), e.title.c_str());
    std::fflush(stdout);
    Status s = show("Print job " + e.message, "\u201c" + e.title + "\u201d" + pages_text(e.pages) +
                                                  ": badge in at a printer to print it.");
    if (!s.ok()) return s;
  }
  if (result.dropped > 0) {
    std::string n = std::to_string(result.dropped);
    std::printf("%s more job(s) held for release\n", n.c_str());
    std::fflush(stdout);
    Status s = show("More print jobs held for release",
                    n + (result.dropped == 1 ? " more job was" : " more jobs were") + " held for release.");
    if (!s.ok()) return s;
  }
  return {};
}

// Watches until a signal (0), or a refusal or a lost bus (1). Reconnects after the backoff
// whenever the agent cannot be reached or the connection ends.
int watch(uv_loop_t *loop, const std::string &path, DesktopNotifications &desktop, NotifyState &state) {
  proto::Backoff backoff;
  bool reported_down = false;
  bool server_missing = false;
  auto pause = [&](const Error &why, const char *what) {
    uint64_t delay = backoff.next_delay_ms();
    if (!reported_down)
      LPM_WARN("%s the agent at %s (%s); trying again in %llu ms, then less and less often", what,
               path.c_str(), why.to_string().c_str(), static_cast<unsigned long long>(delay));
    reported_down = true;
    proto::run_until(
        loop, [&] { return state.stop; }, static_cast<uint32_t>(delay));
  };

  while (!state.stop) {
    auto client = proto::SyncClient::connect_pipe(loop, path, proto::role::cli);
    if (!client.ok()) {
      pause(client.error(), "cannot reach");
      continue;
    }
    state.client = client->get();
    Error ended{Errc::ok, "closed"};
    bool subscribed = false;
    while (!state.stop) {
      proto::WatchEventsRequest request;
      request.wait_ms = proto::kMaxWatchWaitMs;
      proto::MapWriter w;
      request.write(w);
      auto answer = (*client)->call(proto::op::watch_events, w,
                                    static_cast<uint32_t>(request.wait_ms) + kAnswerSlackMs);
      if (!answer.ok()) {
        ended = answer.error();
        break;
      }
      proto::WatchEventsResult result;
      auto reader = answer->reader();
      result.read(reader);
      if (!reader.ok()) {
        ended = make_error(Errc::protocol_error, "the agent's answer: " + reader.error().message);
        break;
      }
      if (!subscribed) {
        subscribed = true;
        backoff.reset();
        reported_down = false;
        LPM_INFO("watching for your print jobs (agent at %s)", path.c_str());
      }
      Status shown = show_events(desktop, result, server_missing);
      if (!shown.ok()) {
        state.client = nullptr;
        (*client)->close();
        return fail(shown.error());
      }
    }
    state.client = nullptr;
    (*client)->close();
    if (state.stop) break;
    // The agent says no (account not bound, notifications turned off): asking again will not
    // change its mind until an administrator does.
    if (ended.code == Errc::forbidden) return fail(ended);
    pause(ended, "lost the connection to");
  }
  return 0;
}

} // namespace

int command_notify(const NotifyArgs &args) {
  auto desktop = DesktopNotifications::open_session();
  if (!desktop.ok()) return fail(desktop.error());
  std::string path = args.socket.empty() ? default_socket_path() : args.socket;

  CommandLoop loop;
  NotifyState state;
  uv_signal_t sigint{};
  uv_signal_t sigterm{};
  uv_signal_init(loop.get(), &sigint);
  uv_signal_init(loop.get(), &sigterm);
  sigint.data = &state;
  sigterm.data = &state;
  uv_signal_start(&sigint, on_stop_signal, SIGINT);
  uv_signal_start(&sigterm, on_stop_signal, SIGTERM);

  int code = watch(loop.get(), path, **desktop, state);

  uv_close(reinterpret_cast<uv_handle_t *>(&sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t *>(&sigterm), nullptr);
  Status closed = loop.close();
  if (!closed.ok() && code == 0) return fail(closed.error());
  if (code == 0) LPM_INFO("stopped");
  return code;
}

} // namespace lpm::cli
