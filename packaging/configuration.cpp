#include "lpm/packaging/configuration.h"

#include <arpa/inet.h>
#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::packaging {

namespace {

// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
constexpr size_t kMaxSocketPathBytes = 107;
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxServiceEntries = 16;
constexpr size_t kMaxBindings = 10000;
constexpr size_t kMaxMediaSizes = 64;

std::string trim(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin])))
    begin++;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1])))
    end--;
  return std::string(text.substr(begin, end - begin));
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// An IPv4 or IPv6 address as written (no zone id), or "localhost".
bool ip_literal(const std::string &host) {
  in6_addr v6{};
  in_addr v4{};
  return host == "localhost" || ::inet_pton(AF_INET, host.c_str(), &v4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

// Reads one configuration document. Every check stops at the first problem, which is kept as
// the error; the element's name is always in the message.
class Reader {
public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  Error fail(const std::string &element, const std::string &problem) const {
    return make_error(Errc::bad_request, source_ + ": <" + element + "> " + problem);
  }

  // The text of a leaf element, trimmed; an element with child elements is refused.
  // `label` is the element path used in messages ("Directory><Address").
  Result<std::string> text(const pugi::xml_node &node, const std::string &label) const {
    std::string out;
    for (pugi::xml_node child : node.children()) {
      if (child.type() == pugi::node_element)
        return fail(label, "must hold text, not the element <" + std::string(child.name()) + ">");
      if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) out += child.value();
    }
    return trim(out);
  }

  Result<bool> boolean(const pugi::xml_node &node, const std::string &label) const {
    auto t = text(node, label);
    if (!t.ok()) return t.error();
    if (*t == "true") return true;
    if (*t == "false") return false;
    return fail(label, "must be \"true\" or \"false\", not \"" + *t + "\"");
  }

  Result<uint32_t> number(const pugi::xml_node &node, const std::string &label, uint32_t max) const {
    auto t = text(node, label);
    if (!t.ok()) return t.error();
    if (t->empty() || t->size() > 10 ||
        !std::all_of(t->begin(), t->end(), [](char c) { return c >= '0' && c <= '9'; }))
      return fail(label, "must be a whole number, not \"" + *t + "\"");
    uint64_t value = std::stoull(*t);
    if (value > max) return fail(label, "must be at most " + std::to_string(max) + ", not " + *t);
    return static_cast<uint32_t>(value);
  }

  Result<std::string> name(const pugi::xml_node &node, const std::string &label) const {
    auto t = text(node, label);
    if (!t.ok()) return t.error();
    if (t->size() > kMaxNameBytes)
      return fail(label, "is longer than " + std::to_string(kMaxNameBytes) + " bytes");
    return t;
  }

  // A CUPS queue name; `may_be_empty` for the optional ones.
  Result<std::string> queue(const pugi::xml_node &node, const std::string &label, bool may_be_empty) const {
    auto t = text(node, label);
    if (!t.ok()) return t.error();
    if (t->empty() && may_be_empty) return t;
    if (std::string why = queue_name_problem(*t); !why.empty()) return fail(label, why);
    return t;
  }

  Result<std::string> label(const pugi::xml_node &node, const std::string &what) const {
    auto t = text(node, what);
    if (!t.ok()) return t.error();
    if (std::string why = label_problem(*t); !why.empty()) return fail(what, why);
    return t;
  }

  Result<std::string> absolute_path(const pugi::xml_node &node, const std::string &label,
                                    size_t max_bytes) const {
    auto t = text(node, label);
    if (!t.ok()) return t.error();
    if (t->empty() || t->front() != '/') return fail(label, "must be an absolute path, not \"" + *t + "\"");
    if (t->size() > max_bytes) return fail(label, "is longer than " + std::to_string(max_bytes) + " bytes");
    return t;
  }

  Result<proto::Endpoint> endpoint(const pugi::xml_node &node, const std::string &label,
                                   bool port_required) const {
    auto t = text(node, label);
    if (!t.ok()) return t.error();
    auto ep = proto::parse_endpoint(*t);
    if (!ep.ok()) return fail(label, "is not a valid address: " + ep.error().message);
    // Names are never resolved (the agent connects to and listens on literals only), and any
    // other host would not survive being written back: "[a]b]:1" does not parse again.
    if (!ip_literal(ep->host))
      return fail(label, "needs an IP address (IPv4, [IPv6]) or localhost, not \"" + ep->host + "\"");
    if (port_required && ep->port == 0) return fail(label, "needs a port other than 0");
    return ep;
  }

  Result<proto::Endpoint> loopback_endpoint(const pugi::xml_node &node, const std::string &label) const {
    auto ep = endpoint(node, label, false);
    if (!ep.ok()) return ep;
    // Capture listeners accept jobs without TLS: they must never face the network (DESIGN §6).
    if (ep->host != "127.0.0.1" && ep->host != "::1" && ep->host != "localhost")
      return fail(label, "must be a loopback address (127.0.0.1, [::1] or localhost), not " + ep->host);
    return ep;
  }

  Result<ServiceConfig> service(const pugi::xml_node &node) const {
    ServiceConfig out;
    for (pugi::xml_node child : node.children()) {
      if (child.type() != pugi::node_element) continue;
      std::string child_name = child.name();
      if (child_name == "Address") {
        auto ep = endpoint(child, std::string(node.name()) + "><Address", true);
        if (!ep.ok()) return ep.error();
        out.addresses.push_back(*ep);
      } else if (child_name == "Fingerprint") {
        auto t = text(child, std::string(node.name()) + "><Fingerprint");
        if (!t.ok()) return t.error();
        std::string fp = lower(*t);
        if (!proto::fingerprint_valid(fp))
          return fail(std::string(node.name()) + "><Fingerprint",
                      "must be 64 hexadecimal digits (the key's SHA-256), not \"" + *t + "\"");
        if (std::find(out.fingerprints.begin(), out.fingerprints.end(), fp) == out.fingerprints.end())
          out.fingerprints.push_back(fp);
      } else {
        warn_unknown(std::string(node.name()) + "><" + child_name);
      }
      if (out.addresses.size() > kMaxServiceEntries || out.fingerprints.size() > kMaxServiceEntries)
        return fail(node.name(),
                    "lists more than " + std::to_string(kMaxServiceEntries) + " addresses or fingerprints");
    }
    if (out.addresses.empty()) return fail(node.name(), "needs at least one <Address>");
    if (out.fingerprints.empty()) return fail(node.name(), "needs at least one <Fingerprint>");
    return out;
  }

  Result<CaptureCapabilities> capture(const pugi::xml_node &node) const {
    CaptureCapabilities out;
    bool media_listed = false;
    bool formats_listed = false;
    for (pugi::xml_node child : node.children()) {
      if (child.type() != pugi::node_element) continue;
      std::string child_name = child.name();
      if (child_name == "DocumentFormat") {
        auto t = name(child, "CaptureCapabilities><DocumentFormat");
        if (!t.ok()) return t.error();
        if (std::find(kCaptureFormats.begin(), kCaptureFormats.end(), *t) == kCaptureFormats.end()) {
          std::string known;
          for (const auto &f : kCaptureFormats)
            known += (known.empty() ? "" : ", ") + f;
          return fail("CaptureCapabilities><DocumentFormat", "must be one of " + known + ", not \"" + *t + "\"");
        }
        if (!formats_listed) out.document_formats.clear();
        formats_listed = true;
        if (std::find(out.document_formats.begin(), out.document_formats.end(), *t) == out.document_formats.end())
          out.document_formats.push_back(*t);
      } else if (child_name == "MediaSize") {
        auto t = name(child, "CaptureCapabilities><MediaSize");
        if (!t.ok()) return t.error();
        if (t->empty()) return fail("CaptureCapabilities><MediaSize", "is empty");
        if (!media_listed) out.media_sizes.clear();
        media_listed = true;
        out.media_sizes.push_back(*t);
        if (out.media_sizes.size() > kMaxMediaSizes)
          return fail("CaptureCapabilities",
                      "lists more than " + std::to_string(kMaxMediaSizes) + " media sizes");
      } else if (child_name == "Duplex") {
        auto b = boolean(child, "CaptureCapabilities><Duplex");
        if (!b.ok()) return b.error();
        out.duplex = *b;
      } else if (child_name == "Color") {
        auto b = boolean(child, "CaptureCapabilities><Color");
        if (!b.ok()) return b.error();
        out.color = *b;
      } else {
        warn_unknown("CaptureCapabilities><" + child_name);
      }
    }
    return out;
  }

  Result<std::vector<IdentityBind>> bindings(const pugi::xml_node &node) const {
    std::vector<IdentityBind> out;
    std::set<std::string> accounts;
    for (pugi::xml_node child : node.children()) {
      if (child.type() != pugi::node_element) continue;
      if (std::string(child.name()) != "Bind") {
        warn_unknown(std::string("IdentityBinding><") + child.name());
        continue;
      }
      IdentityBind bind;
      for (pugi::xml_attribute a : child.attributes()) {
        std::string attr = a.name();
        if (attr == "account")
          bind.account = trim(a.value());
        else if (attr == "user")
          bind.user = lower(trim(a.value()));
        else
          LPM_WARN("%s: <IdentityBinding><Bind> has an unknown attribute \"%s\" (ignored)", source_.c_str(),
                   attr.c_str());
      }
      if (bind.account.empty() || bind.account.size() > kMaxNameBytes)
        return fail("IdentityBinding><Bind", "needs an account=\"OS login name\" attribute");
      if (!uuid_valid(bind.user))
        return fail("IdentityBinding><Bind",
                    "for account \"" + bind.account + "\" needs user=\"directory user UUID\"");
      if (!accounts.insert(bind.account).second)
        return fail("IdentityBinding><Bind", "binds the account \"" + bind.account + "\" twice");
      out.push_back(std::move(bind));
      if (out.size() > kMaxBindings)
        return fail("IdentityBinding", "has more than " + std::to_string(kMaxBindings) + " bindings");
    }
    return out;
  }

  void warn_unknown(const std::string &element) const {
    LPM_WARN("%s: unknown element <%s> (ignored)", source_.c_str(), element.c_str());
  }

  const std::string &source() const { return source_; }

private:
  std::string source_;
};

Result<AgentConfig> parse_document(const pugi::xml_document &doc, const Reader &in, const AgentOverrides &over) {
  pugi::xml_node root;
  for (pugi::xml_node node : doc.children()) {
    if (node.type() == pugi::node_doctype)
      return make_error(Errc::bad_request,
                        in.source() + ": a DOCTYPE (DTD) is not allowed in the configuration");
    if (node.type() == pugi::node_element) {
      if (root) return make_error(Errc::bad_request, in.source() + ": more than one root element");
      root = node;
    }
  }
  if (!root || std::string(root.name()) != "Configuration")
    return make_error(Errc::bad_request, in.source() + ": the root element must be <Configuration>");

  AgentConfig cfg;
  bool control_socket_given = false;
  std::set<std::string> seen;

  // Each simple element maps to one setter; a setter returns the element's own error.
  using Setter = std::function<Status(const pugi::xml_node &)>;
  auto assign = [](auto &target, auto result) -> Status {
    if (!result.ok()) return result.error();
    target = std::move(*result);
    return {};
  };
  const std::map<std::string, Setter> setters = {
      {"DataFolder",
       [&](const pugi::xml_node &n) { return assign(cfg.data_folder, in.absolute_path(n, n.name(), 4096)); }},
      {"ControlSocket",
       [&](const pugi::xml_node &n) {
         control_socket_given = true;
         return assign(cfg.control_socket, in.absolute_path(n, n.name(), kMaxSocketPathBytes));
       }},
      {"ReleaseListen",
       [&](const pugi::xml_node &n) { return assign(cfg.release_listen, in.endpoint(n, n.name(), false)); }},
      {"CaptureListen",
       [&](const pugi::xml_node &n) {
         return assign(cfg.capture_listen, in.loopback_endpoint(n, n.name()));
       }},
      {"RawListen",
       [&](const pugi::xml_node &n) { return assign(cfg.raw_listen, in.loopback_endpoint(n, n.name())); }},
      {"Directory", [&](const pugi::xml_node &n) { return assign(cfg.directory, in.service(n)); }},
      {"Accounting", [&](const pugi::xml_node &n) { return assign(cfg.accounting, in.service(n)); }},
      {"SiteName", [&](const pugi::xml_node &n) { return assign(cfg.site_name, in.label(n, n.name())); }},
      {"ReportingInterval",
       [&](const pugi::xml_node &n) {
         return assign(cfg.reporting_interval_minutes, in.number(n, n.name(), kMaxReportingIntervalMinutes));
       }},
      {"OfflineReleaseWindow",
       [&](const pugi::xml_node &n) {
         return assign(cfg.offline_release_window_hours, in.number(n, n.name(), kMaxOfflineReleaseWindowHours));
       }},
      {"TrackDeletedJobs",
       [&](const pugi::xml_node &n) { return assign(cfg.track_deleted_jobs, in.boolean(n, n.name())); }},
      {"PrintAndKeepLifespan",
       [&](const pugi::xml_node &n) {
         return assign(cfg.print_and_keep_lifespan_hours, in.number(n, n.name(), kMaxLifespanHours));
       }},
      {"UnprintedJobsLifespan",
       [&](const pugi::xml_node &n) {
         return assign(cfg.unprinted_jobs_lifespan_hours, in.number(n, n.name(), kMaxLifespanHours));
       }},
      {"DeleteEmptyUserFolders",
       [&](const pugi::xml_node &n) {
         return assign(cfg.delete_empty_user_folders, in.boolean(n, n.name()));
       }},
      {"DeleteEmptyUserFoldersLifespan",
       [&](const pugi::xml_node &n) {
         return assign(cfg.delete_empty_user_folders_lifespan_days,
                       in.number(n, n.name(), kMaxLifespanHours / 24));
       }},
      {"DisplayNotifications",
       [&](const pugi::xml_node &n) { return assign(cfg.display_notifications, in.boolean(n, n.name())); }},
      {"LateBindingEnabled",
       [&](const pugi::xml_node &n) { return assign(cfg.late_binding_enabled, in.boolean(n, n.name())); }},
      {"DefaultQueue",
       [&](const pugi::xml_node &n) { return assign(cfg.default_queue, in.queue(n, n.name(), false)); }},
      {"HybridPrintQueueName",
       [&](const pugi::xml_node &n) {
         return assign(cfg.hybrid_print_queue_name, in.queue(n, n.name(), true));
       }},
      {"LanDiscovery",
       [&](const pugi::xml_node &n) { return assign(cfg.lan_discovery, in.boolean(n, n.name())); }},
      {"DefaultPrinter",
       [&](const pugi::xml_node &n) { return assign(cfg.default_printer, in.queue(n, n.name(), true)); }},
      {"CaptureCapabilities", [&](const pugi::xml_node &n) { return assign(cfg.capture, in.capture(n)); }},
      {"IdentityBinding",
       [&](const pugi::xml_node &n) { return assign(cfg.identity_binding, in.bindings(n)); }},
  };

  for (pugi::xml_node node : root.children()) {
    if (node.type() != pugi::node_element) continue;
    std::string element = node.name();
    auto it = setters.find(element);
    if (it == setters.end()) {
      in.warn_unknown(element);
      continue;
    }
    if (!seen.insert(element).second) return in.fail(element, "appears more than once");
    Status s = it->second(node);
    if (!s.ok()) return s.error();
  }

  // Command-line flags win over the file (they are checked where they are parsed).
  if (over.data_folder) cfg.data_folder = *over.data_folder;
  if (over.control_socket) {
    cfg.control_socket = *over.control_socket;
    control_socket_given = true;
  }
  if (over.capture_port) cfg.capture_listen.port = *over.capture_port;
  if (over.release_port) cfg.release_listen.port = *over.release_port;
  if (over.directory) cfg.directory.addresses = *over.directory;
  if (over.accounting) cfg.accounting.addresses = *over.accounting;
  if (!cfg.default_printer.empty() && cfg.default_printer != cfg.default_queue)
    return in.fail("DefaultPrinter", "names \"" + cfg.default_printer +
                                         "\", which is not a queue this client creates (DefaultQueue is \"" +
                                         cfg.default_queue + "\")");
  if (cfg.data_folder.empty())
    return in.fail("DataFolder", "is required (the folder of the agent's keys and jobs; or --data-dir)");
  if (!control_socket_given) {
    cfg.control_socket = cfg.data_folder + (cfg.data_folder.back() == '/' ? "" : "/") + "agent.sock";
    if (cfg.control_socket.size() > kMaxSocketPathBytes)
      return in.fail("ControlSocket", "is needed: DataFolder is too long for the default socket path");
  }
  return cfg;
}

void add_text(pugi::xml_node parent, const char *name, const std::string &value) {
  parent.append_child(name).text().set(value.c_str());
}
void add_bool(pugi::xml_node parent, const char *name, bool value) {
  add_text(parent, name, value ? "true" : "false");
}
void add_number(pugi::xml_node parent, const char *name, uint32_t value) {
  add_text(parent, name, std::to_string(value));
}
void add_service(pugi::xml_node parent, const char *name, const ServiceConfig &service) {
  if (service.addresses.empty() && service.fingerprints.empty()) return;
  pugi::xml_node node = parent.append_child(name);
  for (const auto &a : service.addresses)
    add_text(node, "Address", a.to_string());
  for (const auto &f : service.fingerprints)
    add_text(node, "Fingerprint", f);
}

} // namespace

std::string queue_name_problem(const std::string &name) {
  if (name.empty()) return "is empty";
  if (name.size() > 127) return "is longer than 127 characters";
  for (unsigned char c : name) {
    if (c <= ' ' || c >= 0x7f) return "must be printable ASCII without spaces, not \"" + name + "\"";
    if (std::string_view("/#\\\"'").find(static_cast<char>(c)) != std::string_view::npos)
      return "must not contain '" + std::string(1, static_cast<char>(c)) + "': \"" + name + "\"";
  }
  return "";
}

std::string label_problem(const std::string &text) {
  if (text.size() > kMaxNameBytes) return "is longer than " + std::to_string(kMaxNameBytes) + " bytes";
  for (unsigned char c : text) {
    if (c < ' ' || c == 0x7f) return "must not contain control characters";
    if (c == '<' || c == '>')
      return "must be plain text, without markup ('" + std::string(1, static_cast<char>(c)) + "' in \"" +
             text + "\")";
  }
  return "";
}

std::string AgentConfig::effective_site_name() const {
  if (!site_name.empty() || accounting.addresses.empty()) return site_name;
  return accounting.addresses.front().host;
}

std::optional<std::string> AgentConfig::user_for_account(const std::string &account) const {
  for (const auto &b : identity_binding)
    if (b.account == account) return b.user;
  return std::nullopt;
}

Result<AgentConfig> parse_agent_config(const std::string &xml_text, const std::string &source,
                                       const AgentOverrides &overrides) {
  pugi::xml_document doc;
  // parse_doctype keeps a DOCTYPE as a node so we can see it and refuse the document; pugixml
  // never expands DTD entities, but a configuration has no use for a DTD at all.
  pugi::xml_parse_result parsed =
      doc.load_buffer(xml_text.data(), xml_text.size(), pugi::parse_default | pugi::parse_doctype);
  if (!parsed)
    return make_error(Errc::bad_request, source + ": not well-formed XML at byte " +
                                             std::to_string(parsed.offset) + ": " + parsed.description());
  return parse_document(doc, Reader(source), overrides);
}

Result<AgentConfig> load_agent_config(const std::string &path, const AgentOverrides &overrides) {
  auto text = read_file(path, kMaxConfigBytes);
  if (!text.ok()) return text.error();
  return parse_agent_config(*text, path, overrides);
}

std::string agent_config_to_xml(const AgentConfig &cfg) {
  pugi::xml_document doc;
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  pugi::xml_node root = doc.append_child("Configuration");
  add_text(root, "DataFolder", cfg.data_folder);
  add_text(root, "ControlSocket", cfg.control_socket);
  add_text(root, "ReleaseListen", cfg.release_listen.to_string());
  add_text(root, "CaptureListen", cfg.capture_listen.to_string());
  add_text(root, "RawListen", cfg.raw_listen.to_string());
  add_service(root, "Directory", cfg.directory);
  add_service(root, "Accounting", cfg.accounting);
  add_text(root, "SiteName", cfg.site_name);
  add_number(root, "ReportingInterval", cfg.reporting_interval_minutes);
  add_bool(root, "TrackDeletedJobs", cfg.track_deleted_jobs);
  add_number(root, "PrintAndKeepLifespan", cfg.print_and_keep_lifespan_hours);
  add_number(root, "UnprintedJobsLifespan", cfg.unprinted_jobs_lifespan_hours);
  add_bool(root, "DeleteEmptyUserFolders", cfg.delete_empty_user_folders);
  add_number(root, "DeleteEmptyUserFoldersLifespan", cfg.delete_empty_user_folders_lifespan_days);
  add_bool(root, "DisplayNotifications", cfg.display_notifications);
  add_bool(root, "LateBindingEnabled", cfg.late_binding_enabled);
  add_text(root, "DefaultQueue", cfg.default_queue);
  add_text(root, "HybridPrintQueueName", cfg.hybrid_print_queue_name);
  add_text(root, "DefaultPrinter", cfg.default_printer);
  add_bool(root, "LanDiscovery", cfg.lan_discovery);
  add_number(root, "OfflineReleaseWindow", cfg.offline_release_window_hours);
  pugi::xml_node capture = root.append_child("CaptureCapabilities");
  for (const auto &f : cfg.capture.document_formats)
    add_text(capture, "DocumentFormat", f);
  for (const auto &m : cfg.capture.media_sizes)
    add_text(capture, "MediaSize", m);
  add_bool(capture, "Duplex", cfg.capture.duplex);
  add_bool(capture, "Color", cfg.capture.color);
  pugi::xml_node binding = root.append_child("IdentityBinding");
  for (const auto &b : cfg.identity_binding) {
    pugi::xml_node bind = binding.append_child("Bind");
    bind.append_attribute("account") = b.account.c_str();
    bind.append_attribute("user") = b.user.c_str();
  }
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default, pugi::encoding_utf8);
  return out.str();
}

Status save_agent_config(const AgentConfig &config, const std::string &path) {
  return write_file_atomic(path, agent_config_to_xml(config), 0600);
}

} // namespace lpm::packaging
