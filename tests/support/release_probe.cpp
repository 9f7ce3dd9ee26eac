// A release station taken apart, for integration/release_tickets.sh: it badges in with an
// enrolled printer identity and keeps the ticket in a file, then presents a ticket (possibly
// another station's, possibly tampered with) to a real agent and runs release ops one by one, so
// a test can replay, cross and forge what lpm-release never would.
//
//   lpm_test_release_probe badge-in DATA DIRECTORY FINGERPRINT BADGE TICKET_FILE
//       writes the ticket (two hex lines: body, signature); prints "user ID" for each of the
//       ticket's users and "workstation ID HOST:PORT FINGERPRINT" for each workstation
//   lpm_test_release_probe open DATA AGENT FINGERPRINT TICKET_FILE [tamper]
//       open-release with the ticket (tamper: one bit of the body flipped), then one op per line
//       of standard input: "list", "ack JOB", "fetch JOB CLAIM", "complete JOB CLAIM"
// Every answer is one line: "<op> ok ..." or "<op> error <code>: <message>". Exit 0 unless the
// arguments or the connection fail.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "lpm/ids.h"
#include "lpm/protocol/keys.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "lpm/protocol/ticket.h"

using namespace lpm;

namespace {

int usage() {
  std::fprintf(stderr, "usage: lpm_test_release_probe badge-in DATA DIRECTORY FINGERPRINT BADGE TICKET_FILE\n"
                       "       lpm_test_release_probe open DATA AGENT FINGERPRINT TICKET_FILE [tamper]\n");
  return 2;
}

int fail(const std::string &what, const Error &error) {
  std::fprintf(stderr, "lpm_test_release_probe: %s: %s\n", what.c_str(), error.to_string().c_str());
  return 1;
}

void answer(const std::string &op, const Error &error) {
  std::printf("%s error %s: %s\n", op.c_str(), errc_name(error.code), error.message.c_str());
}

struct Client {
  uv_loop_t loop{};
  std::unique_ptr<proto::SyncClient> sync;

  Client() { uv_loop_init(&loop); }
  ~Client() {
    if (sync) sync->close();
    sync.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }

  Status connect(const std::string &data, const std::string &address, const std::string &fingerprint) {
    auto identity = proto::Identity::load(data, "identity");
    if (!identity.ok()) return identity.error();
    auto ctx = proto::TlsContext::create(proto::TlsContext::Side::client, *identity);
    if (!ctx.ok()) return ctx.error();
    auto at = proto::parse_endpoint(address);
    if (!at.ok()) return at.error();
    proto::ConnectOptions options;
    options.pins = {fingerprint};
    auto c = proto::SyncClient::connect_tls(&loop, *ctx, *at, options, proto::role::printer);
    if (!c.ok()) return c.error();
    sync = std::move(*c);
    return {};
  }
};

template <class T> proto::MapWriter args_of(const T &request) {
  proto::MapWriter w;
  request.write(w);
  return w;
}

int badge_in(char **argv) {
  Client client;
  Status connected = client.connect(argv[0], argv[1], argv[2]);
  if (!connected.ok()) return fail("connect to the directory", connected.error());
  proto::BadgeInRequest req;
  req.badge = argv[3];
  auto r = client.sync->call(proto::op::badge_in, args_of(req));
  if (!r.ok()) {
    answer("badge-in", r.error());
    return 0;
  }
  proto::BadgeInResult result;
  auto reader = r->reader();
  result.read(reader);
  if (!reader.ok()) return fail("badge-in answer", reader.error());
  std::ofstream out(argv[4], std::ios::trunc);
  out << to_hex(result.ticket.body) << "\n" << to_hex(result.ticket.signature) << "\n";
  out.close();
  if (!out) return fail("write the ticket", make_error(Errc::io_error, argv[4]));
  std::printf("badge-in ok\n");
  auto ticket = proto::ticket_decode(result.ticket.body);
  if (ticket.ok())
    for (const auto &user : ticket->users)
      std::printf("user %s\n", user.c_str());
  for (const auto &ws : result.workstations)
    std::printf("workstation %s %s:%u %s\n", ws.id.c_str(),
                ws.addresses.empty() ? "" : ws.addresses[0].c_str(), unsigned{ws.port},
                ws.fingerprint.c_str());
  return 0;
}

int open_release(int argc, char **argv) {
  proto::SignedTicket ticket;
  {
    std::ifstream in(argv[3]);
    std::string body, sig;
    if (!std::getline(in, body) || !std::getline(in, sig) || !from_hex(body, ticket.body) ||
        !from_hex(sig, ticket.signature))
      return fail("read the ticket", make_error(Errc::bad_request, argv[3]));
  }
  if (argc > 4 && std::string(argv[4]) == "tamper" && !ticket.body.empty())
    ticket.body[ticket.body.size() / 2] ^= 0x01;
  Client client;
  Status connected = client.connect(argv[0], argv[1], argv[2]);
  if (!connected.ok()) return fail("connect to the agent", connected.error());
  proto::OpenReleaseRequest open;
  open.ticket = ticket;
  auto opened = client.sync->call(proto::op::open_release, args_of(open));
  if (opened.ok())
    std::printf("open ok\n");
  else
    answer("open", opened.error());
  std::fflush(stdout);

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string op, job, claim;
    words >> op >> job >> claim;
    if (op == "list") {
      auto r = client.sync->call(proto::op::list_jobs, args_of(proto::ListJobsRequest{}));
      if (!r.ok()) {
        answer(op, r.error());
      } else {
        proto::ListJobsResult result;
        auto reader = r->reader();
        result.read(reader);
        std::string ids;
        for (const auto &j : result.jobs)
          ids += " " + j.id;
        std::printf("list ok %zu%s\n", result.jobs.size(), ids.c_str());
      }
    } else if (op == "ack") {
      proto::AcknowledgeJobRequest req;
      req.job = job;
      auto r = client.sync->call(proto::op::acknowledge_job, args_of(req));
      if (!r.ok()) {
        answer(op, r.error());
      } else {
        proto::AcknowledgeJobResult result;
        auto reader = r->reader();
        result.read(reader);
        std::printf("ack ok %s\n", result.claim.c_str());
      }
    } else if (op == "fetch") {
      proto::FetchDocumentRequest req;
      req.job = job;
      req.claim = claim;
      auto sink = std::make_unique<proto::MemorySink>(size_t{64} << 20);
      auto data = sink->data;
      auto r = client.sync->call_download(proto::op::fetch_document, args_of(req), std::move(sink));
      if (!r.ok())
        answer(op, r.error());
      else
        std::printf("fetch ok %zu\n", data->size());
      // Bytes that arrived before an error are counted too: "nothing served" means zero.
      if (!r.ok()) std::printf("fetch bytes %zu\n", data->size());
    } else if (op == "complete") {
      proto::UpdateJobStatusRequest req;
      req.job = job;
      req.claim = claim;
      req.outcome = proto::JobOutcome::completed;
      req.counts_source = "estimated";
      req.printer_name = "probe";
      auto r = client.sync->call(proto::op::update_job_status, args_of(req));
      if (!r.ok()) {
        answer(op, r.error());
      } else {
        proto::UpdateJobStatusResult result;
        auto reader = r->reader();
        result.read(reader);
        std::printf("complete ok %s\n", result.state.c_str());
      }
    } else if (!op.empty()) {
      std::printf("%s error bad_request: unknown op\n", op.c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  std::string command = argv[1];
  if (command == "badge-in" && argc == 7) return badge_in(argv + 2);
  if (command == "open" && (argc == 6 || argc == 7)) return open_release(argc - 2, argv + 2);
  return usage();
}
