// lpm_register_bench: registrations and heartbeats per second from many workstation identities,
// each on its own connection, at most --open connections at once (issue 4, "Benchmarks"),
// figures only. Run by scripts/bench_register.sh against an lpm-directory filled by
// lpm_directory_fill (users) and lpm_workstation_fill (workstation i enrolled with the key of
// identity i of the --identities cache, user line i of --users-file bound to it).
//
// Every workstation is one TLS client identity (its own key, certificate and session cache),
// connecting from its own loopback address (bench::workstation_source) as an agent would: hello
// as "agent", then a register with its one holding (its bound user, a job count drawn from
// 1..--jobs-max), then --heartbeats registers with the same holding (what the agent's heartbeat
// sends), then it closes and makes room for the next workstation. Two passes over all of them:
//   full:    the first contact, a full TLS handshake each (no session yet);
//   resumed: each connects again and resumes the session of its first connection (RFC 5077
//            ticket, the agent's ServiceLink does the same), registers a new count, heartbeats.
// Each answer is checked: no holding refused (the user is bound there), a heartbeat time given.
// Per pass: registrations/s, heartbeats/s, connections/s, latency of registers, heartbeats (send
// to answer) and connections (connect to both hellos), the directory's CPU (utime + stime of
// --directory-pid) per op and per connection, and how its loop thread spent the wall time
// (/proc/PID/schedstat: running, waiting for a core, blocked). --max-seconds bounds each pass:
// no new workstation starts after it (the line says how many took part).
//
// Usage: lpm_register_bench --directory HOST:PORT --fingerprint FP --identities FILE
//          --users-file FILE --workstations N [--open C] [--heartbeats K] [--jobs-max J]
//          [--directory-pid PID] [--max-seconds S] [--threads T] [--seed X]
// Prints two JSON lines: register_rate_full_handshake and register_rate_resumed; the second
// also says what the directory should hold afterwards (expected_holdings, expected_held_jobs).
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "lpm/protocol/stream.h"
#include "workstation_identities.h"

using namespace lpm;

namespace {

struct Options {
  std::string directory;
  std::string fingerprint;
  std::string identities;
  std::string users_file;
  long workstations = 0;
  long max_open = 1000;
  long heartbeats = 2;
  long jobs_max = 20;
  long directory_pid = 0;
  double max_seconds = 0; // per pass; 0: every workstation
  long threads = 2;       // for loading the identities only
  uint64_t seed = 1;
};

// The release port every workstation reports (the default, DESIGN §9): the directory stores it.
constexpr uint16_t kReleasePort = 9443;

struct Workstation {
  std::shared_ptr<proto::TlsContext> tls; // its identity and its session cache
  std::string user;                       // the user bound to it
  std::string source;                     // the address it connects from
  uint64_t jobs = 0;                      // the count the directory acknowledged last
  bool registered = false;                // a register was answered (it has a session to resume)
};

// What one pass saw.
struct Tally {
  size_t started = 0; // workstations that took part
  uint64_t connections = 0;
  uint64_t connect_failures = 0;
  uint64_t resumed = 0;
  uint64_t registers = 0;
  uint64_t heartbeats = 0;
  uint64_t errors = 0;      // calls that failed, connections lost mid-way
  uint64_t bad_answers = 0; // a holding refused, no heartbeat time, an answer that did not decode
  std::string first_error;
  std::vector<int64_t> connect_ns;
  std::vector<int64_t> register_ns;
  std::vector<int64_t> heartbeat_ns;
  double seconds = 0;
};

int die(const std::string &why) {
  std::fprintf(stderr, "lpm_register_bench: %s\n", why.c_str());
  return 1;
}

int usage() {
  std::fprintf(
      stderr,
      "usage: lpm_register_bench --directory HOST:PORT --fingerprint FP --identities FILE --users-file FILE "
      "--workstations N [--open C] [--heartbeats K] [--jobs-max J] [--directory-pid PID] "
      "[--max-seconds S] [--threads T] [--seed X]\n");
  return 2;
}

double seconds_since(int64_t t0_ns) {
  return static_cast<double>(mono_ns() - t0_ns) / 1e9;
}

void note_error(Tally &tally, const std::string &what) {
  if (tally.first_error.empty()) tally.first_error = what;
}

// One pass over the workstations: at most max_open connections at once, each a register then
// heartbeats, then closed; the next workstation starts as soon as one closes.
class Pass {
public:
  Pass(uv_loop_t *loop, const Options &options, const proto::Endpoint &at,
       std::vector<Workstation> &workstations, std::mt19937_64 &rng)
      : loop_(loop), options_(options), at_(at), workstations_(workstations), rng_(rng),
        jobs_pick_(1, static_cast<uint64_t>(options.jobs_max)) {}

  // `only_registered`: the resumed pass visits the workstations the first pass registered.
  Tally run(bool only_registered) {
    for (size_t i = 0; i < workstations_.size(); i++)
      if (!only_registered || workstations_[i].registered) order_.push_back(i);
    // Peers are let go in a check callback, never inside one of their own callbacks.
    uv_check_init(loop_, &reaper_);
    reaper_.data = this;
    uv_check_start(&reaper_, [](uv_check_t *h) { static_cast<Pass *>(h->data)->finished_.clear(); });
    t0_ = mono_ns();
    launch();
    uint32_t timeout_ms = options_.max_seconds > 0
                              ? static_cast<uint32_t>(options_.max_seconds * 1000) + 120000
                              : 24U * 3600 * 1000;
    if (!proto::run_until(
            loop_, [&] { return open_ == 0 && (next_ == order_.size() || out_of_time_); }, timeout_ms))
      note_error(tally_, "the pass did not end in time");
    tally_.seconds = seconds_since(t0_);
    uv_check_stop(&reaper_);
    uv_close(reinterpret_cast<uv_handle_t *>(&reaper_), nullptr);
    uv_run(loop_, UV_RUN_NOWAIT);
    finished_.clear();
    return std::move(tally_);
  }

private:
  struct Connection {
    size_t index = 0;
    proto::PeerPtr peer;
    int64_t started_ns = 0;
    long heartbeats_left = 0;
    uint64_t jobs = 0; // the count this connection registers
    bool ready = false;
    bool closed_by_us = false; // every call answered, or one failed (and was counted)
  };
  using ConnectionPtr = std::shared_ptr<Connection>;

  void launch() {
    while (open_ < static_cast<size_t>(options_.max_open) && next_ < order_.size() && !out_of_time_) {
      if (options_.max_seconds > 0 && seconds_since(t0_) >= options_.max_seconds) {
        out_of_time_ = true;
        break;
      }
      start(order_[next_++]);
    }
  }

  void start(size_t index) {
    auto c = std::make_shared<Connection>();
    c->index = index;
    c->heartbeats_left = options_.heartbeats;
    c->started_ns = mono_ns();
    open_++;
    tally_.started++;
    proto::ConnectOptions connect;
    connect.pins = {options_.fingerprint};
    connect.source = workstations_[index].source;
    proto::PeerOptions peer_options;
    peer_options.role = proto::role::agent;
    peer_options.accept_roles = {proto::role::directory};
    peer_options.on_ready = [this, c](proto::Peer &peer) {
      c->ready = true;
      tally_.connections++;
      tally_.connect_ns.push_back(mono_ns() - c->started_ns);
      if (peer.stream().resumed()) tally_.resumed++;
      send(c, true);
    };
    peer_options.on_close = [this, c](proto::Peer &, const Error &why) { closed(c, why); };
    auto stream = proto::tls_connect(loop_, workstations_[index].tls, at_, connect, {});
    c->peer = proto::Peer::attach(stream, std::move(peer_options));
  }

  // A register (first) or a heartbeat: the same op with the same holding, as the agent sends.
  void send(const ConnectionPtr &c, bool first) {
    if (first) c->jobs = jobs_pick_(rng_);
    proto::RegisterRequest req;
    req.port = kReleasePort;
    req.holdings = {proto::Holding{workstations_[c->index].user, c->jobs}};
    proto::MapWriter args;
    req.write(args);
    int64_t sent_ns = mono_ns();
    c->peer->call(proto::op::register_holdings, args, [this, c, first, sent_ns](Result<proto::Response> r) {
      int64_t took = mono_ns() - sent_ns;
      if (!r.ok()) {
        tally_.errors++;
        note_error(tally_, r.error().to_string());
        c->closed_by_us = true;
        c->peer->close(r.error());
        return;
      }
      (first ? tally_.register_ns : tally_.heartbeat_ns).push_back(took);
      (first ? tally_.registers : tally_.heartbeats)++;
      check_answer(*r);
      workstations_[c->index].registered = true;
      workstations_[c->index].jobs = c->jobs;
      if (c->heartbeats_left > 0) {
        c->heartbeats_left--;
        send(c, false);
        return;
      }
      c->closed_by_us = true;
      c->peer->close();
    });
  }

  void check_answer(const proto::Response &response) {
    proto::RegisterResult result;
    auto reader = response.reader();
    result.read(reader);
    if (!reader.ok()) {
      tally_.bad_answers++;
      note_error(tally_, "an answer that does not decode: " + reader.error().to_string());
    } else if (!result.refused.empty()) {
      tally_.bad_answers++;
      note_error(tally_, "holding of " + result.refused[0].user + " refused: " + result.refused[0].reason);
    } else if (result.heartbeat_s == 0) {
      tally_.bad_answers++;
      note_error(tally_, "an answer without a heartbeat time");
    }
  }

  void closed(const ConnectionPtr &c, const Error &why) {
    if (!c->ready) {
      tally_.connect_failures++;
      note_error(tally_, workstations_[c->index].source + ": " + why.to_string());
    } else if (!c->closed_by_us) {
      tally_.errors++;
      note_error(tally_, why.code != Errc::ok ? why.to_string()
                                              : "the directory closed a connection before answering");
    }
    finished_.push_back(std::move(c->peer));
    open_--;
    launch();
  }

  uv_loop_t *loop_;
  const Options &options_;
  proto::Endpoint at_;
  std::vector<Workstation> &workstations_;
  std::mt19937_64 &rng_;
  std::uniform_int_distribution<uint64_t> jobs_pick_;
  std::vector<size_t> order_;
  size_t next_ = 0;
  size_t open_ = 0;
  bool out_of_time_ = false;
  int64_t t0_ = 0;
  Tally tally_;
  std::vector<proto::PeerPtr> finished_; // closed, let go at the next check
  uv_check_t reaper_{};
};

// Loads identity i's key and certificate and makes its client TLS context, over `threads`
// threads (about 1 ms each: the key is checked against its certificate).
Status load_workstations(const std::vector<bench::IdentityText> &identities, std::vector<Workstation> &out,
                         unsigned threads) {
  return bench::parallel_for(0, out.size(), threads, [&](size_t i) -> Status {
    auto identity = proto::Identity::from_pem(identities[i].key_pem, identities[i].cert_pem);
    if (!identity.ok())
      return make_error(identity.error().code,
                        "identity " + std::to_string(i) + ": " + identity.error().message);
    auto tls = proto::TlsContext::create(proto::TlsContext::Side::client, *identity);
    if (!tls.ok()) return tls.error();
    out[i].tls = *tls;
    out[i].source = bench::workstation_source(i);
    return {};
  });
}

// Connections the kernel dropped because a listen queue was full (TcpExt ListenOverflows, for
// the whole machine; on this loopback benchmark, the directory's); -1 when unreadable.
long long listen_overflow_count() {
  std::ifstream in("/proc/net/netstat");
  std::string names, values;
  // The file pairs a line of names with a line of values, per protocol.
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream name_fields(names), value_fields(values);
    std::string name, value;
    while (name_fields >> name && value_fields >> value)
      if (name == "ListenOverflows") return std::atoll(value.c_str());
  }
  return -1;
}

// The directory's CPU and its loop thread's scheduling, read before and after a pass.
struct Snapshot {
  double directory_cpu = -1;
  bench::SchedTimes sched;
  double own_cpu = 0;
  long long listen_overflows = -1;
  static Snapshot take(long pid) {
    return {bench::process_cpu_seconds(pid), bench::sched_times(pid), bench::own_cpu_seconds(),
            listen_overflow_count()};
  }
};

std::string number_or_null(bool known, double value, int decimals) {
  if (!known) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

void print_pass(const char *name, const Options &o, const Tally &t, const Snapshot &before,
                const Snapshot &after, const std::string &extra) {
  double seconds = std::max(t.seconds, 1e-9);
  uint64_t ops = t.registers + t.heartbeats;
  bool cpu_known = before.directory_cpu >= 0 && after.directory_cpu >= 0;
  double cpu = after.directory_cpu - before.directory_cpu;
  bool sched_known = before.sched.running >= 0 && after.sched.running >= 0;
  double running = (after.sched.running - before.sched.running) / seconds;
  double runnable = (after.sched.runnable - before.sched.runnable) / seconds;
  bool overflows_known = before.listen_overflows >= 0 && after.listen_overflows >= 0;
  std::string overflows =
      overflows_known ? std::to_string(after.listen_overflows - before.listen_overflows) : "null";
  std::printf(
      "{\"name\":\"%s\",\"value\":%.1f,\"unit\":\"registrations/s\",\"heartbeats_per_s\":%.1f,"
      "\"ops_per_s\":%.1f,\"connections_per_s\":%.1f,\"register_p50_ms\":%.3f,\"register_p99_ms\":%.3f,"
      "\"heartbeat_p50_ms\":%.3f,\"heartbeat_p99_ms\":%.3f,\"connect_p50_ms\":%.3f,\"connect_p99_ms\":%.3f,"
      "\"cpu_us_per_op\":%s,\"cpu_us_per_connection\":%s,\"directory_cpu_share\":%s,"
      "\"directory_runnable_share\":%s,\"directory_blocked_share\":%s,\"client_cpu_share\":%.3f,"
      "\"resumed_share\":%.3f,\"workstations\":%zu,\"connections\":%llu,\"connect_failures\":%llu,"
      "\"listen_overflows\":%s,\"registers\":%llu,\"heartbeats\":%llu,\"errors\":%llu,\"bad_answers\":%llu,"
      "\"seconds\":%.3f,\"max_open\":%ld,\"heartbeats_per_connection\":%ld%s,"
      "\"note\":\"the directory serves on one loop thread; this client runs on one too\"}\n",
      name, static_cast<double>(t.registers) / seconds, static_cast<double>(t.heartbeats) / seconds,
      static_cast<double>(ops) / seconds, static_cast<double>(t.connections) / seconds,
      bench::percentile_ms(t.register_ns, 50), bench::percentile_ms(t.register_ns, 99),
      bench::percentile_ms(t.heartbeat_ns, 50), bench::percentile_ms(t.heartbeat_ns, 99),
      bench::percentile_ms(t.connect_ns, 50), bench::percentile_ms(t.connect_ns, 99),
      number_or_null(cpu_known && ops > 0, cpu * 1e6 / static_cast<double>(std::max<uint64_t>(ops, 1)), 1)
          .c_str(),
      number_or_null(cpu_known && t.connections > 0,
                     cpu * 1e6 / static_cast<double>(std::max<uint64_t>(t.connections, 1)), 1)
          .c_str(),
      number_or_null(cpu_known, cpu / seconds, 3).c_str(), number_or_null(sched_known, runnable, 3).c_str(),
      number_or_null(sched_known, std::max(0.0, 1 - running - runnable), 3).c_str(),
      (after.own_cpu - before.own_cpu) / seconds,
      t.connections > 0 ? static_cast<double>(t.resumed) / static_cast<double>(t.connections) : 0.0,
      t.started, static_cast<unsigned long long>(t.connections),
      static_cast<unsigned long long>(t.connect_failures), overflows.c_str(),
      static_cast<unsigned long long>(t.registers), static_cast<unsigned long long>(t.heartbeats),
      static_cast<unsigned long long>(t.errors), static_cast<unsigned long long>(t.bad_answers), t.seconds,
      o.max_open, o.heartbeats, extra.c_str());
  if (!t.first_error.empty())
    std::fprintf(stderr, "lpm_register_bench: %s: %s\n", name, t.first_error.c_str());
}

} // namespace

int main(int argc, char **argv) {
  proto::ignore_sigpipe();
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    const char *v = argv[i + 1];
    if (flag == "--directory")
      o.directory = v;
    else if (flag == "--fingerprint")
      o.fingerprint = v;
    else if (flag == "--identities")
      o.identities = v;
    else if (flag == "--users-file")
      o.users_file = v;
    else if (flag == "--workstations")
      o.workstations = std::atol(v);
    else if (flag == "--open")
      o.max_open = std::atol(v);
    else if (flag == "--heartbeats")
      o.heartbeats = std::atol(v);
    else if (flag == "--jobs-max")
      o.jobs_max = std::atol(v);
    else if (flag == "--directory-pid")
      o.directory_pid = std::atol(v);
    else if (flag == "--max-seconds")
      o.max_seconds = std::atof(v);
    else if (flag == "--threads")
      o.threads = std::atol(v);
    else if (flag == "--seed")
      o.seed = std::strtoull(v, nullptr, 10);
    else
      return usage();
  }
  if (argc % 2 == 0 || o.directory.empty() || o.fingerprint.empty() || o.identities.empty() ||
      o.users_file.empty() || o.workstations < 1 ||
      o.workstations > static_cast<long>(bench::kMaxWorkstations) || o.max_open < 1 || o.heartbeats < 0 ||
      o.heartbeats > 1000 || o.jobs_max < 1 || o.max_seconds < 0 || o.threads < 1 || o.threads > 64)
    return usage();
  auto at = proto::parse_endpoint(o.directory);
  if (!at.ok()) return die(at.error().to_string());
  log_set_level(LogLevel::warn);

  // Identities and their TLS contexts, before anything is measured (timed for the log).
  int64_t t0 = mono_ns();
  const auto count = static_cast<size_t>(o.workstations);
  auto identities = bench::identities_read(o.identities, count);
  if (!identities.ok()) return die(identities.error().to_string());
  if (identities->size() < count)
    return die(o.identities + " holds " + std::to_string(identities->size()) + " identities, not " +
               std::to_string(count) + " (lpm_workstation_fill makes them)");
  std::vector<Workstation> workstations(count);
  std::ifstream users(o.users_file);
  for (auto &w : workstations)
    if (!std::getline(users, w.user) || w.user.empty())
      return die(o.users_file + " has fewer than " + std::to_string(count) + " user lines");
  Status loaded = load_workstations(*identities, workstations, static_cast<unsigned>(o.threads));
  if (!loaded.ok()) return die(loaded.error().to_string());
  identities->clear();
  identities->shrink_to_fit();
  std::fprintf(stderr, "lpm_register_bench: %zu workstation identities loaded in %.1f s (%ld threads)\n",
               count, seconds_since(t0), o.threads);

  uv_loop_t loop;
  uv_loop_init(&loop);
  std::mt19937_64 rng(o.seed);

  Snapshot before = Snapshot::take(o.directory_pid);
  Tally full = Pass(&loop, o, *at, workstations, rng).run(false);
  Snapshot after = Snapshot::take(o.directory_pid);
  std::fprintf(stderr, "lpm_register_bench: full handshakes: %llu registers, %llu heartbeats in %.1f s\n",
               static_cast<unsigned long long>(full.registers),
               static_cast<unsigned long long>(full.heartbeats), full.seconds);
  print_pass("register_rate_full_handshake", o, full, before, after, "");
  std::fflush(stdout);

  before = Snapshot::take(o.directory_pid);
  Tally resumed = Pass(&loop, o, *at, workstations, rng).run(true);
  after = Snapshot::take(o.directory_pid);
  std::fprintf(stderr, "lpm_register_bench: resumed sessions: %llu registers, %llu heartbeats in %.1f s\n",
               static_cast<unsigned long long>(resumed.registers),
               static_cast<unsigned long long>(resumed.heartbeats), resumed.seconds);
  // What the directory should hold now: every registered workstation its last count.
  size_t holdings = 0;
  uint64_t held_jobs = 0;
  for (const auto &w : workstations)
    if (w.registered) {
      holdings++;
      held_jobs += w.jobs;
    }
  print_pass("register_rate_resumed", o, resumed, before, after,
             ",\"expected_holdings\":" + std::to_string(holdings) +
                 ",\"expected_held_jobs\":" + std::to_string(held_jobs));

  workstations.clear();
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) std::fprintf(stderr, "lpm_register_bench: handles left open at exit\n");
  return full.registers > 0 ? 0 : 1;
}
