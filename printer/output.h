// How the station speaks to whoever runs it: one line per event on standard output.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace lpm::printer {

// Receives each output line (without its newline).
using LineFn = std::function<void(const std::string &line)>;

// Text from the network made safe for a terminal: control characters become '?'.
std::string printable(std::string_view text);

// A LineFn that writes to standard output and flushes, so scripts see each line at once.
LineFn stdout_lines();

} // namespace lpm::printer
