// `lpm login`, `logout`, `whoami`, `users list|import`, `badges import`, `imports show` (issue 4):
// the checks made before anything is sent, the password read from a pipe or a terminal (echo
// off, and back on even when a signal ends the prompt), the text and JSON shown, and each command
// against a stand-in for the agent's control socket that serves the agent's side of the contract
// (login, logout, directory, directory-upload) on its own thread. The commands against the real
// agent and directory are the lead's integration test.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pty_support.h"
#include "app.h"
#include "control_socket_server.h"
#include "directory_commands.h"
#include "lpm/files.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "password_prompt.h"
#include "run_lpm.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::cli;
using lpm::test::Outcome;
using lpm::test::run_lpm;
using lpm::test::TempDir;

using lpm::cli::test::ChildGuard;
using lpm::cli::test::spawn_on_terminal;
using lpm::cli::test::Pty;
using lpm::cli::test::wait_child;

namespace {

// ---- a pipe and a terminal ------------------------------------------------------------------

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  explicit Pipe(const std::string &content) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    read_end = fds[0];
    write_end = fds[1];
    REQUIRE(::write(write_end, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::close(write_end);
    write_end = -1;
  }
  ~Pipe() {
    if (read_end >= 0) ::close(read_end);
  }
  Pipe(const Pipe &) = delete;
  Pipe &operator=(const Pipe &) = delete;
  std::string rest() const {
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(read_end, buf, sizeof buf)) > 0)
      out.append(buf, static_cast<size_t>(n));
    return out;
  }
};


// ---- a stand-in for the agent's control socket ----------------------------------------------

// What the stand-in answers, and what it saw. The agent thread touches it only under the mutex.
struct AgentScript {
  std::string password = "correct horse";
  bool logged_in = false;
  std::vector<proto::UserEntry> users; // sorted by e-mail
  size_t users_page = 2;
  proto::ImportShowResult import; // the one import it knows, with its whole log
  size_t log_page = 2;
  int running_polls = 2; // first-page import-show calls answered "running" before "done"

  // Seen.
  std::string login_email;
  std::string login_password;
  std::vector<std::string> forwarded_ops;
  bool session_in_args = false;
  std::vector<uint64_t> users_limits;
  int import_show_calls = 0;
  int uploads = 0;
  std::string upload_kind;
  std::string upload_file_name;
  uint64_t upload_size = 0;
  bool upload_strict = false;
  bool upload_password_links = false;
  std::string upload_content;
};

class FakeAgent {
public:
  explicit FakeAgent(const std::string &path) : server_(path, dispatcher()) {}

  template <class Fn> void with_script(Fn fn) {
    std::lock_guard<std::mutex> lock(mutex_);
    fn(script_);
  }
  AgentScript seen() {
    std::lock_guard<std::mutex> lock(mutex_);
    return script_;
  }

private:
  std::shared_ptr<proto::Dispatcher> dispatcher() {
    auto routes = std::make_shared<proto::Dispatcher>();
    routes->on(proto::op::agent_login, [this](proto::CallPtr call) { login(call); });
    routes->on(proto::op::agent_logout, [this](proto::CallPtr call) { logout(call); });
    routes->on(proto::op::agent_forward, [this](proto::CallPtr call) { forward(call); });
    routes->on_upload(proto::op::agent_forward_upload, [this](proto::CallPtr call) { upload(call); });
    return routes;
  }

  void login(const proto::CallPtr &call) {
    proto::AgentLoginRequest request;
    request.read(call->args());
    if (!call->args().ok()) return call->fail(call->args().error());
    std::lock_guard<std::mutex> lock(mutex_);
    script_.login_email = request.email;
    script_.login_password = request.password;
    if (request.password != script_.password)
      return call->fail(Errc::unauthenticated, "wrong e-mail address or password");
    script_.logged_in = true;
    proto::AgentLoginResult result;
    result.user = "0190a0b0-0000-7000-8000-000000000001";
    result.email = request.email;
    result.display_name = "Jean Dupont";
    result.os_account = "jdupont";
    result.roles = {"admin", "user-admin"};
    proto::MapWriter w;
    result.write(w);
    call->reply(w);
  }

  void logout(const proto::CallPtr &call) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!script_.logged_in) return call->fail(Errc::not_found, "this account is not logged in");
    script_.logged_in = false;
    call->reply(proto::MapWriter{});
  }

  // The forwarded request's inner args, or null after failing the call.
  std::optional<proto::MapReader> inner_args(const proto::CallPtr &call, proto::ForwardRequest &request) {
    request.read(call->args());
    if (!call->args().ok()) {
      call->fail(call->args().error());
      return std::nullopt;
    }
    const msgpack::object *args = call->args().find("args");
    if (!args || args->type != msgpack::type::MAP) {
      call->fail(Errc::bad_request, "args.args must be a map");
      return std::nullopt;
    }
    proto::MapReader inner(*args, "args");
    if (inner.has("session")) script_.session_in_args = true;
    if (!script_.logged_in) {
      call->fail(Errc::unauthenticated, "this account is not logged in: run `lpm login`");
      return std::nullopt;
    }
    return inner;
  }

  void forward(const proto::CallPtr &call) {
    std::lock_guard<std::mutex> lock(mutex_);
    proto::ForwardRequest request;
    auto args = inner_args(call, request);
    if (!args) return;
    script_.forwarded_ops.push_back(request.op);
    proto::MapWriter w;
    if (request.op == proto::op::whoami) {
      proto::WhoamiResult me{
          "0190a0b0-0000-7000-8000-000000000001", script_.login_email, {"admin", "user-admin"}};
      me.write(w);
    } else if (request.op == proto::op::users_list) {
      proto::PageRequest page;
      page.read(*args);
      script_.users_limits.push_back(page.limit);
      proto::UsersListResult result;
      size_t at = 0;
      while (at < script_.users.size() && !page.after.empty() && script_.users[at].email <= page.after)
        at++;
      size_t end = std::min({script_.users.size(), at + script_.users_page, at + page.limit});
      result.users.assign(script_.users.begin() + static_cast<long>(at),
                          script_.users.begin() + static_cast<long>(end));
      if (end < script_.users.size()) result.next = result.users.back().email;
      result.write(w);
    } else if (request.op == proto::op::import_show) {
      std::string id = args->str("import");
      proto::PageRequest page;
      page.read(*args);
      if (id != script_.import.import) return call->fail(Errc::not_found, "no import " + id);
      script_.import_show_calls++;
      proto::ImportShowResult result = script_.import;
      if (page.after.empty() && script_.running_polls > 0) {
        script_.running_polls--;
        result.state = "running";
        result.applied = 1;
        result.failed = 0;
        result.warnings = 0;
      }
      int64_t after = page.after.empty() ? 0 : std::stoll(page.after);
      result.log.clear();
      for (const auto &entry : script_.import.log)
        if (entry.record > after && result.log.size() < std::min<uint64_t>(page.limit, script_.log_page))
          result.log.push_back(entry);
      if (!result.log.empty() && result.log.back().record < script_.import.log.back().record)
        result.next = std::to_string(result.log.back().record);
      result.write(w);
    } else {
      return call->fail(Errc::bad_request, "not relayed: " + request.op);
    }
    call->reply(w);
  }

  void upload(const proto::CallPtr &call) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      proto::ForwardRequest request;
      auto args = inner_args(call, request);
      if (!args) return;
      script_.uploads++;
      script_.forwarded_ops.push_back(request.op);
      script_.upload_kind = args->str("kind");
      script_.upload_file_name = args->str("file_name");
      script_.upload_size = args->u64("size");
      script_.upload_strict = args->boolean("strict");
      script_.upload_password_links = args->boolean("password_links");
      if (!args->ok()) return call->fail(args->error());
    }
    auto sink = std::make_unique<proto::MemorySink>(2 << 20);
    auto content = sink->data;
    call->receive_stream(std::move(sink), [this, content](proto::CallPtr done, Status s) {
      if (!s.ok()) return;
      std::lock_guard<std::mutex> relock(mutex_);
      script_.upload_content.assign(content->begin(), content->end());
      if (script_.upload_content.rfind("BAD", 0) == 0)
        return done->fail(Errc::bad_request, "the header must be EMAIL,OPERATION,PASSWORD,...");
      proto::ImportStartResult started{script_.import.import, script_.import.records};
      proto::MapWriter w;
      started.write(w);
      done->reply(w);
    });
  }

  std::mutex mutex_;
  AgentScript script_;
  // Last: it stops serving (and so calling the handlers above) before the script goes.
  lpm::test::ControlSocketServer server_;
};

proto::UserEntry user(std::string email, std::string first, std::string last, std::string display,
                      std::string department, bool password) {
  proto::UserEntry u;
  u.id = "id-" + email.substr(0, email.find('@'));
  u.email = std::move(email);
  u.first_name = std::move(first);
  u.last_name = std::move(last);
  u.display_name = std::move(display);
  u.department = std::move(department);
  u.custom_attributes = R"({"floor":"3"})";
  u.has_password = password;
  u.created_ms = 1700000000000;
  return u;
}

proto::ImportShowResult sample_import() {
  proto::ImportShowResult import;
  import.import = "0190a0b0-0000-7000-8000-0000000000aa";
  import.kind = "users";
  import.actor = "admin@example.com";
  import.file_name = "users.csv";
  import.records = 3;
  import.applied = 2;
  import.failed = 1;
  import.warnings = 1;
  import.state = "done";
  import.started_ms = 1700000000000;
  import.finished_ms = 1700000001000;
  import.log = {{1, 2, "ann@example.com", "created", ""},
                {2, 3, "bob@example.com", "failed", "a user with this e-mail address exists"},
                { 3,
                  5,
                  "cy@example.com",
                  "created",
                  "9 values under an 11-column header: the missing ones are empty" }};
  return import;
}

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// A shared workspace: a temp folder, the stand-in agent on a socket in it, and a logged-in user.
struct ScriptedAgentFixture {
  TempDir dir;
  std::string socket = dir.path + "/agent.sock";
  FakeAgent agent{socket};
  ScriptedAgentFixture() {
    agent.with_script([](AgentScript &s) {
      s.users = {user("ann@example.com", "Ann", "Lee", "", "Sales", true),
                 user("bob@example.com", "Bob", "", "", "", false),
                 user("cy@example.com", "Cy", "Young", "Cy Y.", "R&D", true),
                 user("dee@example.com", "", "Dee", "", "Sales", true),
                 user("eve@example.com", "Eve", "Moss", "", "Legal", false)};
      s.import = sample_import();
    });
  }
  Outcome login() {
    return run_lpm({"login", "--email", "jean@example.com", "--password-stdin", "--socket", socket},
                   std::string("correct horse\n"));
  }
};

} // namespace

// ---- before anything is sent ----------------------------------------------------------------

TEST_CASE("an import file over 1,048,576 bytes is refused by lpm, one at the cap is not (UA-10, AMB-10)",
          "[cli][UA-10][AMB-10]") {
  CHECK(check_import_size("users.csv", 0).ok());
  CHECK(check_import_size("users.csv", 1048576).ok());
  Status over = check_import_size("users.csv", 1048577);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == Errc::too_large);
  CHECK(over.error().message ==
        "users.csv has 1048577 bytes; an import file may have at most 1,048,576 (1 MB)");

  // Refused before the agent is even reached: no socket exists, yet the error is the size.
  TempDir tmp;
  std::string big = tmp.path + "/big.csv";
  REQUIRE(write_file_atomic(big, std::string(1048577, 'x'), 0600).ok());
  Outcome o = run_lpm({"users", "import", big, "--socket", tmp.path + "/none.sock"});
  CHECK(o.code == 1);
  CHECK(o.err ==
        "lpm: too_large: " + big + " has 1048577 bytes; an import file may have at most 1,048,576 (1 MB)\n");
  CHECK(o.out.empty());
}

TEST_CASE("lpm login --password-stdin takes one line and strips only its newline", "[cli][login]") {
  SECTION("the rest of the input is left unread") {
    Pipe in("s3cret pass\nnext line\n");
    auto password = read_password_from(in.read_end);
    REQUIRE(password.ok());
    CHECK(*password == "s3cret pass");
    CHECK(in.rest() == "next line\n");
  }
  SECTION("spaces and a carriage return are part of the password") {
    Pipe in("  spaced \r\n");
    auto password = read_password_from(in.read_end);
    REQUIRE(password.ok());
    CHECK(*password == "  spaced \r");
  }
  SECTION("a last line without a newline counts") {
    Pipe in("no-newline");
    auto password = read_password_from(in.read_end);
    REQUIRE(password.ok());
    CHECK(*password == "no-newline");
  }
  SECTION("an empty line or no input is refused") {
    for (const char *input : {"", "\n"}) {
      Pipe in(input);
      auto password = read_password_from(in.read_end);
      REQUIRE_FALSE(password.ok());
      CHECK(password.error().code == Errc::bad_request);
      CHECK(password.error().message == "no password on standard input (one line is read)");
    }
  }
  SECTION("1024 bytes are taken, 1025 refused") {
    Pipe at_cap(std::string(1024, 'p') + "\n");
    auto fits = read_password_from(at_cap.read_end);
    REQUIRE(fits.ok());
    CHECK(fits->size() == 1024);
    Pipe over(std::string(1025, 'p') + "\nafter\n");
    auto refused = read_password_from(over.read_end);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::too_large);
    CHECK(refused.error().message == "the password on standard input is longer than 1024 bytes");
    // The whole over-long line is consumed: no piece of it is left for the next reader.
    CHECK(over.rest() == "after\n");
  }
}

TEST_CASE("forwarded arguments are the person op's request without a session", "[cli]") {
  auto decode = [](const proto::MapWriter &w) {
    auto bytes = w.finish();
    auto handle = proto::unpack_map(bytes);
    REQUIRE(handle.ok());
    return std::move(*handle);
  };
  auto start = decode(import_start_args("users", "users.csv", 812, true, false));
  proto::MapReader r(start.get(), "args");
  CHECK_FALSE(r.has("session"));
  CHECK(r.str("kind") == "users");
  CHECK(r.str("file_name") == "users.csv");
  CHECK(r.u64("size") == 812);
  CHECK(r.boolean("strict"));
  CHECK_FALSE(r.boolean("password_links"));
  CHECK(r.ok());

  auto show = decode(import_show_args("imp-1", "500", 500));
  proto::MapReader s(show.get(), "args");
  CHECK_FALSE(s.has("session"));
  CHECK(s.str("import") == "imp-1");
  CHECK(s.str("after") == "500");
  CHECK(s.u64("limit") == 500);

  auto first_page = decode(page_args("", 7));
  proto::MapReader p(first_page.get(), "args");
  CHECK_FALSE(p.has("session"));
  CHECK_FALSE(p.has("after"));
  CHECK(p.u64("limit") == 7);
}

TEST_CASE("what people read: the login, roles, names, an import's summary and log", "[cli]") {
  proto::AgentLoginResult login{"u-1", "jean@example.com", "Jean Dupont", "jdupont", {"admin", "user-admin"}};
  CHECK(
      login_text(login) ==
      "logged in as jean@example.com (Jean Dupont) on this workstation as jdupont; roles: admin, user-admin");
  login.display_name.clear();
  login.roles.clear();
  CHECK(login_text(login) == "logged in as jean@example.com on this workstation as jdupont; roles: none");
  login.display_name = "Evil\x1b[2J";
  CHECK(login_text(login).find('\x1b') == std::string::npos);

  CHECK(user_name(user("a@x", "Ann", "Lee", "Ann L.", "", true)) == "Ann L.");
  CHECK(user_name(user("a@x", "Ann", "Lee", "", "", true)) == "Ann Lee");
  CHECK(user_name(user("a@x", "Ann", "", "", "", true)) == "Ann");
  CHECK(user_name(user("a@x", "", "Lee", "", "", true)) == "Lee");
  CHECK(user_name(user("a@x", "", "", "", "", true)).empty());

  proto::ImportShowResult import = sample_import();
  CHECK(import_summary_text(import) == "3 records: 2 applied (1 with warnings), 1 failed");
  CHECK(import_log_table(import.log, true) ==
        "RECORD  LINE  KEY              RESULT   REASON\n"
        "     2     3  bob@example.com  failed   a user with this e-mail address exists\n"
        "     3     5  cy@example.com   created  9 values under an 11-column header: the missing ones are "
        "empty\n");
  CHECK(lines_of(import_log_table(import.log, false)).size() == 4);
  CHECK(import_log_table({{1, 2, "ann@example.com", "created", ""}}, true).empty());
}

TEST_CASE("the --json lines carry every field", "[cli]") {
  auto u = nlohmann::json::parse(user_json(user("ann@example.com", "Ann", "Lee", "", "Sales", true)));
  CHECK(u["email"] == "ann@example.com");
  CHECK(u["first_name"] == "Ann");
  CHECK(u["department"] == "Sales");
  CHECK(u["has_password"] == true);
  CHECK(u["custom_attributes"]["floor"] == "3"); // an object, not a string holding JSON
  CHECK(u["created_ms"] == 1700000000000);
  proto::UserEntry odd = user("b@x", "", "", "", "", false);
  odd.custom_attributes = "{not json";
  CHECK(nlohmann::json::parse(user_json(odd))["custom_attributes"] == "{not json");

  auto summary = nlohmann::json::parse(import_summary_json(sample_import()));
  CHECK(summary["import"] == "0190a0b0-0000-7000-8000-0000000000aa");
  CHECK(summary["state"] == "done");
  CHECK(summary["records"] == 3);
  CHECK(summary["warnings"] == 1);
  auto row = nlohmann::json::parse(import_log_json(sample_import().log[1]));
  CHECK(row == nlohmann::json{{"record", 2},
                              {"line", 3},
                              {"key", "bob@example.com"},
                              {"result", "failed"},
                              {"reason", "a user with this e-mail address exists"}});
}

// ---- the terminal ---------------------------------------------------------------------------

TEST_CASE("the password is typed with echo off and the terminal is restored after", "[cli][login]") {
  Pty pty;
  REQUIRE(pty.echo_on());
  bool typed = false;
  std::thread typist([&pty, &typed] {
    // Typing before echo is off would be flushed (and shown): wait for it, as a person would.
    typed = pty.wait_echo(false) && ::write(pty.master, "hunter2 x\n", 10) == 10;
  });
  auto password = prompt_line(pty.slave, "Password: ", 1024, true);
  typist.join();
  REQUIRE(typed);
  REQUIRE(password.ok());
  CHECK(*password == "hunter2 x");
  CHECK(pty.echo_on());
  std::string shown = pty.shown();
  CHECK(shown.find("Password: ") != std::string::npos);
  CHECK(shown.find("hunter2") == std::string::npos);

  // The e-mail prompt echoes as usual.
  REQUIRE(::write(pty.master, "jean@example.com\n", 17) == 17);
  auto email = prompt_line(pty.slave, "E-mail: ", 254, false);
  REQUIRE(email.ok());
  CHECK(*email == "jean@example.com");
  // The echo comes through the terminal's line discipline, which runs later (a kernel worker):
  // under load it can take longer than shown()'s 200 ms of quiet, so wait for the text itself.
  CHECK(pty.shown_until("jean@example.com").find("jean@example.com") != std::string::npos);

  // Not a terminal.
  Pipe in("x\n");
  auto no_tty = prompt_line(in.read_end, "Password: ", 1024, true);
  REQUIRE_FALSE(no_tty.ok());
  CHECK(no_tty.error().code == Errc::unavailable);
}

// (Ctrl-Z is not tested here: whether a stop reaches the child depends on the session and
// process group the test runs in, which differ between a terminal, ctest and CI.)
TEST_CASE("Ctrl-C or a kill at the password prompt leave the terminal's echo on", "[cli][login]") {
  for (int ending : {SIGINT, SIGTERM}) {
    Pty pty;
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      auto password = prompt_line(pty.slave, "Password: ", 1024, true);
      ::_exit(password.ok() ? 3 : 4); // only a signal should end it
    }
    ChildGuard guard{child};
    REQUIRE(pty.wait_echo(false));
    REQUIRE(::kill(child, ending) == 0);
    int status = 0;
    REQUIRE(wait_child(child, status, 10000));
    guard.pid = -1;
    // Ended by the signal itself, as the shell expects, not by an exit code.
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == ending);
    CHECK(pty.echo_on());
  }
}

// ---- the commands against a stand-in agent --------------------------------------------------

TEST_CASE("lpm login with --password-stdin binds the account, a wrong password is one clear line",
          "[cli][login]") {
  ScriptedAgentFixture f;
  Outcome wrong = run_lpm({"login", "--email", "jean@example.com", "--password-stdin", "--socket", f.socket},
                          std::string("wrong horse\n"));
  CHECK(wrong.code == 1);
  CHECK(wrong.err == "lpm: unauthenticated: wrong e-mail address or password\n");
  CHECK(wrong.out.empty());

  Outcome ok = f.login();
  CHECK(ok.code == 0);
  CHECK(ok.out == "logged in as jean@example.com (Jean Dupont) on this workstation as jdupont; roles: admin, "
                  "user-admin\n");
  CHECK(ok.err.empty());
  AgentScript seen = f.agent.seen();
  CHECK(seen.login_email == "jean@example.com");
  CHECK(seen.login_password == "correct horse");
  CHECK(ok.out.find("correct horse") == std::string::npos);

  Outcome json =
      run_lpm({"login", "--email", "jean@example.com", "--password-stdin", "--json", "--socket", f.socket},
              std::string("correct horse\n"));
  REQUIRE(json.code == 0);
  auto o = nlohmann::json::parse(json.out);
  CHECK(o["os_account"] == "jdupont");
  CHECK(o["roles"] == nlohmann::json::array({"admin", "user-admin"}));

  // Scripts have no terminal: without --email there is nobody to ask.
  Outcome no_email = run_lpm({"login", "--password-stdin", "--socket", f.socket}, std::string("x\n"));
  if (int tty = ::open("/dev/tty", O_RDONLY | O_CLOEXEC); tty >= 0) {
    ::close(tty);
  } else {
    CHECK(no_email.code == 1);
    CHECK(no_email.err == "lpm: unavailable: no terminal to ask for the e-mail address (give --email)\n");
  }
}

TEST_CASE("lpm login asks for the e-mail and the password on its terminal, the password unseen",
          "[cli][login]") {
  ScriptedAgentFixture f;
  Pty pty;
  pid_t child = spawn_on_terminal(pty, {"login", "--socket", f.socket});
  ChildGuard guard{child};
  std::string transcript = pty.shown_until("E-mail: ");
  REQUIRE(::write(pty.master, "jean@example.com\n", 17) == 17);
  transcript += pty.shown_until("Password: ");
  REQUIRE(pty.wait_echo(false));
  REQUIRE(::write(pty.master, "correct horse\n", 14) == 14);
  int status = 0;
  REQUIRE(wait_child(child, status, 10000));
  guard.pid = -1;
  transcript += pty.shown();
  INFO(transcript);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(transcript.find("E-mail: jean@example.com\r\n") != std::string::npos);
  CHECK(transcript.find("logged in as jean@example.com (Jean Dupont) on this workstation as jdupont") !=
        std::string::npos);
  CHECK(transcript.find("correct horse") == std::string::npos);
  CHECK(pty.echo_on());
  CHECK(f.agent.seen().login_password == "correct horse");
}

TEST_CASE("whoami and logout, the person ops need a login", "[cli][login]") {
  ScriptedAgentFixture f;
  Outcome before = run_lpm({"whoami", "--socket", f.socket});
  CHECK(before.code == 1);
  CHECK(before.err == "lpm: unauthenticated: this account is not logged in: run `lpm login`\n");
  CHECK(run_lpm({"users", "list", "--socket", f.socket}).code == 1);

  REQUIRE(f.login().code == 0);
  Outcome me = run_lpm({"whoami", "--socket", f.socket});
  CHECK(me.code == 0);
  CHECK(
      me.out ==
      "e-mail: jean@example.com\nuser:   0190a0b0-0000-7000-8000-000000000001\nroles:  admin, user-admin\n");
  Outcome me_json = run_lpm({"whoami", "--json", "--socket", f.socket});
  REQUIRE(me_json.code == 0);
  CHECK(nlohmann::json::parse(me_json.out)["email"] == "jean@example.com");

  Outcome out = run_lpm({"logout", "--socket", f.socket});
  CHECK(out.code == 0);
  CHECK(out.out == "logged out\n");
  Outcome again = run_lpm({"logout", "--socket", f.socket});
  CHECK(again.code == 1);
  CHECK(again.err == "lpm: not_found: this account is not logged in\n");
  CHECK_FALSE(f.agent.seen().session_in_args);
}

TEST_CASE("lpm users list pages through every user, or stops at --limit", "[cli]") {
  ScriptedAgentFixture f;
  REQUIRE(f.login().code == 0);
  Outcome all = run_lpm({"users", "list", "--socket", f.socket});
  CHECK(all.code == 0);
  CHECK(all.out == "EMAIL            NAME      DEPARTMENT  PASSWORD\n"
                   "ann@example.com  Ann Lee   Sales       yes\n"
                   "bob@example.com  Bob                   no\n"
                   "cy@example.com   Cy Y.     R&D         yes\n"
                   "dee@example.com  Dee       Sales       yes\n"
                   "eve@example.com  Eve Moss  Legal       no\n");
  CHECK(f.agent.seen().users_limits.size() == 3); // pages of 2, 2 and 1

  f.agent.with_script([](AgentScript &s) { s.users_limits.clear(); });
  Outcome three = run_lpm({"users", "list", "--limit", "3", "--socket", f.socket});
  CHECK(three.code == 0);
  CHECK(lines_of(three.out).size() == 4);
  CHECK(three.out.find("cy@example.com") != std::string::npos);
  CHECK(three.out.find("dee@example.com") == std::string::npos);
  CHECK(f.agent.seen().users_limits == std::vector<uint64_t>{3, 1});

  Outcome json = run_lpm({"users", "list", "--json", "--socket", f.socket});
  CHECK(json.code == 0);
  auto lines = lines_of(json.out);
  REQUIRE(lines.size() == 5);
  CHECK(nlohmann::json::parse(lines[4])["email"] == "eve@example.com");
  CHECK_FALSE(f.agent.seen().session_in_args);

  CHECK(run_lpm({"users", "list", "--limit", "0", "--socket", f.socket}).code == 2);
}

TEST_CASE("lpm users import uploads the file, follows the import and lists what failed or warned",
          "[cli][UA-24]") {
  ScriptedAgentFixture f;
  REQUIRE(f.login().code == 0);
  std::string csv =
      "EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,"
      "COST_CENTER,DEPARTMENT\nann@example.com,CREATE,Pw-12345678,Ann,,,,,,,\n";
  std::string file = f.dir.path + "/users.csv";
  REQUIRE(write_file_atomic(file, csv, 0600).ok());

  Outcome o = run_lpm({"users", "import", file, "--strict", "--password-links", "--socket", f.socket});
  CHECK(o.code == 0); // a record failed, but the import ran
  CHECK(o.out == "import 0190a0b0-0000-7000-8000-0000000000aa: 3 records\n"
                 "3 records: 2 applied (1 with warnings), 1 failed\n"
                 "RECORD  LINE  KEY              RESULT   REASON\n"
                 "     2     3  bob@example.com  failed   a user with this e-mail address exists\n"
                 "     3     5  cy@example.com   created  9 values under an 11-column header: the missing "
                 "ones are empty\n");
  CHECK(o.err.empty()); // no progress line: stderr is not a terminal
  AgentScript seen = f.agent.seen();
  CHECK(seen.upload_content == csv);
  CHECK(seen.upload_kind == "users");
  CHECK(seen.upload_file_name == "users.csv");
  CHECK(seen.upload_size == csv.size());
  CHECK(seen.upload_strict);
  CHECK(seen.upload_password_links);
  CHECK_FALSE(seen.session_in_args);
  // Two "running" answers, the "done" one, then the log's two pages.
  CHECK(seen.import_show_calls == 5);

  f.agent.with_script([](AgentScript &s) { s.running_polls = 1; });
  Outcome json = run_lpm({"badges", "import", file, "--json", "--socket", f.socket});
  CHECK(json.code == 0);
  auto lines = lines_of(json.out);
  REQUIRE(lines.size() == 4); // the summary, then every log row
  CHECK(nlohmann::json::parse(lines[0])["state"] == "done");
  CHECK(nlohmann::json::parse(lines[3])["record"] == 3);
  CHECK(f.agent.seen().upload_kind == "badges");
  CHECK_FALSE(f.agent.seen().upload_password_links);
  CHECK(run_lpm({"badges", "import", file, "--password-links", "--socket", f.socket}).code == 2);

  // On a terminal, stderr shows how far the import got.
  f.agent.with_script([](AgentScript &s) { s.running_polls = 1; });
  Pty terminal;
  Outcome watched = run_lpm({"users", "import", file, "--socket", f.socket}, std::nullopt, terminal.slave);
  CHECK(watched.code == 0);
  CHECK(terminal.shown() == "\rrecord 1 of 3\rrecord 3 of 3\r\n");

  int polls_before = f.agent.seen().import_show_calls;
  Outcome quick = run_lpm({"users", "import", file, "--no-wait", "--socket", f.socket});
  CHECK(quick.code == 0);
  CHECK(quick.out == "import 0190a0b0-0000-7000-8000-0000000000aa: 3 records\n");
  CHECK(f.agent.seen().import_show_calls == polls_before);
}

TEST_CASE("a file refused whole by the directory is exit 1 and nothing is followed", "[cli][UA-8]") {
  ScriptedAgentFixture f;
  REQUIRE(f.login().code == 0);
  std::string file = f.dir.path + "/bad.csv";
  REQUIRE(write_file_atomic(file, std::string("BAD,HEADER\n"), 0600).ok());
  Outcome o = run_lpm({"users", "import", file, "--socket", f.socket});
  CHECK(o.code == 1);
  CHECK(o.err == "lpm: bad_request: the header must be EMAIL,OPERATION,PASSWORD,...\n");
  CHECK(o.out.empty());
  CHECK(f.agent.seen().import_show_calls == 0);

  Outcome missing = run_lpm({"users", "import", f.dir.path + "/none.csv", "--socket", f.socket});
  CHECK(missing.code == 1);
  CHECK(missing.err.find("cannot open " + f.dir.path + "/none.csv") != std::string::npos);
}

TEST_CASE("lpm imports show prints the summary and every log row, page after page", "[cli]") {
  ScriptedAgentFixture f;
  REQUIRE(f.login().code == 0);
  f.agent.with_script([](AgentScript &s) { s.running_polls = 0; });
  Outcome o = run_lpm({"imports", "show", "0190a0b0-0000-7000-8000-0000000000aa", "--socket", f.socket});
  CHECK(o.code == 0);
  CHECK(o.out == "import 0190a0b0-0000-7000-8000-0000000000aa: users of users.csv, done\n"
                 "3 records: 2 applied (1 with warnings), 1 failed\n"
                 "RECORD  LINE  KEY              RESULT   REASON\n"
                 "     1     2  ann@example.com  created\n"
                 "     2     3  bob@example.com  failed   a user with this e-mail address exists\n"
                 "     3     5  cy@example.com   created  9 values under an 11-column header: the missing "
                 "ones are empty\n");
  Outcome json =
      run_lpm({"imports", "show", "0190a0b0-0000-7000-8000-0000000000aa", "--json", "--socket", f.socket});
  CHECK(json.code == 0);
  CHECK(lines_of(json.out).size() == 4);

  Outcome unknown = run_lpm({"imports", "show", "nope", "--socket", f.socket});
  CHECK(unknown.code == 1);
  CHECK(unknown.err == "lpm: not_found: no import nope\n");
}

TEST_CASE("every directory command answers --help, usage errors exit 2", "[cli]") {
  for (std::vector<std::string> args : {std::vector<std::string>{"login", "--help"},
                                        {"logout", "--help"},
                                        {"whoami", "--help"},
                                        {"users", "--help"},
                                        {"users", "list", "--help"},
                                        {"users", "import", "--help"},
                                        {"badges", "--help"},
                                        {"badges", "import", "--help"},
                                        {"imports", "--help"},
                                        {"imports", "show", "--help"}}) {
    Outcome o = run_lpm(args);
    INFO(args.front() << " " << args[1]);
    CHECK(o.code == 0);
    CHECK(o.out.find("Usage:") != std::string::npos);
  }
  CHECK(run_lpm({"users"}).code == 2);
  CHECK(run_lpm({"users", "import"}).code == 2);
  CHECK(run_lpm({"imports", "show"}).code == 2);
  CHECK(run_lpm({"badges"}).code == 2);
}
