// lpm-directory: the command line. Every command opens the data folder, does one thing, and
// reports errors as one line on stderr with exit code 1 (2 for usage errors).
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "directory_folder.h"
#include "directory_service.h"
#include "directory_store.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/stream.h"

using namespace lpm;
using namespace lpm::directory;

namespace {

constexpr int64_t kHourMs = 60 * 60 * 1000;

int fail(const Error &error) {
  std::fprintf(stderr, "lpm-directory: %s\n", error.to_string().c_str());
  return 1;
}

// Who ran an administrative command, for the audit log.
std::string admin_actor() {
  return "admin uid " + std::to_string(::getuid());
}

int cmd_init(const std::string &data) {
  auto fp = folder_init(data);
  if (!fp.ok()) return fail(fp.error());
  std::printf("fingerprint %s\n", fp->c_str());
  return 0;
}

int cmd_fingerprint(const std::string &data) {
  auto identity = folder_load_identity(data);
  if (!identity.ok()) return fail(identity.error());
  std::printf("%s\n", (*identity)->fingerprint().c_str());
  return 0;
}

int cmd_user_add(const std::string &data, const std::string &email, const std::string &name) {
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  auto user = (*store)->user_add(email, name, wall_ms(), admin_actor());
  if (!user.ok()) return fail(user.error());
  std::printf("%s\n", user->id.c_str());
  return 0;
}

int cmd_badge_add(const std::string &data, const std::string &badge, const std::string &email) {
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  Status s = (*store)->badge_add(badge, email, wall_ms(), admin_actor());
  if (!s.ok()) return fail(s.error());
  return 0;
}

int cmd_token_create(const std::string &data, const std::string &kind_text, int64_t uses, int64_t ttl_hours) {
  proto::EnrollKind kind;
  if (!proto::enroll_kind_parse(kind_text, kind))
    return fail(make_error(Errc::bad_request, "--kind must be workstation, printer, accounting or console"));
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());
  int64_t now = wall_ms();
  auto token = (*store)->token_create(kind, uses, now + ttl_hours * kHourMs, now, admin_actor());
  if (!token.ok()) return fail(token.error());
  std::printf("%s\n", token->c_str());
  return 0;
}

// What the signal handlers need: stopping the service and closing themselves lets the loop end.
struct Shutdown {
  DirectoryService *service = nullptr;
  uv_signal_t sigint{};
  uv_signal_t sigterm{};
  bool stopping = false;

  void start(uv_loop_t *loop) {
    for (uv_signal_t *sig : {&sigint, &sigterm}) {
      uv_signal_init(loop, sig);
      sig->data = this;
    }
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
  }
  static void on_signal(uv_signal_t *sig, int signum) {
    auto *self = static_cast<Shutdown *>(sig->data);
    LPM_INFO("signal %d: stopping", signum);
    self->stop();
  }
  void stop() {
    if (stopping) return;
    stopping = true;
    service->stop();
    uv_close(reinterpret_cast<uv_handle_t *>(&sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&sigterm), nullptr);
  }
};

int cmd_serve(const std::string &data, const std::string &listen_text) {
  auto endpoint = proto::parse_endpoint(listen_text);
  if (!endpoint.ok()) return fail(endpoint.error());
  auto keys = folder_load_keys(data);
  if (!keys.ok()) return fail(keys.error());
  auto store = folder_open_store(data);
  if (!store.ok()) return fail(store.error());

  uv_loop_t loop;
  uv_loop_init(&loop);
  int rc = 0;
  {
    DirectoryService service(&loop, std::move(*keys), std::move(*store));
    auto port = service.listen(*endpoint);
    if (!port.ok()) {
      rc = fail(port.error());
      service.stop();
    } else {
      Shutdown shutdown;
      shutdown.service = &service;
      shutdown.start(&loop);
      std::printf("ready %u\n", static_cast<unsigned>(*port));
      std::fflush(stdout);
      uv_run(&loop, UV_RUN_DEFAULT);
      LPM_INFO("stopped");
    }
    uv_run(&loop, UV_RUN_DEFAULT); // close callbacks of whatever stop() closed
  }
  if (uv_loop_close(&loop) != 0) {
    LPM_ERROR("event loop still had open handles at exit");
    return 1;
  }
  return rc;
}

} // namespace

int main(int argc, char **argv) {
  lpm::proto::ignore_sigpipe();
  lpm::log_set_component("directory");

  CLI::App app{"lpm-directory: users, badges, enrolled keys, who holds jobs where, and release tickets"};
  app.require_subcommand(1);
  std::string data;
  auto add_data = [&data](CLI::App *cmd) { cmd->add_option("--data", data, "data folder")->required(); };

  CLI::App *init =
      app.add_subcommand("init", "create the TLS identity, the ticket-signing key and the database");
  add_data(init);

  CLI::App *fingerprint = app.add_subcommand("fingerprint", "print the TLS key fingerprint (64 hex)");
  add_data(fingerprint);

  std::string listen = "127.0.0.1:9710";
  CLI::App *serve =
      app.add_subcommand("serve", "serve enroll, register, badge-in and list-enrolled over TLS");
  add_data(serve);
  serve->add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();

  std::string email, name, badge;
  CLI::App *user = app.add_subcommand("user", "manage users");
  user->require_subcommand(1);
  CLI::App *user_add = user->add_subcommand("add", "add a user; prints the new user's UUID");
  add_data(user_add);
  user_add->add_option("--email", email, "e-mail address (stored lower-case)")->required();
  user_add->add_option("--name", name, "display name (default: the e-mail address)");

  CLI::App *badge_cmd = app.add_subcommand("badge", "manage badges");
  badge_cmd->require_subcommand(1);
  CLI::App *badge_add = badge_cmd->add_subcommand("add", "give a badge to a user");
  add_data(badge_add);
  badge_add->add_option("--badge", badge, "badge id (stored trimmed, otherwise as given)")->required();
  badge_add->add_option("--email", email, "the user's e-mail address")->required();

  std::string kind;
  int64_t uses = 1;
  int64_t ttl_hours = 24;
  CLI::App *token = app.add_subcommand("token", "manage enrollment tokens");
  token->require_subcommand(1);
  CLI::App *token_create = token->add_subcommand("create", "create an enrollment token; prints it");
  add_data(token_create);
  token_create->add_option("--kind", kind, "what the token enrolls")
      ->required()
      ->check(CLI::IsMember({"workstation", "printer", "accounting", "console"}));
  token_create->add_option("--uses", uses, "how many enrollments it allows")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  token_create->add_option("--ttl-hours", ttl_hours, "hours until it expires")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 3650));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (init->parsed()) return cmd_init(data);
  if (fingerprint->parsed()) return cmd_fingerprint(data);
  if (serve->parsed()) return cmd_serve(data, listen);
  if (user_add->parsed()) return cmd_user_add(data, email, name);
  if (badge_add->parsed()) return cmd_badge_add(data, badge, email);
  if (token_create->parsed()) return cmd_token_create(data, kind, uses, ttl_hours);
  std::fprintf(stderr, "lpm-directory: no command given (see --help)\n");
  return 2;
}
