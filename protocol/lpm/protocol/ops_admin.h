// The directory's ops for people (docs/protocol.md, "Directory: logins and administration"):
// logging in and refreshing a session, and the administrative ops, each of which carries the
// caller's session token (lpm/protocol/session.h) in "session" and is checked against the
// caller's effective roles. Same conventions as ops.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpm/protocol/msg.h"
#include "lpm/protocol/ops.h"

namespace lpm::proto {

namespace op {
inline constexpr const char *login = "login";
inline constexpr const char *refresh_session = "refresh-session";
inline constexpr const char *logout = "logout";
inline constexpr const char *whoami = "whoami";
inline constexpr const char *import_start = "import-start"; // upload: the CSV file follows as a chunk stream
inline constexpr const char *import_show = "import-show";
inline constexpr const char *users_list = "users-list";
// The agent's control socket (lpm -> agent, Unix socket): `lpm login` through the agent, which
// keeps the login's refresh token for the caller's OS account and adds a fresh session to every
// person op it forwards to the directory.
inline constexpr const char *agent_login = "login";
inline constexpr const char *agent_logout = "logout";
inline constexpr const char *agent_forward = "directory";               // {op, args}: a person op
inline constexpr const char *agent_forward_upload = "directory-upload"; // same, with a chunk stream
} // namespace op

// The person ops an agent forwards for a local user (never the machine's own ops: register,
// enroll, badge-in ...). The directory checks the session and the roles of each.
inline constexpr const char *kPersonOps[] = {op::whoami, op::import_show, op::users_list};
inline constexpr const char *kPersonUploadOps[] = {op::import_start};

// The largest import file (UA-10, AMB-10: 1 MB, inclusive): what `lpm` sends, the agent relays
// and the directory takes.
inline constexpr uint64_t kMaxImportFileBytes = 1048576;

// Caps of these messages.
inline constexpr size_t kMaxPasswordField = 1024; // bytes (the directory refuses longer passwords)
inline constexpr size_t kMaxSessionText = 8192;   // a session token's text form
inline constexpr size_t kMaxRolesListed = 32;

// login: e-mail and password; from an enrolled workstation (`lpm login` through the agent) or
// console. os_account names the OS account the login binds on a workstation.
struct LoginRequest {
  std::string email;
  std::string password;
  std::string os_account;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// What login and refresh-session answer: who, their roles now, a session token (text form) for
// the administrative ops, and the refresh token that gets the next one.
struct SessionGrant {
  std::string user; // UUID
  std::string email;
  std::string display_name;
  std::vector<std::string> roles;
  std::string session;
  int64_t session_expires_ms = 0;
  std::string refresh_token;
  int64_t refresh_expires_ms = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// refresh-session and logout.
struct RefreshRequest {
  std::string refresh_token;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// Every administrative request carries the session.
struct SessionRequest {
  std::string session;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct WhoamiResult {
  std::string user;
  std::string email;
  std::vector<std::string> roles;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// Control socket: login (the agent adds the caller's OS account) and what it answers.
struct AgentLoginRequest {
  std::string email;
  std::string password;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct AgentLoginResult {
  std::string user;
  std::string email;
  std::string display_name;
  std::string os_account; // the OS account now bound to this user on this workstation
  std::vector<std::string> roles;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// Control socket: a person op for the directory. `args` is the op's request without "session"
// (the agent adds it); the reply is the directory's result, as it came.
struct ForwardRequest {
  std::string op;
  MapWriter args;
  uint64_t size = 0; // directory-upload: the stream's announced size
  void write(MapWriter &w) const;
  // Reads op and size; the args map itself is taken raw by the agent (MapReader::find("args")).
  void read(MapReader &r);
};

struct ImportStartRequest {
  std::string session;
  std::string kind; // "users" or "badges"
  std::string file_name;
  uint64_t size = 0; // announced; the stream's end frame is what counts
  bool strict = false;
  bool password_links = false;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct ImportStartResult {
  std::string import; // id; the import runs on (import-show follows it)
  uint64_t records = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct ImportShowRequest {
  std::string session;
  std::string import;
  PageRequest page; // after: a record number
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct ImportLogEntry {
  int64_t record = 0;
  int64_t line = 0;
  std::string key;
  std::string result;
  std::string reason;
};
struct ImportShowResult {
  std::string import;
  std::string kind;
  std::string actor;
  std::string file_name;
  uint64_t records = 0;
  uint64_t applied = 0;
  uint64_t failed = 0;
  uint64_t warnings = 0;
  std::string state; // running, done
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::vector<ImportLogEntry> log;
  std::string next;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct UsersListRequest {
  std::string session;
  PageRequest page; // after: an e-mail
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct UserEntry {
  std::string id;
  std::string email;
  std::string first_name;
  std::string last_name;
  std::string display_name;
  std::string short_name;
  std::string department;
  std::string cost_center;
  std::string custom_attributes; // canonical JSON object
  bool has_password = false;
  int64_t created_ms = 0;
};
struct UsersListResult {
  std::vector<UserEntry> users;
  std::string next;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

} // namespace lpm::proto
