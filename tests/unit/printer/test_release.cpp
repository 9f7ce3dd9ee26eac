// The station's client side of a release, over real TLS on loopback: a small in-test peer serves
// the agent's release ops (open-release, list-jobs, acknowledge-job, fetch-document,
// update-job-status) from memory. It stands in only for the workstation end of the wire; the real
// agent is tested end to end elsewhere.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/rpc.h"
#include "release_station.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::printer;
using lpm::test::all_lines;
using lpm::test::count_containing;
using lpm::test::TempDir;

namespace {

class BytesSource final : public proto::ChunkSource {
public:
  explicit BytesSource(std::shared_ptr<const proto::Bytes> data) : data_(std::move(data)) {}
  Result<size_t> read(uint8_t *out, size_t max) override {
    size_t n = std::min(max, data_->size() - offset_);
    if (n > 0) std::memcpy(out, data_->data() + offset_, n); // an empty vector may have no buffer
    offset_ += n;
    return n;
  }

private:
  std::shared_ptr<const proto::Bytes> data_;
  size_t offset_ = 0;
};

struct ServedJob {
  proto::JobInfo info;
  std::shared_ptr<const proto::Bytes> document;
};

struct StatusUpdate {
  std::string job;
  std::string claim;
  proto::JobOutcome outcome;
  std::string message;
  int64_t pages;
  std::string counts_source;
  std::string printer_name;
};

// The workstation end of the release ops, serving fixed jobs from memory.
struct AgentPeer {
  std::shared_ptr<proto::Identity> identity;
  std::shared_ptr<proto::Listener> listener;
  std::string workstation_id = uuid_v7();
  std::vector<ServedJob> jobs;
  size_t page_size = 2;             // smaller than the station asks for, so it must follow `next`
  std::vector<std::string> callers; // TLS fingerprints of whoever opened a release
  proto::Bytes ticket_body_seen;
  std::vector<StatusUpdate> updates;
  std::vector<std::string> order; // "ack <id>", "fetch <id>", "update <id>"

  const ServedJob *find(const std::string &id) const {
    for (const auto &j : jobs)
      if (j.info.id == id) return &j;
    return nullptr;
  }

  void start(uv_loop_t *loop, const std::string &dir) {
    identity = test::make_identity(dir, "agent");
    auto ctx = test::make_ctx(proto::TlsContext::Side::server, identity);
    auto dispatcher = std::make_shared<proto::Dispatcher>();
    dispatcher->on(proto::op::open_release, [this](proto::CallPtr call) {
      proto::OpenReleaseRequest req;
      req.read(call->args());
      if (!call->args().ok()) return call->fail(call->args().error());
      callers.push_back(call->peer_info().fingerprint);
      ticket_body_seen = req.ticket.body;
      proto::OpenReleaseResult result;
      result.workstation = workstation_id;
      result.users = {jobs.empty() ? uuid_v7() : jobs.front().info.user};
      proto::MapWriter w;
      result.write(w);
      call->reply(w);
    });
    dispatcher->on(proto::op::list_jobs, [this](proto::CallPtr call) {
      proto::ListJobsRequest req;
      req.read(call->args());
      if (!call->args().ok()) return call->fail(call->args().error());
      size_t start = req.page.after.empty() ? 0 : std::stoul(req.page.after);
      size_t count = std::min<size_t>(page_size, req.page.limit);
      proto::ListJobsResult result;
      for (size_t i = start; i < jobs.size() && i < start + count; i++)
        result.jobs.push_back(jobs[i].info);
      if (start + count < jobs.size()) result.next = std::to_string(start + count);
      proto::MapWriter w;
      result.write(w);
      call->reply(w);
    });
    dispatcher->on(proto::op::acknowledge_job, [this](proto::CallPtr call) {
      proto::AcknowledgeJobRequest req;
      req.read(call->args());
      if (!call->args().ok()) return call->fail(call->args().error());
      if (!find(req.job)) return call->fail(Errc::not_found, "no such job");
      order.push_back("ack " + req.job);
      proto::AcknowledgeJobResult result;
      result.claim = "claim-" + req.job.substr(0, 8);
      result.lease_ms = 60000;
      proto::MapWriter w;
      result.write(w);
      call->reply(w);
    });
    dispatcher->on(proto::op::fetch_document, [this](proto::CallPtr call) {
      proto::FetchDocumentRequest req;
      req.read(call->args());
      if (!call->args().ok()) return call->fail(call->args().error());
      const ServedJob *job = find(req.job);
      if (!job) return call->fail(Errc::not_found, "no such job");
      if (req.claim != "claim-" + req.job.substr(0, 8)) return call->fail(Errc::forbidden, "wrong claim");
      order.push_back("fetch " + req.job);
      proto::FetchDocumentHeader header;
      header.size = job->document->size();
      header.format = job->info.format;
      header.sha256 = proto::sha256(*job->document);
      proto::MapWriter w;
      header.write(w);
      call->reply_stream(w, std::make_unique<BytesSource>(job->document));
    });
    dispatcher->on(proto::op::update_job_status, [this](proto::CallPtr call) {
      proto::UpdateJobStatusRequest req;
      req.read(call->args());
      if (!call->args().ok()) return call->fail(call->args().error());
      order.push_back("update " + req.job);
      updates.push_back(
          {req.job, req.claim, req.outcome, req.message, req.pages, req.counts_source, req.printer_name});
      proto::UpdateJobStatusResult result;
      result.state = req.outcome == proto::JobOutcome::completed ? "printed" : "held";
      proto::MapWriter w;
      result.write(w);
      call->reply(w);
    });
    auto l = proto::Listener::listen_tls(loop, ctx, proto::Endpoint{"127.0.0.1", 0}, proto::StreamLimits{},
                                         [dispatcher](proto::StreamPtr stream) {
                                           proto::PeerOptions po;
                                           po.role = proto::role::agent;
                                           po.accept_roles = {proto::role::printer};
                                           po.dispatcher = dispatcher;
                                           proto::Peer::attach(stream, po);
                                         });
    REQUIRE(l.ok());
    listener = *l;
  }

  void add_job(std::string title, std::string format, size_t size_bytes, const std::string &user) {
    ServedJob job;
    job.info.id = uuid_v7();
    job.info.user = user;
    job.info.title = std::move(title);
    job.info.format = std::move(format);
    auto doc = std::make_shared<proto::Bytes>(size_bytes);
    for (size_t i = 0; i < size_bytes; i++)
      (*doc)[i] = static_cast<uint8_t>((i * 7 + job.info.id[30]) & 0xff);
    job.info.size = size_bytes;
    job.info.state = "held";
    job.document = doc;
    jobs.push_back(std::move(job));
  }
};

// A TCP port on 127.0.0.1 with nothing listening: bound, then closed.
uint16_t closed_port(uv_loop_t *loop) {
  uv_tcp_t tcp;
  uv_tcp_init(loop, &tcp);
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", 0, &addr);
  REQUIRE(uv_tcp_bind(&tcp, reinterpret_cast<const sockaddr *>(&addr), 0) == 0);
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&tcp, reinterpret_cast<sockaddr *>(&bound), &len);
  uint16_t port = ntohs(reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
  uv_close(reinterpret_cast<uv_handle_t *>(&tcp), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  return port;
}

// A host that accepts TCP connections on 127.0.0.1 and never answers (no TLS handshake). Close
// it before the loop is drained; it must outlive that drain (its handles are freed by it).
struct SilentServer {
  uv_tcp_t server;
  std::vector<std::unique_ptr<uv_tcp_t>> accepted;
  uint16_t port = 0;

  void start(uv_loop_t *loop) {
    uv_tcp_init(loop, &server);
    server.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    REQUIRE(uv_tcp_bind(&server, reinterpret_cast<const sockaddr *>(&addr), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t *>(&server), 8, [](uv_stream_t *s, int status) {
              if (status != 0) return;
              auto *self = static_cast<SilentServer *>(s->data);
              auto conn = std::make_unique<uv_tcp_t>();
              uv_tcp_init(s->loop, conn.get());
              if (uv_accept(s, reinterpret_cast<uv_stream_t *>(conn.get())) == 0) {
                self->accepted.push_back(std::move(conn));
              } else {
                uv_close(reinterpret_cast<uv_handle_t *>(conn.release()),
                         [](uv_handle_t *h) { delete reinterpret_cast<uv_tcp_t *>(h); });
              }
            }) == 0);
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&server, reinterpret_cast<sockaddr *>(&bound), &len);
    port = ntohs(reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
  }
  void close() {
    for (auto &c : accepted)
      uv_close(reinterpret_cast<uv_handle_t *>(c.get()), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&server), nullptr);
  }
};

// A station with its own identity, a device folder, and everything a release needs except the
// directory (release_for is handed the badge-in answer directly).
struct StationRig {
  TempDir tmp;
  test::TestLoop tl;
  uv_loop_t *loop = &tl.loop;
  AgentPeer agent;
  std::shared_ptr<proto::Identity> station_identity;
  std::unique_ptr<Device> device;
  std::vector<std::string> lines;
  std::shared_ptr<ReleaseStation> station;
  std::string user = uuid_v7();

  explicit StationRig(uint32_t connect_timeout_ms = 2000) {
    agent.start(loop, tmp.path);
    station_identity = test::make_identity(tmp.path, "station");
    auto dev = open_device(loop, "file://" + tmp.path + "/out");
    REQUIRE(dev.ok());
    device = std::move(*dev);
    StationOptions options;
    options.directory = proto::Endpoint{"127.0.0.1", closed_port(loop)};
    options.directory_pins = {std::string(64, 'a')};
    options.release.connect_timeout_ms = connect_timeout_ms;
    options.release.printer_name = "test-printer";
    station =
        ReleaseStation::create(loop, test::make_ctx(proto::TlsContext::Side::client, station_identity),
                               *device, options, [this](const std::string &line) { lines.push_back(line); });
  }

  proto::WorkstationRef live_workstation(std::vector<std::string> addresses = {"127.0.0.1"}) {
    proto::WorkstationRef ws;
    ws.id = agent.workstation_id;
    ws.name = "ws-live";
    ws.addresses = std::move(addresses);
    ws.port = agent.listener->port();
    ws.fingerprint = agent.identity->fingerprint();
    return ws;
  }

  proto::BadgeInResult who(std::vector<proto::WorkstationRef> workstations) {
    proto::BadgeInResult r;
    r.user = user;
    r.display_name = "Ada Lovelace";
    r.workstations = std::move(workstations);
    r.ticket.body = {1, 2, 3, 4};
    r.ticket.signature = {5, 6};
    return r;
  }

  uint64_t release(const proto::BadgeInResult &answer) {
    bool done = false;
    uint64_t printed = 0;
    station->release_for(answer, [&](uint64_t n) {
      done = true;
      printed = n;
    });
    tl.run_until([&] { return done; });
    return printed;
  }

  std::string out_file(const ServedJob &job, const std::string &ext) const {
    return tmp.path + "/out/" + job.info.id + "." + ext;
  }

  ~StationRig() {
    // A failed REQUIRE abandons the loop (TestLoop's rule): its handles may point at freed objects.
    if (std::uncaught_exceptions() > 0) return;
    bool closed = false;
    station->close([&] { closed = true; });
    CHECK(closed);
    station.reset();
    agent.listener->close();
    tl.run();
    tl.finish();
  }
};

} // namespace

TEST_CASE("a release streams every job to the device and reports it, an unreachable workstation "
          "is reported while the other goes on",
          "[printer][release]") {
  StationRig rig;
  rig.agent.add_job("Quarterly report", "application/pdf", 300 * 1024 + 17, rig.user); // several chunks
  rig.agent.add_job("notes", "text/plain", 1234, rig.user);
  rig.agent.add_job("scan", "image/urf", 0, rig.user); // empty document
  rig.agent.add_job("raw", "application/vnd.unknown", 5000, rig.user);

  proto::WorkstationRef dead;
  dead.id = uuid_v7();
  dead.name = "ws-dead";
  dead.addresses = {"127.0.0.1"};
  dead.port = closed_port(rig.loop);
  dead.fingerprint = rig.agent.identity->fingerprint();

  uint64_t printed = rig.release(rig.who({dead, rig.live_workstation()}));
  INFO(all_lines(rig.lines));
  CHECK(printed == 4);

  // The bytes at the device are the bytes served, under <job-id>.<ext>.
  const char *exts[] = {"pdf", "txt", "urf", "bin"};
  for (size_t i = 0; i < rig.agent.jobs.size(); i++) {
    const ServedJob &job = rig.agent.jobs[i];
    auto content = read_file(rig.out_file(job, exts[i]), 1 << 20);
    REQUIRE(content.ok());
    CHECK(content->size() == job.document->size());
    CHECK(proto::Bytes(content->begin(), content->end()) == *job.document);
    CHECK_FALSE(file_exists(rig.tmp.path + "/out/" + job.info.id + ".part"));
  }

  // The agent saw the station's own key, the ticket as issued, and the ops in order per job.
  REQUIRE(rig.agent.callers.size() == 1);
  CHECK(rig.agent.callers[0] == rig.station_identity->fingerprint());
  CHECK(rig.agent.ticket_body_seen == proto::Bytes{1, 2, 3, 4});
  REQUIRE(rig.agent.order.size() == 12);
  for (size_t i = 0; i < 4; i++) {
    const std::string &id = rig.agent.jobs[i].info.id;
    CHECK(rig.agent.order[3 * i] == "ack " + id);
    CHECK(rig.agent.order[3 * i + 1] == "fetch " + id);
    CHECK(rig.agent.order[3 * i + 2] == "update " + id);
  }
  REQUIRE(rig.agent.updates.size() == 4);
  for (const auto &u : rig.agent.updates) {
    CHECK(u.outcome == proto::JobOutcome::completed);
    CHECK(u.pages == -1);
    CHECK(u.counts_source == "estimated");
    CHECK(u.printer_name == "test-printer");
    CHECK(u.claim == "claim-" + u.job.substr(0, 8));
  }

  // What the operator sees.
  CHECK(count_containing(rig.lines, "workstation ws-dead: unreachable (") == 1);
  CHECK(count_containing(rig.lines, "printed \"") == 4);
  CHECK(count_containing(rig.lines, "printed \"Quarterly report\" (" + std::to_string(300 * 1024 + 17) +
                                        " bytes, ") == 1);
  CHECK(count_containing(rig.lines, " ms) from ws-live") == 4);
  CHECK(count_containing(rig.lines, "workstation ws-live: 4 of 4 job(s) released via 127.0.0.1:") == 1);
  CHECK(count_containing(rig.lines, "full handshake") == 1);
}

TEST_CASE("contacting the same workstation again resumes the TLS session", "[printer][release]") {
  StationRig rig;
  rig.agent.add_job("first", "application/pdf", 100, rig.user);
  CHECK(rig.release(rig.who({rig.live_workstation()})) == 1);
  CHECK(count_containing(rig.lines, "(full handshake") == 1);
  rig.lines.clear();
  CHECK(rig.release(rig.who({rig.live_workstation()})) == 1);
  INFO(all_lines(rig.lines));
  CHECK(count_containing(rig.lines, "(resumed handshake") == 1);
  CHECK(rig.agent.callers.size() == 2);
  CHECK(rig.agent.callers[1] == rig.station_identity->fingerprint());
}

TEST_CASE("a workstation's addresses are tried in order", "[printer][release]") {
  StationRig rig;
  rig.agent.add_job("only", "text/plain", 10, rig.user);
  // The first address cannot even be parsed; the second is the live one.
  CHECK(rig.release(rig.who({rig.live_workstation({"not-an-address", "127.0.0.1"})})) == 1);
  INFO(all_lines(rig.lines));
  CHECK(count_containing(rig.lines, "printed \"only\" (10 bytes, ") == 1);

  proto::WorkstationRef none = rig.live_workstation({});
  none.name = "ws-none";
  rig.lines.clear();
  CHECK(rig.release(rig.who({none})) == 0);
  CHECK(count_containing(rig.lines, "workstation ws-none: unreachable (no address)") == 1);
}

TEST_CASE("a workstation that never completes the handshake is given up after --timeout-ms",
          "[printer][release]") {
  SilentServer silent; // outlives the rig, whose destructor drains the loop
  StationRig rig(300);
  silent.start(rig.loop);
  rig.agent.add_job("on time", "text/plain", 10, rig.user);
  proto::WorkstationRef hung = rig.live_workstation();
  hung.name = "ws-hung";
  hung.port = silent.port;

  int64_t started_ms = mono_ms();
  CHECK(rig.release(rig.who({hung, rig.live_workstation()})) == 1);
  int64_t took_ms = mono_ms() - started_ms;
  INFO(all_lines(rig.lines));
  CHECK(count_containing(rig.lines, "workstation ws-hung: unreachable (no connection to 127.0.0.1:" +
                                        std::to_string(silent.port) + " within 300 ms)") == 1);
  CHECK(count_containing(rig.lines, "printed \"on time\"") == 1);
  CHECK(took_ms >= 300);
  CHECK(took_ms < 2000);
  silent.close();
}

TEST_CASE("a workstation whose key is not the pinned one is unreachable", "[printer][release]") {
  StationRig rig;
  rig.agent.add_job("secret", "application/pdf", 10, rig.user);
  proto::WorkstationRef impostor = rig.live_workstation();
  impostor.fingerprint = std::string(64, 'b');
  CHECK(rig.release(rig.who({impostor})) == 0);
  INFO(all_lines(rig.lines));
  CHECK(count_containing(rig.lines, "workstation ws-live: unreachable (") == 1);
  CHECK(count_containing(rig.lines, "not the pinned one") == 1);
  CHECK(rig.agent.callers.empty());
  CHECK(rig.agent.order.empty());
}

TEST_CASE("a device error aborts the job and the release goes on", "[printer][release]") {
  StationRig rig;
  rig.agent.add_job("lost", "application/pdf", 2000, rig.user);
  rig.agent.add_job("also lost", "text/plain", 10, rig.user);
  std::filesystem::remove_all(rig.tmp.path + "/out"); // the device can no longer create files
  CHECK(rig.release(rig.who({rig.live_workstation()})) == 0);
  INFO(all_lines(rig.lines));
  REQUIRE(rig.agent.updates.size() == 2);
  for (const auto &u : rig.agent.updates) {
    CHECK(u.outcome == proto::JobOutcome::aborted);
    CHECK(u.message.find("io_error") != std::string::npos);
  }
  CHECK(count_containing(rig.lines, "failed \"lost\" from ws-live: io_error") == 1);
  CHECK(count_containing(rig.lines, "failed \"also lost\" from ws-live") == 1);
  CHECK(count_containing(rig.lines, "workstation ws-live: 0 of 2 job(s) released") == 1);
}

TEST_CASE("a badge while the directory is unreachable is reported and the station goes on",
          "[printer][release]") {
  StationRig rig;
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  std::string input = "\n   \r\n  0042  \n0043";
  REQUIRE(::write(fds[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  ::close(fds[1]);
  {
    LineReader reader(rig.loop, fds[0]);
    bool done = false;
    rig.station->run_badges(reader, [&] { done = true; });
    rig.tl.run_until([&] { return done; });
  }
  ::close(fds[0]);
  INFO(all_lines(rig.lines));
  REQUIRE(rig.lines.size() == 2);
  CHECK(rig.lines[0].rfind("badge 0042: unavailable: directory 127.0.0.1:", 0) == 0);
  CHECK(rig.lines[1].rfind("badge 0043: unavailable: ", 0) == 0);
}
