// `lpm-agent enroll`: one blocking exchange with the directory.
#include "directory_client.h"
#include "lpm/protocol/ops.h"

namespace lpm::agent {

Result<Enrollment> directory_enroll(const packaging::ServiceConfig &directory,
                                    std::shared_ptr<proto::Identity> identity, const std::string &token,
                                    const std::string &name) {
  if (!directory.configured())
    return make_error(Errc::bad_request,
                      "configuration.xml has no <Directory> with an <Address> and a <Fingerprint>");
  auto ctx = proto::TlsContext::create(proto::TlsContext::Side::client, std::move(identity));
  if (!ctx.ok()) return ctx.error();
  uv_loop_t loop;
  uv_loop_init(&loop);
  Result<Enrollment> outcome = make_error(Errc::unavailable, "no directory address answered");
  for (const auto &address : directory.addresses) {
    proto::ConnectOptions co;
    co.pins = directory.fingerprints;
    auto client = proto::SyncClient::connect_tls(&loop, *ctx, address, co, proto::role::agent);
    if (!client.ok()) {
      outcome =
          make_error(client.error().code, "directory " + address.to_string() + ": " + client.error().message);
      continue;
    }
    proto::EnrollRequest req;
    req.token = token;
    req.kind = proto::EnrollKind::workstation;
    req.name = name;
    proto::MapWriter w;
    req.write(w);
    auto reply = (*client)->call(proto::op::enroll, w);
    (*client)->close();
    if (!reply.ok()) {
      outcome = reply.error();
      break; // the directory answered: another replica would answer the same
    }
    proto::EnrollResult result;
    proto::MapReader r = reply->reader();
    result.read(r);
    if (!r.ok()) {
      outcome = r.error();
      break;
    }
    auto key = proto::PublicKey::from_der(result.ticket_key);
    if (!key.ok()) {
      outcome =
          make_error(Errc::bad_request, "the directory's ticket key does not parse: " + key.error().message);
      break;
    }
    outcome = Enrollment{result.id, result.ticket_key};
    break;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) return make_error(Errc::internal, "enroll left libuv handles open");
  return outcome;
}

} // namespace lpm::agent
