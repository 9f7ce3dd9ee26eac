#include "commands.h"

#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <filesystem>
#include <limits>

#include "accounting_service.h"
#include "enrolled_keys.h"
#include "enrollment.h"
#include "key_source.h"
#include "lpm/db_backup.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/enroll.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "lpm/service_ready.h"
#include "lpm/sqlite.h"
#include "record_store.h"
#include "reports.h"

namespace lpm::accounting {
namespace {

constexpr const char *kIdentityName = "identity";
constexpr const char *kCommonName = "lpm-accounting";

int fail(const Error &error) {
  std::fprintf(stderr, "lpm-accounting: %s\n", error.to_string().c_str());
  return 1;
}

std::string state_db_path(const std::string &data) {
  return data + "/state.db";
}

Result<std::shared_ptr<proto::Identity>> load_identity(const std::string &data) {
  auto identity = proto::Identity::load(data, kIdentityName);
  if (!identity.ok() && identity.error().code == Errc::not_found)
    return make_error(Errc::not_found,
                      "no identity in " + data + ": run `lpm-accounting init --data " + data + "` first");
  return identity;
}

// A loop for one command. close() (or the destructor) runs it until every handle is closed and
// checks that the loop really closes: a handle left open is a bug worth an exit code.
class CommandLoop {
public:
  CommandLoop() { uv_loop_init(&loop_); }
  ~CommandLoop() { (void)close(); }
  CommandLoop(const CommandLoop &) = delete;
  CommandLoop &operator=(const CommandLoop &) = delete;
  uv_loop_t *get() { return &loop_; }

  // 0, or the libuv error of uv_loop_close (UV_EBUSY: handles still open).
  int close() {
    if (closed_) return 0;
    closed_ = true;
    uv_run(&loop_, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop_);
    if (rc != 0) LPM_ERROR("event loop closed with handles still open: %s", uv_strerror(rc));
    return rc;
  }

private:
  uv_loop_t loop_;
  bool closed_ = false;
};

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "accounting";
  return buf;
}

} // namespace

int command_init(const std::string &data) {
  Status made = make_dirs(data, 0700);
  if (!made.ok()) return fail(made.error());
  auto identity = proto::Identity::load_or_create(data, kIdentityName, kCommonName);
  if (!identity.ok()) return fail(identity.error());
  auto store = open_sqlite_record_store(state_db_path(data));
  if (!store.ok()) return fail(store.error());
  std::printf("fingerprint %s\n", (*identity)->fingerprint().c_str());
  return 0;
}

int command_fingerprint(const std::string &data) {
  auto identity = load_identity(data);
  if (!identity.ok()) return fail(identity.error());
  std::printf("%s\n", (*identity)->fingerprint().c_str());
  return 0;
}

int command_enroll(const EnrollArgs &args) {
  auto identity = load_identity(args.data);
  if (!identity.ok()) return fail(identity.error());
  auto directory = proto::parse_endpoint(args.directory);
  if (!directory.ok()) return fail(directory.error());

  auto enrolled = proto::enroll_with_directory(
      *identity, *directory, args.directory_fingerprint, proto::EnrollKind::accounting,
      args.name.empty() ? host_name() : args.name, args.token, proto::role::accounting);
  if (!enrolled.ok()) return fail(enrolled.error());

  Enrollment e;
  e.service_id = enrolled->id;
  e.directory_address = directory->to_string();
  e.directory_fingerprint = args.directory_fingerprint;
  e.ticket_key = enrolled->ticket_key;
  e.session_key = enrolled->session_key;
  e.enrolled_ms = wall_ms();
  Status saved = enrollment_save(state_db_path(args.data), e);
  if (!saved.ok()) return fail(saved.error());
  std::printf("enrolled %s\n", enrolled->id.c_str());
  return 0;
}

namespace {

// What the signal handlers stop.
struct ServeState {
  AccountingService *service = nullptr;
  EnrolledKeys *keys = nullptr;
  PeopleFeed *people = nullptr;
  uv_signal_t sigint;
  uv_signal_t sigterm;
  bool stopping = false;
};

void stop_serving(ServeState &state) {
  if (state.stopping) return;
  state.stopping = true;
  state.service->stop();
  state.people->close();
  state.keys->close();
  uv_close(reinterpret_cast<uv_handle_t *>(&state.sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t *>(&state.sigterm), nullptr);
}

} // namespace

int command_serve(const ServeArgs &args) {
  auto identity = load_identity(args.data);
  if (!identity.ok()) return fail(identity.error());
  // One server per folder, and never a restore under it (lpm/db_backup.h).
  auto lock = folder_lock(args.data, "lpm-accounting");
  if (!lock.ok()) return fail(lock.error());
  auto listen_at = proto::parse_endpoint(args.listen);
  if (!listen_at.ok()) return fail(listen_at.error());
  auto directory = proto::parse_endpoint(args.directory);
  if (!directory.ok()) return fail(directory.error());
  auto enrollment = enrollment_load(state_db_path(args.data));
  if (!enrollment.ok()) return fail(enrollment.error());
  if (!*enrollment)
    return fail(make_error(Errc::unauthenticated,
                           "this server is not enrolled: run `lpm-accounting enroll` first "
                           "(the directory lists enrolled keys only to enrolled servers)"));
  if ((*enrollment)->directory_fingerprint != args.directory_fingerprint)
    LPM_WARN("the directory fingerprint differs from the one pinned at enrollment (%s): rotated key?",
             (*enrollment)->directory_fingerprint.c_str());
  auto store = open_sqlite_record_store(state_db_path(args.data));
  if (!store.ok()) return fail(store.error());
  auto server_ctx = proto::TlsContext::create(proto::TlsContext::Side::server, *identity);
  if (!server_ctx.ok()) return fail(server_ctx.error());
  auto client_ctx = proto::TlsContext::create(proto::TlsContext::Side::client, *identity);
  if (!client_ctx.ok()) return fail(client_ctx.error());

  int exit_code = 0;
  {
    CommandLoop loop;
    DirectoryKeySourceOptions source_options;
    source_options.directory = *directory;
    source_options.directory_fingerprint = args.directory_fingerprint;
    // One connection to the directory for both lists: enrolled keys and people.
    std::shared_ptr<KeySource> source = make_directory_key_source(loop.get(), *client_ctx, source_options);
    EnrolledKeys keys(loop.get(), source);
    PeopleFeedOptions people_options;
    people_options.periodic_refresh_ms = uint64_t{args.people_refresh_s} * 1000;
    PeopleFeed people(loop.get(), source, **store, people_options);
    Status loaded = people.load();
    if (!loaded.ok()) {
      keys.close();
      return fail(loaded.error());
    }
    ServiceOptions service_options;
    service_options.session_key = (*enrollment)->session_key;
    if (service_options.session_key.empty())
      LPM_WARN("the enrollment holds no directory session key (enrolled by an older version): usage-report is "
               "refused until `lpm-accounting enroll` runs again");
    AccountingService service(loop.get(), *server_ctx, **store, keys, service_options);
    service.set_people(&people);
    // Reports read through a connection of their own, on the thread pool.
    auto report_store = open_sqlite_record_store(state_db_path(args.data));
    if (!report_store.ok()) {
      people.close();
      keys.close();
      return fail(report_store.error());
    }
    service.set_report_store(std::move(*report_store));
    auto port = service.listen(*listen_at);
    if (!port.ok()) {
      people.close();
      keys.close();
      return fail(port.error());
    }
    announce_ready(*port, "serving on port " + std::to_string(*port));
    LPM_INFO("serving on %s:%u as %s (service id %s)", listen_at->host.c_str(), static_cast<unsigned>(*port),
             (*identity)->fingerprint().c_str(), (*enrollment)->service_id.c_str());
    keys.start();
    people.start();

    ServeState state;
    state.service = &service;
    state.keys = &keys;
    state.people = &people;
    for (uv_signal_t *sig : {&state.sigint, &state.sigterm}) {
      uv_signal_init(loop.get(), sig);
      sig->data = &state;
    }
    auto on_signal = [](uv_signal_t *sig, int signum) {
      LPM_INFO("signal %d: stopping", signum);
      announce_stopping("stopping");
      stop_serving(*static_cast<ServeState *>(sig->data));
    };
    uv_signal_start(&state.sigint, on_signal, SIGINT);
    uv_signal_start(&state.sigterm, on_signal, SIGTERM);

    // Runs until stop_serving has closed everything.
    if (loop.close() != 0) exit_code = 1;
  }
  LPM_INFO("stopped");
  return exit_code;
}

namespace {

int usage_report(RecordStore &store, const ReportArgs &args) {
  ReportRequest req;
  auto level = parse_report_level(args.level);
  if (!level.ok()) return fail(level.error());
  auto type = parse_report_type(args.type);
  if (!type.ok()) return fail(type.error());
  auto zone = TimeZone::load(args.zone);
  if (!zone.ok()) return fail(zone.error());
  req.level = *level;
  req.type = *type;
  auto entity = resolve_report_entity(store, req.level, args.entity);
  if (!entity.ok()) return fail(entity.error());
  req.entity = *entity;
  req.top = args.top;
  if (!args.from.empty()) {
    auto from = parse_civil_date(args.from);
    if (!from.ok()) return fail(from.error());
    req.from = *from;
    req.to = *from;
  } else {
    int64_t now = wall_ms();
    req.to = today_in(*zone, now);
    req.from = first_of_last_days(*zone, now, args.last);
  }
  if (!args.to.empty()) {
    auto to = parse_civil_date(args.to);
    if (!to.ok()) return fail(to.error());
    req.to = *to;
  }
  auto table = run_report(store, *zone, req);
  if (!table.ok()) return fail(table.error());
  if (args.csv.empty()) {
    std::fputs(report_text(*table).c_str(), stdout);
    return 0;
  }
  std::string csv = report_csv(*table);
  if (args.csv == "-") {
    std::fwrite(csv.data(), 1, csv.size(), stdout);
  } else {
    Status s = write_file_atomic(args.csv, csv, 0644);
    if (!s.ok()) return fail(s.error());
  }
  // The CSV holds the header alone then; say why on stderr.
  if (table->no_data) std::fprintf(stderr, "no data for this selection\n");
  return 0;
}

} // namespace

int command_report(const ReportArgs &args) {
  const std::string &data = args.data;
  std::string path = state_db_path(data);
  if (!file_exists(path))
    return fail(make_error(Errc::not_found, "no state.db in " + data + ": run `lpm-accounting init --data " +
                                                data + "` first"));
  auto store = open_sqlite_record_store(path);
  if (!store.ok()) return fail(store.error());
  if (!args.type.empty()) return usage_report(**store, args);
  auto rows = (*store)->totals(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  if (!rows.ok()) return fail(rows.error());
  // Whitespace-separated columns, user first, so scripts can `awk '$1 == user {print $2}'`.
  std::printf("%-36s %10s %10s %14s\n", "user", "jobs", "pages", "bytes");
  for (const auto &r : *rows)
    std::printf("%-36s %10llu %10llu %14llu\n", r.user.c_str(), static_cast<unsigned long long>(r.jobs),
                static_cast<unsigned long long>(r.pages), static_cast<unsigned long long>(r.bytes));
  // What the counts rest on, after the table on a line of its own ("#": no user matches it).
  auto checks = (*store)->counts_checks();
  if (!checks.ok()) return fail(checks.error());
  std::string line;
  for (const auto &[name, n] : *checks)
    line += (line.empty() ? "" : ", ") + name + " " + std::to_string(n);
  std::printf("# printed records by counts check: %s\n", line.empty() ? "none yet" : line.c_str());
  return 0;
}

namespace {

Error no_state(const std::string &data) {
  return make_error(Errc::not_found,
                    "no state.db in " + data + ": run `lpm-accounting init --data " + data + "` first");
}

// Records in the store at `path` (for the lines the commands print), or -1 when it cannot say.
int64_t record_count(const std::string &path) {
  auto db = Db::open_readonly(path);
  if (!db.ok()) return -1;
  auto stmt = (*db)->prepare("SELECT count(*) FROM records");
  if (!stmt.ok()) return -1;
  auto row = stmt->step();
  return row.ok() && *row ? stmt->col_int(0) : -1;
}

// The size of the file at `path`, 0 when it cannot be read.
uint64_t file_size_or_zero(const std::string &path) {
  std::error_code ec;
  uint64_t n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

} // namespace

int command_backup(const std::string &data, const std::string &file) {
  std::string path = state_db_path(data);
  if (!file_exists(path)) return fail(no_state(data));
  int64_t started = mono_ms();
  std::fprintf(stderr, "lpm-accounting: backing up %s to %s ...\n", path.c_str(), file.c_str());
  Status s = backup_database(path, file);
  if (!s.ok()) return fail(s.error());
  std::printf("backup written to %s (%lld records, %lld ms)\n", file.c_str(),
              static_cast<long long>(record_count(file)), static_cast<long long>(mono_ms() - started));
  return 0;
}

int command_restore(const std::string &data, const std::string &file) {
  std::string path = state_db_path(data);
  if (!file_exists(path)) return fail(no_state(data));
  auto kept = restore_database(data, "lpm-accounting", file, [](const std::string &incoming) -> Status {
    // The enrollment and both rollup tables came with schema 1..3; records is the one every
    // version has. Opening brings an older schema to this one (rollups rebuilt).
    Status tables = require_tables(incoming, {"records"});
    if (!tables.ok()) return tables;
    auto store = open_sqlite_record_store(incoming);
    if (!store.ok()) return store.error();
    return {};
  });
  if (!kept.ok()) return fail(kept.error());
  std::printf("restored %s from %s (%lld records); the replaced database is kept as %s\n", path.c_str(),
              file.c_str(), static_cast<long long>(record_count(path)), kept->c_str());
  return 0;
}

int command_compact(const std::string &data) {
  std::string path = state_db_path(data);
  if (!file_exists(path)) return fail(no_state(data));
  auto lock = folder_lock(data, "lpm-accounting");
  if (!lock.ok()) return fail(lock.error());
  int64_t started = mono_ms();
  {
    // An older store moves to this schema first (schema 9 leaves its old records table's pages
    // free): what is compacted is then what the server will open.
    auto store = open_sqlite_record_store(path);
    if (!store.ok()) return fail(store.error());
  }
  auto db = Db::open(path);
  if (!db.ok()) return fail(db.error());
  uint64_t before = file_size_or_zero(path);
  std::fprintf(stderr, "lpm-accounting: compacting %s (%llu MB) ...\n", path.c_str(),
               static_cast<unsigned long long>(before / 1000000));
  // VACUUM in WAL mode writes the new file through the WAL; the checkpoint then puts it in place.
  Status s = (*db)->exec("VACUUM");
  if (s.ok()) s = (*db)->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  if (!s.ok()) return fail(s.error());
  db->reset();
  std::printf("compacted %s: %llu -> %llu bytes (%lld records, %lld ms)\n", path.c_str(),
              static_cast<unsigned long long>(before),
              static_cast<unsigned long long>(file_size_or_zero(path)),
              static_cast<long long>(record_count(path)), static_cast<long long>(mono_ms() - started));
  return 0;
}

} // namespace lpm::accounting
