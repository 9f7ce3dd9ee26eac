// What the directory commands share to reach the directory through the local agent: the
// connection and its loop, person ops forwarded (op "directory") with typed answers, and JSON
// lines for --json. Used by directory_commands.cpp, admin_commands.cpp and print_commands.cpp.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "agent_client.h"
#include "command_loop.h"
#include "lpm/error.h"
#include "lpm/protocol/ops_admin.h"
#include "lpm/protocol/rpc.h"

namespace lpm::cli {

// One command's connection to the agent and the loop it runs on, closed in that order.
class AgentLink {
public:
  Status open(const std::string &socket) {
    auto client = connect_agent(loop_.get(), socket);
    if (!client.ok()) return client.error();
    client_ = std::move(*client);
    return {};
  }
  proto::SyncClient &agent() { return *client_; }
  // Closes the connection, then the loop; internal when a handle was left open.
  Status close() {
    if (client_) client_->close();
    client_.reset();
    return loop_.close();
  }

private:
  CommandLoop loop_;
  std::unique_ptr<proto::SyncClient> client_;
};

// The typed result of an answer, or why there is none.
template <class T> Result<T> typed_answer(Result<proto::Response> answer) {
  if (!answer.ok()) return answer.error();
  T value;
  auto reader = answer->reader();
  value.read(reader);
  if (!reader.ok()) return make_error(Errc::protocol_error, "the agent's answer: " + reader.error().message);
  return value;
}

inline proto::MapWriter forward_request(const char *op, const proto::MapWriter &args,
                                        uint64_t size_bytes = 0) {
  proto::ForwardRequest request;
  request.op = op;
  request.args = args;
  request.size = size_bytes;
  proto::MapWriter w;
  request.write(w);
  return w;
}

// A person op through the agent (op "directory"): the directory's result for it, as it came.
template <class T> Result<T> forward(proto::SyncClient &agent, const char *op, const proto::MapWriter &args) {
  return typed_answer<T>(agent.call(proto::op::agent_forward, forward_request(op, args)));
}

// A person op's arguments as `lpm` forwards them: the op's request without "session", which the
// agent adds. The request struct is the one place that knows its fields, so it is written whole
// (with an empty session) and copied over minus that key.
template <class Request> proto::MapWriter person_args(const Request &request) {
  proto::MapWriter whole;
  request.write(whole);
  proto::Bytes encoded = whole.finish();
  auto unpacked = proto::unpack_map(encoded);
  proto::MapWriter w;
  if (unpacked.ok()) w.pairs_of(unpacked->get(), "session");
  return w;
}

// Runs one person op through the agent at `socket`: connect, forward, close.
template <class Answer, class Request>
Result<Answer> run_person_op(const std::string &socket, const char *op, const Request &request) {
  AgentLink link;
  if (Status opened = link.open(socket); !opened.ok()) return opened.error();
  auto answer = forward<Answer>(link.agent(), op, person_args(request));
  if (!answer.ok()) return answer.error();
  if (Status closed = link.close(); !closed.ok()) return closed.error();
  return answer;
}

inline void print_json_line(const std::string &line) {
  std::printf("%s\n", line.c_str());
}

// JSON text of values that came from the network: bytes that are not UTF-8 are replaced rather
// than failing the listing.
inline std::string json_text(const nlohmann::json &value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace lpm::cli
