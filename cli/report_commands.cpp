// `lpm report`: a person's usage report, asked of the local agent (usage-report on the control
// socket), which adds the caller's directory session and asks the accounting server
// (agent/report_relay.h). The server decides what the login may see; this prints what it sent.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent_client.h"
#include "command_loop.h"
#include "commands.h"
#include "lpm/csv_export.h"
#include "lpm/files.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/rpc.h"
#include "table.h"

namespace lpm::cli {

std::string local_zone_name() {
  // TZ=":Europe/Paris" or "Europe/Paris"; a POSIX rule ("CET-1CEST") or a path is not a zone name.
  if (const char *tz = std::getenv("TZ"); tz && *tz) {
    std::string name = tz[0] == ':' ? tz + 1 : tz;
    if (!name.empty() && name[0] != '/' && name.find('/') != std::string::npos) return name;
    if (name == "UTC") return name;
  }
  char target[512];
  ssize_t n = ::readlink("/etc/localtime", target, sizeof target - 1);
  if (n > 0) {
    std::string link(target, static_cast<size_t>(n));
    const std::string marker = "zoneinfo/";
    if (auto at = link.find(marker); at != std::string::npos && at + marker.size() < link.size())
      return link.substr(at + marker.size());
  }
  return "UTC";
}

int command_report(const ReportArgs &args) {
  if (!args.data.empty()) return command_console_totals(args);
  proto::UsageReportRequest req; // no session: the agent adds its login's
  req.level = args.level;
  req.entity = args.entity;
  req.type = args.type;
  req.from = args.from;
  req.to = args.to;
  req.last = args.from.empty() ? args.last : 0;
  req.zone = args.zone.empty() ? local_zone_name() : args.zone;
  req.top = args.top;
  proto::UsageReportResult report;
  {
    CommandLoop loop;
    auto client = connect_agent(loop.get(), args.socket);
    if (!client.ok()) return fail(client.error());
    proto::MapWriter w;
    req.write(w);
    auto answer = (*client)->call(proto::op::usage_report, w);
    if (!answer.ok()) return fail(answer.error());
    auto reader = answer->reader();
    report.read(reader);
    if (!reader.ok()) return fail(make_error(Errc::protocol_error, "the report: " + reader.error().message));
    (*client)->close();
    client->reset();
    Status closed = loop.close();
    if (!closed.ok()) return fail(closed.error());
  }
  if (!args.csv.empty()) {
    std::string csv = csv_table(report.columns, report.rows);
    if (args.csv == "-") {
      std::fwrite(csv.data(), 1, csv.size(), stdout);
    } else {
      Status s = write_file_atomic(args.csv, csv, 0644);
      if (!s.ok()) return fail(s.error());
    }
    // The CSV holds the header alone then; say why on stderr (RP-9).
    if (report.no_data) std::fprintf(stderr, "no data for this selection\n");
    return 0;
  }
  std::printf("%s\n", printable(report.title).c_str());
  if (report.no_data) {
    std::printf("no data for this selection\n");
    return 0;
  }
  // A column of numbers is right-aligned; a key column (printer, day, user, ...) is not.
  std::vector<Column> columns;
  for (size_t i = 0; i < report.columns.size(); i++) {
    bool numbers = !report.rows.empty();
    for (const auto &row : report.rows)
      numbers = numbers && i < row.size() && !row[i].empty() &&
                row[i].find_first_not_of("0123456789.-") == std::string::npos && row[i].find('-', 1) == std::string::npos;
    columns.push_back({report.columns[i], numbers});
  }
  std::string table = format_table(columns, report.rows);
  std::fwrite(table.data(), 1, table.size(), stdout);
  return 0;
}

} // namespace lpm::cli
