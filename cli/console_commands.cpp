// `lpm console init|enroll` and `lpm report`: an administrator's console is a TLS identity of
// its own, enrolled with the directory as kind "console"; the accounting server answers reports
// only to such keys.
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "command_loop.h"
#include "commands.h"
#include "console_store.h"
#include "lpm/ids.h"
#include "lpm/protocol/enroll.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "table.h"

namespace lpm::cli {
namespace {

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "console";
  return buf;
}

struct Pinned {
  proto::Endpoint endpoint;
  proto::Fingerprint fingerprint;
};

Result<Pinned> parse_pinned(const std::string &what, const std::string &address,
                            const std::string &fingerprint) {
  auto endpoint = proto::parse_endpoint(address);
  if (!endpoint.ok()) return endpoint.error();
  if (!proto::fingerprint_valid(fingerprint))
    return make_error(Errc::bad_request, "the " + what + " fingerprint must be 64 lower-case hex digits");
  return Pinned{*endpoint, fingerprint};
}

// One request over a pinned TLS connection as the console; the answer is read into a `Reply`
// (one of the ops.h result types). `what` names the server in messages.
template <class Reply>
Result<Reply> console_request(const std::shared_ptr<proto::Identity> &identity, const std::string &what,
                              const Pinned &to, const char *op, const proto::MapWriter &args) {
  auto tls = proto::TlsContext::create(proto::TlsContext::Side::client, identity);
  if (!tls.ok()) return tls.error();
  CommandLoop loop;
  Result<proto::Response> answer = make_error(Errc::internal, "not sent");
  {
    proto::ConnectOptions options;
    options.pins = {to.fingerprint};
    auto client =
        proto::SyncClient::connect_tls(loop.get(), *tls, to.endpoint, options, proto::role::console);
    if (!client.ok())
      return make_error(client.error().code,
                        what + " " + to.endpoint.to_string() + ": " + client.error().message);
    answer = (*client)->call(op, args);
    (*client)->close();
  }
  if (!answer.ok()) return answer.error();
  Reply reply;
  auto reader = answer->reader();
  reply.read(reader);
  if (!reader.ok())
    return make_error(Errc::protocol_error, "the " + what + "'s answer: " + reader.error().message);
  Status closed = loop.close();
  if (!closed.ok()) return closed.error();
  return reply;
}

} // namespace

int command_console_init(const ConsoleInitArgs &args) {
  auto identity = console_create(args.data);
  if (!identity.ok()) return fail(identity.error());
  std::printf("fingerprint %s\n", (*identity)->fingerprint().c_str());
  return 0;
}

int command_console_enroll(const ConsoleEnrollArgs &args) {
  auto directory = parse_pinned("directory", args.directory, args.directory_fingerprint);
  if (!directory.ok()) return fail(directory.error());
  // Enrolling a console that was never initialised initialises it: the key is what enrolls.
  auto identity = console_create(args.data);
  if (!identity.ok()) return fail(identity.error());

  auto enrolled = proto::enroll_with_directory(
      *identity, directory->endpoint, directory->fingerprint, proto::EnrollKind::console,
      args.name.empty() ? host_name() : args.name, args.token, proto::role::console);
  if (!enrolled.ok()) return fail(enrolled.error());
  std::printf("enrolled %s\n", enrolled->id.c_str());
  return 0;
}

int command_console_totals(const ReportArgs &args) {
  auto accounting = parse_pinned("accounting", args.accounting, args.accounting_fingerprint);
  if (!accounting.ok()) return fail(accounting.error());
  auto identity = console_identity(args.data);
  if (!identity.ok()) return fail(identity.error());

  proto::ReportTotalsRequest req; // from 0 to now: everything recorded, page after page
  req.to_ms = wall_ms();          // one end for every page
  proto::ReportTotalsResult all;
  for (;;) {
    proto::MapWriter w;
    req.write(w);
    auto page = console_request<proto::ReportTotalsResult>(*identity, "accounting server", *accounting,
                                                           proto::op::report_totals, w);
    if (!page.ok()) return fail(page.error());
    for (auto &row : page->rows)
      all.rows.push_back(std::move(row));
    // A cursor that does not move would page forever.
    if (page->next.empty() || page->next == req.after) break;
    req.after = page->next;
  }
  if (all.rows.empty()) {
    std::printf("no records\n");
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(all.rows.size());
  for (const auto &t : all.rows)
    rows.push_back({t.user, std::to_string(t.jobs), std::to_string(t.pages), std::to_string(t.bytes)});
  std::string table = format_table({{"USER"}, {"JOBS", true}, {"PAGES", true}, {"BYTES", true}}, rows);
  std::fwrite(table.data(), 1, table.size(), stdout);
  return 0;
}

} // namespace lpm::cli
