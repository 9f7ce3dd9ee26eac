// `lpm login`, `logout`, `whoami`, `users list|import`, `badges import` and `imports show`: the
// directory through the local agent's control socket. The agent keeps the login (a refresh token
// for the caller's OS account) and adds a fresh session to each person op it forwards, so no
// secret but the password at login ever passes through `lpm`.
#include "directory_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent_link.h"
#include "commands.h"
#include "lpm/files.h"
#include "lpm/protocol/ops.h"
#include "password_prompt.h"
#include "table.h"

namespace lpm::cli {
namespace {

// How often a running import is asked how far it got.
constexpr auto kImportPollInterval = std::chrono::milliseconds(200);
// A table needs every row before it prints; past this many users it stops (--json streams all).
constexpr size_t kMaxTableUsers = 100000;
// A record takes at least two bytes of a file of at most kMaxImportFileBytes: a longer log is
// not a log of one import.
constexpr size_t kMaxImportLogRows = kMaxImportFileBytes / 2;
// The directory's cap on an e-mail address (RFC 5321 path length).
constexpr size_t kMaxEmailBytes = 254;

// Every page of an import: the summary of the last page and all log rows.
Result<proto::ImportShowResult> fetch_import(proto::SyncClient &agent, const std::string &import) {
  proto::ImportShowResult whole;
  std::string after;
  for (;;) {
    auto page = forward<proto::ImportShowResult>(agent, proto::op::import_show,
                                                 import_show_args(import, after, proto::kMaxPage));
    if (!page.ok()) return page.error();
    if (whole.log.size() + page->log.size() > kMaxImportLogRows)
      return make_error(Errc::too_large, "import " + import + " has a log of more than " +
                                             std::to_string(kMaxImportLogRows) + " rows");
    std::vector<proto::ImportLogEntry> rows = std::move(whole.log);
    rows.insert(rows.end(), std::make_move_iterator(page->log.begin()),
                std::make_move_iterator(page->log.end()));
    whole = std::move(*page);
    whole.log = std::move(rows);
    // A cursor that does not move would page forever.
    if (whole.next.empty() || whole.next == after) break;
    after = whole.next;
  }
  whole.next.clear();
  return whole;
}

// The summary and the log, as people read them or as JSON lines.
void print_import(const proto::ImportShowResult &import, bool only_notable, bool json) {
  if (json) {
    print_json_line(import_summary_json(import));
    for (const auto &entry : import.log)
      print_json_line(import_log_json(entry));
    return;
  }
  std::printf("%s\n", import_summary_text(import).c_str());
  std::string table = import_log_table(import.log, only_notable);
  std::fwrite(table.data(), 1, table.size(), stdout);
}

// The terminal itself, opened when first asked, so prompts work when stdin and stdout are
// redirected.
class Terminal {
public:
  Terminal() = default;
  ~Terminal() {
    if (fd_ >= 0) ::close(fd_);
  }
  Terminal(const Terminal &) = delete;
  Terminal &operator=(const Terminal &) = delete;
  // Asks for one line; `what` names it in errors, `instead` says how to do without a terminal.
  Result<std::string> ask(const char *prompt, const std::string &what, const std::string &instead,
                          size_t max_bytes, bool echo_off) {
    if (fd_ == kNotOpened) fd_ = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd_ < 0)
      return make_error(Errc::unavailable, "no terminal to ask for the " + what + " (" + instead + ")");
    auto line = prompt_line(fd_, prompt, max_bytes, echo_off);
    if (!line.ok() && line.error().code == Errc::too_large)
      return make_error(Errc::too_large,
                        "the " + what + " is longer than " + std::to_string(max_bytes) + " bytes");
    return line;
  }

private:
  static constexpr int kNotOpened = -2;
  int fd_ = kNotOpened;
};

std::string trim_spaces(const std::string &text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

// The e-mail address and password of a login, wiped when it goes.
struct Credentials {
  std::string email;
  std::string password;
  Credentials() = default;
  // Moves hand the password's buffer over: the moved-from string holds no copy to wipe.
  Credentials(Credentials &&) = default;
  Credentials &operator=(Credentials &&) = default;
  Credentials(const Credentials &) = delete;
  Credentials &operator=(const Credentials &) = delete;
  ~Credentials() { wipe(password); }
};

Result<Credentials> gather_credentials(const LoginArgs &args) {
  Credentials credentials;
  Terminal terminal;
  credentials.email = trim_spaces(args.email);
  if (args.email.empty()) {
    auto email = terminal.ask("E-mail: ", "e-mail address", "give --email", kMaxEmailBytes, false);
    if (!email.ok()) return email.error();
    credentials.email = trim_spaces(*email);
  }
  if (credentials.email.empty()) return make_error(Errc::bad_request, "the e-mail address is empty");
  if (credentials.email.size() > kMaxEmailBytes)
    return make_error(Errc::too_large,
                      "the e-mail address is longer than " + std::to_string(kMaxEmailBytes) + " bytes");
  auto password = args.password_stdin ? read_password_from(STDIN_FILENO)
                                      : terminal.ask("Password: ", "password", "use --password-stdin",
                                                     proto::kMaxPasswordField, true);
  if (!password.ok()) return password.error();
  credentials.password = std::move(*password);
  wipe(*password);
  if (credentials.password.empty()) return make_error(Errc::bad_request, "the password is empty");
  return credentials;
}

} // namespace

// ---- helpers (directory_commands.h) ----------------------------------------------------------

Status check_import_size(const std::string &file, uint64_t size_bytes) {
  if (size_bytes <= kMaxImportFileBytes) return {};
  return make_error(Errc::too_large, file + " has " + std::to_string(size_bytes) +
                                         " bytes; an import file may have at most 1,048,576 (1 MB)");
}

Result<std::string> read_password_from(int fd) {
  auto line = read_line(fd, proto::kMaxPasswordField);
  if (!line.ok()) {
    if (line.error().code == Errc::too_large)
      return make_error(Errc::too_large, "the password on standard input is longer than " +
                                             std::to_string(proto::kMaxPasswordField) + " bytes");
    return make_error(line.error().code, "standard input: " + line.error().message);
  }
  if (line->empty()) return make_error(Errc::bad_request, "no password on standard input (one line is read)");
  return line;
}

proto::MapWriter page_args(const std::string &after, uint64_t limit) {
  proto::PageRequest page;
  page.after = after;
  page.limit = limit;
  proto::MapWriter w;
  page.write(w);
  return w;
}

proto::MapWriter import_show_args(const std::string &import, const std::string &after, uint64_t limit) {
  proto::MapWriter w;
  w.str("import", import);
  proto::PageRequest page;
  page.after = after;
  page.limit = limit;
  page.write(w);
  return w;
}

proto::MapWriter import_start_args(const std::string &kind, const std::string &file_name, uint64_t size_bytes,
                                   bool strict, bool password_links) {
  proto::MapWriter w;
  w.str("kind", kind)
      .str("file_name", file_name)
      .u64("size", size_bytes)
      .boolean("strict", strict)
      .boolean("password_links", password_links);
  return w;
}

std::string roles_text(const std::vector<std::string> &roles) {
  if (roles.empty()) return "none";
  std::string text;
  for (const auto &role : roles) {
    if (!text.empty()) text += ", ";
    text += printable(role);
  }
  return text;
}

std::string login_text(const proto::AgentLoginResult &login) {
  std::string text = "logged in as " + printable(login.email);
  if (!login.display_name.empty()) text += " (" + printable(login.display_name) + ")";
  text += " on this workstation as " + printable(login.os_account) + "; roles: " + roles_text(login.roles);
  return text;
}

std::string user_name(const proto::UserEntry &user) {
  if (!user.display_name.empty()) return user.display_name;
  if (user.first_name.empty()) return user.last_name;
  if (user.last_name.empty()) return user.first_name;
  return user.first_name + " " + user.last_name;
}

std::string import_summary_text(const proto::ImportShowResult &import) {
  return std::to_string(import.records) + " records: " + std::to_string(import.applied) + " applied (" +
         std::to_string(import.warnings) + " with warnings), " + std::to_string(import.failed) + " failed";
}

std::string import_log_table(const std::vector<proto::ImportLogEntry> &log, bool only_notable) {
  std::vector<std::vector<std::string>> rows;
  for (const auto &entry : log) {
    if (only_notable && entry.result != "failed" && entry.reason.empty()) continue;
    rows.push_back(
        {std::to_string(entry.record), std::to_string(entry.line), entry.key, entry.result, entry.reason});
  }
  if (rows.empty()) return "";
  return format_table({{"RECORD", true}, {"LINE", true}, {"KEY"}, {"RESULT"}, {"REASON"}}, rows);
}

std::string user_json(const proto::UserEntry &user) {
  // Stored as canonical JSON text: shown as the object it is (as text should it not parse).
  nlohmann::json custom = nlohmann::json::parse(user.custom_attributes, nullptr, false);
  if (custom.is_discarded()) custom = user.custom_attributes;
  nlohmann::json o = {{"id", user.id},
                      {"email", user.email},
                      {"first_name", user.first_name},
                      {"last_name", user.last_name},
                      {"display_name", user.display_name},
                      {"short_name", user.short_name},
                      {"department", user.department},
                      {"cost_center", user.cost_center},
                      {"custom_attributes", custom},
                      {"has_password", user.has_password},
                      {"created_ms", user.created_ms}};
  return json_text(o);
}

std::string import_summary_json(const proto::ImportShowResult &import) {
  nlohmann::json o = {{"import", import.import},
                      {"kind", import.kind},
                      {"actor", import.actor},
                      {"file_name", import.file_name},
                      {"records", import.records},
                      {"applied", import.applied},
                      {"failed", import.failed},
                      {"warnings", import.warnings},
                      {"state", import.state},
                      {"started_ms", import.started_ms},
                      {"finished_ms", import.finished_ms}};
  return json_text(o);
}

std::string import_log_json(const proto::ImportLogEntry &entry) {
  nlohmann::json o = {{"record", entry.record},
                      {"line", entry.line},
                      {"key", entry.key},
                      {"result", entry.result},
                      {"reason", entry.reason}};
  return json_text(o);
}

// ---- commands (commands.h) -------------------------------------------------------------------

int command_login(const LoginArgs &args) {
  auto credentials = gather_credentials(args);
  if (!credentials.ok()) return fail(credentials.error());
  proto::AgentLoginRequest request;
  request.email = credentials->email;
  request.password = credentials->password;
  proto::MapWriter w;
  request.write(w);
  wipe(request.password);
  wipe(credentials->password);

  AgentLink link;
  if (Status opened = link.open(args.socket); !opened.ok()) return fail(opened.error());
  auto login = typed_answer<proto::AgentLoginResult>(link.agent().call(proto::op::agent_login, w));
  if (!login.ok()) return fail(login.error());
  if (Status closed = link.close(); !closed.ok()) return fail(closed.error());
  if (args.json) {
    nlohmann::json o = {{"user", login->user},
                        {"email", login->email},
                        {"display_name", login->display_name},
                        {"os_account", login->os_account},
                        {"roles", login->roles}};
    print_json_line(json_text(o));
  } else {
    std::printf("%s\n", login_text(*login).c_str());
  }
  return 0;
}

int command_logout(const LogoutArgs &args) {
  AgentLink link;
  if (Status opened = link.open(args.socket); !opened.ok()) return fail(opened.error());
  auto answer = link.agent().call(proto::op::agent_logout, proto::MapWriter{});
  if (!answer.ok()) return fail(answer.error());
  if (Status closed = link.close(); !closed.ok()) return fail(closed.error());
  std::printf("logged out\n");
  return 0;
}

int command_whoami(const WhoamiArgs &args) {
  AgentLink link;
  if (Status opened = link.open(args.socket); !opened.ok()) return fail(opened.error());
  auto me = forward<proto::WhoamiResult>(link.agent(), proto::op::whoami, proto::MapWriter{});
  if (!me.ok()) return fail(me.error());
  if (Status closed = link.close(); !closed.ok()) return fail(closed.error());
  if (args.json) {
    print_json_line(json_text({{"user", me->user}, {"email", me->email}, {"roles", me->roles}}));
    return 0;
  }
  std::printf("e-mail: %s\nuser:   %s\nroles:  %s\n", printable(me->email).c_str(),
              printable(me->user).c_str(), roles_text(me->roles).c_str());
  return 0;
}

int command_users_list(const UsersListArgs &args) {
  AgentLink link;
  if (Status opened = link.open(args.socket); !opened.ok()) return fail(opened.error());
  std::vector<std::vector<std::string>> rows;
  uint64_t listed = 0;
  bool cut_short = false;
  std::string after;
  for (;;) {
    uint64_t wanted = proto::kMaxPage;
    if (args.limit != 0) wanted = std::min(wanted, args.limit - listed);
    auto page =
        forward<proto::UsersListResult>(link.agent(), proto::op::users_list, page_args(after, wanted));
    if (!page.ok()) return fail(page.error());
    for (const auto &user : page->users) {
      if (args.limit != 0 && listed == args.limit) break;
      if (!args.json && rows.size() == kMaxTableUsers) {
        cut_short = true;
        break;
      }
      listed++;
      // JSON lines go out page by page: a script reading them needs no table widths.
      if (args.json) {
        print_json_line(user_json(user));
        continue;
      }
      rows.push_back({user.email, user_name(user), user.department, user.has_password ? "yes" : "no"});
    }
    if (cut_short || (args.limit != 0 && listed == args.limit)) break;
    // A cursor that does not move would page forever.
    if (page->next.empty() || page->next == after) break;
    after = page->next;
  }
  if (Status closed = link.close(); !closed.ok()) return fail(closed.error());
  if (args.json) return 0;
  if (rows.empty()) {
    std::printf("no users\n");
    return 0;
  }
  std::string table = format_table({{"EMAIL"}, {"NAME"}, {"DEPARTMENT"}, {"PASSWORD"}}, rows);
  std::fwrite(table.data(), 1, table.size(), stdout);
  if (cut_short) std::printf("(only the first %zu users are listed; --json lists every one)\n", rows.size());
  return 0;
}

int command_import(const ImportArgs &args) {
  int fd = ::open(args.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(make_error(Errc::not_found, "cannot open " + args.file + ": " + errno_text()));
  // The source owns the descriptor from here on.
  auto source = proto::fd_source(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return fail(make_error(Errc::bad_request, args.file + " is not a regular file"));
  const auto size_bytes = static_cast<uint64_t>(st.st_size);
  if (Status fits = check_import_size(args.file, size_bytes); !fits.ok()) return fail(fits.error());

  AgentLink link;
  if (Status opened = link.open(args.socket); !opened.ok()) return fail(opened.error());
  std::string file_name = std::filesystem::path(args.file).filename().string();
  proto::MapWriter start_args = import_start_args(args.kind, file_name, size_bytes, args.strict,
                                                  args.kind == "users" && args.password_links);
  auto started = typed_answer<proto::ImportStartResult>(link.agent().call_upload(
      proto::op::agent_forward_upload, forward_request(proto::op::import_start, start_args, size_bytes),
      std::move(source)));
  // Refused whole (header, size, rights): nothing was imported.
  if (!started.ok()) return fail(started.error());
  const std::string &import = started->import;
  if (!args.json) {
    std::printf("import %s: %llu records\n", printable(import).c_str(),
                static_cast<unsigned long long>(started->records));
    std::fflush(stdout);
  }
  if (args.no_wait) {
    if (Status closed = link.close(); !closed.ok()) return fail(closed.error());
    if (args.json) print_json_line(json_text({{"import", import}, {"records", started->records}}));
    return 0;
  }

  // The import runs on in the directory whatever happens here: every failure from now on says
  // how to follow it.
  auto following = [&import](const Error &error) {
    return fail(make_error(error.code, error.message + " (import " + import +
                                           " runs on in the directory: `lpm imports show " + import + "`)"));
  };
  const bool show_progress = ::isatty(STDERR_FILENO) != 0;
  bool progress_shown = false;
  for (;;) {
    auto now = forward<proto::ImportShowResult>(link.agent(), proto::op::import_show,
                                                import_show_args(import, "", 1));
    if (!now.ok()) return following(now.error());
    if (show_progress && now->records > 0) {
      progress_shown = true;
      std::fprintf(stderr, "\rrecord %llu of %llu",
                   static_cast<unsigned long long>(now->applied + now->failed),
                   static_cast<unsigned long long>(now->records));
    }
    if (now->state != "running") break;
    std::this_thread::sleep_for(kImportPollInterval);
  }
  if (progress_shown) std::fprintf(stderr, "\n");
  auto finished = fetch_import(link.agent(), import);
  if (!finished.ok()) return following(finished.error());
  if (Status closed = link.close(); !closed.ok()) return fail(closed.error());
  // Records that failed are the import's outcome, not the command's: they are listed, exit 0.
  print_import(*finished, true, args.json);
  return 0;
}

int command_imports_show(const ImportsShowArgs &args) {
  AgentLink link;
  if (Status opened = link.open(args.socket); !opened.ok()) return fail(opened.error());
  auto import = fetch_import(link.agent(), args.import);
  if (!import.ok()) return fail(import.error());
  if (Status closed = link.close(); !closed.ok()) return fail(closed.error());
  if (!args.json)
    std::printf("import %s: %s of %s, %s\n", printable(import->import).c_str(),
                printable(import->kind).c_str(), printable(import->file_name).c_str(),
                printable(import->state).c_str());
  print_import(*import, false, args.json);
  return 0;
}

} // namespace lpm::cli
