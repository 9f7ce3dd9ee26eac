// Plain-text tables for terminal output: columns padded to their widest cell.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lpm::cli {

// A table needs every row before it prints; past this many it stops (--json streams all).
constexpr size_t kMaxTableRows = 100000;

struct Column {
  std::string header;
  bool right_aligned = false; // numbers
};

// Text that came from the network, safe to print: control characters become '?'.
std::string printable(std::string_view text);

// One line per row, header first, columns separated by two spaces, no trailing spaces. Control
// characters in cells (text that came from the network) are shown as '?'.
std::string format_table(const std::vector<Column> &columns,
                         const std::vector<std::vector<std::string>> &rows);

} // namespace lpm::cli
