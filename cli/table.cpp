#include "table.h"

#include <algorithm>

namespace lpm::cli {
std::string printable(std::string_view text) {
  std::string out(text);
  for (char &c : out) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return out;
}

namespace {

// Terminal columns a UTF-8 string takes, counting each code point as one (continuation bytes
// do not advance the cursor).
size_t display_width(const std::string &s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) n++;
  return n;
}

} // namespace

std::string format_table(const std::vector<Column> &columns,
                         const std::vector<std::vector<std::string>> &rows) {
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size() + 1);
  std::vector<std::string> header;
  header.reserve(columns.size());
  for (const auto &c : columns)
    header.push_back(c.header);
  cells.push_back(header);
  for (const auto &row : rows) {
    std::vector<std::string> cleaned;
    for (size_t i = 0; i < columns.size(); i++)
      cleaned.push_back(i < row.size() ? printable(row[i]) : "");
    cells.push_back(std::move(cleaned));
  }
  std::vector<size_t> widths(columns.size(), 0);
  for (const auto &row : cells)
    for (size_t i = 0; i < columns.size(); i++)
      widths[i] = std::max(widths[i], display_width(row[i]));

  std::string out;
  for (const auto &row : cells) {
    std::string line;
    for (size_t i = 0; i < columns.size(); i++) {
      if (i > 0) line += "  ";
      std::string pad(widths[i] - display_width(row[i]), ' ');
      line += columns[i].right_aligned ? pad + row[i] : row[i] + pad;
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line + "\n";
  }
  return out;
}

} // namespace lpm::cli
