// Shared by the capture tests (test_ipp_*.cpp, test_raw_capture.cpp): the IPP printer (or the
// raw listener) running on its own libuv loop in a thread, a blocking socket client that sends
// hand-built HTTP, and IPP requests built with libcups (ippNewRequest, ippWriteIO to memory).
// The peer socket's uid is injected (peer_uid) so one test process can play root, the CUPS
// backend (lp), and ordinary accounts; test_ipp_peer_owner.cpp checks the real lookup.
#pragma once

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "agent_test_support.h"
#include "ipp_message.h"
#include "ipp_printer.h"
#include "ipp_printer_attributes.h"
#include "raw_capture.h"

namespace lpm::agent::test {

// The uid of an OS account of this machine (nobody, daemon, lp); the test needs it to exist.
inline int64_t uid_of(const char *account) {
  passwd *pw = ::getpwnam(account);
  REQUIRE(pw != nullptr);
  return static_cast<int64_t>(pw->pw_uid);
}

// A libuv loop on its own thread, with a way to run code on it and wait.
class LoopThread {
public:
  LoopThread() {
    // The servers write to clients that may have gone (the daemons do this in main()).
    proto::ignore_sigpipe();
    REQUIRE(uv_loop_init(&loop) == 0);
    uv_async_init(&loop, &async_, [](uv_async_t *a) { static_cast<LoopThread *>(a->data)->drain(); });
    async_.data = this;
  }
  ~LoopThread() {
    if (thread_.joinable()) stop();
  }
  void start() {
    thread_ = std::thread([this] { uv_run(&loop, UV_RUN_DEFAULT); });
  }
  // Runs fn on the loop thread and waits for it.
  void run(std::function<void()> fn) {
    std::mutex done_m;
    std::condition_variable done_cv;
    bool done = false;
    {
      std::lock_guard<std::mutex> lock(m_);
      tasks_.push_back([&] {
        fn();
        std::lock_guard<std::mutex> l(done_m);
        done = true;
        done_cv.notify_one();
      });
    }
    uv_async_send(&async_);
    std::unique_lock<std::mutex> lock(done_m);
    done_cv.wait(lock, [&] { return done; });
  }
  // `before_close` runs on the loop (stop the servers there); then the loop ends.
  void stop(std::function<void()> before_close = {}) {
    run([&] {
      if (before_close) before_close();
      uv_close(reinterpret_cast<uv_handle_t *>(&async_), nullptr);
    });
    thread_.join();
    CHECK(uv_loop_close(&loop) == 0);
  }
  uv_loop_t loop{};

private:
  void drain() {
    std::deque<std::function<void()>> tasks;
    {
      std::lock_guard<std::mutex> lock(m_);
      tasks.swap(tasks_);
    }
    for (auto &t : tasks)
      t();
  }
  uv_async_t async_{};
  std::thread thread_;
  std::mutex m_;
  std::deque<std::function<void()>> tasks_;
};

inline const std::vector<packaging::IdentityBind> kBindings = {
    {"alice", kAlice}, {"bob", kBob}, {"nobody", kBob}};

// The IPP printer on 127.0.0.1:<free port> over a fresh store.
struct IppServer {
  TempDir dir;
  std::shared_ptr<Db> db;
  std::shared_ptr<JobStore> store;
  LoopThread loop;
  std::unique_ptr<IppPrinter> printer;
  std::atomic<int64_t> peer_uid{0}; // root: the owner is requesting-user-name
  uint16_t port = 0;

  explicit IppServer(const std::function<void(IppPrinterOptions &)> &tweak = {}, uint64_t reserve_bytes = 0) {
    db = open_db(dir.path);
    store = open_store(db, dir.path, reserve_bytes);
    IppPrinterOptions o;
    o.listen = proto::Endpoint{"127.0.0.1", 0};
    o.printer_name = "LPMServerless";
    o.printer_uuid = ipp_printer_uuid("test-workstation");
    o.bindings = kBindings;
    o.spooler_uid = uid_of("lp");
    o.peer_uid = [this](const TcpEnds &) { return Result<int64_t>(peer_uid.load()); };
    if (tweak) tweak(o);
    auto p = IppPrinter::start(&loop.loop, store, o);
    REQUIRE(p.ok());
    printer = std::move(*p);
    port = printer->port();
    loop.start();
  }
  ~IppServer() {
    loop.stop([this] { printer->stop(); });
  }

  // Store reads happen on the loop thread, like everything the store does.
  std::vector<Job> jobs_of(const std::string &user) {
    std::vector<Job> out;
    loop.run([&] {
      JobFilter f;
      f.users = {user};
      f.states = {JobState::held, JobState::claimed, JobState::printing, JobState::printed};
      auto page = store->list(f);
      REQUIRE(page.ok());
      out = page->jobs;
    });
    return out;
  }
  std::string document_of(const Job &job) {
    std::string out;
    loop.run([&] {
      auto doc = read_document(*store, job);
      REQUIRE(doc.ok());
      out = *doc;
    });
    return out;
  }
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers; // names lower case
  std::string body;
};

// A blocking TCP client speaking hand-built HTTP.
class TestClient {
public:
  explicit TestClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{10, 0}; // a hung server fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~TestClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  TestClient(const TestClient &) = delete;
  TestClient &operator=(const TestClient &) = delete;

  // False when the peer has reset the connection.
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool send(const std::vector<uint8_t> &data) {
    return send(std::string_view(reinterpret_cast<const char *>(data.data()), data.size()));
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // Reads one response (status line, headers, Content-Length body). status 0 when the
  // connection ended first.
  HttpResponse read_response() {
    HttpResponse r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return r;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    REQUIRE(status_line.rfind("HTTP/1.1 ", 0) == 0);
    r.status = std::stoi(status_line.substr(9, 3));
    size_t at = line_end == std::string::npos ? head.size() : line_end + 2;
    while (at < head.size()) {
      size_t next = head.find("\r\n", at);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(at, next - at);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char &c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.erase(0, 1);
      r.headers[name] = value;
      at = next + 2;
    }
    if (r.status == 100) return r;
    size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buf_.size() < length)
      if (!fill()) return HttpResponse{};
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }
  // True when the server closed the connection (after whatever is buffered).
  bool closed_by_server() {
    if (!buf_.empty()) return false;
    return !fill();
  }

private:
  bool fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
};

// A request with printer-uri and requesting-user-name (ippNewRequest adds the charset and
// natural language first).
inline IppPtr ipp_request(ipp_op_t op, uint16_t port, const std::string &user = "alice") {
  IppPtr r(ippNewRequest(op));
  ippAddString(r.get(), IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", nullptr,
               ipp_printer_uri(port).c_str());
  if (!user.empty())
    ippAddString(r.get(), IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", nullptr, user.c_str());
  return r;
}

inline IppPtr job_request(ipp_op_t op, uint16_t port, int job_id, const std::string &user = "alice") {
  IppPtr r = ipp_request(op, port, user);
  ippAddInteger(r.get(), IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", job_id);
  return r;
}

inline std::string encode(ipp_t *request) {
  auto bytes = ipp_encode(request);
  REQUIRE(bytes.ok());
  return std::string(bytes->begin(), bytes->end());
}

inline std::string post(const std::string &body, const std::string &extra_headers = {}) {
  return "POST /ipp/print HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

inline IppPtr decode_response(const HttpResponse &http) {
  REQUIRE(http.status == 200);
  REQUIRE(http.headers.at("content-type") == "application/ipp");
  auto ipp = ipp_decode(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(http.body.data()), http.body.size()));
  REQUIRE(ipp.ok());
  return std::move(*ipp);
}

// Sends one IPP request (and its document) and returns the decoded response.
inline IppPtr call(TestClient &client, ipp_t *request, const std::string &document = {}) {
  REQUIRE(client.send(post(encode(request) + document)));
  return decode_response(client.read_response());
}

inline IppPtr call(uint16_t port, ipp_t *request, const std::string &document = {}) {
  TestClient client(port);
  return call(client, request, document);
}

inline ipp_status_t status_of(ipp_t *response) {
  return ippGetStatusCode(response);
}

inline std::string message_of(ipp_t *response) {
  ipp_attribute_t *a = ippFindAttribute(response, "status-message", IPP_TAG_TEXT);
  return a ? ippGetString(a, 0, nullptr) : "";
}

inline int integer_of(ipp_t *response, const char *name) {
  ipp_attribute_t *a = ippFindAttribute(response, name, IPP_TAG_ZERO);
  REQUIRE(a != nullptr);
  return ippGetInteger(a, 0);
}

inline std::string string_of(ipp_t *response, const char *name) {
  ipp_attribute_t *a = ippFindAttribute(response, name, IPP_TAG_ZERO);
  REQUIRE(a != nullptr);
  const char *s = ippGetString(a, 0, nullptr);
  return s ? s : "";
}

// The names of the attributes in the unsupported-attributes group.
inline std::vector<std::string> unsupported_of(ipp_t *response) {
  std::vector<std::string> out;
  for (ipp_attribute_t *a = ippFirstAttribute(response); a; a = ippNextAttribute(response))
    if (ippGetGroupTag(a) == IPP_TAG_UNSUPPORTED_GROUP && ippGetName(a)) out.push_back(ippGetName(a));
  return out;
}

// Minimal documents whose formats the store sniffs and counts.
inline const std::string kTwoPagePostScript =
    "%!PS-Adobe-3.0\n%%Pages: 2\n%%EndComments\n%%Page: 1 1\nshowpage\n%%Page: 2 2\nshowpage\n%%EOF\n";

} // namespace lpm::agent::test
