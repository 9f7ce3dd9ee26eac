#include "lpm/protocol/enroll.h"

#include <uv.h>

#include "lpm/log.h"
#include "lpm/protocol/rpc.h"

namespace lpm::proto {
namespace {

Result<EnrollResult> read_enroll_result(const Result<Response> &answer) {
  if (!answer.ok()) return answer.error();
  EnrollResult result;
  MapReader reader = answer->reader();
  result.read(reader);
  if (!reader.ok())
    return make_error(Errc::protocol_error, "the directory's enroll answer: " + reader.error().message);
  return result;
}

} // namespace

Result<EnrollResult> enroll_with_directory(std::shared_ptr<Identity> identity,
                                           const std::vector<Endpoint> &directories,
                                           const std::vector<Fingerprint> &pins, EnrollKind kind,
                                           const std::string &name, const std::string &token,
                                           const std::string &hello_role, uint32_t timeout_ms) {
  if (!identity)
    return make_error(Errc::bad_request, "enrollment needs an identity: its key is what enrolls");
  if (directories.empty()) return make_error(Errc::bad_request, "no directory address to enroll with");
  // Empty pins would accept any server key: the token would go to whoever answers.
  if (pins.empty()) return make_error(Errc::bad_request, "no directory fingerprint to pin");
  auto ctx = TlsContext::create(TlsContext::Side::client, std::move(identity));
  if (!ctx.ok()) return ctx.error();

  EnrollRequest request;
  request.token = token;
  request.kind = kind;
  request.name = name;
  MapWriter args;
  request.write(args);
  ConnectOptions options;
  options.pins = pins;

  uv_loop_t loop;
  int rc = uv_loop_init(&loop);
  if (rc != 0) return make_error(Errc::internal, std::string("uv_loop_init: ") + uv_strerror(rc));
  Result<EnrollResult> outcome = make_error(Errc::unavailable, "no directory address answered");
  for (const Endpoint &to : directories) {
    auto client = SyncClient::connect_tls(&loop, *ctx, to, options, hello_role);
    if (!client.ok()) {
      outcome =
          make_error(client.error().code, "directory " + to.to_string() + ": " + client.error().message);
      continue;
    }
    Result<Response> answer = (*client)->call(op::enroll, args, timeout_ms);
    (*client)->close();
    outcome = read_enroll_result(answer);
    break; // the directory answered: another address of it would answer the same
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&loop);
  if (rc != 0) {
    Error leak =
        make_error(Errc::internal, std::string("enrollment left libuv handles open: ") + uv_strerror(rc));
    if (outcome.ok()) return leak;
    // The enrollment's own failure is what the user needs to see; the leak is still a bug.
    LPM_ERROR("%s", leak.message.c_str());
  }
  return outcome;
}

Result<EnrollResult> enroll_with_directory(std::shared_ptr<Identity> identity, const Endpoint &directory,
                                           const Fingerprint &pin, EnrollKind kind, const std::string &name,
                                           const std::string &token, const std::string &hello_role,
                                           uint32_t timeout_ms) {
  return enroll_with_directory(std::move(identity), std::vector<Endpoint>{directory},
                               std::vector<Fingerprint>{pin}, kind, name, token, hello_role, timeout_ms);
}

} // namespace lpm::proto
