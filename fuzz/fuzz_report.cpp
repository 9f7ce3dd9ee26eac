// Fuzz target: what a person sends in a usage-report request, as the accounting server reads it
// (dates, level, type, zone rule), and the CSV export of cells it could put in a report (printer
// and site names come from agents). The input is split at '\n' into fields.
//
// Checked: a date that parses formats back to the same text; the CSV starts with the byte-order
// mark, has one CRLF-ended line per row, and no cell starts with = + - @ outside quotes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "reports.h"

using namespace lpm;
using namespace lpm::accounting;

namespace {

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); i++) {
    if (i == text.size() || text[i] == '\n') {
      fields.emplace_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return fields;
}

// Counts the CSV's records, honouring quotes; aborts on a formula cell left as it came.
size_t csv_lines(const std::string &csv) {
  size_t lines = 0;
  bool quoted = false, cell_start = true;
  for (size_t i = 3; i < csv.size(); i++) {
    char c = csv[i];
    if (cell_start && !quoted && std::string_view("=+-@").find(c) != std::string_view::npos) std::abort();
    if (cell_start && c == '"' && !quoted) {
      quoted = true;
      // The first character inside the quotes is the cell's own first character.
      if (i + 1 < csv.size() && std::string_view("=+-@").find(csv[i + 1]) != std::string_view::npos) std::abort();
      cell_start = false;
      continue;
    }
    cell_start = false;
    if (quoted) {
      if (c == '"') {
        if (i + 1 < csv.size() && csv[i + 1] == '"')
          i++;
        else
          quoted = false;
      }
      continue;
    }
    if (c == ',') cell_start = true;
    if (c == '\r') {
      if (i + 1 >= csv.size() || csv[i + 1] != '\n') std::abort(); // a bare CR outside quotes
      i++;
      lines++;
      cell_start = true;
    }
  }
  if (quoted) std::abort();
  return lines;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  std::vector<std::string> fields = split(text);
  for (const auto &f : fields) {
    auto date = parse_civil_date(f);
    if (date.ok() && format_civil_date(*date) != f) std::abort();
    (void)parse_report_level(f);
    (void)parse_report_type(f);
  }
  if (!fields.empty()) (void)TimeZone::from_rule(fields[0], "Fuzz/Zone");

  ReportTable table;
  table.columns = {"printer", "impressions"};
  for (const auto &f : fields) table.rows.push_back({f, "1"});
  std::string csv = report_csv(table);
  if (csv.rfind("\xEF\xBB\xBF", 0) != 0) std::abort();
  if (csv_lines(csv) != table.rows.size() + 1) std::abort();
  (void)report_text(table);
  return 0;
}
