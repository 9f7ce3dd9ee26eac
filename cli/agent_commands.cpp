// `lpm print`, `lpm jobs` and `lpm jobs delete`: the local agent's Unix control socket (hello role "cli");
// the agent knows the caller from the socket's peer credentials.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent_client.h"
#include "command_loop.h"
#include "commands.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "table.h"

namespace lpm::cli {
namespace {

// Counts what the upload really sent: the end frame, not the announced size, is what counts.
class CountingSource final : public proto::ChunkSource {
public:
  CountingSource(std::unique_ptr<proto::ChunkSource> inner, std::shared_ptr<uint64_t> sent_bytes)
      : inner_(std::move(inner)), sent_bytes_(std::move(sent_bytes)) {}
  Result<size_t> read(uint8_t *out, size_t max) override {
    auto n = inner_->read(out, max);
    if (n.ok()) *sent_bytes_ += *n;
    return n;
  }

private:
  std::unique_ptr<proto::ChunkSource> inner_;
  std::shared_ptr<uint64_t> sent_bytes_;
};

// Listing more than this many jobs is cut short with a note.
constexpr size_t kMaxListedJobs = 10000;

std::string base_name(const std::string &path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "42s", "5m", "3h", "2d": how long ago, at a glance.
std::string age_text(int64_t ms) {
  int64_t s = ms < 0 ? 0 : ms / 1000;
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

} // namespace

Result<std::unique_ptr<proto::SyncClient>> connect_agent(uv_loop_t *loop, const std::string &socket_arg) {
  std::string path = socket_arg.empty() ? default_socket_path() : socket_arg;
  auto client = proto::SyncClient::connect_pipe(loop, path, proto::role::cli);
  if (!client.ok())
    return make_error(client.error().code,
                      "cannot reach the agent at " + path + ": " + client.error().message);
  return client;
}

std::string default_socket_path() {
  const char *env = std::getenv("LPM_AGENT_SOCKET");
  if (env && *env) return env;
  return "/run/lpm/agent.sock";
}

std::string guess_format(std::string_view file_name) {
  auto dot = file_name.rfind('.');
  auto slash = file_name.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
    return "application/octet-stream";
  std::string ext;
  for (char c : file_name.substr(dot + 1))
    ext.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (ext == "pdf") return "application/pdf";
  if (ext == "ps") return "application/postscript";
  if (ext == "txt") return "text/plain";
  if (ext == "pwg") return "image/pwg-raster";
  if (ext == "urf") return "image/urf";
  return "application/octet-stream";
}

int command_print(const PrintArgs &args) {
  int fd = ::open(args.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(make_error(Errc::not_found, "cannot open " + args.file + ": " + errno_text()));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(make_error(Errc::bad_request, args.file + " is not a regular file"));
  }
  // The source owns the descriptor from here on.
  auto sent_bytes = std::make_shared<uint64_t>(0);
  auto source = std::make_unique<CountingSource>(proto::fd_source(fd), sent_bytes);

  proto::SubmitJobRequest req;
  req.title = args.title.empty() ? base_name(args.file) : args.title;
  req.format = args.format.empty() ? guess_format(args.file) : args.format;
  req.size = static_cast<uint64_t>(st.st_size);
  req.copies = args.copies;
  req.sides = args.sides;
  req.color = args.color;
  proto::MapWriter w;
  req.write(w);

  proto::SubmitJobResult result;
  {
    CommandLoop loop;
    auto client = connect_agent(loop.get(), args.socket);
    if (!client.ok()) return fail(client.error());
    auto answer = (*client)->call_upload(proto::op::submit_job, w, std::move(source));
    (*client)->close();
    if (!answer.ok()) return fail(answer.error());
    auto reader = answer->reader();
    result.read(reader);
    if (!reader.ok())
      return fail(make_error(Errc::protocol_error, "the agent's answer: " + reader.error().message));
    client->reset();
    Status closed = loop.close();
    if (!closed.ok()) return fail(closed.error());
  }
  std::printf("job %s held for release (%llu bytes)\n", result.job.c_str(),
              static_cast<unsigned long long>(*sent_bytes));
  return 0;
}

int command_jobs(const JobsArgs &args) {
  std::vector<proto::JobInfo> jobs;
  bool cut_short = false;
  {
    CommandLoop loop;
    auto client = connect_agent(loop.get(), args.socket);
    if (!client.ok()) return fail(client.error());
    std::string after;
    for (;;) {
      proto::PageRequest page;
      page.after = after;
      page.limit = proto::kMaxPage;
      proto::MapWriter w;
      page.write(w);
      auto answer = (*client)->call(proto::op::local_jobs, w);
      if (!answer.ok()) return fail(answer.error());
      proto::ListJobsResult result;
      auto reader = answer->reader();
      result.read(reader);
      if (!reader.ok())
        return fail(make_error(Errc::protocol_error, "the agent's answer: " + reader.error().message));
      for (auto &j : result.jobs)
        jobs.push_back(std::move(j));
      // A cursor that does not move would page forever.
      if (result.next.empty() || result.next == after) break;
      if (jobs.size() >= kMaxListedJobs) {
        cut_short = true;
        break;
      }
      after = result.next;
    }
    (*client)->close();
    client->reset();
    Status closed = loop.close();
    if (!closed.ok()) return fail(closed.error());
  }
  if (args.json) {
    for (const auto &j : jobs) {
      nlohmann::json o = {{"id", j.id},
                          {"user", j.user},
                          {"title", j.title},
                          {"format", j.format},
                          {"size", j.size},
                          {"pages", j.pages},
                          {"copies", j.copies},
                          {"sides", j.sides},
                          {"color", j.color},
                          {"state", j.state},
                          {"submitted", j.submitted_ms},
                          {"sha256", to_hex(j.sha256)}};
      // Titles come from users: replace what is not UTF-8 rather than fail the listing.
      std::string line = o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::printf("%s\n", line.c_str());
    }
    return 0;
  }
  if (jobs.empty()) {
    std::printf("no jobs\n");
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(jobs.size());
  int64_t now = wall_ms();
  for (const auto &j : jobs)
    rows.push_back({j.id, j.title, j.state, j.pages < 0 ? "?" : std::to_string(j.pages),
                    std::to_string(j.size), age_text(now - j.submitted_ms)});
  std::string table =
      format_table({{"ID"}, {"TITLE"}, {"STATE"}, {"PAGES", true}, {"SIZE", true}, {"AGE", true}}, rows);
  std::fwrite(table.data(), 1, table.size(), stdout);
  if (cut_short) std::printf("(only the first %zu jobs are listed)\n", jobs.size());
  return 0;
}

int command_jobs_delete(const JobsDeleteArgs &args) {
  proto::DeleteJobRequest req;
  req.job = args.job;
  proto::MapWriter w;
  req.write(w);
  proto::JobInfo deleted;
  {
    CommandLoop loop;
    auto client = connect_agent(loop.get(), args.socket);
    if (!client.ok()) return fail(client.error());
    auto answer = (*client)->call(proto::op::delete_job, w);
    (*client)->close();
    if (!answer.ok()) return fail(answer.error());
    auto reader = answer->reader();
    deleted.read(reader);
    if (!reader.ok())
      return fail(make_error(Errc::protocol_error, "the agent's answer: " + reader.error().message));
    client->reset();
    Status closed = loop.close();
    if (!closed.ok()) return fail(closed.error());
  }
  std::printf("job %s deleted\n", deleted.id.c_str());
  return 0;
}

} // namespace lpm::cli
