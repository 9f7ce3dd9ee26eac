// CSV export (AMB-22, DESIGN §6), shared by the `lpm` audit export and the accounting reports: a
// file starts with the UTF-8 BOM; records end with CRLF; a cell holding a comma, quote, CR or LF
// is quoted with quotes doubled (RFC 4180); a cell starting with = + - @ (or tab or CR) gets a
// leading ' so no spreadsheet runs it as a formula.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lpm {

inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
std::string csv_cell(std::string_view value);
std::string csv_record(const std::vector<std::string> &cells);
// A whole file: the BOM, the header record, then one record per row.
std::string csv_table(const std::vector<std::string> &header, const std::vector<std::vector<std::string>> &rows);

} // namespace lpm
