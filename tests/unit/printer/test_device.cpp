// Print devices (issue 5): the file device's atomic delivery (.part, fsync, rename), extension
// mapping, aborts that leave nothing behind, the start-up errors of open_device; the AppSocket
// device against a TCP listener in the test (bytes, backpressure, a device that hangs up
// mid-job, an unreachable one). The IPP device runs against ippeveprinter in
// tests/integration/ippeve_device.sh.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

#include "device.h"
#include "device_socket.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/protocol/stream.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::printer;
using lpm::test::TempDir;

namespace {

proto::JobInfo job_with(std::string format) {
  proto::JobInfo job;
  job.id = uuid_v7();
  job.title = "report";
  job.format = std::move(format);
  return job;
}

std::span<const uint8_t> bytes_of(const std::string &s) {
  return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}

// The file device answers at once: these take its answers without running the loop.
// The file device creates its file on the loop's thread pool: runs the loop until it answers.
Result<DeviceJobPtr> open_now(uv_loop_t *loop, Device &device, const proto::JobInfo &job) {
  std::optional<Result<DeviceJobPtr>> got;
  device.open_job(job, settings_of(job), [&](Result<DeviceJobPtr> r) { got.emplace(std::move(r)); });
  while (!got)
    uv_run(loop, UV_RUN_ONCE);
  return std::move(*got);
}

// The file device flushes on the loop's thread pool: runs the loop until it answers.
Status finish_now(uv_loop_t *loop, DeviceJob &job) {
  std::optional<Status> got;
  job.finish([&](Result<DeviceCounts> r) {
    if (r.ok())
      got.emplace(Status{});
    else
      got.emplace(r.error());
  });
  while (!got) uv_run(loop, UV_RUN_ONCE);
  return *got;
}

struct Loop {
  uv_loop_t loop;
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
};

size_t files_in(const std::string &dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto &entry : std::filesystem::directory_iterator(dir))
    n++;
  return n;
}

} // namespace

TEST_CASE("formats map to file name extensions", "[printer][device]") {
  CHECK(extension_for_format("application/pdf") == "pdf");
  CHECK(extension_for_format("application/postscript") == "ps");
  CHECK(extension_for_format("image/pwg-raster") == "pwg");
  CHECK(extension_for_format("image/urf") == "urf");
  CHECK(extension_for_format("text/plain") == "txt");
  CHECK(extension_for_format("text/plain; charset=utf-8") == "txt");
  CHECK(extension_for_format("Application/PDF") == "pdf");
  CHECK(extension_for_format("application/octet-stream") == "bin");
  CHECK(extension_for_format("image/jpeg") == "bin");
  CHECK(extension_for_format("") == "bin");
}

TEST_CASE("open_device refuses unknown schemes and malformed URIs", "[printer][device]") {
  Loop l;
  auto lpd = open_device(&l.loop, "lpd://printer.example/queue");
  REQUIRE_FALSE(lpd.ok());
  CHECK(lpd.error().message == "device scheme lpd is not supported (file, socket, ipp, ipps)");
  CHECK_FALSE(open_device(&l.loop, "").ok());
  CHECK_FALSE(open_device(&l.loop, "/tmp/out").ok());
  CHECK_FALSE(open_device(&l.loop, "file:relative/path").ok());
  CHECK_FALSE(open_device(&l.loop, "file://host.example/srv").ok());
  CHECK_FALSE(open_device(&l.loop, "file:///bad%2").ok());
  CHECK_FALSE(open_device(&l.loop, "file:///bad%00nul").ok());
  CHECK_FALSE(open_device(&l.loop, "socket://").ok());
  CHECK_FALSE(open_device(&l.loop, "socket://host:0").ok());
  CHECK_FALSE(open_device(&l.loop, "socket://host:99999").ok());
  CHECK_FALSE(open_device(&l.loop, "socket://host:91x").ok());
  CHECK_FALSE(open_device(&l.loop, "socket://host/path").ok());
  CHECK_FALSE(open_device(&l.loop, "socket://[::1").ok());
  CHECK_FALSE(open_device(&l.loop, "ipp:///ipp/print").ok());
}

TEST_CASE("socket URIs: host, port 9100 by default, IPv6 in brackets", "[printer][device]") {
  auto plain = parse_socket_uri("socket://printer.example");
  REQUIRE(plain.ok());
  CHECK(plain->host == "printer.example");
  CHECK(plain->port == 9100);
  auto port = parse_socket_uri("socket://10.0.0.5:9101/");
  REQUIRE(port.ok());
  CHECK(port->host == "10.0.0.5");
  CHECK(port->port == 9101);
  auto v6 = parse_socket_uri("socket://[::1]:9102");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 9102);
  auto bad = parse_socket_uri("socket://host:");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("port") != std::string::npos);
}

TEST_CASE("open_device creates the folder of a file device, decoding the URI path", "[printer][device]") {
  TempDir tmp;
  Loop l;
  auto device = open_device(&l.loop, "file://" + tmp.path + "/print%20out/");
  REQUIRE(device.ok());
  CHECK(std::filesystem::is_directory(tmp.path + "/print out"));
  auto localhost = open_device(&l.loop, "file://localhost" + tmp.path + "/other");
  REQUIRE(localhost.ok());
  CHECK(std::filesystem::is_directory(tmp.path + "/other"));
}

TEST_CASE("the file device delivers a job atomically under <job-id>.<ext>", "[printer][device]") {
  TempDir tmp;
  Loop l;
  auto device = open_device(&l.loop, "file://" + tmp.path);
  REQUIRE(device.ok());
  proto::JobInfo job = job_with("application/pdf");
  auto sink = open_now(&l.loop, **device, job);
  REQUIRE(sink.ok());
  CHECK_FALSE((*device)->applies_settings());
  std::string part = tmp.path + "/" + job.id + ".part";
  std::string final_path = tmp.path + "/" + job.id + ".pdf";

  REQUIRE((*sink)->write(bytes_of("%PDF-1.7\n")).ok());
  REQUIRE((*sink)->write(bytes_of("rest of the document")).ok());
  // Until finish, only the .part file exists: nobody can pick up half a document.
  CHECK(file_exists(part));
  CHECK_FALSE(file_exists(final_path));

  REQUIRE(finish_now(&l.loop, **sink).ok());
  CHECK_FALSE(file_exists(part));
  auto content = read_file(final_path, 1 << 20);
  REQUIRE(content.ok());
  CHECK(*content == "%PDF-1.7\nrest of the document");
  struct stat st {};
  REQUIRE(::stat(final_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // Ending twice is refused, and destroying a finished sink keeps the file.
  CHECK_FALSE(finish_now(&l.loop, **sink).ok());
  sink.value().reset();
  CHECK(file_exists(final_path));
  CHECK(files_in(tmp.path) == 1);
}

TEST_CASE("an aborted or abandoned device job leaves no file", "[printer][device]") {
  TempDir tmp;
  Loop l;
  auto device = open_device(&l.loop, "file://" + tmp.path);
  REQUIRE(device.ok());

  auto aborted = open_now(&l.loop, **device, job_with("text/plain"));
  REQUIRE(aborted.ok());
  REQUIRE((*aborted)->write(bytes_of("half a job")).ok());
  (*aborted)->abort();
  (*aborted)->abort(); // harmless twice
  CHECK_FALSE((*aborted)->write(bytes_of("more")).ok());
  CHECK(files_in(tmp.path) == 0);

  {
    auto abandoned = open_now(&l.loop, **device, job_with("image/urf"));
    REQUIRE(abandoned.ok());
    REQUIRE((*abandoned)->write(bytes_of("never finished")).ok());
    CHECK(files_in(tmp.path) == 1);
  }
  CHECK(files_in(tmp.path) == 0);
}

TEST_CASE("the file device refuses a job id that is not a UUID", "[printer][device]") {
  TempDir tmp;
  Loop l;
  auto device = open_device(&l.loop, "file://" + tmp.path);
  REQUIRE(device.ok());
  proto::JobInfo job = job_with("application/pdf");
  job.id = "../../etc/passwd";
  auto sink = open_now(&l.loop, **device, job);
  REQUIRE_FALSE(sink.ok());
  CHECK(sink.error().code == Errc::bad_request);
  CHECK(files_in(tmp.path) == 0);
}

TEST_CASE("a file device whose folder vanished fails the job, not the station", "[printer][device]") {
  TempDir tmp;
  std::string folder = tmp.path + "/out";
  Loop l;
  auto device = open_device(&l.loop, "file://" + folder);
  REQUIRE(device.ok());
  std::filesystem::remove_all(folder);
  auto sink = open_now(&l.loop, **device, job_with("application/pdf"));
  REQUIRE_FALSE(sink.ok());
  CHECK(sink.error().code == Errc::io_error);
}

namespace {

// A printer's AppSocket port in the test: keeps what it reads, hangs up after `close_after`
// bytes when asked to, closes its side when the station has sent everything (as printers do),
// and records how the station's side ended.
class AppSocketPort {
public:
  explicit AppSocketPort(uv_loop_t *loop) : loop_(loop) {
    proto::ignore_sigpipe(); // as every binary does: a write to a printer that hung up fails
    uv_tcp_init(loop_, &server_);
    server_.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    REQUIRE(uv_tcp_bind(&server_, reinterpret_cast<const sockaddr *>(&addr), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t *>(&server_), 4, [](uv_stream_t *s, int status) {
              if (status == 0) static_cast<AppSocketPort *>(s->data)->accept();
            }) == 0);
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr *>(&bound), &len);
    port = ntohs(reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
  }
  ~AppSocketPort() { close(); }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (!uv_is_closing(reinterpret_cast<uv_handle_t *>(&server_)))
      uv_close(reinterpret_cast<uv_handle_t *>(&server_), nullptr);
    drop_client();
  }
  void pause() {
    paused = true;
    if (client_) uv_read_stop(reinterpret_cast<uv_stream_t *>(client_));
  }
  void resume() {
    paused = false;
    if (client_) start_reading();
  }

  uint16_t port = 0;
  std::string received;
  size_t close_after = SIZE_MAX;
  bool paused = false;
  bool saw_eof = false;   // the station half-closed after the whole job
  bool saw_error = false; // the station's side ended without a clean end (reset)

private:
  void accept() {
    client_ = new uv_tcp_t;
    uv_tcp_init(loop_, client_);
    client_->data = this;
    uv_accept(reinterpret_cast<uv_stream_t *>(&server_), reinterpret_cast<uv_stream_t *>(client_));
    if (!paused) start_reading();
  }
  void start_reading() {
    uv_read_start(
        reinterpret_cast<uv_stream_t *>(client_),
        [](uv_handle_t *, size_t, uv_buf_t *buf) {
          static char scratch[65536];
          *buf = uv_buf_init(scratch, sizeof scratch);
        },
        [](uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
          auto *self = static_cast<AppSocketPort *>(s->data);
          if (n > 0) {
            self->received.append(buf->base, static_cast<size_t>(n));
            if (self->received.size() >= self->close_after) self->drop_client();
            return;
          }
          if (n == UV_EOF)
            self->saw_eof = true;
          else if (n < 0)
            self->saw_error = true;
          if (n < 0) self->drop_client(); // the printer closes its side: it has the job
        });
  }
  void drop_client() {
    if (!client_) return;
    uv_close(reinterpret_cast<uv_handle_t *>(client_),
             [](uv_handle_t *h) { delete reinterpret_cast<uv_tcp_t *>(h); });
    client_ = nullptr;
  }

  uv_loop_t *loop_;
  uv_tcp_t server_{};
  uv_tcp_t *client_ = nullptr;
  bool closed_ = false;
};

std::string pattern_bytes(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i++)
    out[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
  return out;
}

Result<DeviceJobPtr> open_and_wait(uv_loop_t *loop, Device &device, const proto::JobInfo &job) {
  std::optional<Result<DeviceJobPtr>> got;
  device.open_job(job, settings_of(job), [&](Result<DeviceJobPtr> r) { got.emplace(std::move(r)); });
  for (int i = 0; i < 1000 && !got; i++)
    uv_run(loop, UV_RUN_ONCE);
  REQUIRE(got.has_value());
  return std::move(*got);
}

Result<DeviceCounts> finish_and_wait(uv_loop_t *loop, DeviceJob &job) {
  std::optional<Result<DeviceCounts>> got;
  job.finish([&](Result<DeviceCounts> r) { got.emplace(std::move(r)); });
  for (int i = 0; i < 100000 && !got; i++)
    uv_run(loop, UV_RUN_ONCE);
  REQUIRE(got.has_value());
  return std::move(*got);
}

// Writes `data` in 64 KiB chunks, letting the loop run while the job is backlogged.
Status write_all(uv_loop_t *loop, DeviceJob &job, const std::string &data, bool *was_backlogged = nullptr) {
  constexpr size_t kChunk = 65536;
  for (size_t at = 0; at < data.size(); at += kChunk) {
    std::string_view piece = std::string_view(data).substr(at, kChunk);
    Status s = job.write({reinterpret_cast<const uint8_t *>(piece.data()), piece.size()});
    if (!s.ok()) return s;
    if (job.backlogged()) {
      if (was_backlogged) *was_backlogged = true;
      bool drained = false;
      job.on_drained([&] { drained = true; });
      for (int i = 0; i < 100000 && !drained; i++)
        uv_run(loop, UV_RUN_ONCE);
      REQUIRE(drained);
    }
  }
  return {};
}

} // namespace

TEST_CASE("the socket device sends the raw document and finishes when the printer closes (issue 5)",
          "[printer][device][socket]") {
  Loop l;
  AppSocketPort printer(&l.loop);
  DeviceOptions options;
  options.buffer_bytes = 128 * 1024;
  auto device = open_device(&l.loop, "socket://127.0.0.1:" + std::to_string(printer.port), options);
  REQUIRE(device.ok());
  CHECK_FALSE((*device)->applies_settings());
  std::string document = pattern_bytes(3 * 1024 * 1024 + 17);
  auto job = open_and_wait(&l.loop, **device, job_with("application/pdf"));
  REQUIRE(job.ok());
  // The printer reads nothing for a while: the job backs up, and drains once it reads again.
  printer.pause();
  bool backlogged = false;
  uv_timer_t resume_timer;
  uv_timer_init(&l.loop, &resume_timer);
  resume_timer.data = &printer;
  uv_timer_start(&resume_timer, [](uv_timer_t *t) { static_cast<AppSocketPort *>(t->data)->resume(); }, 50, 0);
  REQUIRE(write_all(&l.loop, **job, document, &backlogged).ok());
  CHECK(backlogged);
  auto counts = finish_and_wait(&l.loop, **job);
  REQUIRE(counts.ok());
  CHECK_FALSE(counts->reported()); // AppSocket reports nothing: the station estimates
  CHECK(printer.saw_eof);
  CHECK(printer.received == document);
  uv_close(reinterpret_cast<uv_handle_t *>(&resume_timer), nullptr);
  printer.close();
}

TEST_CASE("a printer that hangs up mid-job fails it, and an aborted job ends with a reset (issue 5)",
          "[printer][device][socket]") {
  Loop l;
  AppSocketPort printer(&l.loop);
  auto device = open_device(&l.loop, "socket://127.0.0.1:" + std::to_string(printer.port));
  REQUIRE(device.ok());

  SECTION("hang-up after 100000 bytes") {
    printer.close_after = 100000;
    auto job = open_and_wait(&l.loop, **device, job_with("application/pdf"));
    REQUIRE(job.ok());
    Status wrote = write_all(&l.loop, **job, pattern_bytes(8 * 1024 * 1024));
    auto counts = finish_and_wait(&l.loop, **job);
    REQUIRE_FALSE(counts.ok());
    CHECK(counts.error().code == Errc::unavailable);
    CHECK(counts.error().message.find("the device") != std::string::npos);
    (void)wrote; // the failure shows at a write or at finish, whichever comes first
  }
  SECTION("abort") {
    auto job = open_and_wait(&l.loop, **device, job_with("application/pdf"));
    REQUIRE(job.ok());
    REQUIRE(write_all(&l.loop, **job, pattern_bytes(1000)).ok());
    for (int i = 0; i < 1000 && printer.received.size() < 1000; i++)
      uv_run(&l.loop, UV_RUN_ONCE);
    (*job)->abort();
    for (int i = 0; i < 1000 && !printer.saw_error && !printer.saw_eof; i++)
      uv_run(&l.loop, UV_RUN_ONCE);
    CHECK(printer.saw_error);  // a reset: the printer does not take half a document for a job
    CHECK_FALSE(printer.saw_eof);
  }
  printer.close();
}

TEST_CASE("a socket device nobody listens on refuses the job with the reason (issue 5)",
          "[printer][device][socket]") {
  Loop l;
  uint16_t port;
  {
    AppSocketPort gone(&l.loop);
    port = gone.port;
  }
  uv_run(&l.loop, UV_RUN_NOWAIT);
  auto device = open_device(&l.loop, "socket://127.0.0.1:" + std::to_string(port));
  REQUIRE(device.ok());
  auto job = open_and_wait(&l.loop, **device, job_with("application/pdf"));
  REQUIRE_FALSE(job.ok());
  CHECK(job.error().message.find("cannot connect") != std::string::npos);
}
