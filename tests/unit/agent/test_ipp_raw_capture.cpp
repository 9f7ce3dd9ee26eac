// The raw capture listener (issue 3): one connection is one job, owned by the account of the
// peer socket, its format sniffed, titled "Raw print job"; an unbound account stores nothing.
#include <catch2/catch.hpp>

#include "ipp_test_support.h"

using namespace lpm;
using namespace lpm::agent;
using namespace lpm::agent::test;

namespace {

struct RawServer {
  TempDir dir;
  std::shared_ptr<Db> db = open_db(dir.path);
  std::shared_ptr<JobStore> store = open_store(db, dir.path);
  LoopThread loop;
  std::unique_ptr<RawCapture> raw;
  std::atomic<int64_t> peer_uid{0};
  std::mutex m;
  std::condition_variable cv;
  std::vector<Job> stored;
  uint16_t port = 0;

  RawServer() {
    RawCaptureOptions o;
    o.listen = proto::Endpoint{"127.0.0.1", 0};
    o.bindings = {{"root", kAlice}, {"nobody", kBob}};
    o.peer_uid = [this](const TcpEnds &) { return Result<int64_t>(peer_uid.load()); };
    o.on_stored = [this](const Job &job) {
      std::lock_guard<std::mutex> lock(m);
      stored.push_back(job);
      cv.notify_all();
    };
    auto r = RawCapture::start(&loop.loop, store, o);
    REQUIRE(r.ok());
    raw = std::move(*r);
    port = raw->port();
    loop.start();
  }
  ~RawServer() {
    loop.stop([this] { raw->stop(); });
  }

  // Sends `document` on a fresh connection, ends it, and waits until the server closed it.
  void send(const std::string &document) {
    TestClient client(port);
    REQUIRE(client.send(document));
    client.shutdown_write();
    CHECK(client.closed_by_server());
  }
  size_t stored_count() {
    std::lock_guard<std::mutex> lock(m);
    return stored.size();
  }
};

} // namespace

TEST_CASE("the raw listener stores each connection as one job of the peer's account, format sniffed",
          "[agent][ipp][raw]") {
  RawServer s;
  s.send(kTwoPagePostScript);
  s.peer_uid = uid_of("nobody");
  std::string urf("UNIRAST\0\0\0\0\0", 12);
  s.send(urf);
  s.send("plain bytes");
  REQUIRE(s.stored_count() == 3);
  CHECK(s.stored[0].user == kAlice);
  CHECK(s.stored[0].os_account == "root");
  CHECK(s.stored[0].format == "application/postscript");
  CHECK(s.stored[0].pages == 2);
  CHECK(s.stored[0].title == kRawJobTitle);
  CHECK(s.stored[1].user == kBob);
  CHECK(s.stored[1].format == "image/urf");
  CHECK(s.stored[2].format == "application/octet-stream");
  std::string back;
  s.loop.run([&] {
    auto doc = read_document(*s.store, s.stored[0]);
    REQUIRE(doc.ok());
    back = *doc;
  });
  CHECK(back == kTwoPagePostScript);
}

TEST_CASE("the raw listener closes an unbound account's connection and stores nothing, an empty connection "
          "stores nothing",
          "[agent][ipp][raw]") {
  RawServer s;
  s.peer_uid = uid_of("daemon");
  {
    TestClient client(s.port);
    client.send("%PDF-1.4 from an unbound account");
    CHECK(client.closed_by_server());
  }
  s.peer_uid = 0;
  s.send("");
  // A bound job after both proves the listener is still serving, and is the only one stored.
  s.send("%!PS\n");
  CHECK(s.stored_count() == 1);
  size_t rows = 0;
  s.loop.run([&] {
    auto st = s.store->db().prepare("SELECT count(*) FROM jobs");
    REQUIRE(st.ok());
    REQUIRE(*st->step());
    rows = static_cast<size_t>(st->col_int(0));
  });
  CHECK(rows == 1);
}
