// Reading an e-mail address and a password for `lpm login`: from the terminal (the password with
// echo off) or, for scripts, one line of standard input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "lpm/error.h"

namespace lpm::cli {

// Reads one line from `fd` a byte at a time, so nothing after the newline is consumed (a script
// may pipe more). Returns it without its '\n' (only that byte is stripped: a '\r' stays).
// Errors: too_large when the line is longer than max_bytes (the rest of the line is read and
// dropped, so no part of a secret is left for the next reader of a terminal), io_error.
Result<std::string> read_line(int fd, size_t max_bytes);

// Writes `prompt` to the terminal `tty_fd` and reads one line from it. With echo_off the
// terminal does not show what is typed; its settings are restored on every return and also
// when SIGINT, SIGTERM, SIGHUP or SIGQUIT ends the process meanwhile (the signal is then
// delivered again with its default action) or SIGTSTP stops it (echo stays off after SIGCONT).
// Errors: unavailable when tty_fd is not a terminal, those of read_line.
Result<std::string> prompt_line(int tty_fd, std::string_view prompt, size_t max_bytes, bool echo_off);

// Overwrites a secret's bytes before the memory is released.
void wipe(std::string &secret);

} // namespace lpm::cli
