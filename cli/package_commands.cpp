// lpm package create|default (package_commands.h).
#include "package_commands.h"

#include <arpa/inet.h>
#include <glob.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "agent_link.h"
#include "command_loop.h"
#include "lpm/protocol/ops_admin.h"

namespace lpm::cli {

namespace {

Error refused(const std::string &option, const std::string &why) {
  return make_error(Errc::bad_request, option + ": " + why);
}

bool ip_literal(const std::string &host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::vector<std::string> comma_list(const std::string &text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// A service's addresses ("HOST:PORT[,HOST:PORT]", IP literals: the agent resolves no names) and
// key fingerprints ("HEX[,HEX]"), each replacing the base's when given.
Status set_service(const std::string &option, const std::string &addresses, const std::string &keys,
                   packaging::ServiceConfig &service) {
  if (!addresses.empty()) {
    service.addresses.clear();
    for (const auto &one : comma_list(addresses)) {
      auto ep = proto::parse_endpoint(one);
      if (!ep.ok())
        return refused(option,
                       "\"" + one + "\" is not a valid HOST:PORT address (" + ep.error().message + ")");
      if (!ip_literal(ep->host))
        return refused(option,
                       "\"" + one + "\" must name its host by IP address (the agent resolves no names)");
      service.addresses.push_back(*ep);
    }
  }
  if (!keys.empty()) {
    service.fingerprints.clear();
    for (std::string one : comma_list(keys)) {
      std::transform(one.begin(), one.end(), one.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (!proto::fingerprint_valid(one))
        return refused(option + "-fingerprint",
                       "\"" + one + "\" is not a key fingerprint (64 hexadecimal digits)");
      service.fingerprints.push_back(one);
    }
  }
  return {};
}

Result<uint32_t> count(const std::string &option, int64_t value, int64_t max, const char *unit) {
  if (value < 0)
    return refused(option, std::string("must be 0 or more ") + unit + ", not " + std::to_string(value));
  if (value > max)
    return refused(option,
                   "must be at most " + std::to_string(max) + " " + unit + ", not " + std::to_string(value));
  return static_cast<uint32_t>(value);
}

Result<uint16_t> port(const std::string &option, int64_t value) {
  if (value < 1 || value > 65535)
    return refused(option, "must be a port from 1 to 65535, not " + std::to_string(value));
  return static_cast<uint16_t>(value);
}

// The lpm-agent .deb to ship when --agent-deb is not given: the newest in /usr/share/lpm/, then in
// the current folder.
std::string find_agent_deb() {
  for (const char *pattern : {"/usr/share/lpm/lpm-agent_*.deb", "lpm-agent_*.deb"}) {
    glob_t g{};
    if (::glob(pattern, 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
      std::string found = g.gl_pathv[g.gl_pathc - 1]; // glob sorts: the highest version last
      ::globfree(&g);
      return found;
    }
    ::globfree(&g);
  }
  return "";
}

// A file name from the site: letters, digits, '-' and '_' kept, the rest '-'.
std::string file_stem(const std::string &site) {
  std::string out;
  for (char c : site)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '-';
  return out.empty() ? "default" : out.substr(0, 64);
}

} // namespace

Result<packaging::ClientPackageOptions> package_options(const PackageArgs &a, packaging::AgentConfig base) {
  packaging::ClientPackageOptions o;
  o.config = std::move(base);
  packaging::AgentConfig &c = o.config;
  if (Status s = set_service("--directory", a.directory, a.directory_fingerprint, c.directory); !s.ok())
    return s.error();
  if (Status s = set_service("--accounting", a.accounting, a.accounting_fingerprint, c.accounting); !s.ok())
    return s.error();
  if (a.notifications) c.display_notifications = *a.notifications;
  if (a.delete_unused_folders_days) {
    auto days = count("--delete-unused-folders-days", *a.delete_unused_folders_days,
                      packaging::kMaxLifespanHours / 24, "days");
    if (!days.ok()) return days.error();
    c.delete_empty_user_folders = *days > 0;
    if (*days > 0) c.delete_empty_user_folders_lifespan_days = *days;
  }
  if (a.serverless) o.serverless = *a.serverless;
  if (a.printed_lifespan_hours) {
    auto h =
        count("--printed-lifespan-hours", *a.printed_lifespan_hours, packaging::kMaxLifespanHours, "hours");
    if (!h.ok()) return h.error();
    c.print_and_keep_lifespan_hours = *h;
  }
  if (a.unprinted_lifespan_hours) {
    auto h = count("--unprinted-lifespan-hours", *a.unprinted_lifespan_hours, packaging::kMaxLifespanHours,
                   "hours");
    if (!h.ok()) return h.error();
    c.unprinted_jobs_lifespan_hours = *h;
  }
  if (a.late_binding) c.late_binding_enabled = *a.late_binding;
  if (a.track_deleted) c.track_deleted_jobs = *a.track_deleted;
  if (a.reporting_interval) {
    auto m = count("--reporting-interval", *a.reporting_interval, packaging::kMaxReportingIntervalMinutes,
                   "minutes");
    if (!m.ok()) return m.error();
    c.reporting_interval_minutes = *m;
  }
  if (a.site) {
    if (std::string why = packaging::label_problem(*a.site); !why.empty()) return refused("--site", why);
    c.site_name = *a.site;
  } else if (c.site_name.empty() && !c.accounting.addresses.empty()) {
    c.site_name = c.accounting.addresses.front().host; // AMB-25: the accounting server's host
  }
  o.driver = a.driver;
  if (a.queue) {
    if (std::string why = packaging::queue_name_problem(*a.queue); !why.empty())
      return refused("--queue", why);
    bool was_default = c.default_printer == c.default_queue;
    c.default_queue = *a.queue;
    if (was_default) c.default_printer = c.default_queue;
  }
  if (a.default_printer) c.default_printer = *a.default_printer ? c.default_queue : "";
  if (!a.binds.empty()) {
    c.identity_binding.clear();
    for (const auto &b : a.binds) {
      size_t eq = b.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == b.size())
        return refused("--bind", "\"" + b + "\" is not ACCOUNT=USER_UUID");
      c.identity_binding.push_back({b.substr(0, eq), b.substr(eq + 1)});
    }
  }
  if (a.release_port) {
    auto p = port("--release-port", *a.release_port);
    if (!p.ok()) return p.error();
    c.release_listen.port = *p;
  }
  if (a.capture_port) {
    auto p = port("--capture-port", *a.capture_port);
    if (!p.ok()) return p.error();
    c.capture_listen.port = *p;
  }
  if (a.lan_discovery) c.lan_discovery = *a.lan_discovery;
  if (a.offline_window_hours) {
    auto h = count("--offline-window-hours", *a.offline_window_hours, packaging::kMaxOfflineReleaseWindowHours,
                   "hours");
    if (!h.ok()) return h.error();
    c.offline_release_window_hours = *h;
  }
  if (a.raw_port) {
    auto p = port("--raw-port", *a.raw_port);
    if (!p.ok()) return p.error();
    c.raw_listen.port = *p;
  }
  o.enrollment_token = a.token;
  return o;
}

PackageCommands::PackageCommands(CLI::App &app, const std::string &socket_help) {
  auto *package = app.add_subcommand(
      "package", "Build the client package administrators install on workstations: the agent's .deb, "
                 "configuration.xml, install.sh and an enrollment token, in one .tar.gz (PK-4, PK-5)");
  package->require_subcommand(1);
  create_ = package->add_subcommand("create", "A custom package: every setting of the seed's package builder "
                                              "(§5.3), then the network's addresses, keys and token");
  default_ = package->add_subcommand(
      "default",
      "The package with default settings (the directory and accounting server still have to be named, "
      "or come from --from)");
  for (CLI::App *cmd : {create_, default_}) {
    cmd->add_option("--output", args_.output, "The .tar.gz to write (default: lpm-client-SITE.tar.gz here)");
    cmd->add_option("--agent-deb", args_.agent_deb,
                    "The lpm-agent .deb to ship (default: the newest /usr/share/lpm/lpm-agent_*.deb, then "
                    "./lpm-agent_*.deb; `make debs` builds it)");
    cmd->add_option("--from", args_.from,
                    "Take the directory and accounting server (create: and every setting) from this "
                    "configuration.xml, e.g. /etc/lpm/configuration.xml of a configured workstation");
    cmd->add_option("--directory", args_.directory, "Directory address(es): HOST:PORT[,HOST:PORT]");
    cmd->add_option("--directory-fingerprint", args_.directory_fingerprint,
                    "Directory key fingerprint(s), comma-separated (`lpm-directory fingerprint`)");
    cmd->add_option("--accounting", args_.accounting, "Accounting server address(es): HOST:PORT[,HOST:PORT]");
    cmd->add_option("--accounting-fingerprint", args_.accounting_fingerprint,
                    "Accounting server key fingerprint(s), comma-separated");
    auto *token =
        cmd->add_option("--token", args_.token, "A workstation enrollment token to put in the package");
    auto *uses = cmd->add_option("--token-uses", args_.token_uses,
                                 "Create a workstation enrollment token for this many workstations (needs a "
                                 "login as a serverless or Print Management administrator, PK-3)");
    cmd->add_option("--token-days", args_.token_days, "Days until the created token expires")
        ->capture_default_str()
        ->check(CLI::Range(1, 3650));
    token->excludes(uses);
    cmd->add_option("--socket", args_.socket, socket_help);
    cmd->add_flag("--json", args_.json, "One JSON object: output, files, token_created, site, queue");
  }
  // The seed's package builder, in its order (§5.3), then ours.
  create_->add_option(
      "--notifications", args_.notifications,
      "Show a notification for each submitted job: true or false (DisplayNotifications; default true)");
  create_->add_option("--delete-unused-folders-days", args_.delete_unused_folders_days,
                      "Delete users' empty client folders after N days; 0 never (default)");
  create_->add_option("--serverless", args_.serverless,
                      "Enable serverless print release: true (default); the only mode this client has");
  create_->add_option("--printed-lifespan-hours", args_.printed_lifespan_hours,
                      "Delete printed jobs after N hours (PrintAndKeepLifespan; default 48)");
  create_->add_option("--unprinted-lifespan-hours", args_.unprinted_lifespan_hours,
                      "Delete unprinted jobs after N hours (UnprintedJobsLifespan; default 48)");
  create_->add_option("--late-binding", args_.late_binding,
                      "Let users change copies, sides and colour at the printer: true (default) or false");
  create_->add_option("--track-deleted", args_.track_deleted,
                      "Report deleted jobs to the accounting server: true or false (default)");
  create_->add_option("--site", args_.site,
                      "Site name sent with every record (default: the accounting server's host, AMB-25)");
  create_->add_option("--reporting-interval", args_.reporting_interval,
                      "Minutes between posts of job records; 0 posts at once (default)");
  create_
      ->add_option("--driver", args_.driver,
                   "Print driver type: everywhere (IPP Everywhere, the only one on Linux)")
      ->capture_default_str();
  create_->add_option("--queue", args_.queue,
                      "Name of the print queue (DefaultQueue; default LPMServerless)");
  create_->add_option("--default-printer", args_.default_printer,
                      "Make the queue the workstation's default printer: true (default) or false (AMB-26)");
  create_->add_option("--bind", args_.binds,
                      "Bind an OS account to a directory user: ACCOUNT=USER_UUID (repeat; IdentityBinding)");
  create_->add_option("--release-port", args_.release_port, "Release port of the agent (default 9443)");
  create_->add_option("--capture-port", args_.capture_port,
                      "Loopback IPP port the print queue uses (default 9167)");
  create_->add_option("--raw-port", args_.raw_port, "Loopback raw-socket capture port (default 9168)");
  create_->add_option("--lan-discovery", args_.lan_discovery,
                      "Advertise the agent on the LAN with DNS-SD, for release stations that cannot reach "
                      "the directory: true (default) or false (LanDiscovery)");
  create_->add_option("--offline-window-hours", args_.offline_window_hours,
                      "Accept tickets a release station signed itself while the directory is unreachable, for "
                      "this many hours after the agent last heard from the directory (0, the default: never; "
                      "OfflineReleaseWindow)");
}

std::optional<int> PackageCommands::run() {
  if (create_ && create_->parsed()) return build(true);
  if (default_ && default_->parsed()) return build(false);
  return std::nullopt;
}

int PackageCommands::build(bool custom) {
  packaging::AgentConfig base = packaging::package_default_config();
  if (!args_.from.empty()) {
    auto from = packaging::load_agent_config(args_.from);
    if (!from.ok()) return fail(refused("--from", from.error().message));
    if (custom) {
      // The workstation's own paths stay the package's: the unit provides those.
      from->data_folder = base.data_folder;
      from->control_socket = base.control_socket;
      base = std::move(*from);
    } else {
      // A default package takes the network only; every setting stays at its default.
      base.directory = from->directory;
      base.accounting = from->accounting;
    }
  }
  auto options = package_options(args_, base);
  if (!options.ok()) return fail(options.error());
  // Wrong choices are refused before anything asks the directory for a token.
  if (Status s = packaging::check_package_choices(*options); !s.ok()) return fail(s.error());

  bool token_created = false;
  if (args_.token_uses > 0) {
    auto r = run_person_op<proto::TokensCreateResult>(
        args_.socket, proto::op::tokens_create,
        proto::TokensCreateRequest{"", "workstation", args_.token_uses, args_.token_days * 24});
    if (!r.ok())
      return fail(
          make_error(r.error().code, "--token-uses: the directory made no token: " + r.error().message));
    options->enrollment_token = r->token;
    token_created = true;
    // The directory says where it is and which key it has, when the options did not.
    if (options->config.directory.fingerprints.empty())
      options->config.directory.fingerprints = {r->directory_fingerprint};
    if (options->config.directory.addresses.empty() && !r->directory_address.empty()) {
      auto ep = proto::parse_endpoint(r->directory_address);
      if (ep.ok()) options->config.directory.addresses = {*ep};
    }
  }
  options->agent_deb = args_.agent_deb.empty() ? find_agent_deb() : args_.agent_deb;
  if (options->agent_deb.empty())
    return fail(refused("--agent-deb", "no lpm-agent .deb in /usr/share/lpm/ or here: give --agent-deb FILE "
                                       "(`make debs` builds it into build/debs/)"));
  options->output =
      args_.output.empty() ? "lpm-client-" + file_stem(options->config.site_name) + ".tar.gz" : args_.output;
  auto files = packaging::build_client_package(*options);
  if (!files.ok()) return fail(files.error());
  const auto &c = options->config;
  if (args_.json) {
    print_json_line(json_text({{"output", options->output},
                               {"files", *files},
                               {"token_created", token_created},
                               {"site", c.site_name},
                               {"queue", c.default_queue}}));
    return 0;
  }
  std::printf("wrote %s (%s package, site \"%s\", queue %s%s)\n", options->output.c_str(),
              custom ? "custom" : "default", c.site_name.c_str(), c.default_queue.c_str(),
              c.default_printer.empty() ? "" : ", the default printer");
  for (const auto &f : *files)
    std::printf("  lpm-client/%s\n", f.c_str());
  if (options->enrollment_token.empty())
    std::printf("No enrollment token in it: each workstation must then be enrolled by hand "
                "(lpm-agent enroll --token-file FILE). --token-uses N puts one in.\n");
  else
    std::printf("The package holds an enrollment token%s: keep it where only administrators can read it.\n",
                token_created ? (" for " + std::to_string(args_.token_uses) + " workstations, valid " +
                                 std::to_string(args_.token_days) + " days")
                                    .c_str()
                              : "");
  std::printf("On a workstation, as root: tar xzf %s && lpm-client/install.sh\n", options->output.c_str());
  return 0;
}

} // namespace lpm::cli
