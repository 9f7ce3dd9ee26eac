#include "lpm/csv_export.h"

namespace lpm {

std::string csv_cell(std::string_view value) {
  std::string cell;
  // OWASP's formula triggers: the four of DESIGN §6, and tab and CR, which some tools skip first.
  if (!value.empty() && std::string_view("=+-@\t\r").find(value.front()) != std::string_view::npos)
    cell = "'";
  cell.append(value);
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string csv_record(const std::vector<std::string> &cells) {
  std::string record;
  for (size_t i = 0; i < cells.size(); i++)
    record += (i ? "," : "") + csv_cell(cells[i]);
  return record + "\r\n";
}

std::string csv_table(const std::vector<std::string> &header, const std::vector<std::vector<std::string>> &rows) {
  std::string out(kUtf8Bom);
  out += csv_record(header);
  for (const auto &row : rows)
    out += csv_record(row);
  return out;
}

} // namespace lpm
