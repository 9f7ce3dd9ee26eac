// lpm_stream_bench: issue 5's streaming figure, "a 100 MB job streamed from the store to the
// device against an in-memory pipeline of the same stages (decrypt, TLS, write) in the same run:
// goal >= 80 %". Figures only (JSON lines on stdout, a human line on stderr); never fails on a
// timing.
//
//   real path     a job stored through the agent's JobStore (begin_job, write, commit) in a temp
//                 data folder, served by the agent's ReleaseService on 127.0.0.1 over TLS, taken
//                 by the station's own release code (release_workstation: open-release, list,
//                 acknowledge, fetch-document into the device job, update-job-status) into a
//                 file:///DIR device (its job fsyncs the file at finish).
//   in memory     the same job's spool file (the same ciphertext and key) read into memory
//                 beforehand, opened chunk by chunk (AES-256-GCM, tag checked) by a ChunkSource
//                 of this file, served by a Dispatcher of this file answering the same release
//                 ops from memory behind the same kind of listener (ServedListener, TLS,
//                 proto::Peer, 64 KiB chunk frames, SHA-256 checked at the end), taken by the same
//                 station code into the same kind of device job. No store, no SQLite, no disk
//                 read.
// Timed: from the device job's opening (the station opens it, then sends fetch-document at once)
// to its finish callback (after the fsync). Both sides and the station share one loop thread,
// as one process. Rounds alternate (real, memory, real, ...) and the medians are compared.
// Memory: during each real round, the growth of the process's peak RSS (VmHWM, reset through
// /proc/self/clear_refs before the round) over its RSS before the round.
//
// Usage: lpm_stream_bench [MiB] [--rounds N] [--folder DIR]   (default 100 MiB, 3 rounds, a temp
// folder under /tmp, removed at the end)
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "call_io.h"
#include "device.h"
#include "job_store.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/log.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "lpm/protocol/ticket.h"
#include "nonce_store_sqlite.h"
#include "outbox.h"
#include "release_service.h"
#include "served_listener.h"
#include "workstation_release.h"

using namespace lpm;

namespace {

// Bounds every wait on the loop: a release that has not ended by then is reported as failed.
constexpr int64_t kRoundDeadlineNs = int64_t{600} * 1000 * 1000 * 1000;

int die(const std::string &what) {
  std::fprintf(stderr, "lpm_stream_bench: %s\n", what.c_str());
  return 1;
}

double mib_per_s(uint64_t bytes, int64_t ns) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0) / (static_cast<double>(ns) / 1e9);
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// [1.0,2.5,...] with one decimal.
std::string json_list(const std::vector<double> &values) {
  std::string out = "[";
  char buf[64];
  for (size_t i = 0; i < values.size(); i++) {
    std::snprintf(buf, sizeof buf, "%.1f", values[i]);
    out += (i ? "," : "") + std::string(buf);
  }
  return out + "]";
}

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); -1 when it cannot be read.
int64_t status_kib(const std::string &field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::strtoll(line.c_str() + field.size() + 1, nullptr, 10);
  return -1;
}

// Sets VmHWM back to the current RSS (Linux 4.0+), so a later VmHWM is the peak since now.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// The process's user + system CPU time so far.
int64_t cpu_ns() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  auto ns = [](const timeval &tv) { return int64_t{tv.tv_sec} * 1000000000 + int64_t{tv.tv_usec} * 1000; };
  return ns(usage.ru_utime) + ns(usage.ru_stime);
}

// When the device job was opened, was asked to finish (the last byte written) and when its
// finish callback ran (after the fsync); the process's CPU time at the opening and the callback.
struct DeviceTimes {
  int64_t opened_ns = 0;
  int64_t finish_called_ns = 0;
  int64_t finished_ns = 0;
  int64_t opened_cpu_ns = 0;
  int64_t finished_cpu_ns = 0;
  bool finished_ok = false;
};

// The device's job, timed; everything else goes to the real job unchanged.
class TimedJob final : public printer::DeviceJob {
public:
  TimedJob(printer::DeviceJobPtr inner, std::shared_ptr<DeviceTimes> times)
      : inner_(std::move(inner)), times_(std::move(times)) {}
  Status write(std::span<const uint8_t> data) override { return inner_->write(data); }
  bool backlogged() const override { return inner_->backlogged(); }
  void on_drained(std::function<void()> fn) override { inner_->on_drained(std::move(fn)); }
  void finish(printer::CountsFn done) override {
    times_->finish_called_ns = mono_ns();
    inner_->finish([times = times_, then = std::move(done)](Result<printer::DeviceCounts> counts) {
      times->finished_ns = mono_ns();
      times->finished_cpu_ns = cpu_ns();
      times->finished_ok = counts.ok();
      then(std::move(counts));
    });
  }
  void abort() override { inner_->abort(); }

private:
  printer::DeviceJobPtr inner_;
  std::shared_ptr<DeviceTimes> times_;
};

// The station's device (file:///DIR), with each job timed into `times`.
class TimedDevice final : public printer::Device {
public:
  explicit TimedDevice(std::unique_ptr<printer::Device> inner) : inner_(std::move(inner)) {}
  void open_job(const proto::JobInfo &job, const printer::PrintSettings &settings,
                std::function<void(Result<printer::DeviceJobPtr>)> ready) override {
    times = std::make_shared<DeviceTimes>();
    times->opened_ns = mono_ns();
    times->opened_cpu_ns = cpu_ns();
    inner_->open_job(job, settings,
                     [t = times, then = std::move(ready)](Result<printer::DeviceJobPtr> opened) {
                       if (!opened.ok()) return then(opened.error());
                       then(printer::DeviceJobPtr(std::make_unique<TimedJob>(std::move(*opened), t)));
                     });
  }
  bool applies_settings() const override { return inner_->applies_settings(); }
  const std::string &uri() const override { return inner_->uri(); }
  void close(std::function<void()> done) override { inner_->close(std::move(done)); }

  std::shared_ptr<DeviceTimes> times; // of the last job opened

private:
  std::unique_ptr<printer::Device> inner_;
};

// One stored job's spool file held in memory, with what opens it.
struct MemoryDocument {
  proto::JobInfo info;
  agent::SecretKey key;
  agent::SpoolHeader header;
  std::string file; // the whole spool file: header, then the chunk records
  proto::Bytes sha256;
};

// Serves a MemoryDocument's plaintext: each chunk record authenticated and decrypted when the
// pump asks for bytes, as the store's reader does it (into a chunk buffer, then copied).
class MemorySpoolSource final : public proto::ChunkSource {
public:
  explicit MemorySpoolSource(std::shared_ptr<const MemoryDocument> doc)
      : doc_(std::move(doc)), opener_(doc_->key, doc_->header, doc_->info.id),
        chunk_(doc_->header.chunk_bytes),
        chunks_(doc_->info.size == 0 ? 1 : (doc_->info.size + chunk_ - 1) / chunk_), plain_(chunk_) {}

  Result<size_t> read(uint8_t *out, size_t max) override {
    size_t done = 0;
    while (done < max && offset_ < doc_->info.size) {
      uint64_t index = offset_ / chunk_;
      if (!loaded_ || index != loaded_index_) {
        bool final = index == chunks_ - 1;
        size_t plain = final ? static_cast<size_t>(doc_->info.size - index * chunk_) : chunk_;
        uint64_t at = agent::kSpoolHeaderBytes + index * (uint64_t{chunk_} + agent::kTagBytes);
        auto record = std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(doc_->file.data()) + at,
                                               plain + agent::kTagBytes);
        Status s = opener_.open(index, final, record, plain_.data());
        if (!s.ok()) return s.error();
        loaded_ = true;
        loaded_index_ = index;
        loaded_bytes_ = plain;
      }
      size_t in_chunk = static_cast<size_t>(offset_ - index * chunk_);
      size_t n = std::min(max - done, loaded_bytes_ - in_chunk);
      std::memcpy(out + done, plain_.data() + in_chunk, n);
      done += n;
      offset_ += n;
    }
    return done;
  }

private:
  std::shared_ptr<const MemoryDocument> doc_;
  agent::SpoolOpener opener_;
  uint32_t chunk_;
  uint64_t chunks_;
  std::vector<uint8_t> plain_;
  uint64_t offset_ = 0;
  bool loaded_ = false;
  uint64_t loaded_index_ = 0;
  size_t loaded_bytes_ = 0;
};

// The workstation end of the release ops, answered from memory: one job, any ticket accepted.
std::shared_ptr<proto::Dispatcher>
memory_agent(std::shared_ptr<std::shared_ptr<const MemoryDocument>> current, std::string workstation_id) {
  auto dispatcher = std::make_shared<proto::Dispatcher>();
  dispatcher->on(proto::op::open_release, [current, workstation_id](proto::CallPtr call) {
    proto::OpenReleaseResult result;
    result.workstation = workstation_id;
    result.users = {(*current)->info.user};
    agent::reply_with(call, result);
  });
  dispatcher->on(proto::op::list_jobs, [current](proto::CallPtr call) {
    auto req = agent::read_args<proto::ListJobsRequest>(call);
    if (!req) return;
    proto::ListJobsResult result;
    if (req->page.after.empty()) result.jobs.push_back((*current)->info);
    agent::reply_with(call, result);
  });
  dispatcher->on(proto::op::acknowledge_job, [](proto::CallPtr call) {
    proto::AcknowledgeJobResult result;
    result.claim = uuid_v7();
    result.lease_ms = agent::kClaimLeaseMs;
    agent::reply_with(call, result);
  });
  dispatcher->on(proto::op::fetch_document, [current](proto::CallPtr call) {
    auto req = agent::read_args<proto::FetchDocumentRequest>(call);
    if (!req) return;
    std::shared_ptr<const MemoryDocument> doc = *current;
    if (req->job != doc->info.id) return call->fail(Errc::not_found, "no job " + req->job);
    proto::FetchDocumentHeader header;
    header.size = doc->info.size;
    header.format = doc->info.format;
    header.sha256 = doc->sha256;
    proto::MapWriter w;
    header.write(w);
    call->reply_stream(w, std::make_unique<MemorySpoolSource>(doc), doc->sha256);
  });
  dispatcher->on(proto::op::update_job_status, [](proto::CallPtr call) {
    proto::UpdateJobStatusResult result;
    result.state = "printed";
    agent::reply_with(call, result);
  });
  return dispatcher;
}

struct RoundResult {
  std::string error;      // "" when the job reached the device whole
  int64_t stream_ns = 0;  // device job opened -> its finish callback
  int64_t release_ns = 0; // release started (after the badge) -> the device job's finish callback
  int64_t fsync_ns = 0;   // the device job's finish: fsync, rename, fsync of the folder
  int64_t cpu_ns = 0;     // CPU time of the process over stream_ns (both ends run in it)
};

// One side's figures over the rounds.
struct Series {
  std::vector<double> rates; // MiB/s over stream_ns
  std::vector<double> release_ms;
  std::vector<double> fsync_ms;
  std::vector<double> cpu_share; // CPU time / wall time of the stream
  void add(const RoundResult &r, uint64_t bytes) {
    rates.push_back(mib_per_s(bytes, r.stream_ns));
    release_ms.push_back(static_cast<double>(r.release_ns) / 1e6);
    fsync_ms.push_back(static_cast<double>(r.fsync_ns) / 1e6);
    cpu_share.push_back(static_cast<double>(r.cpu_ns) / static_cast<double>(r.stream_ns));
  }
};

struct Bench {
  std::string root;
  uv_loop_t loop{};
  std::string user = uuid_v7();
  std::string workstation_id = uuid_v7();
  std::shared_ptr<Db> db;
  std::shared_ptr<agent::JobStore> store;
  std::unique_ptr<proto::KeyPair> ticket_key;
  std::shared_ptr<proto::Identity> agent_identity;
  std::shared_ptr<proto::Identity> station_identity;
  std::unique_ptr<agent::ReleaseService> service;
  std::unique_ptr<agent::ServedListener> memory_listener;
  std::shared_ptr<std::shared_ptr<const MemoryDocument>> memory_doc =
      std::make_shared<std::shared_ptr<const MemoryDocument>>();
  std::shared_ptr<proto::TlsContext> station_ctx;
  std::unique_ptr<TimedDevice> device;
  std::string device_dir;
  agent::SecretKey storage_key;

  Status start() {
    uv_loop_init(&loop);
    std::string data = root + "/agent";
    device_dir = root + "/device";
    Status made = make_dirs(data, 0700);
    if (!made.ok()) return made;
    auto opened_db = Db::open(data + "/state.db");
    if (!opened_db.ok()) return opened_db.error();
    db = std::shared_ptr<Db>(std::move(*opened_db));
    agent::StoreOptions options;
    options.data_folder = data;
    options.reserve_bytes = 0;
    auto opened_store = agent::JobStore::open(db, options);
    if (!opened_store.ok()) return opened_store.error();
    store = *opened_store;
    auto key_file = read_file(data + "/storage.key", agent::kKeyBytes);
    if (!key_file.ok()) return key_file.error();
    if (!agent::SecretKey::from(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(key_file->data()), key_file->size()),
            storage_key))
      return make_error(Errc::internal, "storage.key is not a key");
    auto nonces = agent::SqliteNonceStore::open(db);
    if (!nonces.ok()) return nonces.error();
    auto outbox = agent::Outbox::open(db);
    if (!outbox.ok()) return outbox.error();
    auto key = proto::KeyPair::generate();
    if (!key.ok()) return key.error();
    ticket_key = std::move(*key);
    auto agent_id = proto::Identity::create(root, "agent", "bench agent");
    if (!agent_id.ok()) return agent_id.error();
    agent_identity = *agent_id;
    auto station_id = proto::Identity::create(root, "station", "bench station");
    if (!station_id.ok()) return station_id.error();
    station_identity = *station_id;

    auto server_ctx = proto::TlsContext::create(proto::TlsContext::Side::server, agent_identity);
    if (!server_ctx.ok()) return server_ctx.error();
    agent::ReleaseServiceOptions so;
    so.listen = proto::Endpoint{"127.0.0.1", 0};
    so.workstation_id = workstation_id;
    so.ticket_keys.push_back(ticket_key->public_key());
    so.records = agent::RecordContext{"bench", workstation_id};
    auto started = agent::ReleaseService::start(&loop, *server_ctx, store,
                                                std::shared_ptr<proto::NonceStore>(std::move(*nonces)),
                                                *outbox, std::move(so));
    if (!started.ok()) return started.error();
    service = std::move(*started);

    // The in-memory side: its own server context of the same kind, the same identity.
    auto memory_ctx = proto::TlsContext::create(proto::TlsContext::Side::server, agent_identity);
    if (!memory_ctx.ok()) return memory_ctx.error();
    proto::PeerOptions po;
    po.role = proto::role::agent;
    po.accept_roles = {proto::role::printer};
    po.dispatcher = memory_agent(memory_doc, workstation_id);
    auto listener = agent::ServedListener::tls(&loop, *memory_ctx, proto::Endpoint{"127.0.0.1", 0},
                                               proto::StreamLimits{}, std::move(po));
    if (!listener.ok()) return listener.error();
    memory_listener = std::move(*listener);

    auto client_ctx = proto::TlsContext::create(proto::TlsContext::Side::client, station_identity);
    if (!client_ctx.ok()) return client_ctx.error();
    station_ctx = *client_ctx;
    auto opened_device = printer::open_device(&loop, "file://" + device_dir);
    if (!opened_device.ok()) return opened_device.error();
    device = std::make_unique<TimedDevice>(std::move(*opened_device));
    return {};
  }

  // Stores a document of `mib` MiB through the store's normal API (not timed).
  Result<agent::Job> store_job(uint64_t mib, const std::vector<uint8_t> &block) {
    agent::NewJob nj;
    nj.user = user;
    nj.os_account = "bench";
    nj.title = "stream bench";
    nj.format = "application/octet-stream";
    auto writer = store->begin_job(nj);
    if (!writer.ok()) return writer.error();
    for (uint64_t i = 0; i < mib; i++) {
      Status s = (*writer)->write(block);
      if (!s.ok()) return s.error();
    }
    return (*writer)->commit();
  }

  // The stored job's spool file and key, in memory (not timed).
  Result<std::shared_ptr<const MemoryDocument>> load_memory_document(const agent::Job &job) {
    auto doc = std::make_shared<MemoryDocument>();
    doc->info = job.info();
    doc->sha256 = job.sha256;
    auto st = db->prepare("SELECT spool_key FROM jobs WHERE id = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, job.id);
    auto row = st->step();
    if (!row.ok()) return row.error();
    if (!*row) return make_error(Errc::not_found, "no row for job " + job.id);
    auto key = agent::unwrap_job_key(storage_key, job.id, st->col_blob(0));
    st->reset();
    if (!key.ok()) return key.error();
    doc->key = *key;
    auto file = read_file(store->spool_path(job), agent::spool_file_bytes(job.size_bytes));
    if (!file.ok()) return file.error();
    doc->file = std::move(*file);
    auto header = agent::SpoolHeader::parse(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(doc->file.data()),
                                 agent::kSpoolHeaderBytes),
        job.id);
    if (!header.ok()) return header.error();
    doc->header = *header;
    return std::shared_ptr<const MemoryDocument>(std::move(doc));
  }

  // One release by the station's code from the workstation at `port`, run on the loop until the
  // station is done with it.
  RoundResult release(uint16_t port, const proto::JobInfo &job) {
    RoundResult result;
    proto::Ticket t;
    t.users = {user};
    t.printer = station_identity->fingerprint();
    t.workstations = {workstation_id};
    t.issued_ms = wall_ms();
    t.expires_ms = t.issued_ms + proto::kTicketLifetimeMs;
    auto ticket = proto::ticket_sign(t, *ticket_key);
    if (!ticket.ok()) {
      result.error = ticket.error().to_string();
      return result;
    }
    proto::WorkstationRef ws;
    ws.id = workstation_id;
    ws.name = "bench";
    ws.addresses = {"127.0.0.1"};
    ws.port = port;
    ws.fingerprint = agent_identity->fingerprint();
    printer::ReleaseSettings settings;
    settings.connect_timeout_ms = 10000;
    settings.printer_name = "bench";
    settings.identity = station_identity;
    // Shared with the callbacks, which may outlive this call when the deadline passes.
    struct Progress {
      std::vector<std::string> lines;
      bool done = false;
      printer::WorkstationOutcome outcome;
    };
    auto progress = std::make_shared<Progress>();
    device->times.reset();
    int64_t t0 = mono_ns();
    printer::release_workstation(
        &loop, station_ctx, *device, settings, ws, *ticket,
        [progress](const std::string &line) { progress->lines.push_back(line); },
        [progress](printer::WorkstationOutcome o) {
          progress->outcome = std::move(o);
          progress->done = true;
        });
    while (!progress->done && mono_ns() - t0 < kRoundDeadlineNs)
      uv_run(&loop, UV_RUN_ONCE);
    std::shared_ptr<DeviceTimes> times = device->times;
    std::string joined;
    for (const auto &line : progress->lines)
      joined += (joined.empty() ? "" : "; ") + line;
    if (!progress->done) {
      result.error = "the release did not end within the deadline";
    } else if (progress->outcome.jobs_printed != 1 || !times || !times->finished_ok) {
      result.error = "not printed: " + progress->outcome.error.to_string() + " (" + joined + ")";
    } else {
      struct stat st {};
      std::string path = device_dir + "/" + job.id + "." + printer::extension_for_format(job.format);
      if (::stat(path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) != job.size)
        result.error =
            "the device file " + path + " is missing or not " + std::to_string(job.size) + " bytes";
      result.stream_ns = times->finished_ns - times->opened_ns;
      result.release_ns = times->finished_ns - t0;
      result.fsync_ns = times->finished_ns - times->finish_called_ns;
      result.cpu_ns = times->finished_cpu_ns - times->opened_cpu_ns;
    }
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(device_dir, ec))
      std::filesystem::remove(entry.path(), ec);
    return result;
  }

  // Closes everything; false when a handle was left on the loop.
  bool stop() {
    if (service) service->stop();
    if (memory_listener) memory_listener->stop();
    bool closed = !device;
    if (device) device->close([&closed]() { closed = true; });
    uv_run(&loop, UV_RUN_DEFAULT);
    service.reset();
    memory_listener.reset();
    device.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop) == 0 && closed;
  }
};

} // namespace

int main(int argc, char **argv) {
  uint64_t mib = 100;
  int rounds = 3;
  std::string folder;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (arg == "--folder" && i + 1 < argc) {
      folder = argv[++i];
    } else if (!arg.empty() && std::isdigit(static_cast<unsigned char>(arg[0]))) {
      mib = std::strtoull(arg.c_str(), nullptr, 10);
    } else {
      return die("usage: lpm_stream_bench [MiB] [--rounds N] [--folder DIR]");
    }
  }
  if (mib == 0 || mib > 2047 || rounds < 1 || rounds > 50)
    return die("MiB must be 1..2047 (the store's cap is 2 GiB) and --rounds 1..50");
  bool made = folder.empty();
  if (made) {
    char tmpl[] = "/tmp/lpm-stream-bench.XXXXXX";
    if (!::mkdtemp(tmpl)) return die("mkdtemp: " + errno_text());
    folder = tmpl;
  }
  log_set_level(LogLevel::warn);

  int rc = 0;
  {
    Bench bench;
    bench.root = folder;
    Status started = bench.start();
    if (!started.ok()) {
      rc = die(started.error().to_string());
    } else {
      std::vector<uint8_t> block(1 << 20);
      random_bytes(block.data(), block.size());
      const uint64_t bytes = mib << 20;
      Series real_series, memory_series;
      std::vector<double> rss_growth_kib;
      int64_t rss_before_kib = -1;
      bool peak_reset = true;
      for (int round = 0; round < rounds && rc == 0; round++) {
        auto job = bench.store_job(mib, block);
        if (!job.ok()) {
          rc = die("storing the job: " + job.error().to_string());
          break;
        }
        // (a) the real path.
        rss_before_kib = status_kib("VmRSS");
        peak_reset = reset_peak_rss() && peak_reset;
        RoundResult real = bench.release(bench.service->port(), job->info());
        int64_t hwm_kib = status_kib("VmHWM");
        if (!real.error.empty()) {
          rc = die("real path, round " + std::to_string(round + 1) + ": " + real.error);
          break;
        }
        real_series.add(real, bytes);
        rss_growth_kib.push_back(static_cast<double>(hwm_kib - rss_before_kib));

        // (b) the in-memory pipeline over the same ciphertext; the stored job goes first.
        auto doc = bench.load_memory_document(*job);
        if (!doc.ok()) {
          rc = die("loading the spool file: " + doc.error().to_string());
          break;
        }
        auto removed = bench.store->remove(job->id, wall_ms(), [](const agent::Job &) { return Status{}; });
        if (!removed.ok()) {
          rc = die("removing the job: " + removed.error().to_string());
          break;
        }
        *bench.memory_doc = *doc;
        RoundResult memory = bench.release(bench.memory_listener->port(), (*doc)->info);
        bench.memory_doc->reset();
        doc->reset();
        if (!memory.error.empty()) {
          rc = die("in-memory pipeline, round " + std::to_string(round + 1) + ": " + memory.error);
          break;
        }
        memory_series.add(memory, bytes);
        std::fprintf(stderr, "  round %d: store %.1f MiB/s, in memory %.1f MiB/s\n", round + 1,
                     real_series.rates.back(), memory_series.rates.back());
      }
      if (rc == 0) {
        double value = median(real_series.rates);
        double peer = median(memory_series.rates);
        double ratio = value / peer;
        double growth_kib = *std::max_element(rss_growth_kib.begin(), rss_growth_kib.end());
        std::printf(
            "{\"name\":\"stream_%llumb\",\"value\":%.1f,\"unit\":\"MiB/s\",\"peer\":\"in-memory pipeline: "
            "the same "
            "ciphertext opened chunk by chunk, loopback TLS, same station code and file "
            "device\",\"peer_value\":%.1f,"
            "\"ratio\":%.3f,\"goal\":\"ratio >= 0.8\",\"document_bytes\":%llu,\"rounds\":%d,\"values\":%s,"
            "\"peer_values\":%s,\"release_ms\":%.1f,\"peer_release_ms\":%.1f,\"fsync_ms\":%.1f,"
            "\"peer_fsync_ms\":%.1f,\"cpu_share\":%.2f,\"peer_cpu_share\":%.2f,\"rss_growth_kib\":%.0f,"
            "\"rss_before_kib\":%lld,\"rss_measure\":\"%s\"}\n",
            static_cast<unsigned long long>(mib), value, peer, ratio, static_cast<unsigned long long>(bytes),
            rounds, json_list(real_series.rates).c_str(), json_list(memory_series.rates).c_str(),
            median(real_series.release_ms), median(memory_series.release_ms), median(real_series.fsync_ms),
            median(memory_series.fsync_ms), median(real_series.cpu_share), median(memory_series.cpu_share),
            growth_kib, static_cast<long long>(rss_before_kib),
            peak_reset
                ? "VmHWM after the release minus VmRSS before it, VmHWM reset by clear_refs; the largest "
                  "of the rounds"
                : "VmHWM after minus VmRSS before (clear_refs not writable: peak since start)");
        std::fflush(stdout);
        std::fprintf(stderr,
                     "stream %llu MiB store -> device: %.1f MiB/s, in-memory pipeline %.1f MiB/s, ratio %.3f "
                     "(goal >= 0.8); peak RSS growth %.0f KiB\n",
                     static_cast<unsigned long long>(mib), value, peer, ratio, growth_kib);
      }
    }
    if (!bench.stop() && rc == 0) rc = die("handles were left on the loop");
  }
  if (made) {
    std::error_code ec;
    std::filesystem::remove_all(folder, ec);
  }
  return rc;
}
