// lpm_badge_in_bench: the directory's badge-in rate and latency (issue 4, "Benchmarks"), figures
// only. Run by scripts/bench_directory.sh against an lpm-directory holding --users users filled
// by lpm_directory_fill (user i has badge "B" + i as 8 hex digits).
//
// P printer identities are created in --data and enrolled with --token (one token of P uses);
// each then keeps one TLS connection to the directory from its own loopback address
// 127.0.<1 + i / 254>.<1 + i % 254>, as P release stations on P machines would. Then:
//   (a) closed loop: every printer badges in with a uniformly drawn badge, and again as soon as
//       the answer arrives, for --seconds (after a warm-up of one second that is not counted).
//       Every answer's ticket is decoded (its nonce must be new, its printer ours); one in 100
//       has its signature verified with the ticket key enrollment returned. The directory's CPU
//       (utime + stime of --directory-pid) over the run gives CPU µs per badge-in; its loop
//       thread's /proc/PID/schedstat splits the wall time into running, runnable (waiting for a
//       core another process holds) and blocked (the disk, or nothing to do).
//   (b) the signing floor: ECDSA P-256 signatures of a ticket-sized body per second, on as many
//       threads as the directory signs on (--signing-threads, at least one), the directory idle:
//       the rate it could reach if signing were all it did on those cores. Beside the rate, the
//       CPU µs per signature: on a shared machine the CPU ratio (signature / badge-in) is the
//       steadier figure.
//   (c) open loop: badge-ins at half of (a)'s rate (or --rate), Poisson arrivals, each to a
//       printer drawn at random, for --seconds; latency counts from the scheduled send time, so
//       time spent queued behind earlier requests counts (no coordinated omission).
// This client runs on one loop thread too (a few % of a core; client_cpu_share).
//
// Usage: lpm_badge_in_bench --directory HOST:PORT --fingerprint FP --data DIR --token TOKEN
//          --users N [--printers P] [--seconds S] [--rate R] [--directory-pid PID] [--seed X]
//          [--rate-limits TEXT] [--signing-threads N]
// --rate-limits says how the directory's per-printer badge rate limit was set (lpm-directory serve
// --badge-rate/--badge-burst); it is copied into both JSON lines, so every figure states it.
// Prints two JSON lines: badge_in_rate and badge_in_p99.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <atomic>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bench_support.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/enroll.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "lpm/protocol/stream.h"
#include "lpm/protocol/ticket.h"

using namespace lpm;
using bench::own_cpu_seconds;
using bench::percentile_ms;
using bench::process_cpu_seconds;
using bench::sched_times;
using bench::SchedTimes;

namespace {

struct Options {
  std::string directory;
  std::string fingerprint;
  std::string data;
  std::string token;
  long users = 0;
  long printers = 1000;
  double seconds = 5;
  double rate = 0; // 0: half of the closed loop's rate
  long directory_pid = 0;
  uint64_t seed = 1;
  // The directory's badge rate limit as it was started, reported with the figures.
  std::string rate_limits = "not stated (see --rate-limits)";
  // The directory's signing threads (lpm-directory serve --signing-threads): the floor signs on
  // as many (at least one).
  unsigned signing_threads = 1;
};

// Handshakes in flight while the connections open: more would only queue at the directory and
// risk the handshake deadline.
constexpr size_t kOpeningAtOnce = 32;
// One answer in this many has its ticket signature verified.
constexpr uint64_t kVerifyOneIn = 100;
constexpr double kWarmUpSeconds = 1;

struct Printer {
  std::shared_ptr<proto::Identity> identity;
  std::shared_ptr<proto::TlsContext> tls;
  proto::PeerPtr peer;
  std::string source;
  bool ready = false;
  bool failed = false;
};

// What the answers of one phase showed.
struct Tally {
  uint64_t answers = 0;
  uint64_t errors = 0;
  uint64_t verified = 0;
  uint64_t verify_failures = 0; // bad signature, undecodable ticket, another printer's, reused nonce
  std::string first_error;
  std::vector<int64_t> latency_ns; // from the scheduled send (open loop)
  std::vector<int64_t> service_ns; // from the actual send
  std::vector<proto::SignedTicket> samples; // verified after the phase (kVerifyOneIn)
};

int die(const std::string &why) {
  std::fprintf(stderr, "lpm_badge_in_bench: %s\n", why.c_str());
  return 1;
}

int usage() {
  std::fprintf(stderr,
               "usage: lpm_badge_in_bench --directory HOST:PORT --fingerprint FP --data DIR --token TOKEN "
               "--users N [--printers P] [--seconds S] [--rate R] [--directory-pid PID] [--seed X] "
               "[--rate-limits TEXT] [--signing-threads N]\n");
  return 2;
}

std::string badge_of(long i) {
  char text[16];
  std::snprintf(text, sizeof text, "B%08lX", static_cast<unsigned long>(i));
  return text;
}

double seconds_since(int64_t t0_ns) {
  return static_cast<double>(mono_ns() - t0_ns) / 1e9;
}

class Bench {
public:
  Bench(uv_loop_t *loop, const Options &options, std::vector<Printer> &printers, proto::PublicKey ticket_key)
      : loop_(loop), options_(options), printers_(printers), ticket_key_(std::move(ticket_key)),
        rng_(options.seed), badge_pick_(0, options.users - 1),
        printer_pick_(0, static_cast<size_t>(options.printers - 1)) {}

  // Opens every printer's connection, kOpeningAtOnce at a time. Returns how many opened.
  size_t open_all(const proto::Endpoint &at) {
    size_t next = 0, settled = 0, opening = 0;
    std::function<void()> launch = [&]() {
      while (opening < kOpeningAtOnce && next < printers_.size()) {
        Printer &p = printers_[next++];
        opening++;
        proto::ConnectOptions connect;
        connect.pins = {options_.fingerprint};
        connect.source = p.source;
        proto::PeerOptions peer_options;
        peer_options.role = proto::role::printer;
        peer_options.accept_roles = {proto::role::directory};
        peer_options.on_ready = [&, printer = &p](proto::Peer &) {
          printer->ready = true;
          opening--;
          settled++;
          launch();
        };
        peer_options.on_close = [&, printer = &p](proto::Peer &, const Error &why) {
          if (printer->ready || printer->failed) return;
          printer->failed = true;
          if (first_connect_error_.empty()) first_connect_error_ = printer->source + ": " + why.to_string();
          opening--;
          settled++;
          launch();
        };
        auto stream = proto::tls_connect(loop_, p.tls, at, connect, {});
        p.peer = proto::Peer::attach(stream, std::move(peer_options));
      }
    };
    launch();
    proto::run_until(
        loop_, [&] { return settled == printers_.size(); }, 120000);
    size_t ready = 0;
    for (const auto &p : printers_)
      if (p.ready) ready++;
    return ready;
  }
  const std::string &first_connect_error() const { return first_connect_error_; }

  // (a) Every printer keeps one badge-in in flight until `seconds` have passed; then the
  // answers still due are awaited. Returns the tally and the seconds until the last answer.
  Tally closed_loop(double seconds, double &elapsed) {
    Tally tally;
    int64_t t0 = mono_ns();
    int64_t deadline = t0 + static_cast<int64_t>(seconds * 1e9);
    size_t in_flight = 0;
    std::function<void(size_t)> send = [&](size_t index) {
      if (mono_ns() >= deadline) return;
      in_flight++;
      badge_in(index, mono_ns(), tally, [&, index] {
        in_flight--;
        send(index);
      });
    };
    for (size_t i = 0; i < printers_.size(); i++)
      if (printers_[i].ready) send(i);
    proto::run_until(
        loop_, [&] { return in_flight == 0; }, static_cast<uint32_t>(seconds * 1000) + 60000);
    elapsed = seconds_since(t0);
    verify_samples(tally);
    return tally;
  }

  // (c) Poisson arrivals at `rate` per second to random printers for `seconds`, checked every
  // millisecond (libuv's timer resolution): a request is sent at the first tick at or after its
  // scheduled time, and its latency counts from that scheduled time.
  Tally open_loop(double rate, double seconds) {
    Tally tally;
    std::exponential_distribution<double> gap_s(rate);
    int64_t t0 = mono_ns();
    int64_t end = t0 + static_cast<int64_t>(seconds * 1e9);
    int64_t due = t0;
    size_t in_flight = 0;
    bool scheduling = true;
    auto tick = [&] {
      int64_t now = mono_ns();
      while (due <= now && due < end) {
        size_t index = printer_pick_(rng_);
        while (!printers_[index].ready)
          index = printer_pick_(rng_);
        in_flight++;
        badge_in(index, due, tally, [&] { in_flight--; });
        due += static_cast<int64_t>(gap_s(rng_) * 1e9);
      }
      if (due >= end) scheduling = false;
    };
    uv_timer_t timer;
    uv_timer_init(loop_, &timer);
    timer.data = &tick;
    uv_timer_start(
        &timer, [](uv_timer_t *t) { (*static_cast<decltype(tick) *>(t->data))(); }, 0, 1);
    proto::run_until(
        loop_, [&] { return !scheduling; }, static_cast<uint32_t>(seconds * 1000) + 10000);
    uv_timer_stop(&timer);
    uv_close(reinterpret_cast<uv_handle_t *>(&timer), nullptr);
    proto::run_until(
        loop_, [&] { return in_flight == 0; }, 60000);
    verify_samples(tally);
    return tally;
  }

  void close_all() {
    for (auto &p : printers_)
      if (p.peer) p.peer->close();
    uv_run(loop_, UV_RUN_DEFAULT);
    for (auto &p : printers_)
      p.peer.reset();
  }

private:
  // One badge-in by printer `index` with a random badge; `scheduled_ns` is when it was due.
  void badge_in(size_t index, int64_t scheduled_ns, Tally &tally, std::function<void()> done) {
    proto::BadgeInRequest req;
    req.badge = badge_of(badge_pick_(rng_));
    proto::MapWriter w;
    req.write(w);
    int64_t sent_ns = mono_ns();
    printers_[index].peer->call(
        proto::op::badge_in, w,
        [this, index, scheduled_ns, sent_ns, &tally, done = std::move(done)](Result<proto::Response> r) {
          int64_t now = mono_ns();
          if (!r.ok()) {
            tally.errors++;
            if (tally.first_error.empty()) tally.first_error = r.error().to_string();
            done();
            return;
          }
          tally.answers++;
          tally.latency_ns.push_back(now - scheduled_ns);
          tally.service_ns.push_back(now - sent_ns);
          check_answer(*r, printers_[index], tally);
          done();
        });
  }

  void check_answer(const proto::Response &response, const Printer &printer, Tally &tally) {
    proto::BadgeInResult result;
    auto reader = response.reader();
    result.read(reader);
    auto ticket =
        reader.ok() ? proto::ticket_decode(result.ticket.body) : Result<proto::Ticket>(reader.error());
    bool good = ticket.ok() && ticket->printer == printer.identity->fingerprint() &&
                nonces_.insert(std::string(ticket->nonce.begin(), ticket->nonce.end())).second;
    // Verified once the phase is over: a 1-2 ms verification on this loop would delay the
    // answers behind it and count against the directory.
    if (good && tally.answers % kVerifyOneIn == 0) tally.samples.push_back(std::move(result.ticket));
    if (!good) tally.verify_failures++;
  }

  void verify_samples(Tally &tally) {
    for (const auto &t : tally.samples) {
      tally.verified++;
      if (!ticket_key_.verify(t.body, t.signature).ok()) tally.verify_failures++;
    }
    tally.samples.clear();
  }

private:

  uv_loop_t *loop_;
  const Options &options_;
  std::vector<Printer> &printers_;
  proto::PublicKey ticket_key_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<long> badge_pick_;
  std::uniform_int_distribution<size_t> printer_pick_;
  std::unordered_set<std::string> nonces_; // every answer's nonce: each must be fresh
  std::string first_connect_error_;
};

// (b) ECDSA P-256 signatures per second of a body the size of a badge-in's ticket, on `threads`
// threads at once (the cores the directory signs on), each with its own key.
// cpu_us_per_signature: CPU per signature, which another process on the same cores does not
// inflate (the rate it does).
Result<double> signing_floor(double seconds, unsigned threads, const std::string &printer_fingerprint,
                             size_t &body_bytes, double &cpu_us_per_signature) {
  auto key = proto::KeyPair::generate();
  if (!key.ok()) return key.error();
  proto::Ticket ticket;
  ticket.users = {"0190c0de-0000-7000-8000-000000000000"};
  ticket.printer = printer_fingerprint;
  ticket.issued_ms = wall_ms();
  ticket.expires_ms = ticket.issued_ms + proto::kTicketLifetimeMs;
  auto sample = proto::ticket_sign(ticket, **key);
  if (!sample.ok()) return sample.error();
  const proto::Bytes body = sample->body;
  body_bytes = body.size();
  std::string pem = (*key)->private_pem();
  std::vector<std::unique_ptr<proto::KeyPair>> keys;
  for (unsigned i = 0; i < threads; i++) {
    auto copy = proto::KeyPair::from_pem(pem);
    if (!copy.ok()) return copy.error();
    keys.push_back(std::move(*copy));
  }
  std::vector<uint64_t> counts(threads, 0);
  std::atomic<bool> failed{false};
  double cpu0 = own_cpu_seconds();
  int64_t t0 = mono_ns();
  int64_t deadline = t0 + static_cast<int64_t>(seconds * 1e9);
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < threads; i++)
    workers.emplace_back([&, i] {
      while (mono_ns() < deadline)
        if ((*keys[i]).sign(body).ok())
          counts[i]++;
        else
          failed = true;
    });
  for (auto &w : workers)
    w.join();
  double elapsed = seconds_since(t0);
  if (failed) return make_error(Errc::internal, "a signature failed");
  uint64_t signatures = 0;
  for (uint64_t c : counts)
    signatures += c;
  cpu_us_per_signature =
      (own_cpu_seconds() - cpu0) * 1e6 / static_cast<double>(std::max<uint64_t>(signatures, 1));
  return static_cast<double>(signatures) / elapsed;
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
    else if (flag == "--data")
      o.data = v;
    else if (flag == "--token")
      o.token = v;
    else if (flag == "--users")
      o.users = std::atol(v);
    else if (flag == "--printers")
      o.printers = std::atol(v);
    else if (flag == "--seconds")
      o.seconds = std::atof(v);
    else if (flag == "--rate")
      o.rate = std::atof(v);
    else if (flag == "--directory-pid")
      o.directory_pid = std::atol(v);
    else if (flag == "--seed")
      o.seed = std::strtoull(v, nullptr, 10);
    else if (flag == "--rate-limits")
      o.rate_limits = v;
    else if (flag == "--signing-threads")
      o.signing_threads = static_cast<unsigned>(std::atol(v));
    else
      return usage();
  }
  // 127.0.1.1 ... 127.0.254.254: one address per printer, none of them 127.0.0.1.
  constexpr long kMaxPrinters = 254L * 254;
  if (argc % 2 == 0 || o.directory.empty() || o.fingerprint.empty() || o.data.empty() || o.token.empty() ||
      o.users < 1 || o.printers < 1 || o.printers > kMaxPrinters || o.seconds <= 0 || o.rate < 0)
    return usage();
  auto at = proto::parse_endpoint(o.directory);
  if (!at.ok()) return die(at.error().to_string());
  log_set_level(LogLevel::warn);

  // Identities and enrollment (not measured, but timed for the log).
  int64_t t0 = mono_ns();
  std::vector<Printer> printers(static_cast<size_t>(o.printers));
  proto::Bytes ticket_key_der;
  for (long i = 0; i < o.printers; i++) {
    Printer &p = printers[static_cast<size_t>(i)];
    std::string name = "bench-printer-" + std::to_string(i);
    auto identity = proto::Identity::load_or_create(o.data, name, name);
    if (!identity.ok()) return die(identity.error().to_string());
    p.identity = *identity;
    auto enrolled = proto::enroll_with_directory(p.identity, *at, o.fingerprint, proto::EnrollKind::printer,
                                                 name, o.token, proto::role::printer);
    if (!enrolled.ok()) return die("enrolling " + name + ": " + enrolled.error().to_string());
    if (ticket_key_der.empty()) ticket_key_der = enrolled->ticket_key;
    auto tls = proto::TlsContext::create(proto::TlsContext::Side::client, p.identity);
    if (!tls.ok()) return die(tls.error().to_string());
    p.tls = *tls;
    p.source = "127.0." + std::to_string(1 + i / 254) + "." + std::to_string(1 + i % 254);
  }
  auto ticket_key = proto::PublicKey::from_der(ticket_key_der);
  if (!ticket_key.ok()) return die("the ticket key from enrollment: " + ticket_key.error().to_string());
  std::fprintf(stderr, "lpm_badge_in_bench: %ld printers enrolled in %.1f s\n", o.printers,
               seconds_since(t0));

  uv_loop_t loop;
  uv_loop_init(&loop);
  Bench bench(&loop, o, printers, std::move(*ticket_key));
  t0 = mono_ns();
  size_t connected = bench.open_all(*at);
  std::fprintf(stderr, "lpm_badge_in_bench: %zu of %ld connections open in %.1f s\n", connected, o.printers,
               seconds_since(t0));
  if (connected != printers.size()) return die("a connection failed: " + bench.first_connect_error());

  double elapsed = 0;
  Tally warm = bench.closed_loop(kWarmUpSeconds, elapsed);
  if (warm.answers == 0) return die("no badge-in was answered: " + warm.first_error);
  double cpu0 = process_cpu_seconds(o.directory_pid), own0 = own_cpu_seconds();
  SchedTimes sched0 = sched_times(o.directory_pid);
  Tally closed = bench.closed_loop(o.seconds, elapsed);
  double cpu1 = process_cpu_seconds(o.directory_pid), own1 = own_cpu_seconds();
  SchedTimes sched1 = sched_times(o.directory_pid);
  double rate = static_cast<double>(closed.answers) / elapsed;
  std::fprintf(stderr, "lpm_badge_in_bench: closed loop %.0f badge-ins/s (%llu answers, %llu errors)\n", rate,
               static_cast<unsigned long long>(closed.answers),
               static_cast<unsigned long long>(closed.errors));

  size_t body_bytes = 0;
  double signature_cpu_us = 0;
  unsigned floor_threads = std::max(o.signing_threads, 1u);
  auto floor = signing_floor(o.seconds, floor_threads, printers[0].identity->fingerprint(), body_bytes,
                             signature_cpu_us);
  if (!floor.ok()) return die("signing floor: " + floor.error().to_string());
  std::fprintf(stderr, "lpm_badge_in_bench: signing floor %.0f signatures/s\n", *floor);

  double offered = o.rate > 0 ? o.rate : rate / 2;
  Tally open = bench.open_loop(offered, o.seconds);
  bench.close_all();
  if (uv_loop_close(&loop) != 0) std::fprintf(stderr, "lpm_badge_in_bench: handles left open at exit\n");
  if (!closed.first_error.empty())
    std::fprintf(stderr, "lpm_badge_in_bench: closed loop: %s\n", closed.first_error.c_str());
  if (!open.first_error.empty())
    std::fprintf(stderr, "lpm_badge_in_bench: open loop: %s\n", open.first_error.c_str());

  double cpu_us = cpu0 >= 0 && cpu1 >= 0 && closed.answers > 0
                      ? (cpu1 - cpu0) * 1e6 / static_cast<double>(closed.answers)
                      : -1;
  // How the directory's loop thread spent the wall time: running, runnable but without a CPU
  // (another process had it), or blocked (the disk, or nothing to do).
  char runnable_text[32] = "null", blocked_text[32] = "null";
  if (sched0.running >= 0 && sched1.running >= 0) {
    double runnable = (sched1.runnable - sched0.runnable) / elapsed;
    double running = (sched1.running - sched0.running) / elapsed;
    std::snprintf(runnable_text, sizeof runnable_text, "%.3f", runnable);
    std::snprintf(blocked_text, sizeof blocked_text, "%.3f", std::max(0.0, 1 - running - runnable));
  }
  // The ratio in CPU time (signature / badge-in): what the rates' ratio would be with a core each.
  char ratio_cpu_text[32] = "null";
  if (cpu_us > 0) std::snprintf(ratio_cpu_text, sizeof ratio_cpu_text, "%.3f", signature_cpu_us / cpu_us);
  // Copied into JSON strings: quotes, backslashes and control characters would break them.
  std::string limits = o.rate_limits;
  for (char &c : limits)
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '\'';
  char cpu_text[32] = "null", busy_text[32] = "null";
  if (cpu_us >= 0) {
    std::snprintf(cpu_text, sizeof cpu_text, "%.1f", cpu_us);
    std::snprintf(busy_text, sizeof busy_text, "%.3f", (cpu1 - cpu0) / elapsed);
  }
  std::printf(
      "{\"name\":\"badge_in_rate\",\"value\":%.1f,\"unit\":\"badge-ins/s\",\"answers\":%llu,\"errors\":%llu,"
      "\"seconds\":%.3f,\"printers\":%ld,\"users\":%ld,\"verified\":%llu,\"verify_failures\":%llu,"
      "\"cpu_us_per_badge_in\":%s,\"directory_cpu_share\":%s,\"directory_runnable_share\":%s,"
      "\"directory_blocked_share\":%s,\"client_cpu_share\":%.3f,"
      "\"closed_loop_p50_ms\":%.3f,\"closed_loop_p99_ms\":%.3f,"
      "\"peer\":\"ECDSA P-256 signatures/s of a %zu-byte ticket body, %u thread(s)\",\"peer_value\":%.1f,"
      "\"ratio\":%.3f,\"peer_cpu_us_per_signature\":%.1f,\"ratio_cpu\":%s,\"goal\":\"ratio >= "
      "0.5\",\"rate_limits\":\"%s\","
      "\"signing_threads\":%u,"
      "\"note\":\"the directory serves on one loop thread and precomputes signatures on signing_threads "
      "more (0: none); this client runs on one thread\"}\n",
      rate, static_cast<unsigned long long>(closed.answers), static_cast<unsigned long long>(closed.errors),
      elapsed, o.printers, o.users, static_cast<unsigned long long>(closed.verified),
      static_cast<unsigned long long>(closed.verify_failures + open.verify_failures), cpu_text, busy_text,
      runnable_text, blocked_text, (own1 - own0) / elapsed, percentile_ms(closed.service_ns, 50),
      percentile_ms(closed.service_ns, 99), body_bytes, floor_threads, *floor,
      *floor > 0 ? rate / *floor : 0.0, signature_cpu_us, ratio_cpu_text, limits.c_str(), o.signing_threads);
  std::printf(
      "{\"name\":\"badge_in_p99\",\"value\":%.3f,\"unit\":\"ms\",\"p50_ms\":%.3f,\"offered_rate\":%.1f,"
      "\"answers\":%llu,\"errors\":%llu,\"seconds\":%.1f,\"printers\":%ld,\"users\":%ld,"
      "\"p90_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
      "\"service_p50_ms\":%.3f,\"service_p99_ms\":%.3f,\"arrivals\":\"Poisson, random printer\","
      "\"goal\":\"<= 5 ms\",\"rate_limits\":\"%s\"}\n",
      percentile_ms(open.latency_ns, 99), percentile_ms(open.latency_ns, 50), offered,
      static_cast<unsigned long long>(open.answers), static_cast<unsigned long long>(open.errors), o.seconds,
      o.printers, o.users, percentile_ms(open.latency_ns, 90), percentile_ms(open.latency_ns, 99.9),
      percentile_ms(open.latency_ns, 100), percentile_ms(open.service_ns, 50),
      percentile_ms(open.service_ns, 99), limits.c_str());
  return closed.answers > 0 ? 0 : 1;
}
