// The control socket on a real loop: a bound OS account submits a document that is stored and
// listed; an unbound account is told what to configure; an oversized upload leaves nothing.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <optional>

#include "agent_test_support.h"
#include "control_socket.h"
#include "identity_binding.h"
#include "lpm/files.h"
#include "lpm/protocol/ops.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;

namespace {

struct ControlFixture {
  TempDir dir;
  std::shared_ptr<Db> db = open_db(dir.path);
  std::shared_ptr<JobStore> store = open_store(db, dir.path);
  uv_loop_t loop{};
  std::unique_ptr<ControlSocket> socket;
  std::string account;

  explicit ControlFixture(bool bind_me, uint64_t max_bytes = kMaxDocumentBytes) {
    auto me = os_account_name(static_cast<int64_t>(::getuid()));
    REQUIRE(me.ok());
    account = *me;
    uv_loop_init(&loop);
    ControlSocketOptions options;
    options.path = dir.path + "/agent.sock";
    if (bind_me) options.bindings.push_back(packaging::IdentityBind{account, kAlice});
    options.max_document_bytes = max_bytes;
    auto s = ControlSocket::start(&loop, store, options);
    REQUIRE(s.ok());
    socket = std::move(*s);
  }

  std::unique_ptr<proto::SyncClient> connect() {
    auto c = proto::SyncClient::connect_pipe(&loop, dir.path + "/agent.sock", proto::role::cli);
    REQUIRE(c.ok());
    return std::move(*c);
  }

  // `announced` is the size the request claims (the stream is what counts).
  Result<proto::Response> submit(proto::SyncClient &client, const std::string &content,
                                 std::optional<uint64_t> announced = std::nullopt) {
    std::string path = dir.path + "/upload.bin";
    REQUIRE(write_file_atomic(path, content, 0600).ok());
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    proto::SubmitJobRequest req;
    req.title = "notes.txt";
    req.format = "text/plain";
    req.size = announced.value_or(content.size());
    proto::MapWriter w;
    req.write(w);
    return client.call_upload(proto::op::submit_job, w, proto::fd_source(fd));
  }

  void finish() {
    socket->stop();
    uv_run(&loop, UV_RUN_DEFAULT);
    socket.reset();
    CHECK_FALSE(file_exists(dir.path + "/agent.sock"));
    CHECK(uv_loop_close(&loop) == 0);
  }
};

} // namespace

TEST_CASE("control socket: a bound account submits and lists its job", "[agent][control]") {
  ControlFixture f(true);
  auto client = f.connect();
  std::string content(150000, 'x');
  auto submitted = f.submit(*client, content);
  REQUIRE(submitted.ok());
  proto::SubmitJobResult result;
  proto::MapReader r = submitted->reader();
  result.read(r);
  REQUIRE(r.ok());
  CHECK(result.state == "held");
  CHECK(result.user == kAlice);

  auto job = f.store->get(result.job);
  REQUIRE(job.ok());
  CHECK(job->os_account == f.account);
  CHECK(job->size_bytes == content.size());
  CHECK(job->title == "notes.txt");
  CHECK(*read_document(*f.store, *job) == content);

  auto listed = client->call(proto::op::local_jobs, proto::MapWriter{});
  REQUIRE(listed.ok());
  proto::ListJobsResult jobs;
  proto::MapReader lr = listed->reader();
  jobs.read(lr);
  REQUIRE(lr.ok());
  REQUIRE(jobs.jobs.size() == 1);
  CHECK(jobs.jobs[0].id == result.job);
  CHECK(jobs.jobs[0].state == "held");

  client->close();
  client.reset();
  f.finish();
}

TEST_CASE("control socket: an unbound account is told how to bind it", "[agent][control]") {
  ControlFixture f(false);
  auto client = f.connect();
  auto refused = f.submit(*client, "hello");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::forbidden);
  CHECK(refused.error().message ==
        "OS account '" + f.account +
            "' is not bound to a directory user: log in with `lpm login`, or add <Bind account=\"" + f.account +
            "\" user=\"UUID\"/> to IdentityBinding in configuration.xml");
  CHECK(count_files(f.dir.path + "/spool") == 0);
  client->close();
  client.reset();
  f.finish();
}

TEST_CASE("control socket: an upload over the size limit is refused and leaves nothing", "[agent][control]") {
  ControlFixture f(true, 100000);
  auto client = f.connect();
  // An honest announcement is refused before any byte is stored...
  auto refused = f.submit(*client, std::string(100001, 'y'));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::too_large);
  // ...a lying one when the stream passes the limit; the partial file goes with it.
  auto lied = f.submit(*client, std::string(300000, 'z'), 10);
  REQUIRE_FALSE(lied.ok());
  CHECK(lied.error().code == Errc::too_large);
  client->close();
  client.reset();
  // Alice's folder stays (empty) for DeleteEmptyUserFolders; nothing is in it.
  CHECK(count_files(f.store->user_folder_path(kAlice)) == 0);
  JobFilter all;
  all.users = {kAlice};
  all.states = {JobState::receiving, JobState::held};
  CHECK(f.store->list(all)->jobs.empty());
  f.finish();
}
